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
  type Blobstore,
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

/** Asks for `cid` and pauses its side of the stream after every message it reads: a requester that reads no more. */
async function requestAndPause(from: TesseraNode, to: TesseraNode, cid: BlobCid): Promise<Stream> {
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
  return stream
}

/** Reads what first arrives and one window more, then reads no more: a requester that stalls. */
async function requestAndStall(from: TesseraNode, to: TesseraNode, cid: BlobCid): Promise<Stream> {
  const stream = await requestAndPause(from, to, cid)
  setTimeout(() => {
    if (stream.readStatus === 'paused') stream.resume()
  }, 200)
  return stream
}

/** Reads in bursts `everyMs` apart, paused in between: a requester reading just often enough to beat any idle bound. */
async function requestAndTrickle(from: TesseraNode, to: TesseraNode, cid: BlobCid, everyMs: number): Promise<Stream> {
  const stream = await requestAndPause(from, to, cid)
  const timer = setInterval(() => {
    if (stream.readStatus === 'paused') stream.resume()
  }, everyMs)
  stream.addEventListener('close', () => clearInterval(timer))
  return stream
}

/** Serving to a requester that stops reading: what the provider buffers for it, and what it holds while it waits. */
describe('serveBlob to a stalled reader', () => {
  const set = new NodeSet()
  const held = new MemoryBlobstore()
  let store: Pick<Blobstore, 'size' | 'stream'> = held
  const slots = new PeerBudget(1, 1)
  const served: Served[] = []
  let idleTimeoutMs = 1_000
  let rate: Pick<BlobServerContext, 'minServeBytesPerSecond' | 'serveGraceMs'> = {}
  let provider: TesseraNode
  let requester: TesseraNode
  let cid: BlobCid

  beforeAll(async () => {
    provider = await set.create()
    requester = await set.create()
    const bytes = new Uint8Array(16 * MiB)
    randomFillSync(bytes)
    cid = blobCid(bytes)
    await held.put(cid, bytes)
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
        ...rate,
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

  it('should give the serving slot back once the idle bound ends a serve whose reader stopped reading', async () => {
    idleTimeoutMs = 500
    await waitFor(() => slots.held === 0, 'the slot of the last test to be free', { timeoutMs: 5_000 })
    const mine = await requestAndStall(requester, provider, cid)
    await waitFor(() => served.length === 2, 'the provider to take the request')
    await waitFor(() => slots.held === 1, 'the serve to take the slot', { timeoutMs: 5_000 })
    await waitFor(() => slots.held === 0 && served[1]!.settled, 'the slot to be given back', { timeoutMs: 5_000 })
    mine.abort(new Error('test over'))
  }, 20_000)

  it('should give the serving slot back at once when the requester resets the stream it stopped reading', async () => {
    idleTimeoutMs = 60_000
    const mine = await requestAndStall(requester, provider, cid)
    await waitFor(() => served.length === 3, 'the provider to take the request')
    await waitFor(() => slots.held === 1, 'the serve to take the slot', { timeoutMs: 5_000 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    mine.abort(new Error('the requester gives up'))
    await waitFor(() => slots.held === 0 && served[2]!.settled, 'the slot to be given back', { timeoutMs: 5_000 })
  }, 20_000)

  it('should give the serving slot back once the idle bound ends a serve whose store stopped yielding', async () => {
    idleTimeoutMs = 500
    // A store stuck in a read (a hung disk), deaf to the signal it is given.
    store = {
      size: async () => MiB,
      stream: async function* () {
        yield new Uint8Array(1024)
        await new Promise(() => {})
      },
    }
    try {
      const mine = await requester.libp2p.dialProtocol(provider.peerId, PROTOCOL)
      mine.send(lp.encode.single(encodeBlobRequest({ cid })))
      await mine.close()
      await waitFor(() => served.length === 4, 'the provider to take the request')
      await waitFor(() => served[3]!.stream.status !== 'open', 'the idle bound to end the serve', { timeoutMs: 5_000 })
      expect(slots.held).toBe(0)
    } finally {
      store = held
    }
  }, 20_000)

  it('should cut a reader slower than the minimum serve rate and give its slot back, though it beats the idle bound', async () => {
    idleTimeoutMs = 60_000
    // 16 MiB at 4 MiB/s is 4 s: a reader taking a chunk or two every 300 ms (about 1 MiB/s) falls behind within one.
    rate = { minServeBytesPerSecond: 4 * MiB, serveGraceMs: 300 }
    try {
      await waitFor(() => slots.held === 0, 'the slot of the last test to be free', { timeoutMs: 5_000 })
      const before = served.length
      const mine = await requestAndTrickle(requester, provider, cid, 300)
      await waitFor(() => served.length === before + 1, 'the provider to take the request')
      await waitFor(() => slots.held === 1, 'the serve to take the slot', { timeoutMs: 5_000 })
      await waitFor(() => slots.held === 0 && served[before]!.settled, 'the slow reader to be cut', {
        timeoutMs: 5_000,
      })
      expect(served[before]!.stream.status).not.toBe('open')
      mine.abort(new Error('test over'))
    } finally {
      rate = {}
    }
  }, 20_000)
})
