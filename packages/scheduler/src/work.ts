import { type Order, renderTaskPixelSamples, type Split } from '@tessera/core'
import {
  DEFAULT_BENCH_HOURS_PER_TASK,
  MS_PER_HOUR,
  RAYS_PER_PIXEL_SAMPLE,
  RAYS_PER_SEC_PER_BENCH_UNIT,
} from './constants.js'

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
 * benchmark unit. Undefined for inference: an order names its model only by CID, so the work per batch item (the
 * model's FLOPs) is not in the order.
 */
export function estimatedTaskMs(split: Split, score: number): number | undefined {
  if (split.kind !== 'render') return undefined
  const rays = renderTaskPixelSamples(split) * RAYS_PER_PIXEL_SAMPLE
  return (rays * 1000) / (RAYS_PER_SEC_PER_BENCH_UNIT * score)
}

/**
 * Benchmark-hours a task of `split` is declared to take when its creator names none: the estimate from the split (what
 * a worker checks an order against before it bids, {@link estimatedTaskMs}), and never less than
 * {@link DEFAULT_BENCH_HOURS_PER_TASK}. Declaring less than its work would have workers skip the order as
 * underpriced; an inference's work is not in its order, so it takes the default.
 */
export function benchHoursOf(split: Split): number {
  const estimated = estimatedTaskMs(split, 1)
  return Math.max(DEFAULT_BENCH_HOURS_PER_TASK, estimated === undefined ? 0 : estimated / MS_PER_HOUR)
}

/**
 * Whether a worker scoring `score` would skip `order` as underpriced: a task's estimated work takes more than
 * `tolerance` times what its benchmark-hours pay for. Both times scale with the score, so every worker with the same
 * tolerance decides alike. Never for an order whose work the order does not tell (inference).
 */
export function isUnderpriced(
  order: Pick<Order, 'split' | 'benchHoursPerTask'>,
  score: number,
  tolerance: number,
): boolean {
  const workMs = estimatedTaskMs(order.split, score)
  return workMs !== undefined && workMs > tolerance * paidTaskMs(order, score)
}
