import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MinHeap } from '../src/min-heap.js'

describe('MinHeap', () => {
  it('should pop values in key order, whether pushed one by one or rebuilt at once', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1_000, max: 1_000 }), { maxLength: 200 }), (keys) => {
        const sorted = [...keys].sort((a, b) => a - b)
        const pushed = new MinHeap<number>()
        for (const key of keys) pushed.push(key, key)
        const rebuilt = new MinHeap<number>()
        rebuilt.rebuild(keys.map((key) => [key, key] as const))
        for (const heap of [pushed, rebuilt]) {
          expect(heap.size).toBe(keys.length)
          const popped: number[] = []
          for (let key = heap.peekKey(); key !== undefined; key = heap.peekKey()) {
            expect(heap.peek()).toBe(key)
            popped.push(heap.pop() as number)
          }
          expect(popped).toEqual(sorted)
          expect(heap.pop()).toBeUndefined()
        }
      }),
    )
  })
})
