import { describe, expect, it } from 'vitest'
import { ManualClock, EQUIVOCATION_PENALTY_HALF_LIFE_MS, EQUIVOCATION_PENALTY_WEIGHT } from '../src/index.js'
import { PeerPenalties } from '../src/node/peer-penalties.js'

describe('PeerPenalties', () => {
  it('should grow with the square of the offences and halve the counter every half-life', () => {
    const clock = new ManualClock(0)
    const penalties = new PeerPenalties(clock)
    expect(penalties.score('p')).toBe(0)
    penalties.add('p')
    expect(penalties.score('p')).toBe(-EQUIVOCATION_PENALTY_WEIGHT)
    penalties.add('p')
    expect(penalties.score('p')).toBe(-4 * EQUIVOCATION_PENALTY_WEIGHT)
    clock.advance(EQUIVOCATION_PENALTY_HALF_LIFE_MS)
    expect(penalties.score('p')).toBeCloseTo(-EQUIVOCATION_PENALTY_WEIGHT)
    expect(penalties.score('q')).toBe(0)
    clock.advance(20 * EQUIVOCATION_PENALTY_HALF_LIFE_MS)
    expect(penalties.score('p')).toBe(0)
  })
})
