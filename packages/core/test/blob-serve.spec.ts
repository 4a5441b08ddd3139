import { randomFillSync } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BLOB_CHUNK_BYTES,
  type BlobCid,
  type BlobServerContext,
  blobCid,
  encodeBlobRequest,
  MemoryBlobstore,
  serveBlob,
  type TesseraNode,
} from '../src/index.js'
import { PeerBudget } from '../src/peer-budget.js'
import { NodeSet, tcpAddr, waitFor } from './helpers.js'

const MiB = 1024 * 1024
/** Served by the test's own handler, with a short idle bound, beside the node's `/tessera/blob/1`. */
const PROTOCOL = '/tessera-test/blob-serve/1'

/** One request as the provider's handler saw it: its stream, and whether `serveBlob` has returned. */
interface Served {
  stream: Stream
  settled: boolean
}

/**
 * Asks for `cid`, reads what first arrives and one window more, then reads no more: a requester that stalls. Returns
 * its side of the stream.
 */
async function requestAndStall(from: TesseraNode, to: TesseraNode, cid: BlobCid): Promise<Stream> {
  const stream = await from.libp2p.dialProtocol(to.peerId, PROTOCOL)
  // What arrives while paused stays buffered here rather than aborting the stream.
  stream.maxReadBufferLength = 1 << 30
  stream.send(lp.encode.single(encodeBlobRequest({ cid })))
  await stream.close()
  stream.addEventListener('message', () => {
    queueMicrotask(() => {
      if (stream.readStatus === 'readable') stream.pause()
    })
  })
  setTimeout(() => {
    if (stream.readStatus === 'paused') stream.resume()
  }, 200)
  return stream
}

/** Serving to a requester that stops reading: what the provider buffers for it, and what it holds while it waits. */
describe('serveBlob to a stalled reader', () => {
  const set = new NodeSet()
  const store = new MemoryBlobstore()
  const slots = new PeerBudget(4, 4)
  const served: Served[] = []
  let idleTimeoutMs = 1_000
  let provider: TesseraNode
  let requester: TesseraNode
  let cid: BlobCid

  beforeAll(async () => {
    provider = await set.create()
    requester = await set.create()
    const bytes = new Uint8Array(16 * MiB)
    randomFillSync(bytes)
    cid = blobCid(bytes)
    await store.put(cid, bytes)
    const log = defaultLogger().forComponent('tessera:test:blob-serve')
    await provider.libp2p.handle(PROTOCOL, (stream, connection) => {
      const entry: Served = { stream, settled: false }
      served.push(entry)
      const context: BlobServerContext = {
        store,
        access: undefined,
        chunkBytes: BLOB_CHUNK_BYTES,
        maxBlobBytes: 64 * MiB,
        log,
        admit: (peer) => slots.tryAcquire(peer, 1),
        idleTimeoutMs,
      }
      void serveBlob(stream, connection, context).finally(() => (entry.settled = true))
    })
    await requester.dial(tcpAddr(provider))
  }, 30_000)
  afterAll(() => set.stopAll())

  it('should buffer no more than a chunk or so for a reader that stops reading, after the first drain too', async () => {
    idleTimeoutMs = 1_000
    const mine = await requestAndStall(requester, provider, cid)
    await waitFor(() => served.length === 1, 'the provider to take the request')
    const entry = served[0]!
    let most = 0
    // Sampled until the idle bound ends the serve: the buffer is thrown away then.
    await waitFor(
      () => {
        most = Math.max(most, entry.stream.writeBufferLength)
        return entry.stream.status !== 'open'
      },
      'the serve to end',
      { timeoutMs: 10_000, intervalMs: 5 },
    )
    mine.abort(new Error('test over'))
    expect(most).toBeLessThanOrEqual(2 * (BLOB_CHUNK_BYTES + 8))
  }, 20_000)
})
