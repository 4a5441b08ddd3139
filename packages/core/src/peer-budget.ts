import type { AbortOptions } from './bus.js'
import { ByteBudget, type ReleaseBytes } from './byte-budget.js'

/**
 * Units of something peers ask of us at once (bytes of messages being read, blobs being served), for all peers
 * together and for each peer alone. Asked for without waiting: what does not fit is refused there and then, so one
 * peer cannot take the whole budget from the others (`perPeer`), nor many peers more than `total`.
 */
export class PeerBudget {
  readonly #all: ByteBudget
  readonly #perPeer: number
  readonly #byPeer = new Map<string, number>()

  constructor(total: number, perPeer: number) {
    this.#all = new ByteBudget(total)
    this.#perPeer = perPeer
  }

  /** Units reserved now, all peers together. */
  get held(): number {
    return this.#all.held
  }

  /** Reserves `units` for `peer` if they fit its share and the total; undefined when they do not. The function returned gives them back (once). */
  tryAcquire(peer: string, units: number): (() => void) | undefined {
    const held = this.#byPeer.get(peer) ?? 0
    if (held + units > this.#perPeer) return undefined
    const release = this.#all.tryAcquire(units)
    if (release === undefined) return undefined
    this.#byPeer.set(peer, held + units)
    let released = false
    return () => {
      if (released) return
      released = true
      release()
      const left = (this.#byPeer.get(peer) ?? units) - units
      if (left <= 0) this.#byPeer.delete(peer)
      else this.#byPeer.set(peer, left)
    }
  }
}

/**
 * A {@link ByteBudget} shared by peers, each of which may hold at most `perPeer` bytes of it at once (or one request
 * however large, when it holds nothing else, so it never waits for good). A request past its peer's share waits
 * behind that peer's own earlier requests, not in the shared queue: a peer slow to give its bytes back holds up no
 * other peer's requests, where with the total alone it could take all of it and stall every other.
 */
export class PeerByteBudget {
  readonly #all: ByteBudget
  readonly #perPeer: number
  /** Each peer's share, while it holds or awaits bytes. */
  readonly #peers = new Map<string, ByteBudget>()

  constructor(total: number, perPeer: number) {
    this.#all = new ByteBudget(total)
    this.#perPeer = perPeer
  }

  /** Bytes reserved now, all peers together. */
  get held(): number {
    return this.#all.held
  }

  /** Requests waiting for bytes, for their peer's share or for the total. */
  get waiting(): number {
    let waiting = this.#all.waiting
    for (const share of this.#peers.values()) waiting += share.waiting
    return waiting
  }

  /** Reserves `bytes` for `peer` if they fit its share and the total now, with nobody waiting ahead; else undefined. */
  tryAcquire(peer: string, bytes: number): ReleaseBytes | undefined {
    const share = this.#share(peer)
    const releaseShare = share.tryAcquire(bytes)
    const releaseAll = releaseShare === undefined ? undefined : this.#all.tryAcquire(bytes)
    if (releaseShare !== undefined && releaseAll !== undefined)
      return this.#joined(peer, share, releaseShare, releaseAll)
    releaseShare?.()
    this.#forget(peer, share)
    return undefined
  }

  /**
   * Reserves `bytes` for `peer`, waiting for room in its share, then in the total; rejects with an AbortError if
   * `options.signal` aborts first.
   */
  async acquire(peer: string, bytes: number, options: AbortOptions = {}): Promise<ReleaseBytes> {
    const share = this.#share(peer)
    let releaseShare: ReleaseBytes | undefined
    try {
      releaseShare = await share.acquire(bytes, options)
      return this.#joined(peer, share, releaseShare, await this.#all.acquire(bytes, options))
    } catch (e) {
      releaseShare?.()
      this.#forget(peer, share)
      throw e
    }
  }

  #share(peer: string): ByteBudget {
    let share = this.#peers.get(peer)
    if (share === undefined) this.#peers.set(peer, (share = new ByteBudget(this.#perPeer)))
    return share
  }

  /** Gives back from the total and the share together, as much each time. */
  #joined(peer: string, share: ByteBudget, releaseShare: ReleaseBytes, releaseAll: ReleaseBytes): ReleaseBytes {
    return (bytes?: number) => {
      releaseAll(bytes)
      releaseShare(bytes)
      this.#forget(peer, share)
    }
  }

  /** Drops a peer's share once it holds and awaits nothing: peers come and go, and each would otherwise stay. */
  #forget(peer: string, share: ByteBudget): void {
    if (share.held === 0 && share.waiting === 0 && this.#peers.get(peer) === share) this.#peers.delete(peer)
  }
}
