import { describe, expect, it } from 'vitest'
import { isCoreError, ManualClock } from '../src/index.js'

describe('ManualClock', () => {
  it('should refuse to move backwards with CORE__INVALID_INPUT', () => {
    const clock = new ManualClock(1_000)
    const invalid = expect.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_INPUT'))
    expect(() => clock.advance(-1)).toThrow(invalid)
    expect(() => clock.advance(Number.NaN)).toThrow(invalid)
    expect(() => clock.set(999)).toThrow(invalid)
    expect(clock.advance(5)).toBe(1_005)
    clock.set(2_000)
    expect(clock.now()).toBe(2_000)
  })
})
