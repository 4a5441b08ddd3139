import { randomFillSync } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  blobCid,
  delay,
  fetchBlobFrom,
  isCoreError,
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

/** A fetching node facing a provider that sends its blobs slowly, and an honest one that serves a blob at a time. */
describe('blob transfer with a slow peer', () => {
  const set = new NodeSet()
  const slowStore = new TricklingBlobstore()
  let fetcher: TesseraNode
  let slow: TesseraNode
  let honest: TesseraNode

  beforeAll(async () => {
    fetcher = await set.create({
      // A fetch gets a second, then must keep up 64 KiB/s on average: short enough for a test to see it given up.
      blobFetchGraceMs: 1_000,
      minBlobFetchBytesPerSecond: 64 * KiB,
      // One provider holds at most half: 2 MiB.
      maxFetchingBytes: 4 * MiB,
    })
    const bootstrap = [tcpAddr(fetcher)]
    slow = await set.create({ bootstrap, blobstore: slowStore })
    honest = await set.create({ bootstrap, maxServes: 1 })
    await waitFor(
      () => [slow, honest].every((n) => fetcher.libp2p.getConnections(n.peerId).length > 0),
      'the providers to connect',
    )
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

  it("should hold a provider to its share of the fetching budget, so that a slow one cannot stall another's fetches", async () => {
    // Two blobs that together take the whole budget, sent at about 160 KiB/s: within the minimum rate, 13 s each.
    const slowBlobs = [0, 1].map(() =>
      slowStore.trickle({ bytes: randomBytes(2 * MiB), chunkBytes: 16 * KiB, everyMs: 100 }),
    )
    const controller = new AbortController()
    let slowSettled = false
    const slowFetches = Promise.allSettled(
      slowBlobs.map((cid) => fetcher.blobs.fetchFrom(slow.peerId, cid, { signal: controller.signal })),
    ).then((outcomes) => ((slowSettled = true), outcomes))
    try {
      // Both slow fetches are under way, each holding 2 MiB or waiting for them.
      await waitFor(
        () => fetcher.blobs.fetching.bytes + 2 * MiB * fetcher.blobs.fetching.waiting === 4 * MiB,
        'both slow fetches to hold or await their room',
      )
      const bytes = randomBytes(2 * MiB)
      const cid = await honest.blobs.put(bytes)
      expect(await fetcher.blobs.fetchFrom(honest.peerId, cid)).toEqual(bytes)
      // Fetched while the slow provider still sends: one of its fetches waits for the other, not ahead of ours.
      expect(slowSettled).toBe(false)
      expect(fetcher.blobs.fetching).toEqual({ bytes: 2 * MiB, waiting: 1 })
    } finally {
      controller.abort()
    }
    for (const outcome of await slowFetches) {
      expect(outcome.status === 'rejected' && isCoreError(outcome.reason, 'CORE__ABORTED')).toBe(true)
    }
    expect(fetcher.blobs.fetching).toEqual({ bytes: 0, waiting: 0 })
  }, 30_000)

  it('should check access before taking a serving slot, so that a peer refused holds none', async () => {
    const bytes = randomBytes(64 * KiB)
    const cid = await honest.blobs.put(bytes)
    let asked = false
    // The slow peer may not fetch, and the hook takes its time to say so.
    honest.blobs.setAccessHook(async (_, peer) => {
      if (!peer.equals(slow.peerId)) return true
      asked = true
      await delay(1_500)
      return false
    })
    try {
      await slow.dial(tcpAddr(honest))
      const denied = fetchBlobFrom(slow.libp2p, honest.peerId, cid, { maxBlobBytes: MiB }).catch((e: unknown) => e)
      await waitFor(() => asked, 'the access hook to be asked about the slow peer')
      // The one serving slot is free meanwhile: asked once, with no second try, the honest provider serves.
      expect(await fetchBlobFrom(fetcher.libp2p, honest.peerId, cid, { maxBlobBytes: MiB })).toEqual(bytes)
      expect(await denied).toMatchObject({ code: 'CORE__BLOB_ACCESS_DENIED' })
      expect(honest.blobs.serving).toBe(0)
    } finally {
      honest.blobs.setAccessHook(undefined)
    }
  })
})
