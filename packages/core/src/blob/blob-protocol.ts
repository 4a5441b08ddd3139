import type { Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import type { Uint8ArrayList } from 'uint8arraylist'
import { throwIfAborted, withTimeout } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import {
  BLOB_FETCH_GRACE_MS,
  BLOB_IDLE_TIMEOUT_MS,
  BLOB_MIN_FETCH_BYTES_PER_SECOND,
  BLOB_MIN_SERVE_BYTES_PER_SECOND,
  BLOB_SERVE_GRACE_MS,
  DHT_QUERY_TIMEOUT_MS,
  MAX_BLOB_CHUNK_BYTES,
  MAX_BLOB_HEADER_BYTES,
} from '../constants.js'
import { CoreError, isCoreError } from '../errors.js'
import { PROTOCOLS } from '../topics.js'
import { framingFault, nextFrame, readFrames, sendFrames, streamSink, writeFrames } from '../node/stream-io.js'
import type { BlobCid } from './blob-cid.js'
import type { ReleaseBytes } from '../byte-budget.js'
import {
  assertBlobSize,
  BlobAssembler,
  decodeBlobRequest,
  decodeBlobResponseHeader,
  encodeBlobRequest,
  encodeBlobResponseHeader,
  type BlobResponseHeader,
} from './blob-frames.js'
import type { Blobstore } from './blobstore.js'

/**
 * Decides whether `peer` may fetch `cid` from us. A creator serves private inputs only to the workers it awarded;
 * a hook that throws counts as a refusal.
 */
export type BlobAccessHook = (cid: BlobCid, peer: PeerId) => boolean | Promise<boolean>

/** What serving one blob request needs: the store, the access hook, the size bounds and the serving budget. */
export interface BlobServerContext {
  store: Pick<Blobstore, 'size' | 'stream'>
  access: BlobAccessHook | undefined
  chunkBytes: number
  maxBlobBytes: number
  log: Logger
  /** A serving slot for `peer` (given back by calling what it returns), or undefined to answer `busy`. */
  admit?: (peer: string) => (() => void) | undefined
  /** Abort the serve after this long without progress (a request read, a chunk taken). @default BLOB_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /**
   * Slowest a requester may read, on average since the header, once `serveGraceMs` is spent: a slower one is cut off
   * (`CORE__BLOB_DEADLINE_EXCEEDED`) and its slot given back. @default BLOB_MIN_SERVE_BYTES_PER_SECOND (128 KiB/s)
   */
  minServeBytesPerSecond?: number
  /** Time a serve has on top of what its bytes earn at `minServeBytesPerSecond`. @default BLOB_SERVE_GRACE_MS (60 s) */
  serveGraceMs?: number
}

async function* map<T, U>(source: AsyncIterable<T>, fn: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield fn(item)
}

/** Aborts `stream` when no progress was reported for `ms`. */
class IdleWatchdog {
  readonly #ms: number
  readonly #onIdle: () => void
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms
    this.#onIdle = onIdle
    this.touch()
  }

  touch(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(this.#onIdle, this.#ms)
  }

  stop(): void {
    clearTimeout(this.#timer)
  }
}

/**
 * Calls `onLate` once a transfer falls behind `minBytesPerSecond`: from its start it has `graceMs`, and every byte
 * moved (received by a fetch, taken by the reader of a serve) earns it `1000 / minBytesPerSecond` ms more. So `size` bytes take at most
 * `graceMs + size / minBytesPerSecond` seconds, and a provider trickling bytes is abandoned soon after its grace,
 * where an idle bound alone, reset by any byte, would let it hold the transfer for as long as it liked.
 */
class RateDeadline {
  readonly #start = performance.now()
  readonly #graceMs: number
  readonly #msPerByte: number
  readonly #onLate: (elapsedMs: number) => void
  #received = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(graceMs: number, minBytesPerSecond: number, onLate: (elapsedMs: number) => void) {
    this.#graceMs = graceMs
    this.#msPerByte = 1000 / minBytesPerSecond
    this.#onLate = onLate
    this.#arm()
  }

  /** Records the bytes moved so far; the timer, armed for the time they earned, reads them when it fires. */
  progress(received: number): void {
    this.#received = received
  }

  stop(): void {
    clearTimeout(this.#timer)
  }

  #arm(): void {
    const elapsedMs = performance.now() - this.#start
    const wait = this.#graceMs + this.#received * this.#msPerByte - elapsedMs
    if (wait <= 0) this.#onLate(elapsedMs)
    else this.#timer = setTimeout(() => this.#arm(), wait)
  }
}

/**
 * Answers one `/tessera/blob/1` request: checks access, then takes a serving slot, then checks presence and streams
 * the blob in bounded frames.
 */
export async function serveBlob(stream: Stream, connection: Connection, context: BlobServerContext): Promise<void> {
  const { store, access, log } = context
  // Aborted with the stream, so that what waits on it (a drain, the close) waits no longer: a stream aborted while
  // its buffer is full never drains, and its serve would hold its slot for good.
  const stalled = new AbortController()
  const watchdog = new IdleWatchdog(context.idleTimeoutMs ?? BLOB_IDLE_TIMEOUT_MS, () => {
    stalled.abort()
    stream.abort(new CoreError('CORE__PEER_UNREACHABLE', 'blob request stalled', {}))
  })
  const writing = { signal: stalled.signal }
  let release: (() => void) | undefined
  let deadline: RateDeadline | undefined
  // The slot is given back once the stream is gone (aborted, reset by the requester, closed), whatever the pipe still
  // waits on; `release` gives it back once only.
  const onClose = (): void => release?.()
  stream.addEventListener('close', onClose)
  try {
    const bytes = await nextFrame(readFrames(stream, MAX_BLOB_HEADER_BYTES))
    if (bytes === undefined) throw new CoreError('CORE__MALFORMED_BLOB_FRAME', 'stream ended before a blob request', {})
    const { cid } = decodeBlobRequest(bytes)
    watchdog.touch()
    let allowed = true
    if (access !== undefined) {
      try {
        allowed = await access(cid, connection.remotePeer)
      } catch (e) {
        log('blob access hook threw for %s - %e', cid, e)
        allowed = false
      }
    }
    // Refused before a serving slot is taken: a peer without access, holding slots through a slow hook or a stalled
    // answer, would otherwise turn honest fetches away as busy.
    if (!allowed) {
      log('serving %s to %p: denied', cid, connection.remotePeer)
      await writeFrames(stream, [encodeBlobResponseHeader({ status: 'denied' })], writing)
      return
    }
    release = context.admit?.(connection.remotePeer.toString())
    if (context.admit !== undefined && release === undefined) {
      log('serving %s to %p: busy', cid, connection.remotePeer)
      await writeFrames(stream, [encodeBlobResponseHeader({ status: 'busy' })], writing)
      return
    }
    // Only once access is granted is it said whether we hold the blob: presence of a private input is itself private.
    const size = await store.size(cid)
    const header: BlobResponseHeader =
      size === undefined
        ? { status: 'not-found' }
        : size > context.maxBlobBytes
          ? { status: 'too-large', size }
          : { status: 'ok', size }
    log('serving %s to %p: %s', cid, connection.remotePeer, header.status)
    const chunkBytes = context.chunkBytes
    const minServeBytesPerSecond = context.minServeBytesPerSecond ?? BLOB_MIN_SERVE_BYTES_PER_SECOND
    let sent = 0
    // The idle bound alone is reset by every chunk taken: a reader taking one just before it ends would hold the slot
    // for as long as it liked. Cut once the reader falls behind the minimum rate, as a fetch cuts a slow provider.
    deadline = new RateDeadline(context.serveGraceMs ?? BLOB_SERVE_GRACE_MS, minServeBytesPerSecond, (elapsedMs) => {
      stalled.abort()
      stream.abort(
        new CoreError(
          'CORE__BLOB_DEADLINE_EXCEEDED',
          `${connection.remotePeer.toString()} read ${sent} bytes in ${Math.round(elapsedMs)} ms, ` +
            `slower than ${minServeBytesPerSecond} bytes/s`,
          {
            cid: cid.toString(),
            peer: connection.remotePeer.toString(),
            sent,
            minBytesPerSecond: minServeBytesPerSecond,
          },
        ),
      )
    })
    await pipe(
      async function* () {
        yield encodeBlobResponseHeader(header)
        if (header.status !== 'ok') return
        for await (const chunk of store.stream(cid, { chunkBytes, signal: stalled.signal })) {
          watchdog.touch()
          yield chunk
          // Resumed once the sink took the chunk: the reader made room for it.
          sent += chunk.byteLength
          deadline?.progress(sent)
        }
      },
      // encode.single prefixes without copying the chunk (a Uint8ArrayList of prefix and data).
      (source) => map(source, (frame) => lp.encode.single(frame)),
      streamSink(stream, writing),
    )
  } catch (e) {
    log('blob request from %p failed - %s', connection.remotePeer, isCoreError(e) ? e.code : (e as Error).message)
    stream.abort(e instanceof Error ? e : new Error(String(e)))
  } finally {
    stream.removeEventListener('close', onClose)
    release?.()
    watchdog.stop()
    deadline?.stop()
  }
}

/** Options of {@link fetchBlobFrom}. */
export interface FetchFromOptions extends AbortOptions {
  /** Largest blob accepted. */
  maxBlobBytes: number
  /** Abandon the provider after this long without bytes (empty frames are no progress). @default BLOB_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /**
   * Slowest transfer accepted, on average since the header, once `graceMs` is spent: a slower provider is abandoned
   * with `CORE__BLOB_DEADLINE_EXCEEDED`, so a blob of `size` bytes takes at most `graceMs + size / minBytesPerSecond`.
   * @default BLOB_MIN_FETCH_BYTES_PER_SECOND (256 KiB/s)
   */
  minBytesPerSecond?: number
  /**
   * Time the transfer has on top of what its bytes earn at `minBytesPerSecond`.
   * @default BLOB_FETCH_GRACE_MS (30 s)
   */
  graceMs?: number
  /**
   * Reserves memory for the announced size once the header gives it, before it is allocated (see {@link ByteBudget}):
   * undefined when there is no room now, and the fetch ends with `CORE__FETCH_BUDGET_FULL` (its `size` in the
   * context) without reading further, so no stream fills with a blob while room is awaited. Given back when the
   * fetch ends, whatever its outcome.
   */
  reserve?: (bytes: number) => ReleaseBytes | undefined
}

/**
 * Fetches `cid` from one provider and verifies it. Throws a `CoreError`: `CORE__BLOB_NOT_FOUND`,
 * `CORE__BLOB_ACCESS_DENIED`, `CORE__PEER_BUSY`, `CORE__BLOB_TOO_LARGE`, `CORE__BLOB_HASH_MISMATCH` (corrupted, short or long),
 * `CORE__MALFORMED_BLOB_FRAME`, `CORE__PEER_UNREACHABLE`, `CORE__BLOB_DEADLINE_EXCEEDED` (slower than the minimum
 * rate), `CORE__FETCH_BUDGET_FULL` (no room was reserved for it), or `CORE__ABORTED`.
 */
export async function fetchBlobFrom(
  libp2p: Pick<Libp2p, 'dialProtocol'>,
  peer: PeerId,
  cid: BlobCid,
  options: FetchFromOptions,
): Promise<Uint8Array> {
  throwIfAborted(options.signal)
  let release: ReleaseBytes | undefined
  try {
    return await fetchOnce(libp2p, peer, cid, options, (bytes) => {
      if (options.reserve === undefined) return
      release = options.reserve(bytes)
      if (release !== undefined) return
      throw new CoreError('CORE__FETCH_BUDGET_FULL', `no room to fetch ${bytes} bytes now`, {
        cid: cid.toString(),
        size: bytes,
      })
    })
  } finally {
    release?.()
  }
}

/** One request of {@link fetchBlobFrom}; `reserve` is called with the announced size before it is allocated. */
async function fetchOnce(
  libp2p: Pick<Libp2p, 'dialProtocol'>,
  peer: PeerId,
  cid: BlobCid,
  options: FetchFromOptions,
  reserve: (bytes: number) => void,
): Promise<Uint8Array> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, PROTOCOLS.blob, {
      signal: withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS),
    })
  } catch (cause) {
    throwIfAborted(options.signal)
    throw new CoreError(
      'CORE__PEER_UNREACHABLE',
      `could not open ${PROTOCOLS.blob} to ${peer.toString()}`,
      { peer: peer.toString() },
      { cause },
    )
  }
  let stalled = false
  const watchdog = new IdleWatchdog(options.idleTimeoutMs ?? BLOB_IDLE_TIMEOUT_MS, () => {
    stalled = true
    stream.abort(new CoreError('CORE__PEER_UNREACHABLE', 'blob transfer stalled', {}))
  })
  let deadline: RateDeadline | undefined
  /** Why the deadline abandoned the transfer, once it has: the stream's own error then says only that it was aborted. */
  let late: CoreError | undefined
  const onAbort = (): void => stream.abort(new CoreError('CORE__ABORTED', 'blob fetch aborted', {}))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await sendFrames(stream, [encodeBlobRequest({ cid })], MAX_BLOB_HEADER_BYTES, options)
    await stream.close(options)
    return await pipe(
      stream,
      (source) => lp.decode(source, { maxDataLength: MAX_BLOB_CHUNK_BYTES }),
      async (frames: AsyncIterable<Uint8ArrayList>) => {
        const iterator = frames[Symbol.asyncIterator]()
        const first = await nextFrame(iterator)
        if (first === undefined)
          throw new CoreError('CORE__MALFORMED_BLOB_FRAME', 'provider closed without a header', {})
        const header = decodeBlobResponseHeader(first)
        watchdog.touch()
        throwForStatus(header, cid, peer, options.maxBlobBytes)
        const size = header.size ?? 0
        assertBlobSize(cid, size, options.maxBlobBytes)
        reserve(size)
        const assembler = new BlobAssembler(cid, size, options.maxBlobBytes)
        const minBytesPerSecond = options.minBytesPerSecond ?? BLOB_MIN_FETCH_BYTES_PER_SECOND
        deadline = new RateDeadline(options.graceMs ?? BLOB_FETCH_GRACE_MS, minBytesPerSecond, (elapsedMs) => {
          late = new CoreError(
            'CORE__BLOB_DEADLINE_EXCEEDED',
            `${peer.toString()} sent ${assembler.received} of ${size} bytes in ${Math.round(elapsedMs)} ms, ` +
              `slower than ${minBytesPerSecond} bytes/s`,
            {
              cid: cid.toString(),
              peer: peer.toString(),
              received: assembler.received,
              size,
              minBytesPerSecond,
            },
          )
          stream.abort(late)
        })
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
          // Only bytes are progress: a provider sending empty frames would otherwise hold the fetch for good.
          if (next.value.byteLength > 0) watchdog.touch()
          for (const buf of next.value) assembler.push(buf)
          deadline.progress(assembler.received)
        }
        return assembler.finish()
      },
    )
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)))
    throwIfAborted(options.signal)
    if (late !== undefined) throw late
    if (isCoreError(e)) throw e
    if (framingFault(e) !== undefined) {
      throw new CoreError(
        'CORE__MALFORMED_BLOB_FRAME',
        `${peer.toString()} sent a malformed blob frame`,
        { peer: peer.toString() },
        { cause: e },
      )
    }
    const what = stalled ? 'stalled' : 'failed'
    throw new CoreError(
      'CORE__PEER_UNREACHABLE',
      `blob transfer from ${peer.toString()} ${what}`,
      { peer: peer.toString() },
      { cause: e },
    )
  } finally {
    watchdog.stop()
    deadline?.stop()
    options.signal?.removeEventListener('abort', onAbort)
  }
}

function throwForStatus(header: BlobResponseHeader, cid: BlobCid, peer: PeerId, maxBlobBytes: number): void {
  const context = { cid: cid.toString(), peer: peer.toString() }
  switch (header.status) {
    case 'ok':
      return
    case 'not-found':
      throw new CoreError('CORE__BLOB_NOT_FOUND', `${peer.toString()} does not hold ${cid.toString()}`, context)
    case 'denied':
      throw new CoreError('CORE__BLOB_ACCESS_DENIED', `${peer.toString()} refused to serve ${cid.toString()}`, context)
    case 'busy':
      throw new CoreError('CORE__PEER_BUSY', `${peer.toString()} serves as many blobs as it will at once`, context)
    case 'too-large':
      throw new CoreError('CORE__BLOB_TOO_LARGE', `${cid.toString()} is larger than its provider serves`, {
        ...context,
        size: header.size,
        max: maxBlobBytes,
      })
  }
}
