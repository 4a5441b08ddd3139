import type { Order } from '@tessera/core'
import { SchedulerError } from '../errors.js'
import { splitTasks } from '../split.js'

/** One assembled frame of a render job. */
export interface AssembledFrame {
  readonly frame: number
  readonly width: number
  readonly height: number
  /** Row-major pixels, `bytesPerPixel` each. */
  readonly pixels: Uint8Array
}

/** A job's output put together from its tasks' outputs: frames for a render, one buffer for inference. */
export type AssembledOutput =
  | { readonly kind: 'render'; readonly frames: readonly AssembledFrame[] }
  | { readonly kind: 'inference'; readonly bytes: Uint8Array }

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
 * left blank (zero bytes), while an inference range cannot be left out (`SCHEDULER__TASK_NOT_FOUND`).
 */
export function assembleOutputs(
  order: Pick<Order, 'jobId' | 'split'>,
  outputOf: (taskId: string) => Uint8Array | undefined,
  bytesPerPixel = 4,
): AssembledOutput {
  const tasks = splitTasks(order)
  if (order.split.kind === 'inference') {
    const parts = tasks.map((t) => {
      const part = outputOf(t.taskId)
      if (part === undefined) {
        throw new SchedulerError('SCHEDULER__TASK_NOT_FOUND', `no output for ${t.taskId}`, { taskId: t.taskId })
      }
      return part
    })
    // Every item of one model's output has one size: a range whose bytes do not fit it would shift the items after.
    const first = tasks[0]
    const itemBytes = first?.kind === 'inference' ? (parts[0]?.byteLength ?? 0) / (first.end - first.start) : 0
    tasks.forEach((task, i) => {
      if (task.kind !== 'inference') return
      const bytes = (parts[i] as Uint8Array).byteLength
      const expected = itemBytes * (task.end - task.start)
      if (!Number.isInteger(itemBytes) || bytes !== expected) throw mismatch(task.taskId, bytes, expected)
    })
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
    let offset = 0
    for (const part of parts) {
      bytes.set(part, offset)
      offset += part.byteLength
    }
    return { kind: 'inference', bytes }
  }
  const { width, height, firstFrame, frames: count } = order.split
  const frames: AssembledFrame[] = Array.from({ length: count }, (_, i) => ({
    frame: firstFrame + i,
    width,
    height,
    pixels: new Uint8Array(width * height * bytesPerPixel),
  }))
  for (const task of tasks) {
    if (task.kind !== 'render') continue
    const tile = outputOf(task.taskId)
    if (tile === undefined) continue
    const rowBytes = task.width * bytesPerPixel
    if (tile.byteLength !== rowBytes * task.height) throw mismatch(task.taskId, tile.byteLength, rowBytes * task.height)
    const target = (frames[task.frame - firstFrame] as AssembledFrame).pixels
    for (let row = 0; row < task.height; row++) {
      target.set(tile.subarray(row * rowBytes, (row + 1) * rowBytes), ((task.y + row) * width + task.x) * bytesPerPixel)
    }
  }
  return { kind: 'render', frames }
}
