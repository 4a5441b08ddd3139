import {
  DEFAULT_CHECK_SETUP_CHUNKS,
  DEFAULT_MIN_BAD_FRACTION,
  MAX_CACHED_PLANS,
  MAX_VERIFICATION_HORIZON,
} from './constants.js'
import { ProofError } from './errors.js'
import { type PlanOptions, planVerification, type VerificationBudget } from './planner.js'

/** How tasks' outputs are shaped beside their chunk counts: the planner's options other than the budget. */
export type HorizonOptions = Omit<PlanOptions, keyof VerificationBudget | 'chunks'>

/** Budgets already fitted, by budget, options and chunk counts: fitting plans up to a few dozen times. */
const fitted = new Map<string, VerificationBudget>()

/**
 * `budget` with its horizon (`withinTasks`) lengthened to the shortest at which one plan meets it for tasks of each
 * chunk count in `chunkCounts`; `budget` itself when it is met already. Small tasks cannot be checked to a short
 * horizon within a 10% overhead (a check recomputes at least one chunk of a few), but a cheater is still caught with
 * the probability asked, over more of its tasks: a job of 8-row tiles keeps the default's 99.9% against a 10% cheater,
 * within 688 of its tasks in place of 200. The other three terms are kept: they are what the creator pays for
 * and what it guards against.
 *
 * Feasibility only grows with the horizon (the per-task catch needed falls), so the shortest horizon is found by
 * bisection below a bound in closed form: checking one chunk of a task with probability `p` costs `p·(1+s)/n` and
 * hits a wrong chunk with `b/n`, so a catch rate of `f·min(b/n, maxOverhead·b/(1+s))` per task is always in reach.
 *
 * @throws ProofError `PROOF__INVALID_BUDGET` for a budget the planner refuses; `PROOF__INVALID_INPUT` for an empty or
 * non-integer chunk count; `PROOF__BUDGET_INFEASIBLE` when no horizon up to {@link MAX_VERIFICATION_HORIZON} tasks
 * meets it.
 *
 * @example
 * ```ts
 * lengthenHorizon(DEFAULT_BUDGET, [8]) // { detect: 0.999, withinTasks: 688, cheatRate: 0.1, maxOverhead: 0.1 }
 * lengthenHorizon(DEFAULT_BUDGET, [64]) // DEFAULT_BUDGET: met by p ≈ 0.897 over 4 chunks
 * ```
 */
export function lengthenHorizon(
  budget: VerificationBudget,
  chunkCounts: readonly number[],
  options: HorizonOptions = {},
): VerificationBudget {
  if (chunkCounts.length === 0 || chunkCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 2 ** 32)) {
    throw new ProofError('PROOF__INVALID_INPUT', `chunk counts must be integers in [1, 2^32], not [${chunkCounts}]`, {
      field: 'chunkCounts',
    })
  }
  const counts = [...new Set(chunkCounts)].sort((a, b) => a - b)
  const key = JSON.stringify([budget, options, counts])
  const known = fitted.get(key)
  if (known !== undefined) return known
  const meets = (withinTasks: number) => counts.every((chunks) => isMet({ ...budget, withinTasks }, chunks, options))
  let result: VerificationBudget
  if (meets(budget.withinTasks)) {
    result = budget
  } else {
    let lo = budget.withinTasks
    let hi = Math.max(lo + 1, horizonBound(budget, counts, options))
    // The bound is exact in reals; a rounding short of it is made up by doubling.
    while (!meets(hi)) {
      if (hi >= MAX_VERIFICATION_HORIZON) throw beyondReach(budget, counts)
      lo = hi
      hi = Math.min(MAX_VERIFICATION_HORIZON, hi * 2)
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (meets(mid)) hi = mid
      else lo = mid
    }
    result = Object.freeze({ ...budget, withinTasks: hi })
  }
  if (fitted.size >= MAX_CACHED_PLANS) fitted.delete(fitted.keys().next().value as string)
  fitted.set(key, result)
  return result
}

/** Whether a plan meets `budget` for tasks of `chunks` chunks; other planner errors (a bad budget) are thrown. */
function isMet(budget: VerificationBudget, chunks: number, options: HorizonOptions): boolean {
  try {
    planVerification({ ...options, ...budget, chunks })
    return true
  } catch (e) {
    if ((e as { code?: string }).code === 'PROOF__BUDGET_INFEASIBLE') return false
    throw e
  }
}

/** A horizon at which one-chunk checks meet `budget` for every count (see {@link lengthenHorizon}), capped. */
function horizonBound(budget: VerificationBudget, counts: readonly number[], options: HorizonOptions): number {
  const minBadFraction = options.minBadFraction ?? DEFAULT_MIN_BAD_FRACTION
  const setupChunks = options.setupChunks ?? DEFAULT_CHECK_SETUP_CHUNKS
  let catchRate = Infinity
  for (const n of counts) {
    const bad = Math.min(n, Math.max(1, Math.ceil(minBadFraction * n - 1e-9)))
    catchRate = Math.min(
      catchRate,
      budget.cheatRate * Math.min(bad / n, (budget.maxOverhead * bad) / (1 + setupChunks)),
    )
  }
  // 1 - (1 - D)^(1/N) <= x  <=>  N >= ln(1 - D) / ln(1 - x)
  const bound = Math.ceil(Math.log1p(-budget.detect) / Math.log1p(-Math.min(catchRate, 1 - 1e-12)))
  return Number.isFinite(bound) ? Math.min(bound, MAX_VERIFICATION_HORIZON) : MAX_VERIFICATION_HORIZON
}

function beyondReach(budget: VerificationBudget, counts: readonly number[]): ProofError {
  return new ProofError(
    'PROOF__BUDGET_INFEASIBLE',
    `no horizon up to ${MAX_VERIFICATION_HORIZON} tasks meets detection ${budget.detect} of a ${budget.cheatRate} ` +
      `cheater within overhead ${budget.maxOverhead} for tasks of ${counts.join(', ')} chunks; raise maxOverhead`,
    { ...budget, reason: 'horizon', chunkCounts: counts },
  )
}
