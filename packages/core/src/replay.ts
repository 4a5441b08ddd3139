import { MAX_DISTRUSTED_SIGNERS, MAX_REPLAY_ENTRIES, MAX_REPLAY_HOLD_MS, MAX_REPLAY_SIGNER_SHARE } from './constants.js'

/** What the replay guard made of an envelope's (signer, domain, seq). */
export type ReplayVerdict =
  /** Not seen while valid: remembered until it expires. */
  | 'admitted'
  /** Seen before with the same content, and still valid: a replay. */
  | 'replayed'
  /** Seen before with other content, and still valid: the signer signed two envelopes under one seq. */
  | 'equivocated'
  /** The signer equivocated within the last MAX_REPLAY_HOLD_MS: none of its envelopes are taken. */
  | 'distrusted'
  /** Not remembered: the signer holds its whole share, or the guard is full with no heavier signer to take from. */
  | 'full'

/** Width of an expiry bucket: entries are forgotten a bucket at a time, never by scanning them all. */
const BUCKET_MS = 10_000

/** What is remembered of an admitted envelope. */
interface Entry {
  expiresAt: number
  /** A digest of the signed content: another digest under the same key proves the signer equivocated. */
  digest: string
}

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
 * Each triple keeps a digest of the signed content beside it. The same content again is a replay, which anyone can
 * make and any honest relay may hand on; other content under the same triple can only come from the signer, proof
 * that it equivocated (signed two messages under one seq, which honest peers would each take as the other's replay).
 * Such a signer is distrusted for MAX_REPLAY_HOLD_MS, as long as any envelope it signed before may still be held:
 * all its envelopes are refused (`distrusted`). At most `maxDistrusted` signers are held, the oldest forgotten first.
 *
 * Bounded, and fair: one signer may hold at most `maxPerSigner` (a flooding key fills its own share, and its next
 * envelopes are refused, `full`), and when `maxEntries` are held a newcomer takes the oldest entry of the signer
 * holding the most, if that signer holds more than the newcomer would. So keys made to flood the guard lose their
 * own oldest entries, not anyone else's: the guard never forgets the entries of a signer that sends less than the
 * flooders, which a flood pushing out the soonest-expiring entries would (to replay them), and it does not stop
 * admitting everyone either, however many keys share the flood. With no signer holding more than the newcomer would,
 * it refuses (`full`). Signers are indexed by how many entries they hold, so the one holding the most is found at once;
 * entries are kept in buckets by expiry, so forgetting the expired costs what expired, not a pass over every entry.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, Entry>()
  /** Signers that equivocated, and until when they are distrusted; oldest first. */
  readonly #distrusted = new Map<string, number>()
  /** Keys by the bucket their expiry falls in; a key whose expiry moved is checked against `#seen` when swept. */
  readonly #buckets = new Map<number, string[]>()
  readonly #signers = new Map<string, SignerEntries>()
  /**
   * Signers by how many entries they hold, so the one holding the most is found without a scan. Counts move by one
   * at a time, so `#most` (the highest count held) moves by one too.
   */
  readonly #byCount = new Map<number, Set<string>>()
  #most = 0
  readonly #maxEntries: number
  readonly #maxPerSigner: number
  readonly #maxDistrusted: number
  /** Buckets before this one have been swept. */
  #swept = -Infinity

  constructor(
    maxEntries = MAX_REPLAY_ENTRIES,
    maxPerSigner = Math.max(1, Math.floor(maxEntries / MAX_REPLAY_SIGNER_SHARE)),
    maxDistrusted = MAX_DISTRUSTED_SIGNERS,
  ) {
    this.#maxEntries = maxEntries
    this.#maxPerSigner = maxPerSigner
    this.#maxDistrusted = maxDistrusted
  }

  /**
   * Records the triple with `digest` (of the envelope's signed content) unless it is a replay, an equivocation (which
   * distrusts the signer), the signer is distrusted, or there is no room for it.
   */
  admit(signerHex: string, domain: string, seq: bigint, expiresAt: number, now: number, digest: string): ReplayVerdict {
    this.#sweep(now)
    const key = `${signerHex}|${domain}|${seq}`
    const known = this.#seen.get(key)
    if (known !== undefined && known.expiresAt >= now) {
      if (known.digest === digest) return 'replayed'
      // Every proof counts, a distrusted signer's too.
      this.#distrust(signerHex, now + MAX_REPLAY_HOLD_MS)
      return 'equivocated'
    }
    if (this.distrusts(signerHex, now)) return 'distrusted'
    if (known === undefined) {
      const held = this.#signers.get(signerHex)?.count ?? 0
      if (held >= this.#maxPerSigner) return 'full'
      if (this.#seen.size >= this.#maxEntries && !this.#makeRoom(held + 1)) return 'full'
      this.#held(signerHex, key)
    }
    this.#seen.set(key, { expiresAt, digest })
    const bucket = Math.floor(expiresAt / BUCKET_MS)
    const keys = this.#buckets.get(bucket)
    if (keys === undefined) this.#buckets.set(bucket, [key])
    else keys.push(key)
    return 'admitted'
  }

  get size(): number {
    return this.#seen.size
  }

  /** True while `signerHex` is distrusted for equivocating. */
  distrusts(signerHex: string, now: number): boolean {
    const until = this.#distrusted.get(signerHex)
    if (until === undefined) return false
    if (until >= now) return true
    this.#distrusted.delete(signerHex)
    return false
  }

  /** Entries `signerHex` holds. */
  heldBy(signerHex: string): number {
    return this.#signers.get(signerHex)?.count ?? 0
  }

  /** Distrusts `signer` until `until`, forgetting the oldest distrusted signer when `maxDistrusted` are held. */
  #distrust(signer: string, until: number): void {
    this.#distrusted.delete(signer)
    if (this.#distrusted.size >= this.#maxDistrusted) {
      const oldest = this.#distrusted.keys().next()
      if (!oldest.done) this.#distrusted.delete(oldest.value)
    }
    this.#distrusted.set(signer, until)
  }

  /** Counts a new entry of `signer`. */
  #held(signer: string, key: string): void {
    let entries = this.#signers.get(signer)
    if (entries === undefined) this.#signers.set(signer, (entries = { count: 0, keys: [], head: 0 }))
    this.#recount(signer, entries.count, entries.count + 1)
    entries.count++
    entries.keys.push(key)
  }

  /** Moves `signer` from the signers holding `from` entries to those holding `to` (one more or one fewer). */
  #recount(signer: string, from: number, to: number): void {
    const before = this.#byCount.get(from)
    before?.delete(signer)
    if (before?.size === 0) this.#byCount.delete(from)
    if (to > 0) {
      const after = this.#byCount.get(to)
      if (after === undefined) this.#byCount.set(to, new Set([signer]))
      else after.add(signer)
    }
    if (to > this.#most) this.#most = to
    else if (from === this.#most && !this.#byCount.has(from)) this.#most = to
  }

  /** Forgets `key` of `signer`, and what of its queue is already forgotten. */
  #forget(signer: string, key: string): void {
    this.#seen.delete(key)
    const entries = this.#signers.get(signer)
    if (entries === undefined) return
    this.#recount(signer, entries.count, entries.count - 1)
    entries.count--
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
   * hold); false when no signer does. However many signers share the guard, however little each holds.
   */
  #makeRoom(after: number): boolean {
    if (this.#most <= after) return false
    const victimId = this.#byCount.get(this.#most)?.values().next().value
    const victim = victimId === undefined ? undefined : this.#signers.get(victimId)
    if (victimId === undefined || victim === undefined) return false
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
        const expiresAt = this.#seen.get(key)?.expiresAt
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
