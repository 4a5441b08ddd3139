import {
  inferenceTaskFlops,
  MAX_FLOPS_PER_TASK,
  MAX_PIXEL_SAMPLES_PER_TASK,
  MAX_TILE_PIXELS,
  type Order,
  renderTaskPixels,
  renderTaskPixelSamples,
  type Split,
} from '@tessera/core'
import { MAX_TASKS_PER_JOB } from './constants.js'
import { SchedulerError } from './errors.js'

/**
 * Deterministic task splitting. A job's tasks are numbered 0..n-1 and never stored: a task's descriptor and id are
 * computed from the order on demand, so a job of 65,536 tasks costs the machines a few typed arrays, not 65,536
 * objects. Task ids are stable and readable:
 *
 * - render: `${jobId}/f${frame}/t${tileX}_${tileY}` (frames in order, tiles row-major within a frame);
 * - inference: `${jobId}/b${start}-${end}` (items `start` inclusive to `end` exclusive).
 */

/** A render task: one tile of one frame. Edge tiles are clipped to the image. */
export interface RenderTask {
  readonly kind: 'render'
  readonly jobId: string
  readonly taskId: string
  readonly index: number
  readonly frame: number
  readonly tileX: number
  readonly tileY: number
  /** The tile's rectangle in pixels. */
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly samples: number
  readonly imageWidth: number
  readonly imageHeight: number
}

/** An inference task: a range of input batch items. */
export interface InferenceTask {
  readonly kind: 'inference'
  readonly jobId: string
  readonly taskId: string
  readonly index: number
  /** First item, inclusive. */
  readonly start: number
  /** Last item, exclusive. */
  readonly end: number
}

/** One task of a job: a tile of a frame or a range of inference items. */
export type TaskDescriptor = RenderTask | InferenceTask

/** What splitting needs from an order. */
export type SplitSource = Pick<Order, 'jobId' | 'split'>

function tilesAcross(split: Extract<Split, { kind: 'render' }>): number {
  return Math.ceil(split.width / split.tileWidth)
}

function tilesDown(split: Extract<Split, { kind: 'render' }>): number {
  return Math.ceil(split.height / split.tileHeight)
}

/** How many tasks a split makes (may exceed {@link MAX_TASKS_PER_JOB}; {@link checkTaskCount} refuses that). */
export function taskCountOf(split: Split): number {
  if (split.kind === 'render') return split.frames * tilesAcross(split) * tilesDown(split)
  return Math.ceil(split.items / split.itemsPerTask)
}

/**
 * The chunk counts of a split's tasks, fewest first: a worker commits to a render tile one chunk per row and to an
 * inference range one chunk per item (`@tessera/gpu`'s `tileRowChunks`, `tensorItemChunks`), so a job's tasks have
 * the tile's height or the batch size, and the last row of tiles or the last batch fewer.
 */
export function taskChunkCounts(split: Split): number[] {
  const [full, total] = split.kind === 'render' ? [split.tileHeight, split.height] : [split.itemsPerTask, split.items]
  const counts = [Math.min(full, total)]
  if (total > full && total % full !== 0) counts.unshift(total % full)
  return counts
}

/** Throws `SCHEDULER__TASK_LIMIT_EXCEEDED` when a split makes no tasks or too many. */
export function checkTaskCount(split: Split): number {
  const count = taskCountOf(split)
  if (!(count >= 1 && count <= MAX_TASKS_PER_JOB)) {
    throw new SchedulerError(
      'SCHEDULER__TASK_LIMIT_EXCEEDED',
      `the split makes ${count} tasks; a job may have 1 to ${MAX_TASKS_PER_JOB}: use bigger tiles or batches`,
      { tasks: count, max: MAX_TASKS_PER_JOB },
    )
  }
  return count
}

/**
 * Throws `SCHEDULER__TILE_SIZE_EXCEEDED` when a render split's tasks are tiles of more pixels than core's
 * `MAX_TILE_PIXELS`, and `SCHEDULER__TASK_WORK_EXCEEDED` when they are more pixel-samples (core's
 * `MAX_PIXEL_SAMPLES_PER_TASK`), or an inference split's tasks more declared FLOPs (core's `MAX_FLOPS_PER_TASK`). The
 * order schema enforces the work bounds: workers would refuse the order. The tile bound is a creator's own: the wire
 * takes larger tiles, and a worker whose device holds them bids (its `maxTilePixels`), but every device holds a tile of
 * `MAX_TILE_PIXELS`, so a creator keeping to it makes an order every worker can take.
 */
