import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeIO, WebIO } from '@gltf-transform/core'
import { decode } from 'fast-png'
import { compareChunks, parseTolerance } from '@tessera/proof'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compositeTiles,
  createEngine,
  encodePng,
  generateScene,
  generateSceneDocument,
  loadScene,
  psnr,
  renderTileCpu,
  tileRowChunk,
  tileRowChunks,
  toRgba8,
  TOLERANCE,
  writeScene,
} from '../src/index.js'
import type { Engine, RenderedTile, RenderTileOptions, Scene } from '../src/index.js'
import { GpuPathTracer, planDispatches } from '../src/render/gpu-pathtracer.js'
import type { DispatchChunk } from '../src/render/gpu-pathtracer.js'
import { kernelFeatures, kernelVariant, PLAIN_KERNEL } from '../src/render/kernel-features.js'
import { resolveTile } from '../src/render/tile.js'

const SIZE = 256
// Few samples keep the CPU reference to about a second; the RNG streams match, so noise does not lower PSNR.
const SAMPLES = 4

describe('path tracer', () => {
  let engine: Engine
  let scene: Scene
  let frame: Omit<RenderTileOptions, 'x' | 'y' | 'width' | 'height'>
  let full: RenderedTile

  beforeAll(async () => {
    engine = await createEngine()
    scene = await loadScene(await generateScene())
    frame = { scene, frame: 7, imageWidth: SIZE, imageHeight: SIZE, samples: SAMPLES }
    full = await engine.renderTile({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE })
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should load a generated glTF scene of at least 10,000 triangles with its camera and materials', () => {
    expect(scene.triangleCount).toBeGreaterThanOrEqual(10_000)
    expect(scene.camera.position[2]).toBeCloseTo(3.4)
    expect(scene.materialList.some((m) => m.emissive[0] > 0)).toBe(true)
    expect(scene.materialList.some((m) => m.metallic === 1)).toBe(true)
    // The ceiling panel's two triangles are the lights that next-event estimation samples by area.
    expect(scene.lightCount).toBe(2)
    expect(scene.lightArea).toBeCloseTo(0.9, 5)
    // The room's walls and lamp face into the room (counter-clockwise fronts), so emission on any of them shows.
    const bits = new Uint32Array(scene.triangles.buffer)
    const room = new Set(
      ['white', 'red', 'green', 'light'].map((n) => scene.materialList.findIndex((m) => m.name === n)),
    )
    let walls = 0
    for (let i = 0; i < scene.triangleCount; i++) {
      if (!room.has(bits[i * 12 + 3]!)) continue
      const t = scene.triangles.subarray(i * 12, i * 12 + 12)
      const n = [t[5]! * t[10]! - t[6]! * t[9]!, t[6]! * t[8]! - t[4]! * t[10]!, t[4]! * t[9]! - t[5]! * t[8]!]
      const toCenter = [0, 1, 0].map((c, k) => c - (t[k]! + (t[4 + k]! + t[8 + k]!) / 3))
      expect(n[0]! * toCenter[0]! + n[1]! * toCenter[1]! + n[2]! * toCenter[2]!).toBeGreaterThan(0)
      walls++
    }
    expect(walls).toBe(12)
  })

  it('should render a 256x256 frame that is not black', () => {
    expect(full.pixels.length).toBe(SIZE * SIZE * 4)
    let lit = 0
    let sum = 0
    for (let i = 0; i < full.pixels.length; i += 4) {
      const l = full.pixels[i]! + full.pixels[i + 1]! + full.pixels[i + 2]!
      sum += l
      if (l > 0) lit++
    }
    expect(lit / (SIZE * SIZE)).toBeGreaterThan(0.15)
    expect(sum / (SIZE * SIZE)).toBeGreaterThan(0.01)
    expect(full.rays).toBeGreaterThanOrEqual(SIZE * SIZE * SAMPLES)
  })

  it('should match the CPU reference path tracer at equal samples (PSNR >= 30 dB)', () => {
    const cpu = renderTileCpu({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE })
    expect(psnr(full.pixels, cpu.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it('should render a tile twice bit for bit', async () => {
    const again = await engine.renderTile({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE })
    expect(Buffer.from(again.pixels.buffer).equals(Buffer.from(full.pixels.buffer))).toBe(true)
  })

  it('should re-render a sub-rectangle alone bit for bit', async () => {
    const sub = await engine.renderTile({ ...frame, x: 37, y: 91, width: 50, height: 23 })
    for (let r = 0; r < 23; r++) {
      const fromFull = full.pixels.subarray(((91 + r) * SIZE + 37) * 4, ((91 + r) * SIZE + 37 + 50) * 4)
      expect(sub.pixels.subarray(r * 50 * 4, (r + 1) * 50 * 4)).toEqual(fromFull)
    }
  })

  it('should give the same bits whether a tile traces its samples in parallel or in turn', async () => {
    // Real GPUs trace small tiles' samples one per invocation; lavapipe traces every sample of a pixel in turn.
    const parallel = new GpuPathTracer(engine.context, true)
    const tile = { ...frame, x: 37, y: 91, width: 50, height: 23, samples: 6 }
    const inTurn = await engine.renderTile(tile)
    const inParallel = await parallel.renderTile(tile)
    expect(Buffer.from(inParallel.pixels.buffer).equals(Buffer.from(inTurn.pixels.buffer))).toBe(true)
    expect(inParallel.rays).toBe(inTurn.rays)
    // The 4-sample rows of the full tile, in parallel, equal the full tile's rows.
    const rows = await parallel.renderTile({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE, rows: [3, 200] })
    expect(tileRowChunks(rows)).toEqual([tileRowChunk(full, 3), tileRowChunk(full, 200)])
  })

  it('should compile in only what a scene needs, and give the same bits with every light and texture path compiled in', async () => {
    expect(kernelFeatures(scene)).toEqual(PLAIN_KERNEL)
    expect(kernelVariant(kernelFeatures(scene))).toBe('pathtracer')
    const textured = await loadScene(await generateScene({ texturedFloor: true, spheres: 1, subdivisions: 2 }))
    expect(kernelFeatures(textured)).toEqual({ ...PLAIN_KERNEL, textured: true })
    expect(kernelVariant(kernelFeatures(textured))).toBe('pathtracer-textured')
    // Features a scene lacks read parameters that are zero for it: compiled in, they change nothing. Every light
    // and texture path is what each kernel carried before session 17 (one pipeline serves both scenes here).
    const lightsAndTextures = { textured: true, vertexColored: true, punctual: true, environment: true }
    const superset = new GpuPathTracer(engine.context, false, lightsAndTextures)
    for (const s of [scene, textured]) {
      const tile = { ...frame, scene: s, x: 60, y: 100, width: 40, height: 12, samples: 3 }
      const lean = await engine.renderTile(tile)
      const full = await superset.renderTile(tile)
      expect(Buffer.from(full.pixels.buffer).equals(Buffer.from(lean.pixels.buffer))).toBe(true)
    }
  })

  it('should cut a tile into dispatches of whole rows and consecutive samples under the per-dispatch budget', () => {
    const plan = (o: Partial<RenderTileOptions>, parallel: boolean, maxWorkgroups = 65535): DispatchChunk[] =>
      planDispatches(resolveTile({ ...frame, x: 0, y: 0, width: 32, height: 32, ...o }), parallel, maxWorkgroups)
    // A small tile is one dispatch either way: all 16 samples side by side, or in turn.
    const whole = [{ firstRow: 0, rowCount: 32, firstSample: 0, sampleCount: 16 }]
    expect(plan({ samples: 16 }, true)).toEqual(whole)
    expect(plan({ samples: 16 }, false)).toEqual(whole)
    // In turn: 2^20 pixel-samples per dispatch is 16 rows of 1024 pixels at 64 spp.
    const big = { imageWidth: 1024, imageHeight: 1024, width: 1024, height: 1024, samples: 64 }
    const inTurn = plan(big, false)
    expect(inTurn).toHaveLength(64)
    expect(inTurn[1]).toEqual({ firstRow: 16, rowCount: 16, firstSample: 0, sampleCount: 64 })
    // In parallel, a whole 1024x1024 tile per dispatch is one sample of every pixel.
    const inParallel = plan(big, true)
    expect(inParallel).toHaveLength(64)
    expect(inParallel[5]).toEqual({ firstRow: 0, rowCount: 1024, firstSample: 5, sampleCount: 1 })
    // The workgroups-per-dimension limit caps the samples side by side in one dispatch.
    expect(plan({ width: 8, height: 8, samples: 4096 }, true, 100)[0]!.sampleCount).toBe(100)
  })

  it('should finish a render whose scene is released while it runs, and render the scene again after', async () => {
    // Two dispatches (64 spp over 66 rows of 256), with a signal so the render waits between them.
    const tile = { ...frame, scene: { ...scene }, samples: 64, x: 0, y: 0, width: SIZE, height: 66 }
    const running = engine.renderTile(tile, { signal: new AbortController().signal })
    engine.releaseScene(tile.scene)
    const released = await running
    engine.releaseScene(tile.scene)
    expect((await engine.renderTile(tile)).pixels).toEqual(released.pixels)
  })

  it('should composite tiles into exactly the whole frame', async () => {
    const half = SIZE / 2
    const tiles = await Promise.all(
      [
        [0, 0],
        [half, 0],
        [0, half],
        [half, half],
      ].map(([x, y]) => engine.renderTile({ ...frame, x: x!, y: y!, width: half, height: half })),
    )
    const composed = compositeTiles(tiles)
    expect(Buffer.from(composed.pixels.buffer).equals(Buffer.from(full.pixels.buffer))).toBe(true)
    expect(() => compositeTiles(tiles.slice(1))).toThrow(expect.objectContaining({ code: 'GPU__INVALID_TILE' }))
    expect(() => compositeTiles([...tiles, tiles[0]!])).toThrow(expect.objectContaining({ code: 'GPU__INVALID_TILE' }))
  })

  it('should render only the requested rows, equal to the full tile rows', async () => {
    const rows = [0, 5, 128, 255]
    const part = await engine.renderTile({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE, rows })
    expect(part.rows).toEqual(rows)
    expect(tileRowChunks(part)).toEqual(rows.map((r) => tileRowChunk(full, r)))
    expect(tileRowChunks(full)).toHaveLength(SIZE)
    expect(tileRowChunk(full, 0).byteLength).toBe(SIZE * 16)
  })

  it('should recompute rows on the CPU equal (by PSNR) to the GPU rows', () => {
    const cpu = renderTileCpu({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE, rows: [3, 200] })
    const gpuRows = new Float32Array([
      ...full.pixels.subarray(3 * SIZE * 4, 4 * SIZE * 4),
      ...full.pixels.subarray(200 * SIZE * 4, 201 * SIZE * 4),
    ])
    expect(psnr(cpu.pixels, gpuRows)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it("should pass the verifier's row check against the CPU reference in a scene a thousand units across", async () => {
    // The room scaled by 1000 under a root node: a float32 ulp of its coordinates outgrows a fixed 1e-4 offset, and
    // with that offset 7 of these 8 rows failed, as bounces re-hit their own surface on one side only.
    const doc = generateSceneDocument({ subdivisions: 2 })
    const root = doc.getRoot().getDefaultScene()!
    const units = doc.createNode('units').setScale([1000, 1000, 1000])
    for (const child of root.listChildren()) {
      root.removeChild(child)
      units.addChild(child)
    }
    root.addChild(units)
    const large = await loadScene(await new WebIO().writeBinary(doc))
    const tile = {
      scene: large,
      frame: 0,
      imageWidth: 32,
      imageHeight: 32,
      x: 0,
      y: 8,
      width: 32,
      height: 8,
      samples: 4,
    }
    const verifier = parseTolerance('psnr:rgba32f')
    const cpu = tileRowChunks(renderTileCpu(tile))
    const gpu = tileRowChunks(await engine.renderTile(tile))
    expect(gpu.filter((row, y) => !compareChunks(verifier, row, cpu[y]!).ok)).toHaveLength(0)
  })

  it('should give different frames different noise', async () => {
    const other = await engine.renderTile({ ...frame, frame: 8, x: 0, y: 0, width: 16, height: 16 })
    const same = await engine.renderTile({ ...frame, x: 0, y: 0, width: 16, height: 16 })
    expect(Buffer.from(other.pixels.buffer).equals(Buffer.from(same.pixels.buffer))).toBe(false)
  })

  it('should encode a frame as an 8-bit sRGB PNG', () => {
    const png = encodePng(full, { exposure: 2 })
    const decoded = decode(png)
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([SIZE, SIZE, 4])
    expect(Buffer.from(decoded.data as Uint8Array).equals(Buffer.from(toRgba8(full, { exposure: 2 })))).toBe(true)
  })

  it('should load a scene from a .glb file written with NodeIO', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-gpu-'))
    try {
      const path = join(dir, 'room.glb')
      await writeScene(path, { spheres: 1, subdivisions: 2 })
      const small = await loadScene(path)
      expect(small.triangleCount).toBe(20 * 16 + 12)
      const tile = await engine.renderTile({
        scene: small,
        frame: 0,
        imageWidth: 32,
        imageHeight: 32,
        x: 0,
        y: 0,
        width: 32,
        height: 32,
        samples: 2,
      })
      expect(tile.pixels.some((v, i) => i % 4 !== 3 && v > 0)).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('should load a .gltf file whose buffer and texture sit beside it, by relative URI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-gpu-'))
    try {
      const path = join(dir, 'room.gltf')
      await new NodeIO().write(path, generateSceneDocument({ spheres: 1, subdivisions: 2, texturedFloor: true }))
      const scene = await loadScene(path)
      expect(scene.triangleCount).toBe(20 * 16 + 12)
      expect(scene.materialList.find((m) => m.name === 'floor')?.baseColorTexture).toBeDefined()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('should load .gltf JSON with embedded data URIs', async () => {
    const { json, resources } = await new WebIO().writeJSON(generateSceneDocument({ spheres: 1, subdivisions: 1 }))
    for (const buffer of json.buffers ?? []) {
      buffer.uri = `data:application/octet-stream;base64,${Buffer.from(resources[buffer.uri!]!).toString('base64')}`
    }
    const small = await loadScene(new TextEncoder().encode(JSON.stringify(json)))
    expect(small.triangleCount).toBe(20 * 4 + 12)
  })

  it('should reject malformed glTF with a coded error', async () => {
    const garbage = Uint8Array.from({ length: 256 }, (_, i) => (i * 31) & 255)
    await expect(loadScene(garbage)).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
    const glb = await generateScene({ spheres: 1, subdivisions: 1 })
    await expect(loadScene(glb.subarray(0, glb.length - 100))).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
    const noMeshes = new TextEncoder().encode(
      JSON.stringify({ asset: { version: '2.0' }, scenes: [{ nodes: [] }], scene: 0 }),
    )
    await expect(loadScene(noMeshes)).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
    const badIndex = new TextEncoder().encode(
      '{"asset": {"version": "2.0"}, "accessors": [{"count": 3, "type": "VEC3", "componentType": 5126}]',
    )
    await expect(loadScene(badIndex)).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
    // A path that is no regular file is refused unread: a link to /dev/zero would be read without end.
    const dir = await mkdtemp(join(tmpdir(), 'tessera-scene-'))
    try {
      await symlink('/dev/zero', join(dir, 'scene.gltf'))
      await expect(loadScene(join(dir, 'scene.gltf'))).rejects.toMatchObject({
        code: 'GPU__MALFORMED_SCENE',
        message: expect.stringMatching(/not a regular file/),
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('should reject tiles outside the image with a coded error', async () => {
    await expect(engine.renderTile({ ...frame, x: 200, y: 0, width: 100, height: 10 })).rejects.toMatchObject({
      code: 'GPU__INVALID_TILE',
    })
    await expect(engine.renderTile({ ...frame, x: 0, y: 0, width: 8, height: 8, rows: [3, 1] })).rejects.toMatchObject({
      code: 'GPU__INVALID_TILE',
    })
    await expect(engine.renderTile({ ...frame, samples: 0, x: 0, y: 0, width: 8, height: 8 })).rejects.toMatchObject({
      code: 'GPU__INVALID_INPUT',
    })
  })
})
