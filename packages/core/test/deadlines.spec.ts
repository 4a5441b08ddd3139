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
  it('should compact to one entry per item at its current deadline, giving the same items back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 20 })), { maxLength: 300 }),
        fc.integer({ min: 0, max: 20 }),
        (arms, now) => {
          // Items re-armed many times, some at a deadline they had before.
          const current = new Map<number, number>()
          const deadlines = new Deadlines<number>()
          for (const [item, at] of arms) {
            deadlines.push(item, at)
            current.set(item, at)
          }
          const live = (item: number) => current.get(item)
          deadlines.compact(live)
          expect(deadlines.size).toBe(current.size)
          const byItem = (items: number[]) => [...items].sort((a, b) => a - b)
          const due = [...current].filter(([, at]) => at < now).map(([item]) => item)
          expect(byItem(deadlines.expired(now, live))).toEqual(byItem(due))
          const later = [...current.values()].filter((at) => at >= now)
          expect(deadlines.next(live)).toBe(later.length === 0 ? undefined : Math.min(...later))
        },
      ),
    )
  })
})
