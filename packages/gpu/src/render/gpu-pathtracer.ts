import type { AbortOptions } from '@tessera/core'
import { PIXEL_SAMPLES_PER_DISPATCH, RENDER_WORKGROUP } from '../constants.js'
import type { GpuContext } from '../device/context.js'
import type { Scene } from '../scene/scene.js'
import { projectionScale } from '../scene/camera.js'
import { environmentTables } from '../scene/environment.js'
import { lightShares } from './light-shares.js'
import { kernelFeatures, kernelVariant, withFeatures, type KernelFeatures } from './kernel-features.js'
import { PATH_TRACER_PARAMS_BYTES, PATH_TRACER_REDUCE_WGSL, pathTracerWgsl } from './pathtracer-wgsl.js'
import { resolveTile } from './tile.js'
import type { RenderedTile, RenderTileOptions, ResolvedTile } from './tile.js'

/** A scene's buffers on the device, and the renders using them. */
interface SceneBuffers {
  nodes: GPUBuffer
  triangles: GPUBuffer
  normals: GPUBuffer
  materials: GPUBuffer
  aux: GPUBuffer
  /** Renders in flight on these buffers: a release waits for the last of them. */
  renders: number
  /** Released: destroyed once no render uses them (later renders of the scene upload it again). */
  released: boolean
}

/** Renders tiles with the WGSL path tracer; keeps each scene's buffers on the device while the scene lives. */
export class GpuPathTracer {
  readonly #ctx: GpuContext
  readonly #scenes = new WeakMap<Scene, SceneBuffers>()
  readonly #samplesInParallel: boolean
  readonly #extraFeatures: Partial<KernelFeatures>

  /**
   * `samplesInParallel`: one sample per invocation (real GPUs) or all of a pixel's in turn (CPU drivers).
   * `extraFeatures`: kernel features compiled in whether or not a scene needs them; they cost speed and change
   * nothing in the image (tests check exactly that).
   */
  constructor(ctx: GpuContext, samplesInParallel: boolean, extraFeatures: Partial<KernelFeatures> = {}) {
    this.#ctx = ctx
    this.#samplesInParallel = samplesInParallel
    this.#extraFeatures = extraFeatures
  }

