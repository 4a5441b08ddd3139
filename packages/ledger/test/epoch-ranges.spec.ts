import { describe, expect, it } from 'vitest'
import { EpochRanges } from '../src/epoch-ranges.js'

describe('EpochRanges', () => {
  it('should hold what was added and nothing else, in any order', () => {
    const set = new EpochRanges()
    const added = [5, 3, 9, 4, 0, 7, 8, 12, 6]
    for (const epoch of added) set.add(epoch)
    for (let epoch = 0; epoch < 15; epoch++) expect(set.has(epoch), `epoch ${epoch}`).toBe(added.includes(epoch))
    // 0, 3-9 and 12.
    expect(set.runs).toBe(3)
  })

  it('should merge the runs an epoch joins, and take an epoch twice without change', () => {
    const set = new EpochRanges()
    for (const epoch of [1, 3]) set.add(epoch)
    expect(set.runs).toBe(2)
    set.add(2)
    expect(set.runs).toBe(1)
    set.add(2)
    set.add(0)
    set.add(4)
    expect(set.runs).toBe(1)
    expect([0, 1, 2, 3, 4].every((e) => set.has(e))).toBe(true)
    expect(set.has(5)).toBe(false)
  })

  it('should hold one run per gap however many epochs are added around it', () => {
    const set = new EpochRanges()
    // Epoch 10 never settles (a payout that failed for good); the others are added out of order in pairs.
    for (let epoch = 0; epoch < 100_000; epoch += 2) {
      if (epoch + 1 !== 10) set.add(epoch + 1)
      if (epoch !== 10) set.add(epoch)
    }
    expect(set.runs).toBe(2)
    expect(set.has(10)).toBe(false)
    expect(set.has(99_999)).toBe(true)
  })
})
