import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Deadlines } from '../src/deadlines.js'

describe('Deadlines', () => {
  it('should give items back in deadline order, skipping those whose deadline moved, at or strictly before now', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 1_000 }),
        (ats, now) => {
          // Item i is due at ats[i]; every third was re-armed later, leaving a stale entry behind.
          const current = ats.map((at, i) => (i % 3 === 0 ? at + 500 : at))
          const deadlines = new Deadlines<number>()
          ats.forEach((at, i) => deadlines.push(i, at))
          ats.forEach((_, i) => i % 3 === 0 && deadlines.push(i, current[i] as number))
          const live = (i: number) => current[i]
          const byDeadline = (items: number[]) => items.map((i) => current[i] as number)
          const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b)
          const expired = deadlines.expired(now, live)
          expect(byDeadline(expired)).toEqual(sorted(current.filter((at) => at < now)))
          const due = deadlines.due(now, live)
          expect(byDeadline(due)).toEqual(sorted(current.filter((at) => at === now)))
          expect(deadlines.next(live)).toBe(current.filter((at) => at > now).sort((a, b) => a - b)[0])
        },
      ),
    )
  })
})
