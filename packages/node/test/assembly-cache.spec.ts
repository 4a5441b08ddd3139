import type { AssembledOutput } from '@tessera/scheduler/driver'
import { describe, expect, it } from 'vitest'
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
})
