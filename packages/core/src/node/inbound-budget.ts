import { ByteBudget, type ReleaseBytes } from '../byte-budget.js'

/**
 * Bytes of inbound messages being read at once: all peers together, and each peer alone. A direct message is
 * length-prefixed, so its size is known before its bytes are buffered; one that does not fit is refused then,
 * rather than letting many connections, each with many streams, each hold a maximum-size message half-sent.
 * One peer may hold at most `perPeer`, so it cannot take the whole budget from the others.
 */
export class InboundBudget {
  readonly #all: ByteBudget
  readonly #perPeer: number
  readonly #byPeer = new Map<string, number>()

  constructor(total: number, perPeer: number) {
    this.#all = new ByteBudget(total)
    this.#perPeer = perPeer
  }

  /** Bytes reserved now, all peers together. */
  get held(): number {
    return this.#all.held
  }

  /** Reserves `bytes` for `peer` if they fit its share and the total; undefined when they do not. */
  tryAcquire(peer: string, bytes: number): ReleaseBytes | undefined {
    const held = this.#byPeer.get(peer) ?? 0
    if (held + bytes > this.#perPeer) return undefined
    const release = this.#all.tryAcquire(bytes)
    if (release === undefined) return undefined
    this.#byPeer.set(peer, held + bytes)
    let released = false
    return () => {
      if (released) return
      released = true
      release()
      const left = (this.#byPeer.get(peer) ?? bytes) - bytes
      if (left <= 0) this.#byPeer.delete(peer)
      else this.#byPeer.set(peer, left)
    }
  }
}
