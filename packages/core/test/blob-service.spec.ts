import type { Connection, PeerId } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { streamPair } from '@libp2p/utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  BlobHasher,
  blobCid,
  BlobService,
  type BlobServiceComponents,
  delay,
  DHT_QUERY_TIMEOUT_MS,
  generateIdentity,
  MemoryBlobstore,
  type ProviderFailure,
  serveBlob,
} from '../src/index.js'

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

describe('BlobService.fetch', () => {
  afterEach(() => vi.restoreAllMocks())

  it('should ask every provider found within the lookup bound, however long the providers before took', async () => {
    // The DHT lookup's bound, 30 s, made 150 ms here: a provider taking 300 ms outlasts it.
    const timeout = AbortSignal.timeout.bind(AbortSignal)
    vi.spyOn(AbortSignal, 'timeout').mockImplementation((ms) => timeout(ms === DHT_QUERY_TIMEOUT_MS ? 150 : ms))
    const [self, slow, holder] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()])
    const bytes = new TextEncoder().encode('scene bytes '.repeat(1000))
    const cid = blobCid(bytes)
    const held = new MemoryBlobstore()
    await held.put(cid, bytes)
    const log = defaultLogger().forComponent('tessera:test:blob-fetch')
    const libp2p: BlobServiceComponents['libp2p'] = {
      handle: async () => {},
      unhandle: async () => {},
      // The slow provider is found at once, the one holding the blob a little later, both well within the bound.
      contentRouting: {
        async *findProviders(_: unknown, options: { signal?: AbortSignal } = {}) {
          yield { id: slow.peerId, multiaddrs: [] }
          await delay(50, options.signal)
          yield { id: holder.peerId, multiaddrs: [] }
        },
      } as unknown as BlobServiceComponents['libp2p']['contentRouting'],
      dialProtocol: (async (peer: PeerId) => {
        if (peer.equals(slow.peerId)) {
          await delay(300)
          throw new Error('no answer')
        }
        const [outbound, inbound] = await streamPair()
        const connection = { remotePeer: self.peerId } as Connection
        void serveBlob(inbound, connection, {
          store: held,
          access: undefined,
          chunkBytes: 1024,
          maxBlobBytes: 1 << 20,
          log,
        })
        return outbound
      }) as BlobServiceComponents['libp2p']['dialProtocol'],
    }
    const service = new BlobService({
      peerId: self.peerId,
      libp2p,
      store: new MemoryBlobstore(),
      logger: defaultLogger(),
    })
    const failures: ProviderFailure[] = []
    const fetched = await service.fetch(cid, { onProviderFailed: (f) => failures.push(f) })
    expect(fetched).toEqual(bytes)
    expect(failures).toEqual([{ peer: slow.peerId.toString(), code: 'CORE__PEER_UNREACHABLE' }])
  })
})
