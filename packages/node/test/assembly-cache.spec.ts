import type { AssembledOutput } from '@tessera/scheduler/driver'
import { isTesseraError, ManualClock } from '@tessera/core'
import { describe, expect, it, vi } from 'vitest'
import { AssemblyCache } from '../src/peer/assembly-cache.js'

/** An inference output of `bytes` bytes. */
const items = (bytes: number): AssembledOutput => ({
  kind: 'inference',
  bytes: new Uint8Array(bytes),
  itemBytes: 1,
  missing: [],
})

describe('AssemblyCache', () => {
  it('should keep at most maxEntries outputs, letting the least recently used go first', () => {
    const cache = new AssemblyCache({ maxEntries: 2, maxBytes: 100 })
    const [a, b, c] = [items(1), items(2), items(3)]
    cache.set('a', a)
    cache.set('b', b)
    expect(cache.get('a')).toBe(a)
    cache.set('c', c)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBe(a)
    expect(cache.get('c')).toBe(c)
    expect(cache.size).toBe(2)
    expect(cache.bytes).toBe(4)
  })

  it('should keep at most maxBytes, and no output larger than that at all', () => {
    const cache = new AssemblyCache({ maxEntries: 10, maxBytes: 10 })
    cache.set('a', items(4))
    cache.set('b', items(4))
    cache.set('c', items(4))
    expect(cache.get('a')).toBeUndefined()
    expect(cache.bytes).toBe(8)
    cache.set('huge', items(11))
    expect(cache.get('huge')).toBeUndefined()
    expect([cache.size, cache.bytes]).toEqual([2, 8])
  })

  it('should count an output kept again under its key once', () => {
    const cache = new AssemblyCache({ maxEntries: 2, maxBytes: 10 })
    cache.set('a', items(4))
    cache.set('a', items(6))
    expect([cache.size, cache.bytes]).toEqual([1, 6])
  })

  it('should let go of an output left unused for idleMs, on the next call or by its timer', async () => {
    const clock = new ManualClock(0)
    const cache = new AssemblyCache({ maxEntries: 4, maxBytes: 100, idleMs: 1_000, clock })
    const [a, b] = [items(1), items(2)]
    cache.set('a', a)
    cache.set('b', b)
    clock.advance(600)
    // Used again: kept for another idleMs from now.
    expect(cache.get('a')).toBe(a)
    clock.advance(400)
    expect(cache.get('b')).toBeUndefined()
    expect([cache.size, cache.bytes]).toEqual([1, 1])
    clock.advance(600)
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)

    // With no further call, the timer lets it go.
    vi.useFakeTimers()
    try {
      const timed = new AssemblyCache({ idleMs: 1_000, clock })
      timed.set('a', a)
      clock.advance(1_000)
      vi.advanceTimersByTime(1_000)
      expect(timed.size).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('should fail every caller waiting on an assembly that fails, and keep nothing, so the next call tries again', async () => {
    const cache = new AssemblyCache()
    const gate = Promise.withResolvers<void>()
    let runs = 0
    const failing = async () => {
      runs++
      await gate.promise
      throw new Error('worker gone')
    }
    const waiting = [cache.getOrAssemble('a', failing), cache.getOrAssemble('a', failing)]
    gate.resolve()
    for (const caller of waiting) await expect(caller).rejects.toThrow('worker gone')
    expect([runs, cache.size, cache.assembling]).toEqual([1, 0, 0])
    const a = items(1)
    expect(await cache.getOrAssemble('a', async () => a)).toBe(a)
    expect(cache.get('a')).toBe(a)
  })

  it('should share an assembly in flight only between callers with the same bound, and keep it for any', async () => {
    const cache = new AssemblyCache()
    const gate = Promise.withResolvers<void>()
    let runs = 0
    const assemble = async () => {
      runs++
      await gate.promise
      return items(4)
    }
    const waiting = [
      cache.getOrAssemble('a', assemble, { bound: 10 }),
      cache.getOrAssemble('a', assemble, { bound: 10 }),
      cache.getOrAssemble('a', assemble, { bound: 20 }),
    ]
    expect(cache.assembling).toBe(2)
    gate.resolve()
    await Promise.all(waiting)
    expect(runs).toBe(2)
    expect(await cache.getOrAssemble('a', assemble, { bound: 30 })).toBe(cache.get('a'))
    expect(runs).toBe(2)
  })

  it('should abort the assemblies in flight and let go of every output once closed, keeping nothing after', async () => {
    const cache = new AssemblyCache()
    cache.set('kept', items(4))
    const gate = Promise.withResolvers<AssembledOutput>()
    const signals: AbortSignal[] = []
    // An assembly that finishes after the close, heeding its abort or not.
    const assemble = ({ signal }: { signal: AbortSignal }) => (signals.push(signal), gate.promise)
    const waiting = [cache.getOrAssemble('a', assemble), cache.getOrAssemble('b', assemble)]

    cache.close()
    expect(signals.map((s) => s.aborted)).toEqual([true, true])
    for (const caller of waiting) await expect(caller).rejects.toSatisfy((e) => isTesseraError(e, 'CORE__ABORTED'))
    gate.resolve(items(1))
    await gate.promise
    expect([cache.size, cache.bytes, cache.assembling]).toEqual([0, 0, 0])
    await expect(cache.getOrAssemble('c', async () => items(1))).rejects.toSatisfy((e) =>
      isTesseraError(e, 'CORE__ABORTED'),
    )
  })
})
