import type { Capacity, Order } from '@tessera/core'
import {
  CAPACITY_RETAIN_MS,
  DEPTH_REFRESH_MS,
  MARKET_PRUNE_INTERVAL_MS,
  MAX_CAPACITY_RECORDS,
  MAX_OPEN_ORDERS,
} from './constants.js'
import { taskCountOf } from './split.js'

/** A capacity record and when its envelope expires. */
export interface CapacityEntry {
  readonly record: Capacity
  readonly expiresAt: number
}

/** Demand over supply, as a worker's pricing strategy sees it. */
export interface MarketDepth {
  /** Tasks of orders whose bid window is still open. */
  readonly openTasks: number
  /** Free task slots (slots - busy) over unexpired capacity records. */
  readonly freeSlots: number
  /** `openTasks / max(1, freeSlots)`. */
  readonly ratio: number
}

/** Options of a {@link MarketView}. */
export interface MarketViewInit {
  /** @default MAX_CAPACITY_RECORDS */
  maxRecords?: number
  /** @default MAX_OPEN_ORDERS */
  maxOrders?: number
  /** Expired records stay visible this long. @default CAPACITY_RETAIN_MS */
  retainMs?: number
}

interface OpenOrder {
  tasks: number
  bidDeadline: number
}

/**
 * What a peer has seen of the market: the latest capacity record of each peer (for the creator's why-no-bid
 * diagnostics and stake look-ups) and the orders whose bid window is open (for market depth). Machines feed it
 * from the messages they handle. It holds no clock: every query takes `now`.
 *
 * One view may be shared by several machines: a node's creator and worker share one, and the simulator may give
 * one view to thousands of machines that see the same gossip, so per-peer state stays small. Feeding the same
 * record twice is harmless.
 *
 * Records expired for longer than `retainMs` and orders whose window closed are pruned as the view is fed, at most
 * once per {@link MARKET_PRUNE_INTERVAL_MS} of `now`: each prune scans the view, so its cost is spread over the
 * records and orders fed in between, and peers that left stop holding memory without any timer.
 */
export class MarketView {
  readonly #records = new Map<string, CapacityEntry>()
  readonly #orders = new Map<string, OpenOrder>()
  readonly #maxRecords: number
  readonly #maxOrders: number
  readonly #retainMs: number
  #depth: MarketDepth = Object.freeze({ openTasks: 0, freeSlots: 0, ratio: 0 })
  #depthAt = Number.NEGATIVE_INFINITY
  /** When the next prune is due, as the view is fed. */
  #pruneAt = Number.NEGATIVE_INFINITY

  constructor(init: MarketViewInit = {}) {
    this.#maxRecords = init.maxRecords ?? MAX_CAPACITY_RECORDS
    this.#maxOrders = init.maxOrders ?? MAX_OPEN_ORDERS
    this.#retainMs = init.retainMs ?? CAPACITY_RETAIN_MS
  }

  /**
   * Records `record`, valid until `expiresAt`, unless a record of the same peer issued no earlier is held.
   * Returns whether it was stored (false also when the view is full of other peers' live records).
   */
  noteCapacity(record: Capacity, expiresAt: number, now: number): boolean {
    this.#pruneWhenDue(now)
    const held = this.#records.get(record.peer)
    if (held !== undefined && held.record.issuedAt >= record.issuedAt) return false
    if (held === undefined && this.#records.size >= this.#maxRecords) {
      this.prune(now)
      if (this.#records.size >= this.#maxRecords) return false
    }
    this.#records.set(record.peer, Object.freeze({ record, expiresAt }))
    return true
  }

  /** Notes an order seeking bids until its `bidDeadline`; a cancelled order is forgotten. */
  noteOrder(order: Order, now: number): void {
    this.#pruneWhenDue(now)
    if (order.cancelled === true || order.bidDeadline <= now) {
      this.forgetOrder(order.jobId)
      return
    }
    const held = this.#orders.get(order.jobId)
    // A copy of an order already noted (gossip delivers several; in the simulator every worker shares one view).
    // The job id commits to the split, so only the bid window can differ.
    if (held !== undefined && held.bidDeadline === order.bidDeadline) return
    if (held === undefined && this.#orders.size >= this.#maxOrders) {
      this.prune(now)
      if (this.#orders.size >= this.#maxOrders) return
    }
    this.#orders.set(order.jobId, { tasks: taskCountOf(order.split), bidDeadline: order.bidDeadline })
  }

  /** Stops counting an order's tasks in market depth (its window closed or it was cancelled). */
  forgetOrder(jobId: string): void {
    this.#orders.delete(jobId)
  }

  /** The latest record of `peer`, expired or not. */
  capacity(peer: string): CapacityEntry | undefined {
    return this.#records.get(peer)
  }

  /** Every record held, expired ones included (until they are pruned). */
  records(): IterableIterator<CapacityEntry> {
    return this.#records.values()
  }

  /** Capacity records held, expired ones not yet pruned included. */
  get recordCount(): number {
    return this.#records.size
  }

  /** Orders held as seeking bids (some may have closed since the last prune). */
  get openOrderCount(): number {
    return this.#orders.size
  }

  /**
   * Market depth at `now`. It is a scan of the view, so it is recomputed at most every {@link DEPTH_REFRESH_MS}
   * of `now` (the figure may lag the view by that much; it depends only on the inputs and `now`, so runs replay).
   */
  depth(now: number): MarketDepth {
    if (now >= this.#depthAt && now - this.#depthAt < DEPTH_REFRESH_MS) return this.#depth
    let openTasks = 0
    for (const [jobId, order] of this.#orders) {
      if (order.bidDeadline > now) openTasks += order.tasks
      else this.#orders.delete(jobId)
    }
    let freeSlots = 0
    for (const { record, expiresAt } of this.#records.values()) {
      if (expiresAt > now) freeSlots += Math.max(0, record.slots - record.busy)
    }
    this.#depth = Object.freeze({ openTasks, freeSlots, ratio: openTasks / Math.max(1, freeSlots) })
    this.#depthAt = now
    return this.#depth
  }

  /** Drops orders whose window closed and records expired for longer than the retention. */
  prune(now: number): void {
    for (const [jobId, order] of this.#orders) if (order.bidDeadline <= now) this.#orders.delete(jobId)
    for (const [peer, entry] of this.#records) if (entry.expiresAt + this.#retainMs <= now) this.#records.delete(peer)
    this.#pruneAt = now + MARKET_PRUNE_INTERVAL_MS
  }

  #pruneWhenDue(now: number): void {
    if (now >= this.#pruneAt) this.prune(now)
  }
}
