import { MAX_CACHED_PLANS } from './constants.js'
import { DEFAULT_BUDGET, defaultPlan } from './default-plan.js'
import { lengthenHorizon } from './horizon.js'
import { planVerification, type VerificationBudget, type VerificationPlan } from './planner.js'

/** The sampling plan a creator checks a job's tasks by, and whether the job's budget could be met. */
export interface PlanChoice {
  /** The budget's own plan; undefined when the budget cannot be met as it stands. */
  plan: VerificationPlan | undefined
  /**
   * The plan in force, for a verifier's `result` input: the budget's own, or, when the budget cannot be met, the plan
   * of the budget with its horizon lengthened until it can be ({@link lengthenHorizon}; of `DEFAULT_BUDGET` for a
   * budget the planner refuses outright).
   */
  inForce: VerificationPlan
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
 * plan through it. A budget no plan meets (an order from a creator that did not check it against its tasks) is met
 * over a longer horizon rather than leave the tasks unchecked or checked at a cost the creator refused; `infeasible`
 * says why, so the caller can say so (the choice object is the same for every ask while it is kept, so a caller can
 * tell it once).
 *
 * @example
 * ```ts
 * const { inForce: plan, infeasible } = planFor(order.verification, shape.chunks)
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
        inForce: fallbackPlan(code === 'PROOF__BUDGET_INFEASIBLE' ? budget : DEFAULT_BUDGET, chunks),
        infeasible: message,
        ...(code === undefined ? {} : { code }),
      })
    }
    if (plans.size >= MAX_CACHED_PLANS) plans.delete(plans.keys().next().value as string)
    plans.set(key, choice)
  }
  return choice
}

/**
 * The plan of `budget` over a horizon long enough to meet it for `chunks`; the default plan when none is (a budget
 * asking an overhead too small to check anything, a chunk count no task has).
 */
function fallbackPlan(budget: VerificationBudget, chunks: number): VerificationPlan {
  try {
    return planVerification({ ...lengthenHorizon(budget, [chunks]), chunks })
  } catch {
    return defaultPlan()
  }
}
