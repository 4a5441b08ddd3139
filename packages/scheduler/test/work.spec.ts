import { describe, expect, it } from 'vitest'
import { benchHoursOf, DEFAULT_BENCH_HOURS_PER_TASK, estimatedTaskMs, MS_PER_HOUR } from '../src/index.js'

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

describe('benchHoursOf', () => {
  it('should declare the default benchmark-hours for a task whose estimated work is less', () => {
    expect(benchHoursOf(render(32, 16))).toBe(DEFAULT_BENCH_HOURS_PER_TASK)
    expect(benchHoursOf({ kind: 'inference', items: 8, itemsPerTask: 2 })).toBe(DEFAULT_BENCH_HOURS_PER_TASK)
  })

  it('should declare a render task past the default its estimated work at score 1', () => {
    const split = render(1024, 1024)
    expect(benchHoursOf(split)).toBeGreaterThan(DEFAULT_BENCH_HOURS_PER_TASK)
    expect(benchHoursOf(split)).toBe((estimatedTaskMs(split, 1) ?? Number.NaN) / MS_PER_HOUR)
  })
})
