import fc from 'fast-check'
import { planFor } from '@tessera/proof'
import { describe, expect, it } from 'vitest'
import {
  checkTaskWork,
  jobIdOfTask,
  MAX_FIRST_FRAME,
  MAX_FRAMES_PER_JOB,
  DEFAULT_VERIFICATION,
  resolveJobSpec,
  splitTasks,
  taskChunkCounts,
  taskIndexOf,
  type RenderTask,
  type SplitSource,
} from '../src/index.js'

const render = (width: number, height: number, tile: number, frames = 1, firstFrame = 0): SplitSource => ({
  jobId: 'abc',
  split: { kind: 'render', firstFrame, frames, width, height, tileWidth: tile, tileHeight: tile, samples: 8 },
})

describe('splitTasks', () => {
  it('should split frames into row-major tiles with clipped edges and stable ids', () => {
    const tasks = splitTasks(render(100, 50, 40, 2, 7)) as RenderTask[]
    expect(tasks).toHaveLength(2 * 3 * 2)
    expect(tasks.slice(0, 3).map((t) => t.taskId)).toEqual(['abc/f7/t0_0', 'abc/f7/t1_0', 'abc/f7/t2_0'])
    expect(tasks[2]).toMatchObject({ x: 80, y: 0, width: 20, height: 40, frame: 7 })
    expect(tasks[5]).toMatchObject({ taskId: 'abc/f7/t2_1', x: 80, y: 40, width: 20, height: 10 })
    expect(tasks[6]).toMatchObject({ taskId: 'abc/f8/t0_0', frame: 8, index: 6 })
    const area = tasks.filter((t) => t.frame === 7).reduce((sum, t) => sum + t.width * t.height, 0)
    expect(area).toBe(100 * 50)
  })

  it('should split inference batches into item ranges, the last one short', () => {
    const tasks = splitTasks({ jobId: 'j', split: { kind: 'inference', items: 10, itemsPerTask: 4 } })
    expect(tasks.map((t) => t.taskId)).toEqual(['j/b0-4', 'j/b4-8', 'j/b8-10'])
    expect(tasks[2]).toMatchObject({ start: 8, end: 10 })
  })

  it('should spell and parse the last frame a job may have, and refuse a first frame beyond it', () => {
    const source = render(16, 16, 16, MAX_FRAMES_PER_JOB, MAX_FIRST_FRAME)
    const last = splitTasks(source).at(-1) as RenderTask
    expect(last.frame).toBe(999_999_999)
    expect(taskIndexOf(source, last.taskId)).toBe(MAX_FRAMES_PER_JOB - 1)
    const spec = { kind: 'render', inputs: ['bafkreiscene'], tier: 3, maxPrice: 1n, benchHoursPerTask: 1 } as const
    const split = { ...source.split, firstFrame: MAX_FIRST_FRAME + 1 } as Extract<
      SplitSource['split'],
      { kind: 'render' }
    >
    expect(() => resolveJobSpec({ ...spec, split })).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__INVALID_JOB_SPEC' }),
    )
  })

  it('should map every task id back to its index and refuse other spellings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 16, max: 128 }),
        fc.integer({ min: 1, max: 3 }),
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: MAX_FIRST_FRAME })),
        (w, h, tile, frames, first) => {
          const source = render(w, h, tile, frames, first)
          for (const task of splitTasks(source)) {
            expect(taskIndexOf(source, task.taskId)).toBe(task.index)
            expect(jobIdOfTask(task.taskId)).toBe('abc')
          }
        },
      ),
      { numRuns: 50, seed: 1 },
    )
    const source = render(64, 64, 32, 1, 0)
    for (const id of [
      'abc/f00/t0_0',
      'abc/f0/t00_0',
      'abc/f0/t0_00',
      'abc/f0/t2_0',
      'abc/f1/t0_0',
      'abd/f0/t0_0',
      'abc/f0/t0_0/x',
      'abc/b0-1',
    ]) {
      expect(taskIndexOf(source, id)).toBe(-1)
    }
    const batches: SplitSource = { jobId: 'j', split: { kind: 'inference', items: 10, itemsPerTask: 4 } }
    for (const id of ['j/b1-5', 'j/b0-3', 'j/b12-16', 'j/b8-12', 'j/b04-8', 'j/b4-08', 'j/b8-10x'])
      expect(taskIndexOf(batches, id)).toBe(-1)
  })

  it('should refuse splits beyond the task limit', () => {
    expect(() => splitTasks(render(16_384, 16_384, 16, 1))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TASK_LIMIT_EXCEEDED' }),
    )
  })
  it('should refuse a render task of more pixel-samples than an order may carry', () => {
    // One 2048x2048 tile at 65,536 samples: a single task, 2.7e11 pixel-samples.
    const huge = {
      kind: 'render',
      firstFrame: 0,
      frames: 1,
      width: 2048,
      height: 2048,
      tileWidth: 2048,
      tileHeight: 2048,
      samples: 65_536,
    } as const
    expect(() => checkTaskWork(huge)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__TASK_WORK_EXCEEDED',
        context: { pixelSamples: 2048 * 2048 * 65_536, max: 2 ** 32 },
      }),
    )
    const spec = { kind: 'render', inputs: ['bafkreiscene'], tier: 3, maxPrice: 1n, benchHoursPerTask: 1 } as const
    expect(() => resolveJobSpec({ ...spec, split: huge })).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TASK_WORK_EXCEEDED' }),
    )
    // The same image in 256x256 tiles at 65,536 samples is 2^32 per task: taken.
    expect(() => checkTaskWork({ ...huge, tileWidth: 256, tileHeight: 256 })).not.toThrow()
    expect(() => checkTaskWork({ kind: 'inference', items: 10, itemsPerTask: 10 })).not.toThrow()
  })
  it('should refuse an inference task of more declared FLOPs than an order may carry', () => {
    const spec = {
      kind: 'inference',
      inputs: ['bafkmodel', 'bafkinputs'],
      tier: 3,
      maxPrice: 1n,
      benchHoursPerTask: 1,
    } as const
    const split = { kind: 'inference', items: 1_024, itemsPerTask: 1_024, flopsPerItem: 2 ** 37 } as const
    expect(() => checkTaskWork(split)).not.toThrow()
    const past = { ...split, flopsPerItem: 2 ** 37 + 1 }
    const refusal = expect.objectContaining({
      code: 'SCHEDULER__TASK_WORK_EXCEEDED',
      context: { flops: 1_024 * (2 ** 37 + 1), max: 2 ** 47 },
    })
    expect(() => checkTaskWork(past)).toThrow(refusal)
    expect(() => resolveJobSpec({ ...spec, kind: 'inference', split: past })).toThrow(refusal)
    // A figure that is no count of FLOPs is refused as the spec's.
    for (const flopsPerItem of [0, 1.5, 2 ** 47 + 1]) {
      expect(() => resolveJobSpec({ ...spec, kind: 'inference', split: { ...split, items: 1, flopsPerItem } })).toThrow(
        expect.objectContaining({
          code: 'SCHEDULER__INVALID_JOB_SPEC',
          context: expect.objectContaining({ field: 'split.flopsPerItem', value: flopsPerItem }),
        }),
      )
    }
  })
  it('should refuse a render task whose tile output a device may not hold, whatever its samples', () => {
    // One 16384x16384 tile at 16 samples: 2^32 pixel-samples, within that bound, but 4 GiB of output at 16 B a pixel.
    const wide = {
      kind: 'render',
      firstFrame: 0,
      frames: 1,
      width: 16_384,
      height: 16_384,
      tileWidth: 16_384,
      tileHeight: 16_384,
      samples: 16,
    } as const
    const refusal = expect.objectContaining({
      code: 'SCHEDULER__TILE_SIZE_EXCEEDED',
      message: expect.stringContaining('16384x16384 pixels'),
      context: { pixels: 2 ** 28, max: 2 ** 23 },
    })
    expect(() => checkTaskWork(wide)).toThrow(refusal)
    const spec = { kind: 'render', inputs: ['bafkreiscene'], tier: 3, maxPrice: 1n, benchHoursPerTask: 1 } as const
    expect(() => resolveJobSpec({ ...spec, split: wide })).toThrow(refusal)
    // 16384x512 tiles are 2^23 pixels: taken; one row more is refused.
    expect(() => checkTaskWork({ ...wide, tileHeight: 512 })).not.toThrow()
    expect(() => checkTaskWork({ ...wide, tileHeight: 513 })).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TILE_SIZE_EXCEEDED' }),
    )
  })
})

