import { TypedEventEmitter } from '@libp2p/interface'
import type { Inbound } from '../bus.js'
import type { Clock } from '../clock.js'
import { TOPICS } from '../topics.js'
import type { Capacity } from '../wire/capacity.js'

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
}

/**
 * A live view of the market's capacity, keyed by peer. The newest record (highest envelope sequence number) wins;
 * expired records are dropped on every read and, once started, by a timer set to the next expiry, each with a
 * `capacity:expired` event.
 */
export class CapacityView extends TypedEventEmitter<CapacityViewEvents> {
  readonly #records = new Map<string, CapacityRecord>()
  readonly #clock: Clock
  readonly #self: string | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = Infinity
  #running = false

  constructor(init: CapacityViewInit) {
    super()
    this.#clock = init.clock
    this.#self = init.self
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
    return this.upsert({
      peer: inbound.from,
      capacity: inbound.message.body,
      seq: inbound.seq ?? 0n,
      expiresAt: inbound.expiresAt,
      receivedAt: this.#clock.now(),
    })
  }

  /** Keeps `record` unless it is ours, expired, or older than the one held for its peer. */
  upsert(record: CapacityRecord): boolean {
    if (record.peer === this.#self || record.expiresAt < this.#clock.now()) return false
    const held = this.#records.get(record.peer)
    if (held !== undefined && held.seq >= record.seq && held.expiresAt >= this.#clock.now()) return false
    this.#records.set(record.peer, Object.freeze({ ...record }))
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
    const now = this.#clock.now()
    const expired: CapacityRecord[] = []
    for (const [peer, record] of this.#records) {
      if (record.expiresAt < now) {
        this.#records.delete(peer)
        expired.push(record)
      }
    }
    for (const record of expired) this.safeDispatchEvent('capacity:expired', { detail: record })
    return expired
  }

  /** When the next record expires, ms, or undefined when none is held. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const record of this.#records.values())
      if (next === undefined || record.expiresAt < next) next = record.expiresAt
    return next
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