export function checkTaskWork(split: Split): void {
  if (split.kind === 'inference') {
    const flops = inferenceTaskFlops(split)
    if (flops !== undefined && flops > MAX_FLOPS_PER_TASK) {
      throw new SchedulerError(
        'SCHEDULER__TASK_WORK_EXCEEDED',
        `a task of ${Math.min(split.itemsPerTask, split.items)} items at ${split.flopsPerItem} FLOPs each is ` +
          `${flops} FLOPs; a task may be at most ${MAX_FLOPS_PER_TASK}: use fewer items per task`,
        { flops, max: MAX_FLOPS_PER_TASK },
      )
    }
    return
  }
  const tile = `${Math.min(split.tileWidth, split.width)}x${Math.min(split.tileHeight, split.height)} pixels`
  const pixels = renderTaskPixels(split)
  if (pixels > MAX_TILE_PIXELS) {
    throw new SchedulerError(
      'SCHEDULER__TILE_SIZE_EXCEEDED',
      `a task's tile of ${tile} is ${pixels} pixels; a task's tile may be at most ${MAX_TILE_PIXELS}, which every ` +
        "worker's device holds the output of: use smaller tiles",
      { pixels, max: MAX_TILE_PIXELS },
    )
  }
  const pixelSamples = renderTaskPixelSamples(split)
  if (pixelSamples > MAX_PIXEL_SAMPLES_PER_TASK) {
    throw new SchedulerError(
      'SCHEDULER__TASK_WORK_EXCEEDED',
      `a task of ${tile} at ${split.samples} samples is ${pixelSamples} pixel-samples; a task may be at most ` +
        `${MAX_PIXEL_SAMPLES_PER_TASK}: use smaller tiles or fewer samples`,
      { pixelSamples, max: MAX_PIXEL_SAMPLES_PER_TASK },
    )
  }
}

/**
 * Joins parts into one flat string. A template literal builds a rope (a tree of nodes, each holding its parts
 * alive); task ids are map keys that outlive their jobs in dedupe windows, and with flat ids and keys the simulator's
 * heap after 150,000 jobs is 9% smaller.
 */
function flat(...parts: (string | number)[]): string {
  return parts.join('')
}

/** The id of task `index` (no bounds check: callers hold a valid index). */
export function taskIdAt(order: SplitSource, index: number): string {
  const split = order.split
  if (split.kind === 'render') {
    const across = tilesAcross(split)
    const perFrame = across * tilesDown(split)
    const frame = split.firstFrame + Math.floor(index / perFrame)
    const tile = index % perFrame
    return flat(order.jobId, '/f', frame, '/t', tile % across, '_', Math.floor(tile / across))
  }
  const start = index * split.itemsPerTask
  return flat(order.jobId, '/b', start, '-', Math.min(start + split.itemsPerTask, split.items))
}

/** The descriptor of task `index`, or undefined when the job has no such task. */
export function taskAt(order: SplitSource, index: number): TaskDescriptor | undefined {
  const split = order.split
  if (!Number.isInteger(index) || index < 0 || index >= taskCountOf(split)) return undefined
  const taskId = taskIdAt(order, index)
  if (split.kind === 'render') {
    const across = tilesAcross(split)
    const perFrame = across * tilesDown(split)
    const tile = index % perFrame
    const tileX = tile % across
    const tileY = Math.floor(tile / across)
    const x = tileX * split.tileWidth
    const y = tileY * split.tileHeight
    return Object.freeze({
      kind: 'render',
      jobId: order.jobId,
      taskId,
      index,
      frame: split.firstFrame + Math.floor(index / perFrame),
      tileX,
      tileY,
      x,
      y,
      width: Math.min(split.tileWidth, split.width - x),
      height: Math.min(split.tileHeight, split.height - y),
      samples: split.samples,
      imageWidth: split.width,
      imageHeight: split.height,
    })
  }
  const start = index * split.itemsPerTask
  return Object.freeze({
    kind: 'inference',
    jobId: order.jobId,
    taskId,
    index,
    start,
    end: Math.min(start + split.itemsPerTask, split.items),
  })
}

// Numbers without leading zeros, so a match is the one canonical spelling of its numbers.
const RENDER_TASK = /^f(0|[1-9]\d{0,8})\/t(0|[1-9]\d{0,8})_(0|[1-9]\d{0,8})$/
const INFERENCE_TASK = /^b(0|[1-9]\d{0,14})-(0|[1-9]\d{0,14})$/

/**
 * The index of the task with id `taskId` in this job, or -1 when the job has no such task. The id must be exactly
 * the canonical one (no leading zeros or other spellings of the same numbers).
 */
export function taskIndexOf(order: SplitSource, taskId: string): number {
  const prefix = `${order.jobId}/`
  if (!taskId.startsWith(prefix)) return -1
  const rest = taskId.slice(prefix.length)
  const split = order.split
  if (split.kind === 'render') {
    const m = RENDER_TASK.exec(rest)
    if (m === null) return -1
    const across = tilesAcross(split)
    const down = tilesDown(split)
    const frame = Number(m[1]) - split.firstFrame
    const tx = Number(m[2])
    const ty = Number(m[3])
    if (frame < 0 || frame >= split.frames || tx >= across || ty >= down) return -1
    return frame * across * down + ty * across + tx
  }
  const m = INFERENCE_TASK.exec(rest)
  if (m === null) return -1
  const start = Number(m[1])
  const index = start / split.itemsPerTask
  const end = Math.min(start + split.itemsPerTask, split.items)
  return Number.isInteger(index) && index < taskCountOf(split) && Number(m[2]) === end ? index : -1
}

/** The job id a task id belongs to (task ids start with `${jobId}/`; job ids hold no `/`). */
export function jobIdOfTask(taskId: string): string {
  const slash = taskId.indexOf('/')
  return slash < 0 ? taskId : taskId.slice(0, slash)
}

/** Every task of an order, in index order. */
export function splitTasks(order: SplitSource): TaskDescriptor[] {
  const count = checkTaskCount(order.split)
  const tasks: TaskDescriptor[] = new Array(count)
  for (let i = 0; i < count; i++) tasks[i] = taskAt(order, i) as TaskDescriptor
  return tasks
}
