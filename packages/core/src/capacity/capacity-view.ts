import type { Inbound } from '../bus.js'
import type { Clock } from '../clock.js'
import { MAX_CAPACITY_RECORD_MS, MAX_CAPACITY_RECORDS } from '../constants.js'
import { Deadlines } from '../deadlines.js'
import { GuardedEventEmitter, type ListenerErrorHandler } from '../listener-guard.js'
import { TOPICS } from '../topics.js'
import type { Capacity } from '../wire/capacity.js'

/** Stale expiry entries kept beyond one a held peer before they are compacted away. */
const STALE_EXPIRY_SLACK = 64

/** One peer's current capacity record, as the market sees it. */
export interface CapacityRecord {
  /** Peer id string of the worker (the envelope's verified signer). */
  peer: string
  capacity: Capacity
  /** The envelope's sequence number: a record with a higher one replaces this one. */
  seq: bigint
  /** When the record's envelope expires, ms; the record is dropped then. */
  expiresAt: number
  /** When this node accepted it, ms. */
  receivedAt: number
}

/** The view's events: a peer's record arrived or changed, or it expired unrenewed. */
export interface CapacityViewEvents {
  'capacity:updated': CustomEvent<CapacityRecord>
  'capacity:expired': CustomEvent<CapacityRecord>
}

/** Options of {@link CapacityView}. */
export interface CapacityViewInit {
  clock: Clock
  /** Records from this peer (ourselves) are not kept: the view is the rest of the market. */
  self?: string
  /**
   * Peers held at most. When full, a new peer's record is refused until one expires; held peers still renew.
   * @default MAX_CAPACITY_RECORDS (20,000)
   */
  maxRecords?: number
  /**
   * Told of a listener that threw or rejected, instead of the process ending on it (see {@link ListenerGuard}).
   * @default the error is dropped (a {@link CapacityService} logs it, a node reports it as `listener:failed`)
   */
  onListenerError?: ListenerErrorHandler
}

/**
 * A live view of the market's capacity, keyed by peer. The newest record (highest envelope sequence number) wins;
 * expired records are dropped on every read and, once started, by a timer set to the next expiry, each with a
 * `capacity:expired` event.
 *
 * Bounded: at most `maxRecords` peers. Past it a new peer is refused rather than pushing out a held one, so keys
 * made by the thousand cannot evict the workers the market already sees; they can only wait for a slot, and must
 * keep re-signing to hold one. Expiries sit in a heap, so an arrival or a read costs O(log n), not a pass over all.
 */
export class CapacityView extends GuardedEventEmitter<CapacityViewEvents> {
  readonly #records = new Map<string, CapacityRecord>()
  /**
   * Peers by the expiry of their record; an entry whose expiry moved (a renewal) is stale, skipped when it reaches the
   * top. Peers, not records: a stale entry held a whole replaced record alive, up to 5 minutes each renewal.
   */
  readonly #expiries = new Deadlines<string>()
  /** The expiry of the record held for `peer`: an entry at another time is stale. */
  readonly #live = (peer: string): number | undefined => this.#records.get(peer)?.expiresAt
  readonly #clock: Clock
  readonly #self: string | undefined
  readonly #maxRecords: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = Infinity
  #running = false

  constructor(init: CapacityViewInit) {
    super(init.onListenerError ?? (() => {}))
    this.#clock = init.clock
    this.#self = init.self
    this.#maxRecords = init.maxRecords ?? MAX_CAPACITY_RECORDS
  }

  /** Starts dropping expired records on a timer (a real-time driver; tests may call {@link prune} instead). */
  start(): void {
    this.#running = true
    this.#schedule()
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  /** Offers a verified message; keeps it when it is a capacity record newer than the one held. */
  offer(inbound: Inbound): boolean {
    if (inbound.message.type !== 'capacity' || (inbound.topic !== undefined && inbound.topic !== TOPICS.capacity)) {
      return false
    }
    const now = this.#clock.now()
    return this.upsert({
      peer: inbound.from,
      capacity: inbound.message.body,
      seq: inbound.seq ?? 0n,
      // Kept no longer than an announcer's record may live, whatever the envelope says: a slot held by a key made to
      // fill the view costs a signature every few minutes, not one per quarter-hour.
      expiresAt: Math.min(inbound.expiresAt, now + MAX_CAPACITY_RECORD_MS),
      receivedAt: now,
    })
  }

  /** Keeps `record` unless it is ours, expired, older than the one held for its peer, or a new peer in a full view. */
  upsert(record: CapacityRecord): boolean {
    if (record.peer === this.#self || record.expiresAt < this.#clock.now()) return false
    this.prune()
    const held = this.#records.get(record.peer)
    if (held !== undefined && held.seq >= record.seq) return false
    if (held === undefined && this.#records.size >= this.#maxRecords) return false
    const kept = Object.freeze({ ...record })
    this.#records.set(record.peer, kept)
    // A renewal expiring when the record it replaces did keeps that entry; one expiring at another time leaves it
    // stale, dropped once it reaches the top or, when stale entries outnumber live ones, by a compaction: the heap
    // holds at most about twice the peers held however often they renew, at amortised O(log n) a renewal.
    if (held?.expiresAt !== kept.expiresAt) {
      this.#expiries.push(kept.peer, kept.expiresAt)
      if (this.#expiries.size > 2 * this.#records.size + STALE_EXPIRY_SLACK) this.#expiries.compact(this.#live)
    }
    this.safeDispatchEvent('capacity:updated', { detail: record })
    this.#schedule()
    return true
  }

  /** The live record for `peer`, if any. */
  get(peer: string): CapacityRecord | undefined {
    this.prune()
    return this.#records.get(peer)
  }

  /** Every live record, newest-received first. */
  list(): CapacityRecord[] {
    this.prune()
    return [...this.#records.values()].sort((a, b) => b.receivedAt - a.receivedAt)
  }

  /** Live records of workers offering capability class `name`. */
  withClass(name: string): CapacityRecord[] {
    return this.list().filter((r) => r.capacity.classes.includes(name))
  }

  /** Peers with a live record. */
  peers(): string[] {
    this.prune()
    return [...this.#records.keys()]
  }

  get size(): number {
    this.prune()
    return this.#records.size
  }

  /** Drops expired records (emitting `capacity:expired` for each) and returns them. */
  prune(): CapacityRecord[] {
    const expired = this.#expiries
      .expired(this.#clock.now(), this.#live)
      .map((peer) => this.#records.get(peer) as CapacityRecord)
    for (const record of expired) this.#records.delete(record.peer)
    for (const record of expired) this.safeDispatchEvent('capacity:expired', { detail: record })
    return expired
  }

  /** When the next record expires, ms, or undefined when none is held. */
  nextExpiry(): number | undefined {
    return this.#expiries.next(this.#live)
  }

  #schedule(): void {
    if (!this.#running) return
    const next = this.nextExpiry()
    if (next === undefined || next >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = next
    // Fire just after the expiry instant: records expire when `expiresAt < now`.
    const wait = Math.max(0, next - this.#clock.now() + 1)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#timerAt = Infinity
      this.prune()
      this.#schedule()
    }, wait)
    this.#timer.unref?.()
  }
}
