import { randomFillSync } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  blobCid,
  delay,
  MemoryBlobstore,
  type BlobCid,
  type BlobStreamOptions,
  type TesseraNode,
} from '../src/index.js'
import { NodeSet, tcpAddr, waitFor } from './helpers.js'

const KiB = 1024
const MiB = 1024 * KiB

/** How a {@link TricklingBlobstore} serves one blob: `chunkBytes` of it every `everyMs`. */
interface Trickle {
  bytes: Uint8Array
  chunkBytes: number
  everyMs: number
}

/** A provider's store that serves the blobs it is told to slowly, a chunk at a time: a slow or a trickling provider. */
class TricklingBlobstore extends MemoryBlobstore {
  readonly #trickles = new Map<string, Trickle>()

  /** Holds `bytes`, to be served as `trickle` says; returns their CID. */
  trickle(trickle: Trickle): BlobCid {
    const cid = blobCid(trickle.bytes)
    this.#trickles.set(cid.toString(), trickle)
    return cid
  }

  override async size(cid: CID): Promise<number | undefined> {
    return this.#trickles.get(cid.toString())?.bytes.byteLength ?? super.size(cid)
  }

  override async *stream(cid: CID, options: BlobStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const trickle = this.#trickles.get(cid.toString())
    if (trickle === undefined) return yield* super.stream(cid, options)
    const { bytes, chunkBytes, everyMs } = trickle
    for (let offset = 0; offset < bytes.byteLength; offset += chunkBytes) {
      await delay(everyMs, options.signal)
      yield bytes.subarray(offset, offset + chunkBytes)
    }
  }
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let offset = 0; offset < length; offset += 65_536) randomFillSync(out, offset, Math.min(65_536, length - offset))
  return out
}

/** A fetching node facing a provider that sends its blobs slowly, and an honest one. */
describe('blob fetch from a slow provider', () => {
  const set = new NodeSet()
  const slowStore = new TricklingBlobstore()
  let fetcher: TesseraNode
  let slow: TesseraNode

  beforeAll(async () => {
    // A fetch gets a second, then must keep up 64 KiB/s on average: short enough for a test to see it given up.
    fetcher = await set.create({ blobFetchGraceMs: 1_000, minBlobFetchBytesPerSecond: 64 * KiB })
    slow = await set.create({ bootstrap: [tcpAddr(fetcher)], blobstore: slowStore })
    await waitFor(() => fetcher.libp2p.getConnections(slow.peerId).length > 0, 'the slow provider to connect')
  }, 60_000)
  afterAll(() => set.stopAll())

  it('should abandon a provider sending slower than the minimum rate, and give back the room its blob held', async () => {
    // A byte every 50 ms resets any idle bound, but 1 MiB of them would take six days.
    const cid = slowStore.trickle({ bytes: randomBytes(MiB), chunkBytes: 1, everyMs: 50 })
    const started = performance.now()
    await expect(fetcher.blobs.fetchFrom(slow.peerId, cid)).rejects.toMatchObject({
      code: 'CORE__BLOB_DEADLINE_EXCEEDED',
      context: expect.objectContaining({ peer: slow.peerId.toString(), size: MiB, minBytesPerSecond: 64 * KiB }),
    })
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(fetcher.blobs.fetching).toEqual({ bytes: 0, waiting: 0 })
  }, 30_000)

  it('should take a blob from a provider that keeps to the minimum rate, however long it takes', async () => {
    // 16 KiB every 100 ms: about 160 KiB/s, twice the minimum, for longer than the grace.
    const bytes = randomBytes(256 * KiB)
    const cid = slowStore.trickle({ bytes, chunkBytes: 16 * KiB, everyMs: 100 })
    expect(await fetcher.blobs.fetchFrom(slow.peerId, cid)).toEqual(bytes)
  }, 30_000)
})
