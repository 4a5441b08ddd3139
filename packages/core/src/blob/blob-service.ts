import type { ComponentLogger, Libp2p, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { delay, throwIfAborted, withTimeout } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import {
  BLOB_FETCH_GRACE_MS,
  BLOB_MIN_FETCH_BYTES_PER_SECOND,
  BLOB_BUSY_FIRST_PAUSE_MS,
  BLOB_BUSY_MAX_PAUSE_MS,
  BLOB_BUSY_RETRY_MS,
  BLOB_CHUNK_BYTES,
  DEFAULT_MAX_BLOB_BYTES,
  DEFAULT_MAX_FETCHING_BYTES,
  FETCHING_PEER_SHARE,
  DHT_QUERY_TIMEOUT_MS,
  MAX_BLOB_CHUNK_BYTES,
  MAX_BLOB_PROVIDERS,
  MAX_INBOUND_BLOB_STREAMS,
  MAX_SERVES,
  MAX_SERVES_PER_PEER,
} from '../constants.js'
import { CoreError, isCoreError, type CoreErrorCode } from '../errors.js'
import { PROTOCOLS } from '../topics.js'
import { BlobHasher, blobCidOfDigest, parseBlobCid, type BlobCid } from './blob-cid.js'
import { fetchBlobFrom, serveBlob, type BlobAccessHook } from './blob-protocol.js'
import type { Blobstore } from './blobstore.js'
import type { ReleaseBytes } from '../byte-budget.js'
import { PeerBudget, PeerByteBudget } from '../peer-budget.js'

/** What the blob service needs from its node: stream handling, content routing and a store. */
export interface BlobServiceComponents {
  peerId: PeerId
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'contentRouting'>
  store: Blobstore
  logger: ComponentLogger
}

/** Waits for fetching room one fetch makes at most: a provider announcing more at each request cannot hold it. */
const MAX_BUDGET_WAITS = 3

/** Options of {@link BlobService}. */
export interface BlobServiceInit {
  /**
   * Largest blob stored, served or fetched.
   * @default DEFAULT_MAX_BLOB_BYTES (1 GiB)
   */
  maxBlobBytes?: number
  /**
   * Data frame size when serving (at most MAX_BLOB_CHUNK_BYTES).
   * @default BLOB_CHUNK_BYTES (256 KiB)
   */
  chunkBytes?: number
  /**
   * Who may fetch what from us.
   * @default every peer may fetch every blob
   */
  access?: BlobAccessHook
  /**
   * Bytes of blobs being fetched at once, all fetches together: one that would pass it waits for others to end,
   * so a crowd of providers announcing large blobs cannot make this node allocate their sum. Fetches from one
   * provider hold at most 1/FETCHING_PEER_SHARE of it (or one blob however large), and past that wait for each other,
   * so a provider slow to send cannot hold all of it and stall the fetches from every other.
   * @default DEFAULT_MAX_FETCHING_BYTES (2 GiB)
   */
  maxFetchingBytes?: number
  /**
   * Blobs served at once to one peer; a request past it is answered `busy`.
   * @default MAX_SERVES_PER_PEER (4)
   */
  maxServesPerPeer?: number
  /**
   * Blobs served at once to all peers together; a request past it is answered `busy`.
   * @default MAX_SERVES (64)
   */
  maxServes?: number
  /**
   * Slowest fetch accepted, on average since the provider's header, once `fetchGraceMs` is spent: a slower provider
   * is abandoned with `CORE__BLOB_DEADLINE_EXCEEDED` (and `fetch` moves on to the next), giving back the room its
   * blob held in `maxFetchingBytes`. A blob of `size` bytes takes at most `fetchGraceMs + size / minFetchBytesPerSecond`.
   * @default BLOB_MIN_FETCH_BYTES_PER_SECOND (256 KiB/s)
   */
  minFetchBytesPerSecond?: number
  /**
   * Time a fetch has on top of what its bytes earn at `minFetchBytesPerSecond`.
   * @default BLOB_FETCH_GRACE_MS (30 s)
   */
  fetchGraceMs?: number
}

/** Options of {@link BlobService.fetchFrom}. */
export interface BlobFetchFromOptions extends AbortOptions {
  /**
   * Largest blob this fetch accepts, when the caller knows what to expect (a task's output of known shape): a
   * provider announcing more is refused with `CORE__BLOB_TOO_LARGE` before anything is allocated.
   * @default the service's maxBlobBytes
   */
  maxBytes?: number
}

/** A CID in any accepted form: a `CID`, its string or its bytes. */
export type BlobCidLike = BlobCid | string | Uint8Array

/** Options of {@link BlobService.fetch}. */
export interface BlobFetchOptions extends BlobFetchFromOptions {
  /** Ask these peers, in order, instead of looking providers up in the DHT. */
  providers?: Array<PeerId | string>
  /**
   * Keep the fetched blob in the local store (so this node can serve it too).
   * @default true
   */
  store?: boolean
  /** Called when a provider fails and the fetch moves on to the next. */
  onProviderFailed?(failure: ProviderFailure): void
}

/** Why one provider could not give us a blob. */
export interface ProviderFailure {
  peer: string
  code: CoreErrorCode
}

/** Options of {@link BlobService.put}. */
export interface BlobPutOptions extends AbortOptions {
  /**
   * Also provide the blob in the DHT (awaited; needs at least one DHT peer).
   * @default false
   */
  provide?: boolean
  /**
   * The bytes' CID, when the caller holds it already: computed over these very bytes with `blobCid`, or checked
   * against them by {@link BlobService.fetchFrom} or {@link BlobService.fetch}, and the bytes not changed since. They
   * are stored under it without being hashed again, which would only repeat that work on a large output. Never a CID
   * taken from a peer for bytes not checked against it: they would be kept under a CID they do not hash to, which
   * peers fetching them refuse but this node's own reads of its store do not check.
   * @default the bytes are hashed
   */
  verifiedCid?: BlobCidLike
}

/**
 * CID-addressed blobs: a local {@link Blobstore}, the `/tessera/blob/1` protocol that serves it (subject to the
 * access hook), DHT provider records, and a fetch that verifies every byte against the CID and moves on to the next
 * provider when one fails or serves corrupted data.
 */
export class BlobService {
  readonly store: Blobstore
  readonly maxBlobBytes: number
  readonly chunkBytes: number
  readonly #components: BlobServiceComponents
  readonly #log: Logger
  readonly #fetching: PeerByteBudget
  readonly #serving: PeerBudget
  readonly #minFetchBytesPerSecond: number
  readonly #fetchGraceMs: number
  #access: BlobAccessHook | undefined
  #started = false

  constructor(components: BlobServiceComponents, init: BlobServiceInit = {}) {
    this.#components = components
    this.store = components.store
    this.maxBlobBytes = init.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES
    this.chunkBytes = init.chunkBytes ?? BLOB_CHUNK_BYTES
    if (!(Number.isSafeInteger(this.chunkBytes) && this.chunkBytes > 0 && this.chunkBytes <= MAX_BLOB_CHUNK_BYTES)) {
      throw new CoreError('CORE__INVALID_CONFIG', `blob chunkBytes must be in [1, ${MAX_BLOB_CHUNK_BYTES}]`, {
        chunkBytes: this.chunkBytes,
      })
    }
    if (!(Number.isSafeInteger(this.maxBlobBytes) && this.maxBlobBytes > 0)) {
      throw new CoreError('CORE__INVALID_CONFIG', 'maxBlobBytes must be a positive integer', {
        maxBlobBytes: this.maxBlobBytes,
      })
    }
    const maxFetchingBytes = init.maxFetchingBytes ?? DEFAULT_MAX_FETCHING_BYTES
    if (!(Number.isSafeInteger(maxFetchingBytes) && maxFetchingBytes > 0)) {
      throw new CoreError('CORE__INVALID_CONFIG', 'maxFetchingBytes must be a positive integer', { maxFetchingBytes })
    }
    this.#fetching = new PeerByteBudget(maxFetchingBytes, Math.ceil(maxFetchingBytes / FETCHING_PEER_SHARE))
    const maxServes = init.maxServes ?? MAX_SERVES
    const maxServesPerPeer = init.maxServesPerPeer ?? MAX_SERVES_PER_PEER
    const minFetchBytesPerSecond = init.minFetchBytesPerSecond ?? BLOB_MIN_FETCH_BYTES_PER_SECOND
    const fetchGraceMs = init.fetchGraceMs ?? BLOB_FETCH_GRACE_MS
    const counts = { maxServes, maxServesPerPeer, minFetchBytesPerSecond, fetchGraceMs }
    for (const [name, value] of Object.entries(counts)) {
      if (!(Number.isSafeInteger(value) && value > 0)) {
        throw new CoreError('CORE__INVALID_CONFIG', `${name} must be a positive integer`, { [name]: value })
      }
    }
    this.#serving = new PeerBudget(maxServes, maxServesPerPeer)
    this.#minFetchBytesPerSecond = minFetchBytesPerSecond
    this.#fetchGraceMs = fetchGraceMs
    this.#access = init.access
    this.#log = components.logger.forComponent('tessera:core:blob')
  }

  /** Starts serving `/tessera/blob/1`. Idempotent. */
  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    await this.#components.libp2p.handle(
      PROTOCOLS.blob,
      (stream, connection) =>
        serveBlob(stream, connection, {
          store: this.store,
          access: this.#access,
          chunkBytes: this.chunkBytes,
          maxBlobBytes: this.maxBlobBytes,
          log: this.#log,
          admit: (peer) => this.#serving.tryAcquire(peer, 1),
        }),
      { maxInboundStreams: MAX_INBOUND_BLOB_STREAMS, signal: options.signal },
    )
    this.#started = true
  }

  async stop(options: AbortOptions = {}): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#components.libp2p.unhandle(PROTOCOLS.blob, options)
  }

  /** Replaces the access hook (undefined serves everyone). */
  setAccessHook(hook: BlobAccessHook | undefined): void {
    this.#access = hook
  }

  /**
   * Stores `bytes` locally and returns their CID (v1, raw, sha2-256): hashed here, or `options.verifiedCid` when the
   * caller has hashed or verified them already.
   */
  async put(bytes: Uint8Array, options: BlobPutOptions = {}): Promise<BlobCid> {
    throwIfAborted(options.signal)
    if (bytes.byteLength > this.maxBlobBytes) {
      throw new CoreError('CORE__BLOB_TOO_LARGE', `a blob of ${bytes.byteLength} bytes exceeds ${this.maxBlobBytes}`, {
        size: bytes.byteLength,
        max: this.maxBlobBytes,
      })
    }
    const cid =
      options.verifiedCid === undefined
        ? blobCidOfDigest(new BlobHasher().update(bytes).digest())
        : parseBlobCid(options.verifiedCid)
    await this.store.put(cid, bytes, options)
    if (options.provide === true) await this.provide(cid, options)
    return cid
  }

  async has(cid: BlobCidLike, options: AbortOptions = {}): Promise<boolean> {
    return this.store.has(parseBlobCid(cid), options)
  }

  /** The blob from the local store, or fetched from providers (and kept) when not held. */
  async get(cid: BlobCidLike, options: BlobFetchOptions = {}): Promise<Uint8Array> {
    const parsed = parseBlobCid(cid)
    if (await this.store.has(parsed, options)) return this.store.get(parsed, options)
    return this.fetch(parsed, options)
  }

  /** Announces in the DHT that this node provides `cid`. */
  async provide(cid: BlobCidLike, options: AbortOptions = {}): Promise<void> {
    const parsed = parseBlobCid(cid)
    try {
      await this.#components.libp2p.contentRouting.provide(parsed, {
        signal: withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS),
      })
    } catch (e) {
      // kad-dht rejects with the signal's own reason: the caller aborted, and is told so as every call tells it.
      throwIfAborted(options.signal)
      throw e
    }
  }

  /** Providers of `cid` found in the DHT (not this node), at most `limit`. */
  async findProviders(cid: BlobCidLike, options: AbortOptions & { limit?: number } = {}): Promise<PeerId[]> {
    const limit = options.limit ?? MAX_BLOB_PROVIDERS
    const found: PeerId[] = []
    for await (const peer of this.#providers(parseBlobCid(cid), { ...options, limit })) found.push(peer)
    return found
  }

  /** Blobs being served now, to all peers together. */
  get serving(): number {
    return this.#serving.held
  }

  /** Bytes of blobs being fetched now, and fetches waiting for room (see `maxFetchingBytes`). */
  get fetching(): { bytes: number; waiting: number } {
    return { bytes: this.#fetching.held, waiting: this.#fetching.waiting }
  }

  /**
   * Fetches `cid` from one peer and verifies it (see {@link fetchBlobFrom} for the codes it throws).
   *
   * Its announced size is reserved in `maxFetchingBytes` before it is allocated, within the peer's share of it. With
   * no room then, the request ends there, room is awaited (first come, first served, behind this peer's other fetches
   * when its share is full) with no stream open, which would fill with the blob meanwhile, and the peer is asked
   * again, its bytes already reserved. A peer that answers `busy` (it serves as many blobs as
   * it will at once) is asked again after pauses doubling from BLOB_BUSY_FIRST_PAUSE_MS up to
   * BLOB_BUSY_MAX_PAUSE_MS, each drawn within half of itself so that fetches refused together do not come back
   * together, for up to BLOB_BUSY_RETRY_MS, before `CORE__PEER_BUSY` is thrown.
   */
  async fetchFrom(peer: PeerId | string, cid: BlobCidLike, options: BlobFetchFromOptions = {}): Promise<Uint8Array> {
    const id = typeof peer === 'string' ? parsePeerId(peer) : peer
    const provider = id.toString()
    const parsed = parseBlobCid(cid)
    /** Bytes awaited for this fetch while no stream was open, and what gives them back. */
    let held: { bytes: number; release: ReleaseBytes } | undefined
    const reserve = (bytes: number): ReleaseBytes | undefined => {
      const awaited = held
      held = undefined
      if (awaited !== undefined && bytes <= awaited.bytes) {
        awaited.release(awaited.bytes - bytes)
        return awaited.release
      }
      awaited?.release()
      return this.#fetching.tryAcquire(provider, bytes)
    }
    const fetchOptions = {
      ...options,
      maxBlobBytes: this.#largestAccepted(options.maxBytes),
      minBytesPerSecond: this.#minFetchBytesPerSecond,
      graceMs: this.#fetchGraceMs,
      reserve,
    }
    let waited = 0
    let pause = BLOB_BUSY_FIRST_PAUSE_MS
    try {
      for (let waits = 0; ;) {
        try {
          return await fetchBlobFrom(this.#components.libp2p, id, parsed, fetchOptions)
        } catch (e) {
          // A provider announcing another size at every request gets no more than a few waits.
          if (isCoreError(e, 'CORE__FETCH_BUDGET_FULL') && waits++ < MAX_BUDGET_WAITS) {
            const bytes = e.context.size as number
            held = { bytes, release: await this.#fetching.acquire(provider, bytes, { signal: options.signal }) }
            continue
          }
          const next = pause / 2 + (Math.random() * pause) / 2
          if (!isCoreError(e, 'CORE__PEER_BUSY') || waited + next > BLOB_BUSY_RETRY_MS) throw e
          // Room awaited is not kept through the pause: other fetches may use it meanwhile.
          held?.release()
          held = undefined
          await delay(next, options.signal)
          waited += next
          pause = Math.min(2 * pause, BLOB_BUSY_MAX_PAUSE_MS)
        }
      }
    } finally {
      held?.release()
    }
  }

  /**
   * Fetches `cid` from the given providers or from those the DHT names, one after another, until one serves bytes
   * that hash to the CID. Throws `CORE__BLOB_NOT_FOUND` when no provider is known, `CORE__BLOB_PROVIDERS_EXHAUSTED`
   * (with every failure in its context) when all failed, or `CORE__ABORTED`.
   */
  async fetch(cid: BlobCidLike, options: BlobFetchOptions = {}): Promise<Uint8Array> {
    const parsed = parseBlobCid(cid)
    const maxBytes = this.#largestAccepted(options.maxBytes)
    const failures: ProviderFailure[] = []
    let lastError: unknown
    const controller = new AbortController()
    const signal =
      options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal])
    const providers =
      options.providers === undefined
        ? this.#providers(parsed, { signal, limit: MAX_BLOB_PROVIDERS })
        : this.#given(options.providers)
    try {
      for await (const peer of providers) {
        if (failures.length >= MAX_BLOB_PROVIDERS) break
        try {
          const bytes = await this.fetchFrom(peer, parsed, { signal: options.signal, maxBytes })
          if (options.store !== false) await this.store.put(parsed, bytes, { signal: options.signal })
          return bytes
        } catch (e) {
          throwIfAborted(options.signal)
          const failure = { peer: peer.toString(), code: isCoreError(e) ? e.code : ('CORE__PEER_UNREACHABLE' as const) }
          this.#log('fetching %s from %s failed: %s', parsed, failure.peer, failure.code)
          failures.push(failure)
          lastError = e
          options.onProviderFailed?.(failure)
        }
      }
    } finally {
      controller.abort()
    }
    throwIfAborted(options.signal)
    if (failures.length === 0) {
      throw new CoreError('CORE__BLOB_NOT_FOUND', `no provider of ${parsed.toString()} was found`, {
        cid: parsed.toString(),
      })
    }
    throw new CoreError(
      'CORE__BLOB_PROVIDERS_EXHAUSTED',
      `every provider of ${parsed.toString()} failed (${failures.map((f) => f.code).join(', ')})`,
      { cid: parsed.toString(), failures },
      { cause: lastError },
    )
  }

  /** The largest blob a fetch accepts: the caller's bound, never above the service's. */
  #largestAccepted(maxBytes: number | undefined): number {
    if (maxBytes === undefined) return this.maxBlobBytes
    // Any whole count will do: one past the service's own bound (a product of counts, say) is that bound.
    if (!(Number.isInteger(maxBytes) && maxBytes >= 0)) {
      throw new CoreError('CORE__INVALID_CONFIG', 'maxBytes must be a byte count', { maxBytes })
    }
    return Math.min(maxBytes, this.maxBlobBytes)
  }

  async *#given(providers: Array<PeerId | string>): AsyncGenerator<PeerId> {
    for (const p of providers) yield typeof p === 'string' ? parsePeerId(p) : p
  }

  /**
   * Distinct providers from the DHT as they are found, never ourselves, at most `limit`. The lookup has
   * DHT_QUERY_TIMEOUT_MS however long the caller takes over each provider: it runs on meanwhile, keeping what it finds
   * for the caller to take next. Paused while the caller fetched, it spent its time waiting on providers, and once one
   * took longer than that (a busy one is asked again for a minute) it ended before the providers it had found were
   * asked.
   */
  async *#providers(cid: BlobCid, options: AbortOptions & { limit: number }): AsyncGenerator<PeerId> {
    const self = this.#components.peerId
    const found: PeerId[] = []
    let ended = false
    /** Wakes the caller waiting for the next provider or the end of the lookup. */
    let wake: (() => void) | undefined
    const stop = new AbortController()
    const lookup = async (): Promise<void> => {
      const seen = new Set<string>()
      const signal = AbortSignal.any([withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS), stop.signal])
      try {
        for await (const provider of this.#components.libp2p.contentRouting.findProviders(cid, { signal })) {
          const key = provider.id.toString()
          if (provider.id.equals(self) || seen.has(key)) continue
          seen.add(key)
          found.push(provider.id)
          wake?.()
          if (seen.size >= options.limit) break
        }
      } catch (e) {
        // The lookup timed out, failed or was stopped: the providers found so far are all we have.
        if (seen.size === 0 && !stop.signal.aborted) this.#log('finding providers of %s failed - %e', cid, e)
      } finally {
        ended = true
        wake?.()
      }
    }
    void lookup()
    try {
      for (let next = 0; ;) {
        if (next < found.length) yield found[next++]!
        else if (ended) break
        else await new Promise<void>((resolve) => (wake = resolve))
      }
    } finally {
      stop.abort()
    }
    throwIfAborted(options.signal)
  }
}

/** A peer id from its string form; `CORE__INVALID_CONFIG` when it is not one. */
function parsePeerId(value: string): PeerId {
  try {
    return peerIdFromString(value)
  } catch (cause) {
    throw new CoreError('CORE__INVALID_CONFIG', `${value} is not a peer id`, { peer: value }, { cause })
  }
}
