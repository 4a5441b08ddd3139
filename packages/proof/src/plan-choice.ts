import { MAX_CACHED_PLANS } from './constants.js'
import { defaultPlan, type SamplingPlan } from './default-plan.js'
import { planVerification, type VerificationBudget } from './planner.js'

/** The sampling plan a creator checks a job's tasks by, and whether the job's budget could be met. */
export interface PlanChoice {
  /** The budget's own plan, for a verifier's `result` input; undefined when the budget cannot be met. */
  plan: SamplingPlan | undefined
  /** The plan in force: the budget's, or {@link defaultPlan} when the budget cannot be met. */
  inForce: SamplingPlan
  /** Why the budget's own plan could not be made (the planner's message), when it could not. */
  infeasible?: string
  /** The planner's error code then (`PROOF__BUDGET_INFEASIBLE`, `PROOF__INVALID_BUDGET`, ...). */
  code?: string
}

/** Plans by budget and chunk count: planning is pure, so one plan serves every job that asks the same. */
const plans = new Map<string, PlanChoice>()

/**
 * The plan a creator's verifier samples a job's tasks of `chunks` chunks by: `planVerification({ ...budget, chunks })`,
 * made once per budget and chunk count (the last {@link MAX_CACHED_PLANS} are kept). The node and the simulator both
 * plan through it. A budget no plan meets falls back to the default plan rather than leave the tasks unchecked or
 * checked at a cost the creator refused; `infeasible` says why, so the caller can say so (the choice object is the
 * same for every ask while it is kept, so a caller can tell it once).
 *
 * @example
 * ```ts
 * const { plan, infeasible } = planFor(order.verification, shape.chunks)
 * verifier.handle({ kind: 'result', result, envelope, plan, ...shape }, now)
 * ```
 */
export function planFor(budget: VerificationBudget, chunks: number): PlanChoice {
  const key = `${budget.detect}/${budget.withinTasks}/${budget.cheatRate}/${budget.maxOverhead}/${chunks}`
  let choice = plans.get(key)
  if (choice === undefined) {
    try {
      const plan = planVerification({ ...budget, chunks })
      choice = Object.freeze({ plan, inForce: plan })
    } catch (e) {
      const { message, code } = e as { message: string; code?: string }
      choice = Object.freeze({
        plan: undefined,
        inForce: defaultPlan(),
        infeasible: message,
        ...(code === undefined ? {} : { code }),
      })
    }
    if (plans.size >= MAX_CACHED_PLANS) plans.delete(plans.keys().next().value as string)
    plans.set(key, choice)
  }
  return choice
}
