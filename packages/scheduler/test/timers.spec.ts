import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TimerQueue } from '../src/timers.js'

describe('TimerQueue', () => {
  it('should pop due timers by time, ties in insertion order, interleaved with pushes', () => {
    // A small range of times makes ties common, where insertion order decides.
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ pop: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ drop: fc.integer({ min: 0, max: 4 }) }),
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
          if ('drop' in o) {
            // The timers of forgotten state go; the rest fire as they would have.
            const keep = (value: number): boolean => value % 5 !== o.drop
            queue.prune(keep)
            armed = armed.filter((t) => keep(t.n))
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
        expect(queue.size).toBe(armed.length)
      }),
    )
  })

  it('should drop the timers of forgotten state once as much was forgotten as is kept', () => {
    const queue = new TimerQueue<number>()
    for (let n = 0; n < 8; n++) queue.push(1_000 - n, n)
    const live = new Set([0, 1, 2, 3, 4, 5, 6, 7])
    const forget = (n: number): void => {
      live.delete(n)
      queue.noteForgotten(live.size, (value) => live.has(value))
    }
    for (const n of [7, 6, 5]) forget(n)
    expect(queue.size).toBe(8)
    forget(4)
    expect(queue.size).toBe(4)
    expect(queue.peek()).toBe(997)
    forget(3)
    expect(queue.size).toBe(4)
    forget(2)
    expect(queue.size).toBe(2)
    // Nothing kept: nothing is left to time.
    forget(1)
    forget(0)
    expect(queue.size).toBe(0)
    expect(queue.peek()).toBeUndefined()
  })
})
