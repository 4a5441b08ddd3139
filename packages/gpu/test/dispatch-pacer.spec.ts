import { describe, expect, it } from 'vitest'
import { generateScene, loadScene } from '../src/index.js'
import { DISPATCH_GROWTH, DISPATCH_TARGET_MS, MAX_IMAGE_SIDE, PIXEL_SAMPLES_PER_DISPATCH } from '../src/constants.js'
import { DispatchPacer, GpuPathTracer } from '../src/render/gpu-pathtracer.js'
import type { RenderProgress } from '../src/index.js'
import { fakeContext, type FakeDispatch } from './helpers/fake-context.js'

/** The lowest cap a tracer accepts: one sample of the widest row. */
const LOW_CAP = MAX_IMAGE_SIDE

/** A dispatch a pacer planned, what it cost, and the largest of those timed before it was planned. */
interface Paced {
  pixelSamples: number
  ms: number
  largestTimed: number
}

/**
 * Paces `total` pixel-samples as an abortable render does: each dispatch is planned while the one before it still
 * runs, so it is sized from the dispatches before that one. `msPerPixelSample(at)` is the cost of the pixel-sample
 * `at` (dispatches take them in order).
 */
function pace(pacer: DispatchPacer, total: number, msPerPixelSample: (at: number) => number): Paced[] {
  const paced: Paced[] = []
  let planned = 0
  let largestTimed = 0
  while (planned < total) {
    const pixelSamples = Math.min(pacer.budget, total - planned)
    let ms = 0
    for (let at = planned; at < planned + pixelSamples; at++) ms += msPerPixelSample(at)
    paced.push({ pixelSamples, ms, largestTimed })
    planned += pixelSamples
    const timed = paced.at(-2)
    if (timed !== undefined) {
      pacer.record(timed.pixelSamples, timed.ms)
      largestTimed = Math.max(largestTimed, timed.pixelSamples)
    }
  }
  return paced
}

