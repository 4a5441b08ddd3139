import { describe, expect, it } from 'vitest'
import { honestEquilibrium } from '../src/index.js'

describe('honestEquilibrium', () => {
  it('should find honesty the best response when the expected penalty exceeds the saving', () => {
    const e = honestEquilibrium({ price: 100n, stake: 10_000n, slash: 5_000n, p: 0.05 })
    expect(e.honest).toBe(true)
    expect(e.expectedPenalty).toBeCloseTo(0.05 * 5_100, 9)
    expect(e.margin).toBeCloseTo(255 - 100, 9)
  })

  it('should find cheating profitable when the slash is too small for p', () => {
    const e = honestEquilibrium({ price: 100, stake: 10_000, slash: 500, p: 0.05, hitProbability: 0.5 })
    expect(e.honest).toBe(false)
    expect(e.margin).toBeLessThan(0)
  })

  it('should give the minimum p and slash at which the margin vanishes', () => {
    const base = { price: 100, stake: 1_000_000, slash: 2_000, p: 0.02, hitProbability: 0.4, costSaved: 60 }
    const e = honestEquilibrium(base)
    expect(honestEquilibrium({ ...base, p: e.minP }).margin).toBeCloseTo(0, 9)
    expect(honestEquilibrium({ ...base, slash: e.minSlash }).margin).toBeCloseTo(0, 9)
    expect(honestEquilibrium({ ...base, p: e.minP * 1.01 }).honest).toBe(true)
    expect(honestEquilibrium({ ...base, p: e.minP * 0.99 }).honest).toBe(false)
  })

  it('should cap the slash at the stake and count the payment only when it is at risk', () => {
    const capped = honestEquilibrium({ price: 10, stake: 100, slash: 1_000_000, p: 0.1 })
    expect(capped.effectiveSlash).toBe(100)
    expect(capped.expectedPenalty).toBeCloseTo(11, 9)
    const released = honestEquilibrium({ price: 10, stake: 100, slash: 100, p: 0.1, paymentAtRisk: false })
    expect(released.expectedPenalty).toBeCloseTo(10, 9)
    const needy = honestEquilibrium({ price: 10, stake: 50, slash: 50, p: 0.01 })
    expect(needy.stakeSufficient).toBe(false)
  })

  it('should reject negative amounts and probabilities outside [0, 1]', () => {
    expect(() => honestEquilibrium({ price: -1, stake: 1, slash: 1, p: 0.1 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => honestEquilibrium({ price: 1, stake: 1, slash: 1, p: 1.5 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })
})
