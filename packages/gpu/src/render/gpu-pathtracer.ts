import type { AbortOptions } from '@tessera/core'
import { PIXEL_SAMPLES_PER_DISPATCH, RENDER_WORKGROUP } from '../constants.js'
import type { GpuContext } from '../device/context.js'
import type { Scene } from '../scene/scene.js'
import { PATH_TRACER_PARAMS_BYTES, PATH_TRACER_WGSL } from './pathtracer-wgsl.js'
import { resolveTile } from './tile.js'
import type { RenderedTile, RenderTileOptions, ResolvedTile } from './tile.js'

interface SceneBuffers {
  nodes: GPUBuffer
  triangles: GPUBuffer
  normals: GPUBuffer
  materials: GPUBuffer
  lights: GPUBuffer
}

/** Renders tiles with the WGSL path tracer; keeps each scene's buffers on the device while the scene lives. */
export class GpuPathTracer {
  readonly #ctx: GpuContext
  readonly #scenes = new WeakMap<Scene, SceneBuffers>()

  constructor(ctx: GpuContext) {
    this.#ctx = ctx
  }

  /** Renders a tile (or the given rows of it); see {@link RenderTileOptions}. */
  async renderTile(options: RenderTileOptions, abort: AbortOptions = {}): Promise<RenderedTile> {
    const t = resolveTile(options)
    const ctx = this.#ctx
    ctx.assertUsable(abort.signal)
    const pixelCount = t.rows.length * t.width
    const outBytes = pixelCount * 16
    ctx.checkAllocation(outBytes, 'render tile output')
    ctx.checkDispatch(
      Math.ceil(t.width / RENDER_WORKGROUP),
      Math.ceil(t.rows.length / RENDER_WORKGROUP),
      1,
      'render tile',
    )
    return ctx.scoped('renderTile', async () => {
      const scene = this.#buffers(options.scene)
      const pipeline = ctx.pipeline('pathtracer', () => PATH_TRACER_WGSL)
      const rows = ctx.upload(Uint32Array.from(t.rows), 'tile rows')
      const accum = ctx.createStorage(outBytes, 'render tile output')
      const perDispatch = Math.max(1, Math.floor(PIXEL_SAMPLES_PER_DISPATCH / pixelCount))
      const transient: GPUBuffer[] = [rows, accum]
      try {
        for (let start = 0; start < t.samples; start += perDispatch) {
          ctx.assertUsable(abort.signal)
          const end = Math.min(t.samples, start + perDispatch)
          const params = ctx.uniform(packParams(options.scene, t, start, end), 'path tracer params')
          transient.push(params)
          const bindGroup = ctx.bind(pipeline, [
            params,
            scene.nodes,
            scene.triangles,
            scene.normals,
            scene.materials,
            rows,
            accum,
            scene.lights,
          ])
          ctx.submit([
            {
              pipeline,
              bindGroup,
              workgroups: [Math.ceil(t.width / RENDER_WORKGROUP), Math.ceil(t.rows.length / RENDER_WORKGROUP)],
            },
          ])
          // With a signal, wait between batches so an abort stops the render; otherwise keep the queue full.
          if (end < t.samples && abort.signal !== undefined) await ctx.idle()
        }
        const pixels = new Float32Array(await ctx.read(accum, outBytes, abort.signal))
        let rays = 0
        for (let i = 3; i < pixels.length; i += 4) {
          rays += pixels[i]!
          pixels[i] = 1
        }
        return { ...t.identity, rows: t.rows, pixels, rays }
      } finally {
        for (const b of transient) b.destroy()
      }
    })
  }

  /** Frees a scene's device buffers now rather than when the scene is garbage-collected. */
  releaseScene(scene: Scene): void {
    const b = this.#scenes.get(scene)
    if (b === undefined) return
    this.#scenes.delete(scene)
    for (const buffer of Object.values(b)) buffer.destroy()
  }

  #buffers(scene: Scene): SceneBuffers {
    let b = this.#scenes.get(scene)
    if (b === undefined) {
      const ctx = this.#ctx
      b = {
        nodes: ctx.upload(scene.bvh, 'scene BVH'),
        triangles: ctx.upload(scene.triangles, 'scene triangles'),
        normals: ctx.upload(scene.normals, 'scene normals'),
        materials: ctx.upload(scene.materials, 'scene materials'),
        lights: ctx.upload(scene.lights, 'scene lights'),
      }
      this.#scenes.set(scene, b)
    }
    return b
  }
}

function packParams(scene: Scene, t: ResolvedTile, start: number, end: number): ArrayBuffer {
  const data = new ArrayBuffer(PATH_TRACER_PARAMS_BYTES)
  const u = new Uint32Array(data)
  const f = new Float32Array(data)
  u.set([
    t.imageWidth,
    t.imageHeight,
    t.x,
    t.y,
    t.width,
    t.rows.length,
    t.frame,
    t.maxDepth,
    start,
    end,
    t.samples,
    end === t.samples ? 1 : 0,
  ])
  const c = scene.camera
  f.set([...c.position, Math.tan(c.yfov / 2)], 12)
  f.set([...c.right, t.imageWidth / t.imageHeight], 16)
  f.set([...c.up], 20)
  u[23] = scene.lightCount
  f.set([...c.forward, scene.lightArea], 24)
  f.set([...t.background, 0], 28)
  return data
}
