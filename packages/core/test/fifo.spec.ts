import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Fifo } from '../src/fifo.js'

describe('Fifo', () => {
  it('should hand items back in the order they were pushed, then undefined', () => {
    const q = new Fifo<number>()
    q.push(1)
    q.push(2)
    expect(q.length).toBe(2)
    expect(q.shift()).toBe(1)
    q.push(3)
    expect([q.shift(), q.shift(), q.shift()]).toEqual([2, 3, undefined])
    expect(q.length).toBe(0)
  })

  it('should keep working after it drains and after it compacts a long consumed prefix', () => {
    const q = new Fifo<number>()
    for (let i = 0; i < 5000; i++) q.push(i)
    // Past the compaction threshold (more than 1024 consumed and more than half the array).
    for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i)
    expect(q.length).toBe(2000)
    q.push(5000)
    for (let i = 3000; i <= 5000; i++) expect(q.shift()).toBe(i)
    expect(q.shift()).toBeUndefined()
    q.push(7)
    expect(q.shift()).toBe(7)
  })

  it('should behave as an array used as a queue under any interleaving of pushes and shifts', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 3000 }), (ops) => {
        const q = new Fifo<number>()
        const model: number[] = []
        for (const op of ops) {
          if (op === null) expect(q.shift()).toBe(model.shift())
          else {
            q.push(op)
            model.push(op)
          }
          expect(q.length).toBe(model.length)
        }
      }),
    )
  })
})
