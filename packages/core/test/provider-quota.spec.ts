import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { withProviderQuota } from '../src/node/provider-quota.js'

const record = (cid: string, peer: string): Key => new Key(`/dht/provider/${cid}/${peer}`)
const time = new Uint8Array([1])

describe('withProviderQuota', () => {
  it("should refuse a peer's provider records past its quota and all peers' past the total, taking refreshes", async () => {
    const store = await withProviderQuota(new MemoryDatastore(), { perPeer: 2, total: 3, self: 'me' })
    await store.put(record('c1', 'a'), time)
    await store.put(record('c2', 'a'), time)
    await expect(store.put(record('c3', 'a'), time)).rejects.toMatchObject({ code: 'CORE__PROVIDER_QUOTA' })
    // A refresh of a record held is not another record.
    await store.put(record('c1', 'a'), time)
    await store.put(record('c1', 'b'), time)
    await expect(store.put(record('c2', 'b'), time)).rejects.toMatchObject({ code: 'CORE__PROVIDER_QUOTA' })
    // Our own records, and keys that are not provider records, are never refused.
    await store.put(record('c9', 'me'), time)
    await store.put(new Key('/peers/a'), time)
    // Expired records deleted make room again.
    await store.delete(record('c1', 'a'))
    await store.put(record('c3', 'a'), time)
    expect(await store.has(record('c3', 'a'))).toBe(true)
    expect(await store.has(record('c2', 'b'))).toBe(false)
  })

  it('should count a record written many times at once as one, and uncount it once deleted', async () => {
    const store = await withProviderQuota(new MemoryDatastore(), { perPeer: 2, total: 10, self: 'me' })
    // One ADD_PROVIDER may list a record many times; kad-dht writes them all at once.
    await Promise.all(Array.from({ length: 50 }, () => store.put(record('c1', 'a'), time)))
    await Promise.all([store.delete(record('c1', 'a')), store.delete(record('c1', 'a'))])
    await store.put(record('c2', 'a'), time)
    await store.put(record('c3', 'a'), time)
    await expect(store.put(record('c4', 'a'), time)).rejects.toMatchObject({ code: 'CORE__PROVIDER_QUOTA' })
  })

  it('should hold a peer to its quota when it sends many records at once', async () => {
    const inner = new MemoryDatastore()
    const store = await withProviderQuota(inner, { perPeer: 2, total: 10, self: 'me' })
    const puts = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.put(record(`c${i}`, 'a'), time)))
    expect(puts.filter((p) => p.status === 'fulfilled')).toHaveLength(2)
    let held = 0
    for await (const _ of inner.queryKeys({ prefix: '/dht/provider/' })) held++
    expect(held).toBe(2)
  })

  it('should count the records a store already holds', async () => {
    const inner = new MemoryDatastore()
    await inner.put(record('c1', 'a'), time)
    await inner.put(record('c2', 'a'), time)
    const store = await withProviderQuota(inner, { perPeer: 2, total: 10, self: 'me' })
    await expect(store.put(record('c3', 'a'), time)).rejects.toMatchObject({ code: 'CORE__PROVIDER_QUOTA' })
    await store.put(record('c3', 'b'), time)
  })
})
