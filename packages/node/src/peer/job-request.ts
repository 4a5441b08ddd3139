import { benchHoursOf, jobBudget, type JobSpec, taskCountOf } from '@tessera/scheduler'
import type { JobRequest } from '../api/contract.js'
import { NodeError } from '../errors.js'
import { DEFAULT_JOB_MAX_PRICE } from './constants.js'
import { verificationBudgetOf } from './job-verification.js'

/** Turns the CLI's job request into the scheduler's job spec (the request was validated by the API server). */
export function jobSpecOf(request: JobRequest): JobSpec {
  const split =
    request.kind === 'render' && request.render !== undefined
      ? { kind: 'render' as const, firstFrame: 0, ...request.render }
      : { kind: 'inference' as const, ...(request.inference as NonNullable<JobRequest['inference']>) }
  return {
    kind: request.kind,
    inputs: request.inputs,
    split,
    tier: request.tier ?? 3,
    maxPrice: request.maxPrice !== undefined ? BigInt(request.maxPrice) : DEFAULT_JOB_MAX_PRICE,
    benchHoursPerTask: benchHoursOf(split),
    ...(request.deadlineMs !== undefined ? { timeoutMs: request.deadlineMs } : {}),
    ...(request.minBids !== undefined ? { minBids: request.minBids } : {}),
    // Absent, the scheduler gives the default budget, met over a horizon the job's tasks allow.
    ...(request.verification !== undefined ? { verification: verificationBudgetOf(request.verification) } : {}),
  }
}

/**
 * Refuses, with `NODE__INVALID_JOB_BUDGET`, a job whose budget is nothing (a maximum price of 0): the ledger funds no
 * empty vault, and a job refused there would already be recorded, listed as cancelled and holding its inputs.
 */
export function checkJobBudget(spec: Pick<JobSpec, 'maxPrice' | 'benchHoursPerTask' | 'split'>): void {
  if (jobBudget(spec.maxPrice, spec.benchHoursPerTask, taskCountOf(spec.split)) > 0n) return
  throw new NodeError(
    'NODE__INVALID_JOB_BUDGET',
    `a job at a maximum price of ${spec.maxPrice} has no budget to fund: pay at least 1 token unit per benchmark-hour`,
    { maxPrice: spec.maxPrice.toString() },
  )
}
