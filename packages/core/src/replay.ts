import { MAX_REPLAY_ENTRIES } from './constants.js'

/**
 * Remembers (signer, domain, seq) triples until their envelopes expire, so a captured message cannot be played
 * again while it is still valid; once expired, the expiry check rejects it instead. Bounded: past
 * `maxEntries` the entries that expire soonest are dropped.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>()
  readonly #maxEntries: number

  constructor(maxEntries = MAX_REPLAY_ENTRIES) {
    this.#maxEntries = maxEntries
  }

  /** Records the triple; returns false when it was already seen (a replay). */
  admit(signerHex: string, domain: string, seq: bigint, expiresAt: number, now: number): boolean {
    const key = `${signerHex}|${domain}|${seq}`
    const known = this.#seen.get(key)
    if (known !== undefined && known >= now) return false
    if (this.#seen.size >= this.#maxEntries) this.#prune(now)
    this.#seen.set(key, expiresAt)
    return true
  }

  get size(): number {
    return this.#seen.size
  }

  #prune(now: number): void {
    for (const [key, expiresAt] of this.#seen) if (expiresAt < now) this.#seen.delete(key)
    if (this.#seen.size < this.#maxEntries) return
    const byExpiry = [...this.#seen].sort((a, b) => a[1] - b[1])
    for (const [key] of byExpiry.slice(0, Math.ceil(this.#maxEntries / 10))) this.#seen.delete(key)
  }
}

/**
 * Issues strictly increasing sequence numbers derived from the clock (ms x 1024 + counter), so a restarted
 * node's numbers stay above those it used before without persisting a counter.
 */
export class SequenceCounter {
  #last = 0n

  next(now: number): bigint {
    const fromClock = BigInt(Math.floor(now)) * 1024n
    this.#last = fromClock > this.#last ? fromClock : this.#last + 1n
    return this.#last
  }
}
