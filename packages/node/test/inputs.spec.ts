import { type AbortOptions, isTesseraError, type Order } from '@tessera/core'
import { generateScene } from '@tessera/gpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { InputCache, type InputSource } from '../src/peer/inputs.js'

const ORDER = {
  kind: 'render',
  inputs: ['bafyscene'],
  creator: 'creator',
  split: { kind: 'render' },
} as unknown as Pick<Order, 'kind' | 'inputs' | 'creator' | 'split'>

/** A creator's blobs, fetched only when the test says: each fetch's signal is kept, to see whether it aborted. */
class SlowSource implements InputSource {
  readonly fetches: { signal: AbortSignal | undefined; resolve: () => void; reject: (e: Error) => void }[] = []
  constructor(readonly bytes: Uint8Array) {}

  async has(): Promise<boolean> {
    return false
  }

  async get(): Promise<Uint8Array> {
    throw new Error('not held')
  }

  fetchFrom(_peer: string, _cid: string, options: AbortOptions = {}): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(new Error('fetch aborted')), { once: true })
      this.fetches.push({ signal: options.signal, resolve: () => resolve(this.bytes), reject })
    })
  }
}

const isAbort = (e: unknown) => isTesseraError(e, 'CORE__ABORTED')
/** Lets the cache's awaits before the fetch run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('InputCache', () => {
  let scene: Uint8Array

  beforeAll(async () => {
    scene = await generateScene({ subdivisions: 1 })
  })

  it("should keep fetching for the others when one caller's signal aborts", async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const first = new AbortController()
    const leaving = cache.load(ORDER, { signal: first.signal })
    const staying = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(1)
    first.abort()
    await expect(leaving).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(false)
    source.fetches[0]?.resolve()
    expect((await staying).kind).toBe('render')
    // Fetched once, kept: the next task of the job loads without fetching.
    await cache.load(ORDER)
    expect(source.fetches).toHaveLength(1)
  })

  it('should abort the fetch once every caller has aborted, and fetch afresh for the next', async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const callers = [new AbortController(), new AbortController()]
    const loads = callers.map((c) => cache.load(ORDER, { signal: c.signal }))
    await settle()
    callers[0]?.abort()
    await expect(loads[0]).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(false)
    callers[1]?.abort()
    await expect(loads[1]).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(true)
    const again = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(2)
    source.fetches[1]?.resolve()
    expect((await again).kind).toBe('render')
  })

  it('should not keep a fetch that failed', async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const failed = cache.load(ORDER)
    await settle()
    source.fetches[0]?.reject(new Error('creator gone'))
    await expect(failed).rejects.toThrow('creator gone')
    const again = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(2)
    source.fetches[1]?.resolve()
    expect((await again).kind).toBe('render')
  })

  it('should refuse at once a caller whose signal has already aborted', async () => {
    const source = new SlowSource(scene)
    await expect(new InputCache(source).load(ORDER, { signal: AbortSignal.abort() })).rejects.toSatisfy(isAbort)
    await settle()
    expect(source.fetches).toHaveLength(0)
  })
})
