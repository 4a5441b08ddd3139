import { describe, expect, it } from 'vitest'
import { honestEquilibrium } from '../src/index.js'

/** The slash arithmetic of a protocol in which a refusal is slashed as a fraud proof is. */
const SLASHABLE = { refusalSlashable: true } as const

describe('honestEquilibrium', () => {
  it('should find honesty the best response when the expected penalty exceeds the saving', () => {
    const e = honestEquilibrium({ price: 100n, stake: 10_000n, slash: 5_000n, p: 0.05, ...SLASHABLE })
    expect(e.honest).toBe(true)
    expect(e.catchPenalty).toBe(5_100)
    expect(e.expectedPenalty).toBeCloseTo(0.05 * 5_100, 9)
    expect(e.margin).toBeCloseTo(255 - 100, 9)
  })

  it('should find cheating profitable when the slash is too small for p', () => {
    const e = honestEquilibrium({ price: 100, stake: 10_000, slash: 500, p: 0.05, hitProbability: 0.5, ...SLASHABLE })
    expect(e.honest).toBe(false)
    expect(e.margin).toBeLessThan(0)
  })

  it('should give the minimum p and slash at which the margin vanishes', () => {
    const base = { price: 100, stake: 1_000_000, slash: 2_000, p: 0.02, hitProbability: 0.4, costSaved: 60 }
    const e = honestEquilibrium({ ...base, ...SLASHABLE })
    expect(honestEquilibrium({ ...base, ...SLASHABLE, p: e.minP }).margin).toBeCloseTo(0, 9)
    expect(honestEquilibrium({ ...base, ...SLASHABLE, slash: e.minSlash }).margin).toBeCloseTo(0, 9)
    expect(honestEquilibrium({ ...base, ...SLASHABLE, p: e.minP * 1.01 }).honest).toBe(true)
    expect(honestEquilibrium({ ...base, ...SLASHABLE, p: e.minP * 0.99 }).honest).toBe(false)
  })

  it('should cap the slash at the stake and count the payment only when it is at risk', () => {
    const capped = honestEquilibrium({ price: 10, stake: 100, slash: 1_000_000, p: 0.1, ...SLASHABLE })
    expect(capped.effectiveSlash).toBe(100)
    expect(capped.expectedPenalty).toBeCloseTo(11, 9)
    const released = honestEquilibrium({
      price: 10,
      stake: 100,
      slash: 100,
      p: 0.1,
      paymentAtRisk: false,
      ...SLASHABLE,
    })
    expect(released.expectedPenalty).toBeCloseTo(10, 9)
    expect(released.minPrice).toBe(Number.POSITIVE_INFINITY)
    const needy = honestEquilibrium({ price: 10, stake: 50, slash: 50, p: 0.01, ...SLASHABLE })
    expect(needy.stakeSufficient).toBe(false)
  })

  it('should count no slash against a cheater that can refuse a challenge that hit, unslashed', () => {
    // The README's default plan against a cheater faking 7 of 64 chunks: p·d = 0.8974·0.3783 = 0.3395. Revealing
    // would cost 100 + 500; staying silent costs the payment of 100 only, and a cheater knows which it faces.
    const base = { price: 100, stake: 500, slash: 500, p: 0.8974, hitProbability: 0.3783, costSaved: 100 }
    const e = honestEquilibrium(base)
    expect(e.catchPenalty).toBe(100)
    expect(e.expectedPenalty).toBeCloseTo(0.8974 * 0.3783 * 100, 9)
    expect(e.honest).toBe(false)
    // No slash helps and no p reaches it; a price of C/(p·d) = 294.6 per task would.
    expect(e.minSlash).toBe(Number.POSITIVE_INFINITY)
    expect(e.stakeSufficient).toBe(false)
    expect(e.minP).toBeGreaterThan(1)
    expect(e.minPrice).toBeCloseTo(100 / (0.8974 * 0.3783), 9)
    expect(honestEquilibrium({ ...base, price: e.minPrice * 1.01 }).honest).toBe(true)
    // A cheater saving 30 of a price of 100 is deterred by the payment alone.
    expect(honestEquilibrium({ ...base, costSaved: 30 }).honest).toBe(true)
  })

  it('should count the slash only up to what a refusal costs the cheater', () => {
    const base = { price: 100, stake: 10_000, slash: 5_000, p: 0.5, costSaved: 120 }
    // Refusing costs 40 beyond the payment: a caught cheater refuses, losing 140 rather than 5,100.
    const e = honestEquilibrium({ ...base, refusalCost: 40 })
    expect(e.catchPenalty).toBe(140)
    expect(e.expectedPenalty).toBeCloseTo(70, 9)
    expect(e.honest).toBe(false)
    // At p = 1 a catch must cost 120: a slash of 20 does it, since revealing then costs less than refusing.
    const sure = honestEquilibrium({ ...base, p: 1, refusalCost: 40 })
    expect(sure.minSlash).toBeCloseTo(20, 9)
    expect(sure.stakeSufficient).toBe(true)
    expect(honestEquilibrium({ ...base, p: 1, slash: 21, refusalCost: 40 }).honest).toBe(true)
  })

  it('should reject negative amounts and probabilities outside [0, 1]', () => {
    expect(() => honestEquilibrium({ price: -1, stake: 1, slash: 1, p: 0.1 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => honestEquilibrium({ price: 1, stake: 1, slash: 1, p: 1.5 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => honestEquilibrium({ price: 1, stake: 1, slash: 1, p: 0.5, refusalCost: -1 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })
})
