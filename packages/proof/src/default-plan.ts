import { planVerification, type VerificationPlan } from './planner.js'

/** What the machines need of a plan: the sampling floor and the challenge size. */
export type SamplingPlan = Pick<VerificationPlan, 'p' | 'challengeChunks'>

/** The budget used when a job names none: catch a 10% cheater with 99.9% within 200 tasks, at most 10% overhead. */
export const DEFAULT_BUDGET = Object.freeze({ detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 })

let cached: VerificationPlan | undefined

/** The plan for {@link DEFAULT_BUDGET} over 64-chunk outputs (computed once). */
export function defaultPlan(): VerificationPlan {
  cached ??= planVerification(DEFAULT_BUDGET)
  return cached
}
