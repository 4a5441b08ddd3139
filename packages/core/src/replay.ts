import { MAX_REPLAY_ENTRIES, MAX_REPLAY_SIGNER_SHARE } from './constants.js'

/** What the replay guard made of an envelope's (signer, domain, seq). */
export type ReplayVerdict =
  /** Not seen while valid: remembered until it expires. */
  | 'admitted'
  /** Seen before, and still valid: a replay. */
  | 'replayed'
  /** Not remembered: the signer holds its whole share, or the guard is full with no heavier signer to take from. */
  | 'full'

/** Width of an expiry bucket: entries are forgotten a bucket at a time, never by scanning them all. */
const BUCKET_MS = 10_000
/** A signer holding 1/this of the guard or more is heavy: when the guard is full, room is taken from the heaviest. */
const HEAVY_SHARE = 64

/** One signer's entries: how many are held, and their keys oldest first (some already forgotten, skipped lazily). */
interface SignerEntries {
  count: number
  keys: string[]
  head: number
}

/**
 * Remembers (signer, domain, seq) triples until their envelopes expire, so a captured message cannot be played
 * again while it is still valid; once expired, the expiry check rejects it instead.
 *
 * Bounded, and fair: one signer may hold at most `maxPerSigner` (a flooding key fills its own share, and its next
 * envelopes are refused, `full`), and when `maxEntries` are held a newcomer takes the oldest entry of the signer
 * holding the most, if that signer holds more than the newcomer would. So keys made to flood the guard lose their
 * own oldest entries, not anyone else's: the guard never forgets the entries of a signer that sends less than the
 * flooders, which a flood pushing out the soonest-expiring entries would (to replay them), and it does not stop
 * admitting everyone either. With only light signers left to take from, it refuses (`full`). Entries are kept in
 * buckets by expiry, so forgetting the expired costs what expired, not a pass over every entry at every message.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>()
  /** Keys by the bucket their expiry falls in; a key whose expiry moved is checked against `#seen` when swept. */
  readonly #buckets = new Map<number, string[]>()
  readonly #signers = new Map<string, SignerEntries>()
  /** Signers holding at least `#heavyAt` entries: at most HEAVY_SHARE of them, where room is taken from. */
  readonly #heavy = new Set<string>()
  readonly #maxEntries: number
  readonly #maxPerSigner: number
  readonly #heavyAt: number
  /** Buckets before this one have been swept. */
  #swept = -Infinity

  constructor(
    maxEntries = MAX_REPLAY_ENTRIES,
    maxPerSigner = Math.max(1, Math.floor(maxEntries / MAX_REPLAY_SIGNER_SHARE)),
  ) {
    this.#maxEntries = maxEntries
    this.#maxPerSigner = maxPerSigner
    this.#heavyAt = Math.max(1, Math.floor(maxEntries / HEAVY_SHARE))
  }

  /** Records the triple unless it is a replay or there is no room for it. */
  admit(signerHex: string, domain: string, seq: bigint, expiresAt: number, now: number): ReplayVerdict {
    this.#sweep(now)
    const key = `${signerHex}|${domain}|${seq}`
    const known = this.#seen.get(key)
    if (known !== undefined && known >= now) return 'replayed'
    if (known === undefined) {
      const held = this.#signers.get(signerHex)?.count ?? 0
      if (held >= this.#maxPerSigner) return 'full'
      if (this.#seen.size >= this.#maxEntries && !this.#makeRoom(held + 1)) return 'full'
      this.#held(signerHex, key)
    }
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

  /** Entries `signerHex` holds. */
  heldBy(signerHex: string): number {
    return this.#signers.get(signerHex)?.count ?? 0
  }

  /** Counts a new entry of `signer`. */
  #held(signer: string, key: string): void {
    let entries = this.#signers.get(signer)
    if (entries === undefined) this.#signers.set(signer, (entries = { count: 0, keys: [], head: 0 }))
    entries.count++
    entries.keys.push(key)
    if (entries.count >= this.#heavyAt) this.#heavy.add(signer)
  }

  /** Forgets `key` of `signer`, and what of its queue is already forgotten. */
  #forget(signer: string, key: string): void {
    this.#seen.delete(key)
    const entries = this.#signers.get(signer)
    if (entries === undefined) return
    entries.count--
    if (entries.count < this.#heavyAt) this.#heavy.delete(signer)
    if (entries.count <= 0) {
      this.#signers.delete(signer)
      return
    }
    while (entries.head < entries.keys.length && !this.#seen.has(entries.keys[entries.head] as string)) entries.head++
    // Keys forgotten out of order (another TTL) wait in the queue: dropped once they outnumber those held.
    if (entries.keys.length - entries.head > 2 * entries.count + 16) {
      entries.keys = entries.keys.slice(entries.head).filter((k) => this.#seen.has(k))
      entries.head = 0
    } else if (entries.head > 1024 && entries.head * 2 > entries.keys.length) {
      entries.keys = entries.keys.slice(entries.head)
      entries.head = 0
    }
  }

  /**
   * Forgets the oldest entry of the signer holding the most, if it holds more than `after` (what the newcomer will
   * hold); false when no signer does.
   */
  #makeRoom(after: number): boolean {
    let victim: SignerEntries | undefined
    let victimId = ''
    for (const signer of this.#heavy) {
      const entries = this.#signers.get(signer)
      if (entries !== undefined && entries.count > (victim?.count ?? after)) {
        victim = entries
        victimId = signer
      }
    }
    if (victim === undefined) return false
    while (victim.head < victim.keys.length) {
      const key = victim.keys[victim.head++] as string
      if (this.#seen.has(key)) {
        this.#forget(victimId, key)
        return true
      }
    }
    return false
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
        this.#forget(key.slice(0, key.indexOf('|')), key)
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
