/** How many requests a {@link RequestBudget} admits in each window: from one peer, from all, and peers tracked. */
export interface RequestBudgetLimits {
  perPeer: number
  total: number
  windowMs: number
  /** Peers whose recent requests are remembered; past it the one heard from longest ago is forgotten. */
  peers: number
}

/**
 * A sliding-window budget for work other peers ask of this one (checks of their workers' results, arbitrations):
 * at most `perPeer` requests from one peer and `total` from all in any `windowMs`. Each such request costs a GPU
 * recomputation and input fetches, so one peer, or many identities of one, must not fill the verifier's queue and
 * crowd out this node's own checks.
 */
export class RequestBudget {
  readonly #limits: RequestBudgetLimits
  /** Per peer, the times of its admitted requests in the window, oldest first; peers in order of last request. */
  readonly #byPeer = new Map<string, number[]>()
  /** The times of every admitted request in the window, oldest first. */
  readonly #all: number[] = []

  constructor(limits: RequestBudgetLimits) {
    this.#limits = limits
  }

  /** Whether a request from `peer` at `now` fits the budget; if it does, it is counted. */
  admit(peer: string, now: number): boolean {
    const since = now - this.#limits.windowMs
    while (this.#all.length > 0 && this.#all[0]! <= since) this.#all.shift()
    if (this.#all.length >= this.#limits.total) return false
    const times = (this.#byPeer.get(peer) ?? []).filter((t) => t > since)
    if (times.length >= this.#limits.perPeer) {
      this.#byPeer.set(peer, times)
      return false
    }
    times.push(now)
    // Heard from now: to the back, so the peer forgotten first is the one heard from longest ago.
    this.#byPeer.delete(peer)
    this.#byPeer.set(peer, times)
    if (this.#byPeer.size > this.#limits.peers) this.#byPeer.delete(this.#byPeer.keys().next().value as string)
    this.#all.push(now)
    return true
  }
}
