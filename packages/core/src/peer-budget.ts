import { ByteBudget } from './byte-budget.js'

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
