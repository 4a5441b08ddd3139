import { describe, expect, it } from 'vitest'
import { MAX_CHUNK_BYTES } from '@tessera/core'
import { assembleOutputs, outputBytesBound } from '../src/driver/index.js'
import { buildOrder, resolveJobSpec, splitTasks } from '../src/index.js'

const inference = buildOrder(
  resolveJobSpec({
    kind: 'inference',
    inputs: ['bafkreimodel'],
    split: { kind: 'inference', items: 5, itemsPerTask: 2 },
    tier: 3,
    maxPrice: 10n,
    benchHoursPerTask: 1,
  }),
  'creator',
  '0000000000000001',
  0,
)

/** Item `i` of the output: 8 bytes of value i. */
function items(start: number, end: number): Uint8Array {
  return Uint8Array.from({ length: (end - start) * 8 }, (_, k) => start + Math.floor(k / 8))
}

describe('assembleOutputs', () => {
  const tasks = splitTasks(inference)
  const honest = new Map(
    tasks.map((t) => [t.taskId, t.kind === 'inference' ? items(t.start, t.end) : new Uint8Array()]),
  )

  it("should put an inference job's item ranges back in item order", () => {
    const assembled = assembleOutputs(inference, (id) => honest.get(id) as Uint8Array)
    expect(assembled).toEqual({ kind: 'inference', bytes: items(0, 5), itemBytes: 8, missing: [] })
  })

  it('should refuse a range whose bytes do not fit its items, naming the task', () => {
    const short = tasks[1]!.taskId
    const outputOf = (id: string) => (id === short ? items(2, 3) : (honest.get(id) as Uint8Array))
    expect(() => assembleOutputs(inference, outputOf)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__OUTPUT_SIZE_MISMATCH',
        context: { taskId: short, bytes: 8, expected: 16 },
      }),
    )
    // The last range is one item: it must be half the size of the others, not the same.
    const last = tasks[2]!.taskId
    const padded = (id: string) => (id === last ? items(4, 6) : (honest.get(id) as Uint8Array))
    expect(() => assembleOutputs(inference, padded)).toThrow(
      expect.objectContaining({ context: expect.objectContaining({ taskId: last }) }),
    )
  })

  it('should leave the tile of a task without output blank, and refuse a missing inference range', () => {
    const render = buildOrder(
      resolveJobSpec({
        kind: 'render',
        inputs: ['bafkreiscene'],
        split: {
          kind: 'render',
          firstFrame: 0,
          frames: 1,
          width: 4,
          height: 2,
          tileWidth: 2,
          tileHeight: 2,
          samples: 1,
        },
        tier: 3,
        maxPrice: 10n,
        benchHoursPerTask: 1,
      }),
      'creator',
      '0000000000000002',
      0,
    )
    const [left, right] = splitTasks(render)
    const assembled = assembleOutputs(render, (id) =>
      id === left!.taskId ? new Uint8Array(2 * 2 * 4).fill(9) : undefined,
    )
    expect(right).toBeDefined()
    expect(assembled.kind === 'render' && assembled.missing).toEqual([{ frame: 0, x: 2, y: 0, width: 2, height: 2 }])
    expect(assembled.kind === 'render' && [...assembled.frames[0]!.pixels]).toEqual([
      ...Array(8).fill(9),
      ...Array(8).fill(0),
      ...Array(8).fill(9),
      ...Array(8).fill(0),
    ])
    const missing = tasks[1]!.taskId
    expect(() => assembleOutputs(inference, (id) => (id === missing ? undefined : honest.get(id)))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TASK_NOT_FOUND', context: { taskId: missing } }),
    )
  })

  it('should assemble, when asked for a partial output, the ranges that have one and list the missing ones merged', () => {
    const [first, second, third] = tasks.map((t) => t.taskId)
    // Items 0-1 and 4 are in; 2-3 are not.
    const some = assembleOutputs(inference, (id) => (id === second ? undefined : honest.get(id)), 4, { partial: true })
    expect(some).toEqual({
      kind: 'inference',
      bytes: Uint8Array.from([...items(0, 2), ...new Uint8Array(16), ...items(4, 5)]),
      itemBytes: 8,
      missing: [{ start: 2, end: 4 }],
    })
    // Adjacent missing ranges are one; the size of an item comes from whichever range is in, here the short last one.
    const last = assembleOutputs(inference, (id) => (id === third ? honest.get(id) : undefined), 4, { partial: true })
    expect(last).toMatchObject({ itemBytes: 8, missing: [{ start: 0, end: 4 }] })
    expect(last.kind === 'inference' && last.bytes.byteLength).toBe(40)
    // With no range in there is no item size: nothing to lay out.
    expect(() => assembleOutputs(inference, () => undefined, 4, { partial: true })).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TASK_NOT_FOUND', context: { taskId: first } }),
    )
  })
})

describe('outputBytesBound', () => {
  const render = {
    jobId: 'job-r',
    split: {
      kind: 'render' as const,
      firstFrame: 0,
      frames: 1,
      width: 48,
      height: 40,
      tileWidth: 32,
      tileHeight: 32,
      samples: 1,
    },
  }
  const ranges = { jobId: 'job-i', split: { kind: 'inference' as const, items: 10, itemsPerTask: 4 } }

  it("should bound a render task by its tile's pixels and an inference task by a chunk an item", () => {
    const [first, last] = [splitTasks(render)[0]!, splitTasks(render).at(-1)!]
    expect(outputBytesBound(render, first.taskId, 999, 16)).toBe(32 * 32 * 16)
    // The last tile is cut by the frame's edge: 16 x 8.
    expect(outputBytesBound(render, last.taskId, 999)).toBe(16 * 8 * 4)
    const lastRange = splitTasks(ranges).at(-1)!
    expect(outputBytesBound(ranges, lastRange.taskId, 999)).toBe(2 * MAX_CHUNK_BYTES)
    // A task the order does not hold: only the Result's own claim bounds it.
    expect(outputBytesBound(ranges, 'job-i/99', 3)).toBe(3 * MAX_CHUNK_BYTES)
  })
})