  /** Renders a tile (or the given rows of it); see {@link RenderTileOptions}. */
  async renderTile(options: RenderTileOptions, abort: AbortOptions = {}): Promise<RenderedTile> {
    const t = resolveTile(options)
    const ctx = this.#ctx
    ctx.assertUsable(abort.signal)
    const plan = planDispatches(t, this.#samplesInParallel, ctx.device.limits.maxComputeWorkgroupsPerDimension)
    const outBytes = t.rows.length * t.width * 16
    const partialBytes = plan.rowsPerDispatch * t.width * plan.groupsPerDispatch * 16
    ctx.checkAllocation(outBytes, 'render tile output')
    ctx.checkAllocation(partialBytes, 'render sample groups')
    ctx.checkDispatch(
      Math.ceil(t.width / RENDER_WORKGROUP),
      Math.ceil(plan.rowsPerDispatch / RENDER_WORKGROUP),
      plan.groupsPerDispatch,
      'render tile',
    )
    return ctx.scoped('renderTile', async () => {
      const features = withFeatures(kernelFeatures(options.scene), this.#extraFeatures)
      const trace = ctx.pipeline(kernelVariant(features), () => pathTracerWgsl(features))
      const reduce = ctx.pipeline('pathtracer-reduce', () => PATH_TRACER_REDUCE_WGSL)
      // Every buffer is made inside the try: one that fails to allocate must not leave the others behind.
      const transient: GPUBuffer[] = []
      let scene: SceneBuffers | undefined
      try {
        scene = this.#hold(options.scene)
        const { nodes, triangles, normals, materials, aux } = scene
        const rows = ctx.upload(Uint32Array.from(t.rows), 'tile rows')
        transient.push(rows)
        const accum = ctx.createStorage(outBytes, 'render tile output')
        transient.push(accum)
        const partial = ctx.createStorage(partialBytes, 'render sample groups')
        transient.push(partial)
        // Groups in ascending order, all rows for each: the reduction adds every pixel's groups in order.
        for (let g = 0; g < plan.groups; g += plan.groupsPerDispatch) {
          const groupCount = Math.min(plan.groupsPerDispatch, plan.groups - g)
          for (let r = 0; r < t.rows.length; r += plan.rowsPerDispatch) {
            ctx.assertUsable(abort.signal)
            const rowCount = Math.min(plan.rowsPerDispatch, t.rows.length - r)
            const chunk = { firstGroup: g, groupCount, groupSize: plan.groupSize, firstRow: r, rowCount }
            const params = ctx.uniform(packParams(options.scene, t, chunk, g + groupCount === plan.groups), 'params')
            transient.push(params)
            const x = Math.ceil(t.width / RENDER_WORKGROUP)
            const y = Math.ceil(rowCount / RENDER_WORKGROUP)
            ctx.submit([
              {
                pipeline: trace,
                bindGroup: ctx.bind(trace, {
                  0: params,
                  1: nodes,
                  2: triangles,
                  3: normals,
                  4: materials,
                  5: rows,
                  7: aux,
                  8: partial,
                }),
                workgroups: [x, y, groupCount],
              },
              {
                pipeline: reduce,
                bindGroup: ctx.bind(reduce, { 0: params, 6: accum, 8: partial }),
                workgroups: [x, y],
              },
            ])
            // With a signal, wait between dispatches so an abort stops the render; otherwise keep the queue full.
            if (abort.signal !== undefined) await ctx.idle()
          }
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
        if (scene !== undefined) this.#letGo(scene)
      }
    })
  }

  /**
   * Frees a scene's device buffers rather than when the scene is garbage-collected (which, for buffers the
   * collector does not see the size of, can be never in time). Renders in flight on the scene finish first: its
   * buffers go when the last of them ends. A later render of the scene uploads it again.
   */
  releaseScene(scene: Scene): void {
    const b = this.#scenes.get(scene)
    if (b === undefined) return
    this.#scenes.delete(scene)
    b.released = true
    if (b.renders === 0) destroySceneBuffers(b)
  }

  /** The scene's buffers, uploaded on first use, held for one render. */
  #hold(scene: Scene): SceneBuffers {
    let b = this.#scenes.get(scene)
    if (b === undefined) {
      const ctx = this.#ctx
      const uploaded: GPUBuffer[] = []
      const upload = (data: ArrayBufferView, what: string): GPUBuffer => {
        const buffer = ctx.upload(data, what)
        uploaded.push(buffer)
        return buffer
      }
      try {
        b = {
          nodes: upload(scene.bvh, 'scene BVH'),
          triangles: upload(scene.triangles, 'scene triangles'),
          normals: upload(scene.normals, 'scene normals'),
          materials: upload(scene.materials, 'scene materials'),
          aux: upload(scene.aux, 'scene lights and textures'),
          renders: 0,
          released: false,
        }
      } catch (e) {
        // A buffer past the device's limits: the ones already made go with the failure.
        for (const buffer of uploaded) buffer.destroy()
        throw e
      }
      this.#scenes.set(scene, b)
    }
    b.renders++
    return b
  }

  #letGo(b: SceneBuffers): void {
    b.renders--
    if (b.released && b.renders === 0) destroySceneBuffers(b)
  }
}

function destroySceneBuffers(b: SceneBuffers): void {
  for (const buffer of [b.nodes, b.triangles, b.normals, b.materials, b.aux]) buffer.destroy()
}

/** How a tile's pixel-samples are cut into dispatches: whole sample groups of whole rows. */
export interface DispatchPlan {
  /** Samples each invocation traces in turn: 1 (samples in parallel) or every sample of the pixel. */
  groupSize: number
  groups: number
  groupsPerDispatch: number
  rowsPerDispatch: number
}

/**
 * Plans a tile's dispatches. With `samplesInParallel` each invocation traces one sample and the groups are the
 * samples; otherwise each invocation traces all of its pixel's samples in turn, which lavapipe needs to keep its
 * lanes busy. Both give the same bits (see PATH_TRACER_WGSL). On an H100 samples in parallel traced 3.4x (32x32
 * tiles) to 1.5x (1024x1024) the rays/s, at 16 spp: a small tile alone cannot fill the GPU. A dispatch traces at
 * most PIXEL_SAMPLES_PER_DISPATCH pixel-samples (more when one row of one group is already larger), which bounds
 * its run time.
 */
export function planDispatches(t: ResolvedTile, samplesInParallel: boolean, maxWorkgroups: number): DispatchPlan {
  const rowCount = t.rows.length
  const groupSize = samplesInParallel ? 1 : t.samples
  const groups = Math.ceil(t.samples / groupSize)
  const perGroupRow = t.width * groupSize
  const rowsPerDispatch = Math.max(
    1,
    Math.min(rowCount, Math.floor(PIXEL_SAMPLES_PER_DISPATCH / perGroupRow), maxWorkgroups * RENDER_WORKGROUP),
  )
  const groupsPerDispatch =
    rowsPerDispatch < rowCount
      ? 1
      : Math.max(1, Math.min(groups, Math.floor(PIXEL_SAMPLES_PER_DISPATCH / (perGroupRow * rowCount)), maxWorkgroups))
  return { groupSize, groups, groupsPerDispatch, rowsPerDispatch }
}

interface Chunk {
  firstGroup: number
  groupCount: number
  groupSize: number
  firstRow: number
  rowCount: number
}

function packParams(scene: Scene, t: ResolvedTile, c: Chunk, finalize: boolean): ArrayBuffer {
  const data = new ArrayBuffer(PATH_TRACER_PARAMS_BYTES)
  const u = new Uint32Array(data)
  const f = new Float32Array(data)
  u.set([
    t.imageWidth,
    t.imageHeight,
    t.x,
    t.y,
    t.width,
    c.rowCount,
    t.frame,
    t.maxDepth,
    c.firstGroup,
    c.groupSize,
    t.samples,
    c.firstRow,
  ])
  const cam = scene.camera
  f.set([...cam.position, projectionScale(cam)], 12)
  f.set([...cam.right, t.imageWidth / t.imageHeight], 16)
  f.set([...cam.up], 20)
  u[23] = scene.lightCount
  f.set([...cam.forward, scene.lightPower], 24)
  f.set([...t.background, 0], 28)
  u.set([c.groupCount, finalize ? 1 : 0], 32)
  u.set([scene.lutOffset, scene.uvOffset, scene.tangentOffset, scene.colorOffset], 36)
  u.set([scene.punctualOffset, scene.punctualCount, scene.unlit ? 1 : 0, scene.specularTextured ? 1 : 0], 40)
  const hidden = scene.environment?.visible === false ? 1 : 0
  u.set([scene.sheenOffset, scene.uv1Offset, scene.uvTransformOffset, hidden], 44)
  const env = scene.environment
  if (env !== undefined) {
    const tables = environmentTables(env)
    u.set([tables.radiance, env.width, env.height, tables.rows], 48)
  }
  const shares = lightShares(scene)
  f.set([shares.punctual, shares.environment, Math.cos(env?.rotation ?? 0), Math.sin(env?.rotation ?? 0)], 52)
  return data
}
