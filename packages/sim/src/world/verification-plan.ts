import type { VerificationBudget } from '@tessera/proof'
import { defaultPlan, planVerification, type SamplingPlan } from '@tessera/proof'

/** The sampling plan creators use for a budget and chunk count, and whether the budget could be met. */
export interface PlanChoice {
  /** Given to the verifier; undefined when the budget is infeasible and its default plan applies. */
  plan: SamplingPlan | undefined
  /** The plan in force: the budget's, or the verifier's default. */
  inForce: SamplingPlan
  /** Why the budget's own plan could not be made (the planner's message), when it could not. */
  infeasible?: string
}

/** Plans by budget and chunk count: planning is pure, so one plan serves every job that asks the same. */
const plans = new Map<string, PlanChoice>()

/**
 * What a creator's verifier samples by for a job's budget over outputs of `chunks` chunks. When no (p, c) meets the
 * budget the verifier's default plan applies, as in the node; the report says so, since a sweep over the budget
 * would otherwise show identical figures without a word.
 */
export function planFor(budget: VerificationBudget, chunks: number): PlanChoice {
  const key = `${budget.detect}/${budget.withinTasks}/${budget.cheatRate}/${budget.maxOverhead}/${chunks}`
  let choice = plans.get(key)
  if (choice === undefined) {
    try {
      const plan = planVerification({ ...budget, chunks })
      choice = { plan, inForce: plan }
    } catch (e) {
      choice = { plan: undefined, inForce: defaultPlan(), infeasible: (e as Error).message }
    }
    plans.set(key, choice)
  }
  return choice
}
