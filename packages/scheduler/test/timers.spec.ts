import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TimerQueue } from '../src/timers.js'

describe('TimerQueue', () => {
  it('should pop due timers by time, ties in insertion order, interleaved with pushes', () => {
    // A small range of times makes ties common, where insertion order decides.
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ pop: fc.integer({ min: 0, max: 8 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const queue = new TimerQueue<number>()
        // The reference: every armed timer as (at, insertion number), popped by a full sort.
        let armed: { at: number; n: number }[] = []
        let n = 0
        for (const o of ops) {
          if ('push' in o) {
            queue.push(o.push, n)
            armed.push({ at: o.push, n: n++ })
            continue
          }
          armed.sort((a, b) => a.at - b.at || a.n - b.n)
          const due = armed.filter((t) => t.at <= o.pop).map((t) => t.n)
          armed = armed.filter((t) => t.at > o.pop)
          const popped: number[] = []
          for (let v = queue.popDue(o.pop); v !== undefined; v = queue.popDue(o.pop)) popped.push(v)
          expect(popped).toEqual(due)
          expect(queue.size).toBe(armed.length)
          expect(queue.peek()).toBe(armed.length === 0 ? undefined : Math.min(...armed.map((t) => t.at)))
        }
      }),
    )
  })
})
