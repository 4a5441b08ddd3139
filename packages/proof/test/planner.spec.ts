import { describe, expect, it } from 'vitest'
import {
  defaultPlan,
  detectionWithin,
  hitProbability,
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
  it('should plan once per budget and chunk count, and fall back to the default plan when none meets the budget', () => {
    const choice = planFor(BUDGET, 64)
    expect(choice.plan).toEqual(planVerification({ ...BUDGET, chunks: 64 }))
    expect(planFor({ ...BUDGET }, 64)).toBe(choice)
    const tight = planFor({ ...BUDGET, maxOverhead: 0.01 }, 64)
    expect(tight.plan).toBeUndefined()
    expect(tight.inForce).toBe(defaultPlan())
    expect(tight.code).toBe('PROOF__BUDGET_INFEASIBLE')
  })
})
