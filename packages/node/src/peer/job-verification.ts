import type { Order, Split, VerificationBudget } from '@tessera/core'
import { lengthenHorizon, planFor, planVerification } from '@tessera/proof'
import { DEFAULT_VERIFICATION, taskChunkCounts } from '@tessera/scheduler'
import type { JobStatus } from '../api/contract.js'
import { NodeError } from '../errors.js'

/** A job request's verification terms: any left out take the default budget's. */
export type VerificationTerms = Partial<VerificationBudget>

/** The budget `terms` ask for: the default budget with the terms given in place of its own. */
export function verificationBudgetOf(terms: VerificationTerms): VerificationBudget {
  return { ...DEFAULT_VERIFICATION, ...terms }
}

/**
 * Refuses, before anything is ordered, a verification budget no sampling plan meets for the job's tasks: ordered, it
 * would be checked by a plan other than the one asked for (verifiers meet it over a longer horizon), and the creator
 * would believe in a detection rate nobody delivers. The error names the shortest horizon that would be met.
 *
 * @throws NodeError `NODE__VERIFICATION_INFEASIBLE`, with the planner's reason and `shortestWithinTasks`
 */
export function checkJobVerification(split: Split, budget: VerificationBudget): void {
  const counts = taskChunkCounts(split)
  for (const chunks of counts) {
    try {
      planVerification({ ...budget, chunks })
    } catch (e) {
      const { message, code, context } = e as { message: string; code?: string; context?: Record<string, unknown> }
      if (code !== 'PROOF__BUDGET_INFEASIBLE' && code !== 'PROOF__INVALID_BUDGET') throw e
      const unit = split.kind === 'render' ? 'tile rows' : 'batch items'
      let shortest: number | undefined
      try {
        shortest = lengthenHorizon(budget, counts).withinTasks
      } catch {
        // A budget no horizon meets (or one the planner refuses): the planner's reason says what to change.
      }
      const hint = shortest === undefined ? '' : `; it is met within ${shortest} tasks (verification.withinTasks)`
      throw new NodeError(
        'NODE__VERIFICATION_INFEASIBLE',
        `the verification budget cannot be met for tasks of ${chunks} ${unit}: ${message}${hint}`,
        {
          budget,
          chunks,
          reason: code,
          ...(context?.['cheapestOverhead'] === undefined ? {} : { cheapestOverhead: context['cheapestOverhead'] }),
          ...(shortest === undefined ? {} : { shortestWithinTasks: shortest }),
        },
      )
    }
  }
}

/**
 * How a job's tasks are checked, for its status: the order's budget and, per task size, the plan its verifiers
 * sample by (`planFor`'s plan in force: over a longer horizon, `withinTasks`, when an order from elsewhere asked a
 * budget no plan meets). Undefined for an order whose budget is not one (a record an older version wrote in part).
 */
export function verificationView(
  order: Pick<Order, 'split' | 'verification'>,
): NonNullable<JobStatus['verification']> | undefined {
  const budget = order.verification as Partial<VerificationBudget> | undefined
  const terms = [budget?.detect, budget?.withinTasks, budget?.cheatRate, budget?.maxOverhead]
  if (!terms.every((t) => typeof t === 'number' && Number.isFinite(t))) return undefined
  let counts: number[]
  try {
    counts = taskChunkCounts(order.split)
  } catch {
    return undefined
  }
  // A split no task has (a record damaged in part): its status shows no plan rather than a plan for no task.
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 1)) return undefined
  return {
    budget: { ...order.verification },
    plans: counts.map((chunks) => {
      const { inForce } = planFor(order.verification, chunks)
      return {
        chunks,
        p: inForce.p,
        challengeChunks: inForce.challengeChunks,
        overhead: inForce.expectedOverhead,
        withinTasks: inForce.budget.withinTasks,
      }
    }),
  }
}
