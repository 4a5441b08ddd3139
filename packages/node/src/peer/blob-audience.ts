import type { PeerId } from '@libp2p/interface'
import {
  type AbortOptions,
  type BlobAccessHook,
  type Clock,
  parseBlobCid,
  SerialQueue,
  throwIfAborted,
} from '@tessera/core'
import type { Logger } from 'pino'
import type { Datastore } from '../datastore.js'
import { parseExpiring } from './blob-holds.js'
import { errorFields } from './error-fields.js'

type BlobCid = ReturnType<typeof parseBlobCid>

/**
 * The holder of a job's inputs that a delegate keeps for the arbiters it asks (strangers to the job's creator, which
 * would refuse them): job `jobId` is another creator's.
 */
export function relayHolder(jobId: string): string {
  return `relay:${jobId}`
}

/** How long a delegate keeps a job's inputs, and lets its arbiters fetch them, after it last asked one. */
export const RELAY_RETENTION_MS = 60 * 60_000

/** Reads a stored admission (the datastore's parser for the `audience` namespace). */
function parseEntry(value: unknown): { expiresAt?: number } {
  return parseExpiring(value, 'an audience entry')
}

/** An entry's key: peer first (a peer id has no `/`, a holder may), so the key splits at its first `/`. */
function entryKey(holder: string, peer: string): string {
  return `${peer}/${holder}`
}

/** How often, at most, admissions past their expiry are dropped (from memory and disk) while the peer runs. */
export const AUDIENCE_PRUNE_MS = 60 * 60_000

/** What a {@link BlobAudience} needs from its peer. */
export interface BlobAudienceComponents {
  datastore: Datastore
  /**
   * Who holds a blob (`BlobHolds.holdersNow`, which does not wait behind a sweep): a blob is served only to the
   * peers its holders admit.
   */
  holders(cid: string): Promise<string[]>
  clock: Clock
  logger: Logger
}

/**
 * Who may fetch which blobs from this peer. Every peer that reads the orders topic knows a job's input CIDs, so a
 * peer serving whatever it holds would hand any stranger a creator's scene or model. A blob held for something (a
 * `BlobHolds` holder) is served only to the peers admitted to one of its holders, the peers this peer handed work
 * on it to (see `audienceBus`): a creator's job (`job:<id>`: inputs and accepted outputs) to the workers it awarded,
 * the delegates it assigned checks and the arbiters it asked; a worker's task output (`task:<id>`) to the task's
 * creator; a delegate's copy of a job's inputs (`relay:<id>`) to the arbiters it asked. An upload not yet ordered
 * or a pinned blob has no audience, and a blob held for nothing (or not held at all) is served to nobody: so a
 * refusal looks the same whether this peer has the blob or not, and tells a stranger nothing about what it holds.
 *
 * An admission is written to disk before the message that prompts the fetch is sent, so the fetch is never refused
 * and a restarted peer still serves whom it admitted. A holder's admissions last until it is forgotten (a job
 * deleted) or until their expiry; expired ones are dropped at load and, while the peer runs, at most every
 * {@link AUDIENCE_PRUNE_MS}.
 */
export class BlobAudience {
  readonly #c: BlobAudienceComponents
  /** Peers admitted, by holder: when each admission ends (undefined: when the holder is forgotten). */
  readonly #holders = new Map<string, Map<string, number | undefined>>()
  #nextPrune: number
  /** Writes one at a time: a prune deleting an expired admission never lands after that admission is renewed. */
  readonly #queue = new SerialQueue()

  constructor(components: BlobAudienceComponents) {
    this.#c = components
    this.#nextPrune = components.clock.now() + AUDIENCE_PRUNE_MS
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
   * Lets `peer` fetch the blobs `holder` holds, until `expiresAt` (or until the holder is forgotten); resolves once
   * that is on disk. An admission already on disk that lasts as long is not written again.
   */
  async admit(holder: string, peer: string, expiresAt?: number, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    const peers = this.#holders.get(holder)
    const current = peers?.get(peer)
    const kept =
      peers?.has(peer) === true && (current === undefined || (expiresAt !== undefined && current >= expiresAt))
    if (!kept) {
      await this.#queue.run(async () => {
        const entry = expiresAt === undefined ? {} : { expiresAt }
        await this.#c.datastore.put('audience', entryKey(holder, peer), entry, options)
        this.#set(holder, peer, expiresAt)
      }, options)
    }
    if (this.#c.clock.now() >= this.#nextPrune) await this.prune(options)
  }

  /** Forgets whom `holder` admitted (a job deleted, with the blobs only it held). */
  async forget(holder: string, options: AbortOptions = {}): Promise<void> {
    await this.#queue.run(async () => {
      const peers = this.#holders.get(holder)
      if (peers === undefined) return
      await this.#c.datastore.batch(
        [...peers.keys()].map((peer) => ({ type: 'del', ns: 'audience', key: entryKey(holder, peer) })),
        options,
      )
      this.#holders.delete(holder)
    }, options)
  }

  /** Drops the admissions past their expiry, from memory and disk; resolves to how many went. */
  async prune(options: AbortOptions = {}): Promise<number> {
    this.#nextPrune = this.#c.clock.now() + AUDIENCE_PRUNE_MS
    return this.#queue.run(async () => {
      const now = this.#c.clock.now()
      const due: [string, string][] = []
      for (const [holder, peers] of this.#holders) {
        for (const [peer, expiresAt] of peers) if (expiresAt !== undefined && expiresAt <= now) due.push([holder, peer])
      }
      if (due.length === 0) return 0
      await this.#c.datastore.batch(
        due.map(([holder, peer]) => ({ type: 'del', ns: 'audience', key: entryKey(holder, peer) })),
        options,
      )
      for (const [holder, peer] of due) {
        const peers = this.#holders.get(holder) as Map<string, number | undefined>
        peers.delete(peer)
        if (peers.size === 0) this.#holders.delete(holder)
      }
      return due.length
    }, options)
  }

  /** Whether `peer` may fetch the blobs `holder` holds, now. */
  admits(holder: string, peer: string): boolean {
    const peers = this.#holders.get(holder)
    if (peers?.has(peer) !== true) return false
    const expiresAt = peers.get(peer)
    return expiresAt === undefined || expiresAt > this.#c.clock.now()
  }

  /** The blob service's access hook: a blob goes only to the peers one of its holders admits. */
  readonly hook: BlobAccessHook = async (cid: BlobCid, peer: PeerId): Promise<boolean> => {
    const who = peer.toString()
    const holders = await this.#c.holders(cid.toString())
    return holders.some((holder) => this.admits(holder, who))
  }

  #set(holder: string, peer: string, expiresAt: number | undefined): void {
    let peers = this.#holders.get(holder)
    if (peers === undefined) this.#holders.set(holder, (peers = new Map()))
    peers.set(peer, expiresAt)
  }
}
