import type { PeerId } from '@libp2p/interface'
import { type AbortOptions, type BlobAccessHook, type Clock, parseBlobCid, throwIfAborted } from '@tessera/core'
import type { Logger } from 'pino'
import type { Datastore } from '../datastore.js'
import { PIN, UPLOAD } from './blob-holds.js'
import { errorFields } from './error-fields.js'

type BlobCid = ReturnType<typeof parseBlobCid>

/**
 * The holder of a job's inputs that a delegate keeps for the arbiters it asks (they are strangers to the job's
 * creator, which would refuse them): job `jobId` is another creator's.
 */
export function relayHolder(jobId: string): string {
  return `relay:${jobId}`
}

/** How long a delegate keeps a job's inputs, and lets its arbiters fetch them, after it last asked one. */
export const RELAY_RETENTION_MS = 60 * 60_000

/** The job whose audience may fetch a blob held by `holder`, or undefined for a holder that names no job. */
function jobOfHolder(holder: string): string | undefined {
  for (const prefix of ['job:', 'relay:']) if (holder.startsWith(prefix)) return holder.slice(prefix.length)
  return undefined
}

/** An audience entry as stored: until when it lets its peer in, or for as long as the job is kept. */
interface StoredEntry {
  expiresAt?: number
}

/** Reads a stored entry (the datastore's parser for the `audience` namespace). */
function parseEntry(value: unknown): StoredEntry {
  const { expiresAt } = (value ?? {}) as { expiresAt?: unknown }
  if (typeof value !== 'object' || value === null || (expiresAt !== undefined && !Number.isSafeInteger(expiresAt))) {
    throw new TypeError('an audience entry is {} or { expiresAt: integer }')
  }
  return expiresAt === undefined ? {} : { expiresAt: expiresAt as number }
}

/** An entry's key: peer first (a peer id has no `/`, a job id may), so the key splits at its first `/`. */
function entryKey(jobId: string, peer: string): string {
  return `${peer}/${jobId}`
}

/** What a {@link BlobAudience} needs from its peer. */
export interface BlobAudienceComponents {
  datastore: Datastore
  /** Who holds a blob ({@link BlobHolds.holders}): a job's holds make it private to the job's audience. */
  holders(cid: string): Promise<string[]>
  clock: Clock
  logger: Logger
}

/**
 * Who may fetch which blobs from this peer. A job's inputs and outputs are the creator's: every peer that knows a
 * CID (an order's inputs are gossiped to all) could otherwise download its scene or model. So a blob held for a job
 * (`job:<id>` at its creator, `relay:<id>` at a delegate, an upload not ordered yet, a pin) is served only to the
 * job's audience: the peers this peer handed work on the job to (an award, an assignment, an arbitration; see
 * `audienceBus`). A blob held for nothing of the sort (a worker's output, which its creator and the creator's
 * delegates fetch, and a worker does not know the delegates) is served to every peer, as before.
 *
 * The audience is written to disk before the message that admits a peer is sent, so a restarted creator still
 * serves the workers it awarded before; a creator's own jobs keep theirs until the job is deleted ({@link forget}),
 * a delegate's relays until {@link RELAY_RETENTION_MS} after it last asked an arbiter.
 */
export class BlobAudience {
  readonly #c: BlobAudienceComponents
  /** Peers admitted, by job: when each admission ends (undefined: with the job). */
  readonly #jobs = new Map<string, Map<string, number | undefined>>()

  constructor(components: BlobAudienceComponents) {
    this.#c = components
  }

  /** Restores the audience kept on disk; entries past their expiry, and unreadable ones (logged), are deleted. */
  async load(options: AbortOptions = {}): Promise<number> {
    const now = this.#c.clock.now()
    const stale: string[] = []
    let loaded = 0
    for await (const [key, entry] of this.#c.datastore.entries('audience', {
      parse: parseEntry,
      signal: options.signal,
      onCorrupt: (key, error) => {
        this.#c.logger.error({ ...errorFields(error), ns: 'audience', key }, 'record:skipped')
        stale.push(key)
      },
    })) {
      const slash = key.indexOf('/')
      if (slash <= 0 || (entry.expiresAt !== undefined && entry.expiresAt <= now)) {
        stale.push(key)
        continue
      }
      this.#set(key.slice(slash + 1), key.slice(0, slash), entry.expiresAt)
      loaded++
    }
    if (stale.length > 0) {
      await this.#c.datastore.batch(
        stale.map((key) => ({ type: 'del', ns: 'audience', key })),
        options,
      )
    }
    return loaded
  }

  /**
   * Lets `peer` fetch job `jobId`'s blobs, until `expiresAt` (or until the job is forgotten); resolves once that is
   * on disk. An admission already on disk that lasts as long is not written again.
   */
  async admit(jobId: string, peer: string, expiresAt?: number, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    const peers = this.#jobs.get(jobId)
    const current = peers?.get(peer)
    const kept =
      peers?.has(peer) === true && (current === undefined || (expiresAt !== undefined && current >= expiresAt))
    if (kept) return
    await this.#c.datastore.put(
      'audience',
      entryKey(jobId, peer),
      expiresAt === undefined ? {} : { expiresAt },
      options,
    )
    this.#set(jobId, peer, expiresAt)
  }

  /** Forgets job `jobId`'s audience (the job was deleted, with the blobs only it held). */
  async forget(jobId: string, options: AbortOptions = {}): Promise<void> {
    const peers = this.#jobs.get(jobId)
    if (peers === undefined) return
    await this.#c.datastore.batch(
      [...peers.keys()].map((peer) => ({ type: 'del', ns: 'audience', key: entryKey(jobId, peer) })),
      options,
    )
    this.#jobs.delete(jobId)
  }

  /** Whether `peer` may fetch job `jobId`'s blobs now. */
  admits(jobId: string, peer: string): boolean {
    const peers = this.#jobs.get(jobId)
    if (peers?.has(peer) !== true) return false
    const expiresAt = peers.get(peer)
    return expiresAt === undefined || expiresAt > this.#c.clock.now()
  }

  /** The blob service's access hook: see the class comment for who may fetch what. */
  readonly hook: BlobAccessHook = async (cid: BlobCid, peer: PeerId): Promise<boolean> => {
    const who = peer.toString()
    let restricted = false
    for (const holder of await this.#c.holders(cid.toString())) {
      const jobId = jobOfHolder(holder)
      if (jobId !== undefined && this.admits(jobId, who)) return true
      if (jobId !== undefined || holder === UPLOAD || holder === PIN) restricted = true
    }
    return !restricted
  }

  #set(jobId: string, peer: string, expiresAt: number | undefined): void {
    let peers = this.#jobs.get(jobId)
    if (peers === undefined) this.#jobs.set(jobId, (peers = new Map()))
    peers.set(peer, expiresAt)
  }
}
