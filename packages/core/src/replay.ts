import { MAX_REPLAY_ENTRIES, MAX_REPLAY_SIGNER_SHARE } from './constants.js'

/** What the replay guard made of an envelope's (signer, domain, seq). */
export type ReplayVerdict =
  /** Not seen while valid: remembered until it expires. */
  | 'admitted'
  /** Seen before, and still valid: a replay. */
  | 'replayed'
  /** Not remembered, because the guard (or the signer's share of it) is full of valid entries: refuse it. */
  | 'full'

/** Width of an expiry bucket: entries are forgotten a bucket at a time, never by scanning them all. */
const BUCKET_MS = 10_000

/**
 * Remembers (signer, domain, seq) triples until their envelopes expire, so a captured message cannot be played
 * again while it is still valid; once expired, the expiry check rejects it instead.
 *
 * Bounded, and fails closed: when `maxEntries` valid entries are held, new envelopes are refused (`full`) rather
 * than forgetting valid ones, which would let a flood of fresh envelopes (signed with the longest TTL, by keys
 * made for it) push out the entries an attacker then replays. One signer may hold at most `maxPerSigner`, so a
 * single flooding key fills its own share, not the guard. Entries are kept in buckets by expiry, so forgetting the
 * expired costs what expired, not a pass over every entry at every message once the guard is full.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>()
  /** Keys by the bucket their expiry falls in; a key whose expiry moved is checked against `#seen` when swept. */
  readonly #buckets = new Map<number, string[]>()
  readonly #perSigner = new Map<string, number>()
  readonly #maxEntries: number
  readonly #maxPerSigner: number
  /** Buckets before this one have been swept. */
  #swept = -Infinity

  constructor(
    maxEntries = MAX_REPLAY_ENTRIES,
    maxPerSigner = Math.max(1, Math.floor(maxEntries / MAX_REPLAY_SIGNER_SHARE)),
  ) {
    this.#maxEntries = maxEntries
    this.#maxPerSigner = maxPerSigner
  }

  /** Records the triple unless it is a replay or there is no room for it. */
  admit(signerHex: string, domain: string, seq: bigint, expiresAt: number, now: number): ReplayVerdict {
    this.#sweep(now)
    const key = `${signerHex}|${domain}|${seq}`
    const known = this.#seen.get(key)
    if (known !== undefined && known >= now) return 'replayed'
    const held = this.#perSigner.get(signerHex) ?? 0
    if (known === undefined && (this.#seen.size >= this.#maxEntries || held >= this.#maxPerSigner)) return 'full'
    if (known === undefined) this.#perSigner.set(signerHex, held + 1)
    this.#seen.set(key, expiresAt)
    const bucket = Math.floor(expiresAt / BUCKET_MS)
    const keys = this.#buckets.get(bucket)
    if (keys === undefined) this.#buckets.set(bucket, [key])
    else keys.push(key)
    return 'admitted'
  }

  get size(): number {
    return this.#seen.size
  }

  /** Forgets every entry in the buckets that ended before `now`. */
  #sweep(now: number): void {
    const current = Math.floor(now / BUCKET_MS)
    if (current <= this.#swept) return
    this.#swept = current
    for (const [bucket, keys] of this.#buckets) {
      if (bucket >= current) continue
      this.#buckets.delete(bucket)
      for (const key of keys) {
        const expiresAt = this.#seen.get(key)
        // Re-admitted after it expired, with a later expiry: its newer bucket forgets it.
        if (expiresAt === undefined || Math.floor(expiresAt / BUCKET_MS) !== bucket) continue
        this.#seen.delete(key)
        const signer = key.slice(0, key.indexOf('|'))
        const held = (this.#perSigner.get(signer) ?? 1) - 1
        if (held === 0) this.#perSigner.delete(signer)
        else this.#perSigner.set(signer, held)
      }
    }
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
