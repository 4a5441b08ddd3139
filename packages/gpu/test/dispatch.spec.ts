import { isCoreError } from '@tessera/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, generateScene, loadScene } from '../src/index.js'
import type { Engine, RenderProgress, RenderTileOptions, Scene } from '../src/index.js'
import { MAX_IMAGE_SIDE } from '../src/constants.js'
import { GpuPathTracer, planDispatches } from '../src/render/gpu-pathtracer.js'
import { resolveTile } from '../src/render/tile.js'
import { sliverScene } from './helpers/slivers.js'

/** The lowest cap a tracer accepts: one sample of the widest row. */
const LOW_CAP = MAX_IMAGE_SIDE

/** A clock that moves `step` milliseconds each time it is read: every dispatch seems to take `step`. */
function steppingClock(step: number): () => number {
  let now = 0
  return () => (now += step)
}

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

  it('should give an abortable render the same bits however its dispatches are cut by time', async () => {
    const tile = { ...frame, x: 30, y: 140, width: 48, height: 5, samples: 6 }
    const plain = await engine.renderTile(tile)
    for (const inParallel of [false, true]) {
      // Every dispatch seems to take a second: the pacer keeps each to one sample of one row, 30 in all.
      const slow = new GpuPathTracer(engine.context, inParallel, {}, { now: steppingClock(1000) })
      const progress: RenderProgress[] = []
      const signal = new AbortController().signal
      const paced = await slow.renderTile(tile, { signal, onProgress: (p) => progress.push(p) })
      expect(progress.map((p) => p.pixelSamples)).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * 48))
      expect(same(paced.pixels, plain.pixels)).toBe(true)
      expect(paced.rays).toBe(plain.rays)
    }
    // On the real clock, in whatever dispatches the device's speed gives.
    const timed = await new GpuPathTracer(engine.context, false).renderTile(tile, {
      signal: new AbortController().signal,
    })
    expect(same(timed.pixels, plain.pixels)).toBe(true)
    // The engine's own renderTile reports progress too, up to the whole tile.
    const watched: RenderProgress[] = []
    const engineTimed = await engine.renderTile(tile, { onProgress: (p) => watched.push(p) })
    expect(watched.at(-1)?.pixelSamples).toBe(48 * 5 * 6)
    expect(same(engineTimed.pixels, plain.pixels)).toBe(true)
  })

  it('should put the rows of a paced render, traced spread over the tile, back in place', async () => {
    // 20 rows: one by one in turn (0, 16, 8, 4, ...), in bands of 8 in parallel (rows 0-7, 16-19, 8-15).
    const tile = { ...frame, x: 100, y: 90, width: 16, height: 20, samples: 2 }
    const plain = await engine.renderTile(tile)
    for (const inParallel of [false, true]) {
      // A dispatch a row (a second each), or dispatches growing to the cap (no time at all).
      for (const now of [steppingClock(1000), () => 0]) {
        const paced = await new GpuPathTracer(engine.context, inParallel, {}, { now }).renderTile(tile, {
          onProgress: () => {},
        })
        expect(same(paced.pixels, plain.pixels)).toBe(true)
        expect(paced.rays).toBe(plain.rays)
      }
    }
  })

  it('should stop a costly render at the abort after its first small dispatch, not after the whole tile', async () => {
    const costly = sliverScene(20_000)
    // Unaborted, this is 65,536 camera rays through every box of the BVH: about 9 s on lavapipe.
    const tile = { scene: costly, frame: 0, imageWidth: 64, imageHeight: 64, x: 0, y: 0, width: 64, height: 64 }
    const controller = new AbortController()
    const progress: RenderProgress[] = []
    const render = new GpuPathTracer(engine.context, false).renderTile(
      { ...tile, samples: 16 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          progress.push(p)
          controller.abort()
        },
      },
    )
    const failure = await render.catch((e: unknown) => e)
    expect(isCoreError(failure, 'CORE__ABORTED')).toBe(true)
    // Nothing is known of the scene's cost at first: the first dispatch is one sample of one row.
    expect(progress).toEqual([{ dispatches: 1, pixelSamples: 64, total: 64 * 64 * 16 }])
  })

  it('should refuse a cap under one sample of the widest row, and a target that is not a positive time', () => {
    expect(() => new GpuPathTracer(engine.context, false, {}, { pixelSamplesPerDispatch: LOW_CAP - 1 })).toThrow(
      /pixelSamplesPerDispatch/,
    )
    expect(() => new GpuPathTracer(engine.context, false, {}, { targetDispatchMs: 0 })).toThrow(/targetDispatchMs/)
  })
})
