import { MAX_CHUNK_BYTES, type Order } from '@tessera/core'
import { SchedulerError } from '../errors.js'
import { splitTasks, taskAt, taskIndexOf } from '../split.js'

/**
 * The most bytes an honest output of task `taskId` holds: a render tile's exact size (`bytesPerPixel` a pixel), or
 * for an inference range, whose item size only the model knows, one chunk of at most MAX_CHUNK_BYTES an item.
 * Output fetches pass it as their `maxBytes`, so a worker cannot make the peer fetching its output allocate more.
 * A task the order does not hold is bounded by the chunks its Result claims.
 */
export function outputBytesBound(
  order: Pick<Order, 'jobId' | 'split'>,
  taskId: string,
  chunks: number,
  bytesPerPixel = 4,
): number {
  const task = taskAt(order, taskIndexOf(order, taskId))
  if (task?.kind === 'render') return task.width * task.height * bytesPerPixel
  return (task?.kind === 'inference' ? task.end - task.start : chunks) * MAX_CHUNK_BYTES
}

/** One assembled frame of a render job. */
export interface AssembledFrame {
  readonly frame: number
  readonly width: number
  readonly height: number
  /** Row-major pixels, `bytesPerPixel` each. */
  readonly pixels: Uint8Array
}

/** A tile of a frame, in pixels. */
export interface MissingTile {
  readonly frame: number
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** A half-open range of item indices, `[start, end)`. */
export interface ItemRange {
  readonly start: number
  readonly end: number
}

/** A job's output put together from its tasks' outputs: frames for a render, one buffer for inference. */
export type AssembledOutput =
  | {
      readonly kind: 'render'
      readonly frames: readonly AssembledFrame[]
      /** The tiles no task output covers, left blank, in task order (only a job that ended unfinished has any). */
      readonly missing: readonly MissingTile[]
    }
  | {
      readonly kind: 'inference'
      /** Every item in order, `itemBytes` each; a missing range's bytes are zero. */
      readonly bytes: Uint8Array
      readonly itemBytes: number
      /** The item ranges no task output covers, merged, in order (only ever non-empty with `partial`). */
      readonly missing: readonly ItemRange[]
    }

/** How {@link assembleOutputs} treats tasks without output. */
export interface AssembleOptions {
  /**
   * Assemble an inference job's output from the ranges that have one (a job that ended unfinished): the others are
   * left zero and listed in `missing`. Without it a missing range is `SCHEDULER__TASK_NOT_FOUND`. A render's missing
   * tiles are always left blank.
   * @default false
   */
  partial?: boolean
}

function mismatch(taskId: string, bytes: number, expected: number): SchedulerError {
  return new SchedulerError(
    'SCHEDULER__OUTPUT_SIZE_MISMATCH',
    `the output of ${taskId} has ${bytes} bytes; its tile or range implies ${expected}`,
    { taskId, bytes, expected },
  )
}

/**
 * Puts a job's task outputs back together: render tiles into whole frames (each tile's output is its rows,
 * top to bottom, `bytesPerPixel` per pixel), inference ranges into one buffer in item order. `outputOf` returns a
 * task's output bytes by task id, or undefined for a task that has none (a job that ended unfinished): its tile is
 * left blank (zero bytes), while an inference range is `SCHEDULER__TASK_NOT_FOUND` unless `options.partial`.
 */
export function assembleOutputs(
  order: Pick<Order, 'jobId' | 'split'>,
  outputOf: (taskId: string) => Uint8Array | undefined,
  bytesPerPixel = 4,
  options: AssembleOptions = {},
): AssembledOutput {
  const tasks = splitTasks(order)
  if (order.split.kind === 'inference') {
    const ranges = tasks.flatMap((t) => (t.kind === 'inference' ? [{ task: t, part: outputOf(t.taskId) }] : []))
    const absent = ranges.find((r) => r.part === undefined)
    const sized = ranges.find((r) => r.part !== undefined)
    // With no range at all there is no item size to lay the buffer out by.
    if (absent !== undefined && (options.partial !== true || sized === undefined)) {
      const { taskId } = absent.task
      throw new SchedulerError('SCHEDULER__TASK_NOT_FOUND', `no output for ${taskId}`, { taskId })
    }
    // Every item of one model's output has one size: a range whose bytes do not fit it would shift the items after.
    const itemBytes =
      sized === undefined ? 0 : (sized.part as Uint8Array).byteLength / (sized.task.end - sized.task.start)
    const bytes = new Uint8Array(Number.isInteger(itemBytes) ? itemBytes * order.split.items : 0)
    const missing: ItemRange[] = []
    for (const { task, part } of ranges) {
      if (part === undefined) {
        const last = missing.at(-1)
        if (last?.end === task.start) missing[missing.length - 1] = { start: last.start, end: task.end }
        else missing.push({ start: task.start, end: task.end })
        continue
      }
      const expected = itemBytes * (task.end - task.start)
      if (!Number.isInteger(itemBytes) || part.byteLength !== expected)
        throw mismatch(task.taskId, part.byteLength, expected)
      bytes.set(part, task.start * itemBytes)
    }
    return { kind: 'inference', bytes, itemBytes, missing }
  }
  const { width, height, firstFrame, frames: count } = order.split
  const frames: AssembledFrame[] = Array.from({ length: count }, (_, i) => ({
    frame: firstFrame + i,
    width,
    height,
    pixels: new Uint8Array(width * height * bytesPerPixel),
  }))
  const missing: MissingTile[] = []
  for (const task of tasks) {
    if (task.kind !== 'render') continue
    const tile = outputOf(task.taskId)
    if (tile === undefined) {
      missing.push({ frame: task.frame, x: task.x, y: task.y, width: task.width, height: task.height })
      continue
    }
    const rowBytes = task.width * bytesPerPixel
    if (tile.byteLength !== rowBytes * task.height) throw mismatch(task.taskId, tile.byteLength, rowBytes * task.height)
    const target = (frames[task.frame - firstFrame] as AssembledFrame).pixels
    for (let row = 0; row < task.height; row++) {
      target.set(tile.subarray(row * rowBytes, (row + 1) * rowBytes), ((task.y + row) * width + task.x) * bytesPerPixel)
    }
  }
  return { kind: 'render', frames, missing }
}
