import type { Clock } from '../clock.js'
import { EQUIVOCATION_PENALTY_HALF_LIFE_MS, EQUIVOCATION_PENALTY_WEIGHT } from '../constants.js'

/** Peers with a penalty kept at most; past it the smallest are forgotten. */
const MAX_TRACKED_PEERS = 10_000

/**
 * Misbehaviour that gossipsub's own scoring cannot see, fed back into it as the application-specific score (P5): a
 * signer's equivocation (two envelopes under one seq), proven by the replay guard, charged to the signer's peer id
 * whichever peer relayed it. Each adds to a per-peer counter that halves every `EQUIVOCATION_PENALTY_HALF_LIFE_MS`;
 * the score is `-EQUIVOCATION_PENALTY_WEIGHT x counter²`, like P4.
 */
export class PeerPenalties {
  readonly #clock: Clock
  readonly #counters = new Map<string, { value: number; at: number }>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Counts one offence by `peer`. */
  add(peer: string): void {
    const value = this.#current(peer) + 1
    if (!this.#counters.has(peer) && this.#counters.size >= MAX_TRACKED_PEERS) this.#forgetSmallest()
    this.#counters.set(peer, { value, at: this.#clock.now() })
  }

  /** The (non-positive) score contribution for `peer`. */
  score(peer: string): number {
    const c = this.#current(peer)
    return c === 0 ? 0 : -EQUIVOCATION_PENALTY_WEIGHT * c * c
  }

  #current(peer: string): number {
    const entry = this.#counters.get(peer)
    if (entry === undefined) return 0
    const value = entry.value * 0.5 ** ((this.#clock.now() - entry.at) / EQUIVOCATION_PENALTY_HALF_LIFE_MS)
    if (value < 0.01) {
      this.#counters.delete(peer)
      return 0
    }
    return value
  }

  #forgetSmallest(): void {
    let smallest: string | undefined
    let min = Infinity
    for (const peer of this.#counters.keys()) {
      const c = this.#current(peer)
      if (c < min) {
        min = c
        smallest = peer
      }
    }
    if (smallest !== undefined) this.#counters.delete(smallest)
  }
}
