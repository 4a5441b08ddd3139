import { DEFAULT_BENCH_HOURS_PER_TASK, DEFAULT_WORK_TOLERANCE, estimatedTaskMs, paidTaskMs } from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'
import { checkJobBudget, jobSpecOf } from '../src/peer/job-request.js'

const render = (tile: number, samples: number) => ({
  kind: 'render' as const,
  firstFrame: 0,
  frames: 1,
  width: tile,
  height: tile,
  tileWidth: tile,
  tileHeight: tile,
  samples,
})

describe('jobSpecOf', () => {
  it('should declare a large render task its estimated work, so workers do not skip it as underpriced', () => {
    const split = render(1024, 1024)
    const spec = jobSpecOf({
      kind: 'render',
      inputs: ['bafkscene'],
      render: { ...split, firstFrame: undefined },
    } as never)
    expect(spec.benchHoursPerTask).toBeGreaterThan(DEFAULT_BENCH_HOURS_PER_TASK)
    for (const score of [1, 100, 10_000]) {
      const paid = paidTaskMs(spec, score)
      expect(estimatedTaskMs(split, score)).toBeLessThanOrEqual(paid * DEFAULT_WORK_TOLERANCE)
      expect(estimatedTaskMs(split, score)).toBeCloseTo(paid, 6)
    }
  })

  it("should carry an inference's declared FLOPs per item into its order and declare their benchmark-hours", () => {
    // Two items a task at 3.456e12 FLOPs: 20 benchmark-hours a task (9.6e7 FLOP/s a benchmark unit).
    const inference = { items: 8, itemsPerTask: 2, flopsPerItem: 3_456_000_000_000 }
    const spec = jobSpecOf({ kind: 'inference', inputs: ['bafkmodel', 'bafktensors'], inference })
    expect(spec.split).toEqual({ kind: 'inference', ...inference })
    expect(spec.benchHoursPerTask).toBeCloseTo(20)
    // Without the figure, as before: the default.
    const { flopsPerItem: _, ...undeclared } = inference
    const older = jobSpecOf({ kind: 'inference', inputs: ['bafkmodel', 'bafktensors'], inference: undeclared })
    expect(older.split).toEqual({ kind: 'inference', ...undeclared })
    expect(older.benchHoursPerTask).toBe(DEFAULT_BENCH_HOURS_PER_TASK)
  })

  it('should refuse, before anything is recorded, a job whose budget rounds to nothing', () => {
    const split = { kind: 'inference' as const, items: 4, itemsPerTask: 2 }
    for (const [maxPrice, benchHoursPerTask] of [
      [0n, 1],
      // Half a benchmark-hour at 1 unit an hour: each task costs 0, rounded down as settlement pays it.
      [1n, 0.5],
    ] as const) {
      expect(() => checkJobBudget({ maxPrice, benchHoursPerTask, split })).toThrow(
        expect.objectContaining({ code: 'NODE__INVALID_JOB_BUDGET' }),
      )
    }
    expect(() => checkJobBudget({ maxPrice: 2n, benchHoursPerTask: 0.5, split })).not.toThrow()
  })
})
