import { seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { AdaptiveSampler } from '../src/index.js'

describe('AdaptiveSampler', () => {
  it('should check new workers with pNew and lower p with each valid result toward the floor', () => {
    const s = new AdaptiveSampler({ pNew: 1, pMin: 0.1, trustHalfStreak: 5 })
    expect(s.probability('w')).toBe(1)
    let last = 1
    for (let i = 1; i <= 200; i++) {
      s.recordValid('w')
      const p = s.probability('w')
      expect(p).toBeLessThan(last)
      expect(p).toBeGreaterThanOrEqual(0.1)
      last = p
    }
    expect(s.streak('w')).toBe(200)
    expect(s.probability('w')).toBeCloseTo(0.1 + 0.9 * (5 / 205), 12)
  })

  it('should halve the excess over the floor at trustHalfStreak', () => {
    const s = new AdaptiveSampler({ pNew: 0.9, pMin: 0.1, trustHalfStreak: 4 })
    for (let i = 0; i < 4; i++) s.recordValid('w')
    expect(s.probability('w')).toBeCloseTo(0.5, 12)
  })

  it("should raise the floor to a job's plan p, above pNew too, for new and trusted workers alike", () => {
    const s = new AdaptiveSampler({ pNew: 0.5, pMin: 0.05 })
    expect(s.probability('w', 0.9)).toBe(0.9)
    for (let i = 0; i < 50; i++) s.recordValid('w')
    expect(s.probability('w', 0.9)).toBe(0.9)
    // Below pNew, the plan's p is a floor the streak lowers p toward.
    expect(s.probability('w', 0.3)).toBeCloseTo(0.3 + 0.2 * (10 / 60), 12)
    const rng = seededRng(2)
    let checked = 0
    for (let i = 0; i < 10_000; i++) if (s.shouldCheck('new', rng, 0.9)) checked++
    expect(checked / 10_000).toBeGreaterThan(0.88)
  })

  it('should report each streak change and take back restored streaks, oldest first, within maxTracked', () => {
    const updates: Array<[string, number]> = []
    const s = new AdaptiveSampler({ maxTracked: 2, onUpdate: (worker, streak) => void updates.push([worker, streak]) })
    s.recordValid('w')
    s.recordValid('w')
    s.recordFailure('x')
    expect(updates).toEqual([
      ['w', 1],
      ['w', 2],
      ['x', 0],
    ])
    const restored = new AdaptiveSampler({ maxTracked: 2, onUpdate: () => expect.fail('restore reports nothing') })
    restored.restore('a', 3)
    restored.restore('b', 5)
    restored.restore('c', 7)
    expect([restored.streak('a'), restored.streak('b'), restored.streak('c')]).toEqual([0, 5, 7])
    restored.restore('b', 0)
    expect(restored.tracked).toBe(1)
    expect(() => restored.restore('d', -1)).toThrow(expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }))
  })

  it('should reset trust on any failure', () => {
    const s = new AdaptiveSampler({ pMin: 0.05 })
    for (let i = 0; i < 50; i++) s.recordValid('w')
    expect(s.probability('w')).toBeLessThan(0.3)
    s.recordFailure('w')
    expect(s.streak('w')).toBe(0)
    expect(s.probability('w')).toBe(1)
  })

  it("should raise the floor to a job's plan p but never lower it", () => {
    const s = new AdaptiveSampler({ pMin: 0.2 })
    for (let i = 0; i < 10_000; i++) s.recordValid('w')
    expect(s.probability('w', 0.6)).toBeGreaterThanOrEqual(0.6)
    expect(s.probability('w', 0.01)).toBeGreaterThanOrEqual(0.2)
  })

  it('should check at the drawn probability', () => {
    const s = new AdaptiveSampler({ pNew: 0.3, pMin: 0.3 })
    const rng = seededRng(5)
    let checked = 0
    const n = 10_000
    for (let i = 0; i < n; i++) if (s.shouldCheck('w', rng)) checked++
    expect(Math.abs(checked - 3_000)).toBeLessThan(3.29 * Math.sqrt(n * 0.3 * 0.7))
  })

  it('should forget the least recently checked worker beyond maxTracked, which then counts as new', () => {
    const s = new AdaptiveSampler({ maxTracked: 2 })
    s.recordValid('a')
    s.recordValid('b')
    s.recordValid('a')
    s.recordValid('c')
    expect(s.tracked).toBe(2)
    expect(s.streak('b')).toBe(0)
    expect(s.streak('a')).toBe(2)
  })

  it('should reject inconsistent options', () => {
    expect(() => new AdaptiveSampler({ pNew: 0.1, pMin: 0.5 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => new AdaptiveSampler({ trustHalfStreak: 0 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })
})