describe('taskChunkCounts', () => {
  it("should give the row and item counts of a split's tasks, fewest first, as its tasks have them", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({
            w: fc.integer({ min: 1, max: 90 }),
            h: fc.integer({ min: 1, max: 90 }),
            tile: fc.integer({ min: 1, max: 40 }),
          }),
          fc.record({ items: fc.integer({ min: 1, max: 500 }), per: fc.integer({ min: 1, max: 60 }) }),
        ),
        (shape) => {
          const source: SplitSource =
            'w' in shape
              ? render(shape.w, shape.h, shape.tile)
              : { jobId: 'abc', split: { kind: 'inference', items: shape.items, itemsPerTask: shape.per } }
          const seen = [...new Set(splitTasks(source).map((t) => (t.kind === 'render' ? t.height : t.end - t.start)))]
          expect(taskChunkCounts(source.split)).toEqual(seen.sort((a, b) => a - b))
        },
      ),
      { numRuns: 200, seed: 2 },
    )
  })
})

describe('resolveJobSpec verification', () => {
  const spec = { kind: 'render', inputs: ['bafkreiscene'], tier: 3, maxPrice: 1n, benchHoursPerTask: 1 } as const
  const split = (tile: number, height = 64) =>
    render(64, height, tile).split as Extract<SplitSource['split'], { kind: 'render' }>

  it('should give a job that names no budget one its tasks can meet: the default, its horizon lengthened if need be', () => {
    expect(resolveJobSpec({ ...spec, split: split(64) }).verification).toEqual(DEFAULT_VERIFICATION)
    for (const [tile, height] of [
      [8, 64],
      [32, 36],
      [1, 1],
    ] as const) {
      const budget = resolveJobSpec({ ...spec, split: split(tile, height) }).verification
      expect({ ...budget, withinTasks: DEFAULT_VERIFICATION.withinTasks }).toEqual(DEFAULT_VERIFICATION)
      for (const chunks of taskChunkCounts(split(tile, height))) {
        expect(planFor(budget, chunks).plan).toBeDefined()
      }
    }
  })

  it('should keep a budget the job names as it is', () => {
    const named = { detect: 0.9, withinTasks: 10, cheatRate: 0.5, maxOverhead: 0.2 }
    expect(resolveJobSpec({ ...spec, split: split(8), verification: named }).verification).toEqual(named)
  })
})