describe('dispatch pacer', () => {
  it('should count a time that is not a number or went back as no time, keeping a whole budget', () => {
    const pacer = new DispatchPacer(64, LOW_CAP, 250)
    pacer.record(64, 10)
    pacer.record(64, Number.NaN)
    expect(pacer.budget).toBe(256)
    pacer.record(256, -5)
    expect(pacer.budget).toBe(1024)
    pacer.record(1024, 1000)
    expect(Number.isInteger(pacer.budget)).toBe(true)
    expect(pacer.budget).toBeGreaterThanOrEqual(64)
  })

  it('should grow dispatches toward the target run time, at most fourfold over those timed, within the cap', () => {
    const pacer = new DispatchPacer(64, LOW_CAP, 250)
    expect(pacer.budget).toBe(64)
    // The first dispatch is not timed: it also carries the scene's upload and the kernel's first run.
    pacer.record(64, 5000)
    expect(pacer.budget).toBe(64)
    // Quick dispatches: four times the largest timed (not the budget, which is a dispatch ahead), up to the cap.
    pacer.record(64, 0)
    expect(pacer.budget).toBe(256)
    pacer.record(64, 0)
    expect(pacer.budget).toBe(256)
    pacer.record(256, 0)
    expect(pacer.budget).toBe(1024)
    pacer.record(1024, 1)
    expect(pacer.budget).toBe(4096)
    pacer.record(4096, 1)
    expect(pacer.budget).toBe(LOW_CAP)
    pacer.record(LOW_CAP, 1)
    expect(pacer.budget).toBe(LOW_CAP)
    // 10,000 pixel-samples in 1 s: 2,500 for 250 ms (the quick ones before, together 3 ms, count for little).
    pacer.record(10_000, 1000)
    expect(pacer.budget).toBe(2500)
    // Slower than one row in the target: one row.
    pacer.record(64, 60_000)
    expect(pacer.budget).toBe(64)
    // Quick-looking dispatches after a slow one are not trusted until together they have run the target.
    for (let i = 0; i < 3; i++) {
      pacer.record(64, 1)
      expect(pacer.budget).toBe(64)
    }
    pacer.record(64, 100)
    pacer.record(64, 100)
    expect(pacer.budget).toBe(64)
    pacer.record(64, 100)
    // The slow one is forgotten: 192 pixel-samples in 300 ms (the three of 100 ms) is 160 for 250 ms.
    expect(pacer.budget).toBe(160)
  })

  it('should plan no dispatch more than fourfold the largest timed, however quick, nor long once costly work is timed', () => {
    // The first 200,000 pixel-samples cost nothing (background rows, say), the rest 1/64 ms each: 16,000 in 250 ms.
    const cheap = 200_000
    const costly = 1 / 64
    const pacer = new DispatchPacer(64, PIXEL_SAMPLES_PER_DISPATCH, 250)
    const paced = pace(pacer, 1_000_000, (at) => (at < cheap ? 0 : costly))
    // Two dispatches go before any is timed; after, each is at most four times one the pacer has seen run, however
    // near nothing those took (a pacer that grew its own budget fourfold planned 16 times the last timed).
    for (const p of paced.slice(2)) expect(p.pixelSamples).toBeLessThanOrEqual(DISPATCH_GROWTH * p.largestTimed)
    // So the first costly dispatch runs no longer than four of the largest timed would at the costly rate. (Nothing
    // the pacer is told can bound it better: work past what it timed may cost anything. A render spreads its rows
    // over the tile so that what it timed stands for what comes; see the test below.)
    const first = paced.findIndex((p) => p.ms > 0)
    expect(paced[first]!.ms).toBeLessThanOrEqual(DISPATCH_GROWTH * paced[first]!.largestTimed * costly)
    // Every dispatch planned once a wholly costly one was timed runs within the target.
    const wholly = paced.findIndex((p) => p.ms === p.pixelSamples * costly)
    expect(paced.length).toBeGreaterThan(wholly + 2)
    for (const p of paced.slice(wholly + 2)) expect(p.ms).toBeLessThanOrEqual(DISPATCH_TARGET_MS)
  })

  it('should settle on dispatches of the target run time for uniform costly work, and reach the cap for cheap work', () => {
    // 1/64 ms a pixel-sample: 16,000 in 250 ms.
    const costly = pace(new DispatchPacer(64, PIXEL_SAMPLES_PER_DISPATCH, 250), 1_000_000, () => 1 / 64)
    const settled = costly.findIndex((p) => p.pixelSamples === 16_000)
    expect(settled).toBeGreaterThan(0)
    expect(settled).toBeLessThanOrEqual(12)
    // Every dispatch after is of the target (but the tile's last, what is left of it).
    for (const p of costly.slice(settled, -1)) expect(p.pixelSamples).toBe(16_000)
    // A nanosecond a pixel-sample: the cap, a few more dispatches in than fourfold growth a dispatch would take.
    const cheap = pace(
      new DispatchPacer(64, PIXEL_SAMPLES_PER_DISPATCH, 250),
      8 * PIXEL_SAMPLES_PER_DISPATCH,
      () => 1e-6,
    )
    const capped = cheap.findIndex((p) => p.pixelSamples === PIXEL_SAMPLES_PER_DISPATCH)
    expect(capped).toBeGreaterThan(0)
    expect(capped).toBeLessThanOrEqual((2 * Math.log(PIXEL_SAMPLES_PER_DISPATCH / 64)) / Math.log(DISPATCH_GROWTH) + 3)
  })

  it('should keep every dispatch of a tile whose bottom rows are costly within twice the target', async () => {
    const scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    // 64 x 256 pixels, the lowest fifth of the rows costing 20 ms a sample (a band of 8 rows, 160 ms), the rest nothing.
    const tile = { scene, frame: 0, imageWidth: 64, imageHeight: 256, x: 0, y: 0, width: 64, height: 256 }
    const rowMs = (row: number): number => (row >= 205 ? 20 : 0)
    const cost = (d: FakeDispatch): number => d.rows.reduce((ms, row) => ms + rowMs(row), 0) * d.sampleCount
    // At 64 spp the first row traced (a cheap one) holds 4,096 pixel-samples: dispatches of its samples alone, the
    // pacer grew on them to one dispatch of several rows at every sample, 1.3 s where one of the rows was costly.
    for (const samples of [1, 4, 64]) {
      for (const inParallel of [false, true]) {
        const fake = fakeContext()
        // The device runs the queued dispatches back to back: the k-th is seen done when the first k have run.
        let reads = 0
        const now = (): number => fake.dispatches.slice(0, reads++).reduce((ms, d) => ms + cost(d), 0)
        const tracer = new GpuPathTracer(fake.ctx, inParallel, {}, { now })
        await tracer.renderTile({ ...tile, samples }, { onProgress: () => {} })
        const what = `${samples} spp, ${inParallel ? 'in parallel' : 'in turn'}`
        // Tracing the rows top to bottom, the pacer grew on the cheap ones to one dispatch of every costly row.
        for (const d of fake.dispatches) expect(cost(d), what).toBeLessThanOrEqual(2 * DISPATCH_TARGET_MS)
        // Every sample of every row traced once.
        const traced = new Array<number>(tile.height).fill(0)
        for (const d of fake.dispatches) for (const row of d.rows) traced[row]! += d.sampleCount
        expect(traced, what).toEqual(new Array<number>(tile.height).fill(samples))
      }
    }
  })
})

