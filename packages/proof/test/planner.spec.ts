import { describe, expect, it } from 'vitest'
import {
  DEFAULT_BUDGET,
  defaultPlan,
  detectionWithin,
  hitProbability,
  lengthenHorizon,
  planFor,
  planVerification,
  requiredPerTaskCatch,
  type PlanOptions,
} from '../src/index.js'

const BUDGET = { detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 }

function binomial(n: number, k: number): number {
  let r = 1
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i
  return r
}

describe('hitProbability', () => {
  it('should equal 1 - C(n-b, c)/C(n, c)', () => {
    for (const [n, b, c] of [
      [64, 7, 4],
      [10, 1, 3],
      [100, 30, 5],
      [8, 8, 1],
      [16, 0, 4],
    ] as const) {
      expect(hitProbability(n, b, c)).toBeCloseTo(1 - binomial(n - b, c) / binomial(n, c), 12)
    }
    expect(hitProbability(64, 7, 58)).toBe(1)
    expect(hitProbability(64, 7, 0)).toBe(0)
  })
})

describe('planVerification', () => {
  it('should meet the detection target within the overhead budget', () => {
    const plan = planVerification(BUDGET)
    expect(plan.challengeChunks).toBe(4)
    expect(plan.badChunks).toBe(7)
    expect(plan.p).toBeCloseTo(0.8974, 4)
    expect(plan.expectedOverhead).toBeLessThanOrEqual(0.1)
    expect(plan.expectedOverhead).toBeCloseTo((plan.p * 4) / 64, 12)
    expect(plan.detectionProbability).toBeGreaterThanOrEqual(0.999 - 1e-12)
    expect(plan.perTaskCatch).toBeCloseTo(0.1 * plan.p * plan.hitProbability, 12)
    expect(detectionWithin(plan.perTaskCatch, 200)).toBeCloseTo(plan.detectionProbability, 12)
  })

  it('should choose the cheapest challenge size among all that meet the target', () => {
    const cases: PlanOptions[] = [
      BUDGET,
      { ...BUDGET, chunks: 256, minBadFraction: 0.02 },
      { ...BUDGET, setupChunks: 3 },
    ]
    for (const options of cases) {
      const plan = planVerification(options)
      const n = options.chunks ?? 64
      const b = plan.badChunks
      const s = options.setupChunks ?? 0
      const needed = requiredPerTaskCatch(BUDGET.detect, BUDGET.withinTasks) / BUDGET.cheatRate
      for (let c = 1; c <= n; c++) {
        const d = hitProbability(n, b, c)
        if (d < needed) continue
        expect(plan.expectedOverhead).toBeLessThanOrEqual(((needed / d) * (c + s)) / n + 1e-15)
      }
    }
  })

  it('should check rarely when whole outputs are wrong and the horizon is long', () => {
    const plan = planVerification({
      detect: 0.99,
      withinTasks: 2000,
      cheatRate: 0.1,
      maxOverhead: 0.1,
      minBadFraction: 1,
    })
    expect(plan.challengeChunks).toBe(1)
    expect(plan.p).toBeLessThan(0.03)
    expect(plan.detectionProbability).toBeCloseTo(0.99, 9)
  })

  it('should report an infeasible detection target with a coded error', () => {
    expect(() => planVerification({ detect: 0.999, withinTasks: 5, cheatRate: 0.01, maxOverhead: 1 })).toThrow(
      expect.objectContaining({
        code: 'PROOF__BUDGET_INFEASIBLE',
        context: expect.objectContaining({ reason: 'detection' }),
      }),
    )
  })

  it('should report the cheapest overhead when the budget is too tight', () => {
    let error: { code?: string; context?: Record<string, unknown> } = {}
    try {
      planVerification({ ...BUDGET, maxOverhead: 0.01 })
    } catch (e) {
      error = e as typeof error
    }
    expect(error.code).toBe('PROOF__BUDGET_INFEASIBLE')
    expect(error.context?.reason).toBe('overhead')
    expect(error.context?.cheapestOverhead).toBeCloseTo(planVerification(BUDGET).expectedOverhead, 12)
  })

  it('should never plan a challenge larger than the wire carries', () => {
    // 1 bad chunk in 1024 needs d(c) = c/1024 >= 0.5: c = 512, over the 256 a challenge may name.
    const needsLarge = {
      detect: 0.999,
      withinTasks: 10,
      cheatRate: 1,
      maxOverhead: 1,
      chunks: 1024,
      minBadFraction: 0.001,
    }
    expect(() => planVerification({ ...needsLarge, maxChallengeChunks: 512 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_BUDGET', context: expect.objectContaining({ value: 512 }) }),
    )
    let error: { code?: string; message?: string } = {}
    try {
      planVerification(needsLarge)
    } catch (e) {
      error = e as typeof error
    }
    expect(error.code).toBe('PROOF__BUDGET_INFEASIBLE')
    expect(error.message).not.toContain('maxChallengeChunks')
    expect(error.message).toContain('fewer chunks')
    expect(planVerification({ ...BUDGET, chunks: 4096, maxChallengeChunks: 256 }).challengeChunks).toBeLessThanOrEqual(
      256,
    )
  })

  it('should reject out-of-range budgets', () => {
    for (const bad of [
      { ...BUDGET, detect: 1 },
      { ...BUDGET, detect: 0 },
      { ...BUDGET, withinTasks: 0 },
      { ...BUDGET, withinTasks: 2.5 },
      { ...BUDGET, cheatRate: 0 },
      { ...BUDGET, maxOverhead: -1 },
      { ...BUDGET, minBadFraction: 0 },
      { ...BUDGET, setupChunks: -1 },
    ]) {
      expect(() => planVerification(bad)).toThrow(expect.objectContaining({ code: 'PROOF__INVALID_BUDGET' }))
    }
    expect(() => planVerification({ ...BUDGET, chunks: 0 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })
})

describe('planFor', () => {
  it('should plan once per budget and chunk count, and meet a budget no plan meets over a longer horizon', () => {
    const choice = planFor(BUDGET, 64)
    expect(choice.plan).toEqual(planVerification({ ...BUDGET, chunks: 64 }))
    expect(choice.inForce).toBe(choice.plan)
    expect(planFor({ ...BUDGET }, 64)).toBe(choice)
    const tight = planFor({ ...BUDGET, maxOverhead: 0.01 }, 64)
    expect(tight.plan).toBeUndefined()
    expect(tight.code).toBe('PROOF__BUDGET_INFEASIBLE')
    // The overhead the creator allowed is kept (the default plan's 5.6% is not), and the detection it asked for.
    expect(tight.inForce.expectedOverhead).toBeLessThanOrEqual(0.01)
    expect(tight.inForce.budget).toEqual({
      ...BUDGET,
      maxOverhead: 0.01,
      withinTasks: tight.inForce.budget.withinTasks,
    })
    expect(tight.inForce.budget.withinTasks).toBeGreaterThan(200)
    expect(tight.inForce.detectionProbability).toBeGreaterThanOrEqual(0.999 - 1e-9)
  })

  it('should check small tasks within their size: never a challenge of more chunks than a task has', () => {
    for (const chunks of [1, 2, 3]) {
      const { plan, inForce } = planFor(BUDGET, chunks)
      expect(plan).toBeUndefined()
      expect(inForce.challengeChunks).toBeLessThanOrEqual(chunks)
      expect(inForce.expectedOverhead).toBeLessThanOrEqual(BUDGET.maxOverhead + 1e-12)
    }
  })

  it('should fall back to the default budget, fitted to the task, for a budget the planner refuses', () => {
    const refused = planFor({ ...BUDGET, detect: 1 }, 8)
    expect(refused.code).toBe('PROOF__INVALID_BUDGET')
    expect(refused.inForce.budget).toEqual(lengthenHorizon(DEFAULT_BUDGET, [8]))
    // Beyond any horizon: the default plan, as the last resort.
    expect(planFor({ ...BUDGET, maxOverhead: 1e-300 }, 64).inForce).toBe(defaultPlan())
  })
})

describe('lengthenHorizon', () => {
  it('should keep a budget that is met, as the same object', () => {
    expect(lengthenHorizon(DEFAULT_BUDGET, [64])).toBe(DEFAULT_BUDGET)
    expect(lengthenHorizon(DEFAULT_BUDGET, [32, 64, 256])).toBe(DEFAULT_BUDGET)
  })

  it('should lengthen only the horizon, to the shortest one every chunk count meets', () => {
    for (const counts of [[1], [8], [16], [24], [8, 64], [5, 13, 100]]) {
      const fitted = lengthenHorizon(DEFAULT_BUDGET, counts)
      expect({ ...fitted, withinTasks: 200 }).toEqual(DEFAULT_BUDGET)
      for (const chunks of counts) {
        const plan = planVerification({ ...fitted, chunks })
        expect(plan.detectionProbability).toBeGreaterThanOrEqual(0.999 - 1e-9)
        expect(plan.expectedOverhead).toBeLessThanOrEqual(0.1 + 1e-12)
      }
      // One task fewer and some chunk count is not met.
      const shorter = { ...fitted, withinTasks: fitted.withinTasks - 1 }
      expect(
        counts.some((chunks) => {
          try {
            planVerification({ ...shorter, chunks })
            return false
          } catch {
            return true
          }
        }),
      ).toBe(true)
    }
    expect(lengthenHorizon(DEFAULT_BUDGET, [8]).withinTasks).toBe(688)
  })

  it('should honour the shape options the planner takes', () => {
    const plain = lengthenHorizon(DEFAULT_BUDGET, [16])
    const costly = lengthenHorizon(DEFAULT_BUDGET, [16], { setupChunks: 2 })
    expect(costly.withinTasks).toBeGreaterThan(plain.withinTasks)
    expect(() => planVerification({ ...costly, chunks: 16, setupChunks: 2 })).not.toThrow()
  })

  it('should refuse bad input and a budget no horizon meets with codes', () => {
    expect(() => lengthenHorizon(DEFAULT_BUDGET, [])).toThrow(expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }))
    expect(() => lengthenHorizon(DEFAULT_BUDGET, [0])).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => lengthenHorizon(DEFAULT_BUDGET, [2.5])).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => lengthenHorizon({ ...DEFAULT_BUDGET, cheatRate: 0 }, [8])).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_BUDGET' }),
    )
    expect(() => lengthenHorizon({ ...DEFAULT_BUDGET, maxOverhead: 1e-300 }, [8])).toThrow(
      expect.objectContaining({
        code: 'PROOF__BUDGET_INFEASIBLE',
        context: expect.objectContaining({ reason: 'horizon' }),
      }),
    )
  })
})
