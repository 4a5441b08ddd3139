import { isCoreError } from '@tessera/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BENCHMARK_REFERENCE,
  BENCHMARK_WORKLOAD,
  createEngine,
  matmulGflops,
  runCapacityBenchmark,
  saturatingSize,
  summarizeRuns,
} from '../src/index.js'
import type { Engine } from '../src/index.js'

describe('capacity benchmark', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should score each run against the reference at the sizes it saturated at', async () => {
    const result = await runCapacityBenchmark(engine, { runs: 2 })
    expect(result.workloadVersion).toBe(BENCHMARK_WORKLOAD.version)
    expect(BENCHMARK_WORKLOAD.tileSides).toContain(result.tileSide)
    expect(BENCHMARK_WORKLOAD.matmulSizes).toContain(result.matmulN)
    expect(result.runs).toHaveLength(2)
    for (const run of result.runs) {
      expect(run.raysPerSec).toBeGreaterThan(0)
      expect(run.gflops).toBeGreaterThan(0)
      expect(run.score).toBeCloseTo(
        100 * Math.sqrt((run.raysPerSec / BENCHMARK_REFERENCE.raysPerSec) * (run.gflops / BENCHMARK_REFERENCE.gflops)),
        6,
      )
    }
    expect(result).toMatchObject(summarizeRuns(result.runs))
  })

  it('should grow a workload only while its throughput rises by the growth factor', async () => {
    const walk = { growth: 1.15, maxCallMs: 1000, workRatio: (a: number, b: number) => (b / a) ** 2 }
    const measured: number[] = []
    const rates: Record<number, number> = { 128: 100, 256: 400, 512: 450, 1024: 5000 }
    const measure = async (size: number): Promise<{ perSecond: number; callMs: number }> => {
      measured.push(size)
      return { perSecond: rates[size]!, callMs: 1 }
    }
    // 256 quadruples the rate; 512 adds 12.5% (< 15%), so the walk stops there and never tries 1024.
    await expect(saturatingSize([128, 256, 512, 1024], measure, walk)).resolves.toEqual({ size: 256, perSecond: 400 })
    expect(measured).toEqual([128, 256, 512])
    // A device that is saturated from the start stays at the smallest size.
    const flat = async (s: number): Promise<{ perSecond: number; callMs: number }> => ({
      perSecond: s === 128 ? 100 : 101,
      callMs: 1,
    })
    await expect(saturatingSize([128, 256], flat, walk)).resolves.toEqual({ size: 128, perSecond: 100 })
    await expect(saturatingSize([], measure, walk)).rejects.toMatchObject({ code: 'GPU__INVALID_INPUT' })
  })

  it('should not start a size whose single call would outlast the cap', async () => {
    const measured: number[] = []
    // Throughput keeps rising, but one call at 128 takes 100 ms: 256 would take about 400 ms, 512 about 1.6 s.
    const slow = async (size: number): Promise<{ perSecond: number; callMs: number }> => {
      measured.push(size)
      return { perSecond: size, callMs: (size / 128) ** 2 * 100 }
    }
    const walk = { growth: 1.15, maxCallMs: 500, workRatio: (a: number, b: number) => (b / a) ** 2 }
    await expect(saturatingSize([128, 256, 512, 1024], slow, walk)).resolves.toEqual({ size: 256, perSecond: 256 })
    expect(measured).toEqual([128, 256])
  })

  it('should report the mean score and the spread of the runs', () => {
    const run = (score: number): { score: number; raysPerSec: number; gflops: number } => ({
      score,
      raysPerSec: 1,
      gflops: 1,
    })
    expect(summarizeRuns([run(90), run(90)])).toEqual({ score: 90, cv: 0 })
    const { score, cv } = summarizeRuns([run(80), run(120)])
    expect(score).toBe(100)
    expect(cv).toBeCloseTo(0.2, 12)
    expect(summarizeRuns([run(0)])).toEqual({ score: 0, cv: 0 })
  })

  it('should reject promptly with CORE__ABORTED when aborted mid-benchmark', async () => {
    const controller = new AbortController()
    let calls = 0
    let callsAfterAbort = 0
    // The clock is read around every render and batch: abort on its third reading, inside the first measurement.
    const now = (): number => {
      calls++
      if (controller.signal.aborted) callsAfterAbort++
      if (calls === 3) controller.abort()
      return performance.now()
    }
    await expect(runCapacityBenchmark(engine, { runs: 1, now, signal: controller.signal })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__ABORTED'),
    )
    // The render under way finishes (one more reading); nothing starts after it.
    expect(callsAfterAbort).toBeLessThanOrEqual(1)
  })

  it('should stop timing matmuls between batches once aborted', async () => {
    const controller = new AbortController()
    let callsAfterAbort = 0
    const now = (): number => {
      if (controller.signal.aborted) callsAfterAbort++
      else controller.abort()
      return performance.now()
    }
    await expect(
      matmulGflops(engine, engine.tensors, 64, 10, now, undefined, { signal: controller.signal }),
    ).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    expect(callsAfterAbort).toBeLessThanOrEqual(1)
  })

  it('should reject an invalid run count', async () => {
    await expect(runCapacityBenchmark(engine, { runs: 0 })).rejects.toMatchObject({ code: 'GPU__INVALID_INPUT' })
  })
})