describe('dispatches in flight', () => {
  it('should keep the target of work queued where the cap keeps dispatches short, within fourfold the largest timed', () => {
    const pacer = new DispatchPacer(64, LOW_CAP, 250)
    expect(pacer.depth).toBe(1)
    pacer.record(64, 1)
    pacer.record(64, 1)
    // Uncapped, one dispatch queued.
    expect(pacer.depth).toBe(1)
    // Dispatches at the cap that run a millisecond each: the target's worth is 250 of them, the bound four.
    for (let i = 0; i < 4; i++) pacer.record(LOW_CAP, 1)
    expect(pacer.budget).toBe(LOW_CAP)
    expect(pacer.depth).toBe(DISPATCH_GROWTH)
    // At the cap and 100 ms each, 2.5 of them make the target: two.
    for (let i = 0; i < 4; i++) pacer.record(LOW_CAP, 100)
    expect(pacer.depth).toBe(2)
    // Slower than the target: one.
    pacer.record(LOW_CAP, 1000)
    expect(pacer.depth).toBe(1)
  })

  it('should queue several capped dispatches ahead of a quick device, and no more than the target of a slow one', async () => {
    const scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    const tile = { scene, frame: 0, imageWidth: 64, imageHeight: 256, x: 0, y: 0, width: 64, height: 256, samples: 64 }
    /** As each dispatch is seen done: how many were in flight (it included), and what those queued behind it cost. */
    const inFlight = async (msPerPixelSample: number): Promise<{ count: number; queuedMs: number }[]> => {
      const fake = fakeContext()
      let reads = 0
      const cost = (d: FakeDispatch): number => d.rows.length * d.sampleCount * tile.width * msPerPixelSample
      const now = (): number => fake.dispatches.slice(0, reads++).reduce((ms, d) => ms + cost(d), 0)
      const tracer = new GpuPathTracer(fake.ctx, true, {}, { now, pixelSamplesPerDispatch: LOW_CAP })
      const seen: { count: number; queuedMs: number }[] = []
      const onProgress = (p: RenderProgress): void => {
        const flying = fake.dispatches.slice(p.dispatches - 1)
        seen.push({ count: flying.length, queuedMs: flying.slice(1).reduce((ms, d) => ms + cost(d), 0) })
      }
      await tracer.renderTile(tile, { onProgress })
      return seen
    }
    // A microsecond a pixel-sample: a dispatch at the cap runs far under the target, so up to four of them queue
    // behind the running one (one queued left the device idle for the host's turn between any two).
    const quick = await inFlight(1e-3)
    expect(Math.max(...quick.map((s) => s.count))).toBe(DISPATCH_GROWTH + 1)
    // 0.1 ms a pixel-sample: dispatches under the cap, sized to the target, one queued behind the running one (an
    // abort waits for both), and that one within the target.
    const slow = await inFlight(0.1)
    expect(Math.max(...slow.map((s) => s.count))).toBe(2)
    for (const s of slow.slice(4)) expect(s.queuedMs).toBeLessThanOrEqual(DISPATCH_TARGET_MS)
  })
})
