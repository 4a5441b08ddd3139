import { type AbortOptions, type BlobService, type Order, throwIfAborted, withTimeout } from '@tessera/core'
import { DEFAULT_RECOMPUTE_TIMEOUT_MS } from '@tessera/proof'
import { relayHolder } from './blob-audience.js'
import type { BlobHolds } from './blob-holds.js'
import { type InputFetchOptions, type InputOrder, INPUTS_READ, type InputSource } from './inputs.js'

/** Input blobs whose relay is remembered; past it, the one named longest ago is forgotten. */
export const RELAYS_KEPT = 1_000

/**
 * Peers other than its creator that hold a job's inputs for this peer: a delegate that asks this peer to arbitrate
 * a task keeps the job's inputs for it, because the creator serves them only to peers it handed work to, and it
 * never heard of this one (`BlobAudience`).
 */
export class InputRelays {
  /** The relay of each input blob, by CID, the one named longest ago first. */
  readonly #byCid = new Map<string, string>()

  /** Remembers `relay` as holding `cids` for us (the latest relay named for a blob wins). */
  add(cids: readonly string[], relay: string): void {
    for (const cid of cids) {
      this.#byCid.delete(cid)
      this.#byCid.set(cid, relay)
      if (this.#byCid.size > RELAYS_KEPT) this.#byCid.delete(this.#byCid.keys().next().value as string)
    }
  }

  /** The peer that holds `cid` for us, besides its creator, if any. */
  of(cid: string): string | undefined {
    return this.#byCid.get(cid)
  }
}

/**
 * `source`, whose `fetchFrom` turns to the blob's relay, if it has one, when the creator does not serve it (refused,
 * out of reach); the relay's failure is the one thrown then.
 */
export function relayingSource(source: InputSource, relays: InputRelays): InputSource {
  return {
    holdsFor: (cid, order, options) => source.holdsFor(cid, order, options),
    get: (cid, options) => source.get(cid, options),
    fetchFrom: async (peer: string, cid: string, options: InputFetchOptions = {}) => {
      try {
        return await source.fetchFrom(peer, cid, options)
      } catch (e) {
        throwIfAborted(options.signal)
        const relay = relays.of(cid)
        if (relay === undefined || relay === peer) throw e
        return source.fetchFrom(relay, cid, options)
      }
    },
  }
}

/** What {@link creatorSource} asks of its peer. */
export interface CreatorSourceComponents {
  /** This peer's id: its own orders' inputs are read from its store. */
  self: string
  /** Who holds a blob here (`BlobHolds.holdersNow`). */
  holders(cid: string): Promise<string[]>
  /** Whether `peer` may fetch the blobs `holder` holds (`BlobAudience.admits`). */
  admits(holder: string, peer: string): boolean
}

/**
 * `blobs` as an input source that reads an order's input from this peer's store only where the order's creator may
 * have it: the order is this peer's own, the blob is a copy this delegate kept of that very job's inputs
 * (`relay:<job>`, fetched from the job's creator), or one of its holders admits the creator (this peer would serve
 * it the blob). Input CIDs are public on the orders topic, so any other copy (this peer's own upload, a relay copy
 * of another job) is not read for the order: its inputs are fetched from its creator, which proves the creator
 * holds them, as `BlobAudience` would have this peer refuse the creator the blob itself.
 */
export function creatorSource(
  blobs: Pick<BlobService, 'has' | 'get' | 'fetchFrom'>,
  c: CreatorSourceComponents,
): InputSource {
  return {
    holdsFor: async (cid: string, order: InputOrder, options: AbortOptions = {}) => {
      if (!(await blobs.has(cid, options))) return false
      if (order.creator === c.self) return true
      throwIfAborted(options.signal)
      const holders = await c.holders(cid)
      return holders.some((holder) => holder === relayHolder(order.jobId) || c.admits(holder, order.creator))
    },
    get: (cid, options) => blobs.get(cid, options),
    fetchFrom: (peer, cid, options) => blobs.fetchFrom(peer, cid, options),
  }
}

/** What a delegate keeps a job's inputs for its arbiters with. */
export interface InputKeeperComponents {
  holds: Pick<BlobHolds, 'hold' | 'holdIfStored'>
  blobs: Pick<BlobService, 'fetchFrom' | 'put'>
}

/**
 * How a delegate makes sure it holds another creator's order's inputs until `expiresAt` (`relay:<job>`), fetching
 * from the creator what it does not hold, before it asks an arbiter the creator does not know to recompute from
 * them. A fetch gives up with the arbiter's own recomputation window, so an arbitration is never held up longer than
 * the arbiter would wait for it.
 */
export function inputKeeper(c: InputKeeperComponents) {
  return async (order: Order, expiresAt: number, options: AbortOptions = {}): Promise<void> => {
    const holder = relayHolder(order.jobId)
    const signal = withTimeout(options.signal, DEFAULT_RECOMPUTE_TIMEOUT_MS)
    for (const cid of order.inputs.slice(0, INPUTS_READ)) {
      if (await c.holds.holdIfStored(cid, holder, expiresAt, { signal })) continue
      // Held before it is stored, as an upload is: a sweep between the two would find it unheld.
      await c.holds.hold(cid, holder, expiresAt, { signal })
      // Checked against its CID as it was fetched: not hashed again.
      const bytes = await c.blobs.fetchFrom(order.creator, cid, { signal })
      await c.blobs.put(bytes, { signal, verifiedCid: cid })
    }
  }
}
