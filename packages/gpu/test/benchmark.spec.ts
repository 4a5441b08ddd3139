import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BENCHMARK_REFERENCE, createEngine, runCapacityBenchmark } from '../src/index.js'
import type { Engine } from '../src/index.js'

describe('capacity benchmark', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should score runs against the reference and report their spread', async () => {
    let fake = 0
    // A scripted clock makes every workload run exactly once per measurement and fixes the elapsed time.
    const result = await runCapacityBenchmark(engine, { runs: 2, now: () => (fake += 500) })
    expect(result.runs).toHaveLength(2)
    for (const run of result.runs) {
      expect(run.raysPerSec).toBeGreaterThan(0)
      expect(run.gflops).toBeCloseTo((2 * 512 ** 3) / 0.5 / 1e9, 6)
      expect(run.score).toBeCloseTo(
        100 * Math.sqrt((run.raysPerSec / BENCHMARK_REFERENCE.raysPerSec) * (run.gflops / BENCHMARK_REFERENCE.gflops)),
        6,
      )
    }
    // The same rays over the same scripted time: identical runs, no spread.
    expect(result.cv).toBe(0)
    expect(result.score).toBeCloseTo(result.runs[0]!.score, 9)
  })

  it('should reject an invalid run count', async () => {
    await expect(runCapacityBenchmark(engine, { runs: 0 })).rejects.toMatchObject({ code: 'GPU__INVALID_INPUT' })
  })
})
