import { benchHoursOf, type JobSpec } from '@tessera/scheduler'
import type { JobRequest } from '../api/contract.js'
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
