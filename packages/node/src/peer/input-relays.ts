import { type AbortOptions, throwIfAborted } from '@tessera/core'
import type { InputSource } from './inputs.js'

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
    has: (cid, options) => source.has(cid, options),
    get: (cid, options) => source.get(cid, options),
    fetchFrom: async (peer: string, cid: string, options: AbortOptions = {}) => {
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
