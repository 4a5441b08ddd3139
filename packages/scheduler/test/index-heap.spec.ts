import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IndexHeap } from '../src/index-heap.js'

describe('IndexHeap', () => {
  it('should pop the smallest index held, whatever was pushed, popped and removed before', () => {
    const capacity = 64
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), index: fc.nat(capacity - 1) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('remove' as const), index: fc.nat(capacity - 1) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new IndexHeap(capacity, 8)
        const held = new Set([0, 1, 2, 3, 4, 5, 6, 7])
        for (const step of ops) {
          if (step.kind === 'push') {
            // Each index is held at most once, as a job's pending tasks are.
            if (held.has(step.index)) continue
            heap.push(step.index)
            held.add(step.index)
          } else if (step.kind === 'remove') {
            expect(heap.remove(step.index)).toBe(held.delete(step.index))
          } else {
            const least = held.size === 0 ? -1 : Math.min(...held)
            expect(heap.pop()).toBe(least)
            held.delete(least)
          }
          expect(heap.size).toBe(held.size)
        }
      }),
    )
  })
})
