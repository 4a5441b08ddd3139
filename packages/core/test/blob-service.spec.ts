import { defaultLogger } from '@libp2p/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BlobHasher, blobCid, BlobService, MemoryBlobstore } from '../src/index.js'

/** A blob service for storing alone: nothing here reaches the network. */
function localService(store: MemoryBlobstore): BlobService {
  return new BlobService({ peerId: undefined as never, libp2p: {} as never, store, logger: defaultLogger() })
}

describe('BlobService.put', () => {
  afterEach(() => vi.restoreAllMocks())

  it('should hash the bytes it stores, once', async () => {
    const store = new MemoryBlobstore()
    const bytes = new TextEncoder().encode('a task output')
    const updates = vi.spyOn(BlobHasher.prototype, 'update')
    const cid = await localService(store).put(bytes)
    expect(updates).toHaveBeenCalledTimes(1)
    expect(cid.toString()).toBe(blobCid(bytes).toString())
    expect(await store.get(cid)).toEqual(bytes)
  })

  it('should store bytes under the CID they were verified against without hashing them again', async () => {
    const store = new MemoryBlobstore()
    const bytes = new TextEncoder().encode('an output fetched and checked')
    const verifiedCid = blobCid(bytes).toString()
    const updates = vi.spyOn(BlobHasher.prototype, 'update')
    const cid = await localService(store).put(bytes, { verifiedCid })
    expect(updates).not.toHaveBeenCalled()
    expect(cid.toString()).toBe(verifiedCid)
    expect(await store.get(cid)).toEqual(bytes)
  })

  it('should refuse a verified CID that is no blob CID, storing nothing', async () => {
    const store = new MemoryBlobstore()
    await expect(localService(store).put(new Uint8Array(4), { verifiedCid: 'not a cid' })).rejects.toMatchObject({
      code: 'CORE__INVALID_CID',
    })
    expect(store.count).toBe(0)
  })
})
