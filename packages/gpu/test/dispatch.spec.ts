import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, generateScene, loadScene } from '../src/index.js'
import type { Engine, RenderTileOptions, Scene } from '../src/index.js'
import { MAX_IMAGE_SIDE } from '../src/constants.js'
import { GpuPathTracer, planDispatches } from '../src/render/gpu-pathtracer.js'
import { resolveTile } from '../src/render/tile.js'

/** The lowest cap a tracer accepts: one sample of the widest row. */
const LOW_CAP = MAX_IMAGE_SIDE

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
const same = (a: Float32Array, b: Float32Array): boolean => bytes(a).equals(bytes(b))

describe('path tracer dispatches', () => {
  let engine: Engine
  let scene: Scene
  let frame: Omit<RenderTileOptions, 'x' | 'y' | 'width' | 'height' | 'samples'>

  beforeAll(async () => {
    engine = await createEngine()
    scene = await loadScene(await generateScene())
    frame = { scene, frame: 3, imageWidth: 256, imageHeight: 256 }
  })

  afterAll(() => {
    engine.destroy()
  })

  it("should split a pixel's samples in turn into groups under the cap, with the same bits as one group", async () => {
    // One row of 64 pixels at 512 spp is 32,768 pixel-samples, twice the lowered cap.
    const tile = { ...frame, x: 96, y: 120, width: 64, height: 3, samples: 512 }
    const chunks = planDispatches(resolveTile(tile), false, 65535, LOW_CAP)
    for (const c of chunks) expect(c.rowCount * tile.width * c.sampleCount).toBeLessThanOrEqual(LOW_CAP)
    // Every row's samples, in ascending runs from 0 to 512, each row once.
    const covered = chunks.map((c) => [c.firstRow, c.rowCount, c.firstSample, c.sampleCount])
    expect(covered).toEqual([
      [0, 1, 0, 256],
      [0, 1, 256, 256],
      [1, 1, 0, 256],
      [1, 1, 256, 256],
      [2, 1, 0, 256],
      [2, 1, 256, 256],
    ])
    const lowered = new GpuPathTracer(engine.context, false, {}, { pixelSamplesPerDispatch: LOW_CAP })
    const grouped = await lowered.renderTile(tile)
    const whole = await engine.renderTile(tile)
    expect(same(grouped.pixels, whole.pixels)).toBe(true)
    expect(grouped.rays).toBe(whole.rays)
    // A row re-rendered alone, in groups, still equals that row of the tile.
    const row = await lowered.renderTile({ ...tile, rows: [1] })
    expect(same(row.pixels, whole.pixels.subarray(64 * 4, 128 * 4))).toBe(true)
  })

  it('should refuse a cap under one sample of the widest row', () => {
    expect(() => new GpuPathTracer(engine.context, false, {}, { pixelSamplesPerDispatch: LOW_CAP - 1 })).toThrow(
      /pixelSamplesPerDispatch/,
    )
  })
})
