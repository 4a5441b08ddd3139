import {
  inferenceTaskFlops,
  type Order,
  renderTaskPixels,
  renderTaskPixelSamples,
  type Split,
  TILE_BYTES_PER_PIXEL,
} from '@tessera/core'
import {
  DECLARED_WORK_SLACK,
  DEFAULT_BENCH_HOURS_PER_TASK,
  FLOPS_PER_SEC_PER_BENCH_UNIT,
  MS_PER_HOUR,
  RAYS_PER_PIXEL_SAMPLE,
  RAYS_PER_SEC_PER_BENCH_UNIT,
} from './constants.js'
import { SchedulerError } from './errors.js'

/**
 * What a task's work costs a worker, from the order alone. A benchmark-hour is the work a device scoring 1 does in an
 * hour, so a worker scoring `score` runs a task of `b` benchmark-hours in `b / score` hours: the time an order pays
 * for ({@link paidTaskMs}) and the time its work takes ({@link estimatedTaskMs}) both scale with the worker's score.
 */

/** How long the benchmark-hours `order` pays per task take a worker scoring `score`, ms. */
export function paidTaskMs(order: Pick<Order, 'benchHoursPerTask'>, score: number): number {
  return (order.benchHoursPerTask * MS_PER_HOUR) / score
}

/**
 * How long the largest task of `split` takes a worker scoring `score`, ms, estimated from the split alone: a render
 * tile's pixel-samples at {@link RAYS_PER_PIXEL_SAMPLE} rays each, traced at {@link RAYS_PER_SEC_PER_BENCH_UNIT} per
 * benchmark unit; an inference task's items at the order's declared `flopsPerItem`, computed at
 * {@link FLOPS_PER_SEC_PER_BENCH_UNIT}. Undefined for an inference order that declares no work: it names its model
 * only by CID, so nothing else in it tells the work per item.
 */
export function estimatedTaskMs(split: Split, score: number): number | undefined {
  if (split.kind === 'inference') {
    const flops = inferenceTaskFlops(split)
    return flops === undefined ? undefined : (flops * 1000) / (FLOPS_PER_SEC_PER_BENCH_UNIT * score)
  }
  const rays = renderTaskPixelSamples(split) * RAYS_PER_PIXEL_SAMPLE
  return (rays * 1000) / (RAYS_PER_SEC_PER_BENCH_UNIT * score)
}

/**
 * Benchmark-hours a task of `split` is declared to take when its creator names none: the estimate from the split (what
 * a worker checks an order against before it bids, {@link estimatedTaskMs}), and never less than
 * {@link DEFAULT_BENCH_HOURS_PER_TASK}. Declaring less than its work would have workers skip the order as
 * underpriced; an inference that declares no work (`flopsPerItem`) takes the default.
 */
export function benchHoursOf(split: Split): number {
  const estimated = estimatedTaskMs(split, 1)
  return Math.max(DEFAULT_BENCH_HOURS_PER_TASK, estimated === undefined ? 0 : estimated / MS_PER_HOUR)
}

/**
 * Whether a worker scoring `score` would skip `order` as underpriced: a task's estimated work takes more than
 * `tolerance` times what its benchmark-hours pay for. Both times scale with the score, so every worker with the same
 * tolerance decides alike. Never for an order whose work the order does not tell (an inference without
 * `flopsPerItem`).
 */
export function isUnderpriced(
  order: Pick<Order, 'split' | 'benchHoursPerTask'>,
  score: number,
  tolerance: number,
): boolean {
  const workMs = estimatedTaskMs(order.split, score)
  return workMs !== undefined && workMs > tolerance * paidTaskMs(order, score)
}

/**
 * Whether a worker whose device holds the output of tiles of at most `maxTilePixels` pixels would skip `order`: a
 * render task's tile is larger. Never for inference, whose buffers its engine splits.
 */
export function isTooLarge(order: Pick<Order, 'split'>, maxTilePixels: number): boolean {
  return order.split.kind === 'render' && renderTaskPixels(order.split) > maxTilePixels
}

/**
 * The most pixels of a render tile whose output a device with these limits (WebGPU's, in bytes) holds: the output is
 * one storage buffer of `TILE_BYTES_PER_PIXEL` bytes a pixel, bound whole to the shader. What a node passes as its
 * worker's `maxTilePixels`; core's `MAX_TILE_PIXELS` at WebGPU's least limits (lavapipe's). The output is also one
 * blob: with `maxOutputBytes` (the node's largest blob), a tile whose output it could not keep or serve is past it too,
 * as on a large GPU whose buffers outgrow the blob bound.
 */
export function maxTilePixelsOf(
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number },
  maxOutputBytes = Number.POSITIVE_INFINITY,
): number {
  const bytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, maxOutputBytes)
  return Math.floor(bytes / TILE_BYTES_PER_PIXEL)
}

/**
 * Throws `SCHEDULER__DECLARED_WORK_MISMATCH` when an inference order understated its work: the model a worker loaded
 * costs `modelFlopsPerItem` FLOPs an item (twice its multiply-adds, counted from the model's graph), more than
 * {@link DECLARED_WORK_SLACK} times the `flopsPerItem` the order declared. The worker priced the order by the
 * declaration when it bid ({@link isUnderpriced}) and only learns the real figure once it has fetched the model: it
 * refuses the task then, and may hold it against the creator. An order declaring no work (older ones) passes: there
 * was no declaration to price it by.
 */
export function checkDeclaredWork(split: Split, modelFlopsPerItem: number): void {
  if (split.kind !== 'inference' || split.flopsPerItem === undefined) return
  if (!(modelFlopsPerItem <= split.flopsPerItem * DECLARED_WORK_SLACK)) {
    throw new SchedulerError(
      'SCHEDULER__DECLARED_WORK_MISMATCH',
      `the model costs ${modelFlopsPerItem} FLOPs an item; its order declared ${split.flopsPerItem}, and a worker ` +
        `takes at most ${DECLARED_WORK_SLACK} times that: declare the model's FLOPs per item`,
      { declared: split.flopsPerItem, actual: modelFlopsPerItem, slack: DECLARED_WORK_SLACK },
    )
  }
}
