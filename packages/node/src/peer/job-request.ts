import { estimatedTaskMs, type JobSpec, MS_PER_HOUR } from '@tessera/scheduler'
import type { JobRequest } from '../api/contract.js'
import { DEFAULT_BENCH_HOURS_PER_TASK, DEFAULT_JOB_MAX_PRICE } from './constants.js'

/**
 * Benchmark-hours a task of `split` is declared to take: the scheduler's estimate from the split (what a worker
 * checks an order against before it bids, `estimatedTaskMs`), and never less than the default. Declaring less than
 * its work would have workers skip the order as underpriced; an inference's work is not in its order, so it takes
 * the default.
 */
export function benchHoursOf(split: JobSpec['split']): number {
  const estimated = estimatedTaskMs(split, 1)
  return Math.max(DEFAULT_BENCH_HOURS_PER_TASK, estimated === undefined ? 0 : estimated / MS_PER_HOUR)
}

/** Turns the CLI's job request into the scheduler's job spec (the request was validated by the API server). */
export function jobSpecOf(request: JobRequest): JobSpec {
  const split =
    request.kind === 'render' && request.render !== undefined
      ? { kind: 'render' as const, firstFrame: 0, ...request.render }
      : { kind: 'inference' as const, ...(request.inference as { items: number; itemsPerTask: number }) }
  return {
    kind: request.kind,
    inputs: request.inputs,
    split,
    tier: request.tier ?? 3,
    maxPrice: request.maxPrice !== undefined ? BigInt(request.maxPrice) : DEFAULT_JOB_MAX_PRICE,
    benchHoursPerTask: benchHoursOf(split),
    ...(request.deadlineMs !== undefined ? { timeoutMs: request.deadlineMs } : {}),
    ...(request.minBids !== undefined ? { minBids: request.minBids } : {}),
  }
}
