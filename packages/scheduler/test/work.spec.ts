import { describe, expect, it } from 'vitest'
import {
  benchHoursOf,
  checkDeclaredWork,
  DEFAULT_BENCH_HOURS_PER_TASK,
  estimatedTaskMs,
  isTooLarge,
  isUnderpriced,
  maxTilePixelsOf,
  MS_PER_HOUR,
} from '../src/index.js'

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

describe('declared inference work', () => {
  /** 8 items a task at 4.32e12 FLOPs each: 100 benchmark-hours a task (9.6e7 FLOP/s a benchmark unit). */
  const split = { kind: 'inference', items: 64, itemsPerTask: 8, flopsPerItem: 4_320_000_000_000 } as const

  it('should estimate an inference task from its items and declared FLOPs, and declare that as its benchmark-hours', () => {
    expect(estimatedTaskMs(split, 1) ?? Number.NaN).toBeCloseTo(100 * MS_PER_HOUR)
    expect(estimatedTaskMs(split, 100) ?? Number.NaN).toBeCloseTo(MS_PER_HOUR)
    expect(benchHoursOf(split)).toBeCloseTo(100)
    // The last task, clipped to the items left, is not the largest: 2 items per task of 3 items reckons 2.
    expect(estimatedTaskMs({ ...split, items: 3, itemsPerTask: 2 }, 1) ?? Number.NaN).toBeCloseTo(25 * MS_PER_HOUR)
    expect(estimatedTaskMs({ ...split, items: 1, itemsPerTask: 8 }, 1) ?? Number.NaN).toBeCloseTo(12.5 * MS_PER_HOUR)
  })

  it('should find an inference order underpriced by its declared work, and never one that declares none', () => {
    expect(isUnderpriced({ split, benchHoursPerTask: 6 }, 100, 16)).toBe(true)
    expect(isUnderpriced({ split, benchHoursPerTask: 6.3 }, 100, 16)).toBe(false)
    const { flopsPerItem: _, ...undeclared } = split
    expect(isUnderpriced({ split: undeclared, benchHoursPerTask: 0 }, 100, 16)).toBe(false)
  })

  it('should refuse an order whose model costs more than twice the FLOPs an item it declared', () => {
    expect(() => checkDeclaredWork(split, 4_320_000_000_000)).not.toThrow()
    // Counting multiply-adds instead of FLOPs halves the figure: taken.
    expect(() => checkDeclaredWork(split, 8_640_000_000_000)).not.toThrow()
    for (const actual of [8_640_000_000_001, Infinity, Number.NaN]) {
      expect(() => checkDeclaredWork(split, actual)).toThrow(
        expect.objectContaining({
          code: 'SCHEDULER__DECLARED_WORK_MISMATCH',
          context: { declared: 4_320_000_000_000, actual, slack: 2 },
        }),
      )
    }
    // No declaration (an older order), or a render: nothing to hold the model to.
    const { flopsPerItem: _, ...undeclared } = split
    expect(() => checkDeclaredWork(undeclared, 1e15)).not.toThrow()
    expect(() =>
      checkDeclaredWork(
        { kind: 'render', firstFrame: 0, frames: 1, width: 8, height: 8, tileWidth: 8, tileHeight: 8, samples: 1 },
        1e15,
      ),
    ).not.toThrow()
  })
})

describe('tiles a device holds', () => {
  it("should reckon a device's tile bound from the smaller of its binding and buffer limits, 16 bytes a pixel", () => {
    // lavapipe's (and WebGPU's least) limits: 128 MiB, core's MAX_TILE_PIXELS.
    const lavapipe = { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 }
    expect(maxTilePixelsOf(lavapipe)).toBe(2 ** 23)
    expect(maxTilePixelsOf({ maxStorageBufferBindingSize: 2 ** 32 - 1, maxBufferSize: 2 ** 31 })).toBe(2 ** 27)
    // A device that holds more than one blob may: its output could not be kept or served.
    expect(maxTilePixelsOf({ maxStorageBufferBindingSize: 2 ** 32 - 1, maxBufferSize: 2 ** 32 }, 2 ** 30)).toBe(2 ** 26)
  })

  it('should find a render order too large by its clipped tile, and never an inference order', () => {
    expect(isTooLarge({ split: render(4096, 256) }, 2 ** 23)).toBe(true)
    expect(isTooLarge({ split: render(4096, 256) }, 4096 * 4096)).toBe(false)
    expect(isTooLarge({ split: { ...render(4096, 1), width: 2048 } }, 2 ** 23)).toBe(false)
    expect(isTooLarge({ split: { kind: 'inference', items: 2 ** 26, itemsPerTask: 2 ** 26 } }, 1)).toBe(false)
  })
})
