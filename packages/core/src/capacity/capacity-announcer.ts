import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { delay, withTimeout } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import type { Clock } from '../clock.js'
import {
  CAPACITY_REANNOUNCE_MIN_GAP_MS,
  CAPACITY_REPUBLISH_FRACTION,
  DEFAULT_CAPACITY_TTL_MS,
  MAX_CAPACITY_RECORD_MS,
  DHT_QUERY_TIMEOUT_MS,
  MAX_ADDRS,
} from '../constants.js'
import { CoreError, isCoreError } from '../errors.js'
import type { Capacity } from '../wire/capacity.js'
import { validateBody } from '../wire/codec.js'
import { classCid } from './classes.js'

/** What a worker announces; the announcer fills in its peer id, its addresses (when omitted) and the issue time. */
export type CapacityAnnouncement = Omit<Capacity, 'peer' | 'issuedAt' | 'addrs'> & { addrs?: string[] }

/** What the announcer needs: its peer id, a clock, and ways to publish capacity and provide DHT records. */
export interface CapacityAnnouncerComponents {
  self: string
  clock: Clock
  /** Publishes a capacity message on the capacity topic with the given envelope lifetime. */
  publish(message: { type: 'capacity'; body: Capacity }, options: AbortOptions & { ttlMs: number }): Promise<void>
  /** Provides a DHT record for `cid` pointing at this peer. */
  provide(cid: CID, options: AbortOptions): Promise<void>
  /** Stops re-providing `cid` (records already stored at peers expire on their own). */
  cancelProvide?(cid: CID, options: AbortOptions): Promise<void>
  /** This node's dialable addresses. */
  addrs(): string[]
  log: Logger
}

/** Options of {@link CapacityAnnouncer}. */
export interface CapacityAnnouncerInit {
  /**
   * Lifetime of each published record, at most MAX_CAPACITY_RECORD_MS (5 minutes); it is re-published after half of it.
   * @default DEFAULT_CAPACITY_TTL_MS (2 minutes)
   */
  ttlMs?: number
}

/** Delays between attempts to provide class records: the first may run before the node has joined the DHT. */
const PROVIDE_RETRY_DELAYS_MS = [0, 2_000, 10_000, 30_000]

/**
 * Publishes this worker's signed capacity record and keeps it alive: re-published before it expires, again (at most
 * once a second) when a new peer subscribes to the capacity topic, and provided in the DHT under each capability
 * class's CID so creators can find workers by class without gossip history.
 */
export class CapacityAnnouncer {
  readonly #components: CapacityAnnouncerComponents
  readonly #ttlMs: number
  #current: Capacity | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastPublishedAt = -Infinity
  #pendingRepublish: ReturnType<typeof setTimeout> | undefined
  #provideController: AbortController | undefined
  #stopped = false

  constructor(components: CapacityAnnouncerComponents, init: CapacityAnnouncerInit = {}) {
    this.#components = components
    this.#ttlMs = init.ttlMs ?? DEFAULT_CAPACITY_TTL_MS
    if (!(this.#ttlMs >= 1_000 && this.#ttlMs <= MAX_CAPACITY_RECORD_MS)) {
      throw new CoreError('CORE__INVALID_CONFIG', `capacity ttlMs must be in [1000, ${MAX_CAPACITY_RECORD_MS}]`, {
        ttlMs: this.#ttlMs,
      })
    }
  }

  /** The record being announced, or undefined before {@link announce} or after {@link withdraw}. */
  get current(): Capacity | undefined {
    return this.#current
  }

  get ttlMs(): number {
    return this.#ttlMs
  }

  /**
   * Starts (or updates) announcing `announcement`: validates it, publishes it now, re-publishes it before each
   * expiry, and provides its classes in the DHT in the background. Resolves with the record as published.
   */
  async announce(announcement: CapacityAnnouncement, options: AbortOptions = {}): Promise<Capacity> {
    const { self, clock } = this.#components
    const record = validateBody('capacity', {
      ...announcement,
      addrs: announcement.addrs ?? this.#components.addrs().slice(0, MAX_ADDRS),
      peer: self,
      issuedAt: Math.floor(clock.now()),
    })
    const previousClasses = new Set(this.#current?.classes ?? [])
    this.#current = record
    this.#stopped = false
    if (record.classes.some((c) => !previousClasses.has(c)) || this.#provideController === undefined) {
      this.#provideClasses(record.classes)
    }
    await this.republish(options)
    return record
  }

  /** Publishes the current record again with a fresh issue time (and a fresh envelope). */
  async republish(options: AbortOptions = {}): Promise<void> {
    const current = this.#current
    if (current === undefined || this.#stopped) return
    const record = { ...current, issuedAt: Math.floor(this.#components.clock.now()) }
    this.#current = record
    this.#lastPublishedAt = this.#components.clock.now()
    this.#schedule()
    await this.#components.publish({ type: 'capacity', body: record }, { ...options, ttlMs: this.#ttlMs })
  }

  /** Asks for a re-publish soon (a new peer joined the capacity topic), at most once per second. */
  requestRepublish(): void {
    if (this.#current === undefined || this.#stopped || this.#pendingRepublish !== undefined) return
    const wait = Math.max(0, this.#lastPublishedAt + CAPACITY_REANNOUNCE_MIN_GAP_MS - this.#components.clock.now())
    this.#pendingRepublish = setTimeout(() => {
      this.#pendingRepublish = undefined
      this.republish().catch((e) => this.#components.log('re-publishing capacity failed - %e', e))
    }, wait)
    this.#pendingRepublish.unref?.()
  }

  /**
   * Stops announcing and re-providing class records; peers drop the capacity record when it expires, and DHT class
   * records already stored expire on their own.
   */
  withdraw(): void {
    const classes = this.#current?.classes ?? []
    this.stop()
    this.#current = undefined
    const { cancelProvide, log } = this.#components
    if (cancelProvide === undefined) return
    for (const name of classes) {
      cancelProvide(classCid(name), {}).catch((e) => log('cancelling the class record %s failed - %e', name, e))
    }
  }

  /**
   * Announces the kept record again after a {@link stop} (the node started again): re-published now and before each
   * expiry, its classes provided again. Does nothing before {@link announce} or after {@link withdraw}.
   */
  resume(): void {
    const current = this.#current
    if (current === undefined) return
    this.#stopped = false
    this.#provideClasses(current.classes)
    this.republish().catch((e) => this.#components.log('re-publishing capacity failed - %e', e))
  }

  /** Stops re-publishing and providing (the record is kept for a later {@link announce} or {@link resume}). */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    clearTimeout(this.#pendingRepublish)
    this.#timer = undefined
    this.#pendingRepublish = undefined
    this.#provideController?.abort()
    this.#provideController = undefined
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.republish().catch((e) => this.#components.log('re-publishing capacity failed - %e', e))
    }, this.#ttlMs * CAPACITY_REPUBLISH_FRACTION)
    this.#timer.unref?.()
  }

  #provideClasses(classes: readonly string[]): void {
    this.#provideController?.abort()
    if (classes.length === 0) return
    const controller = new AbortController()
    this.#provideController = controller
    const { provide, log } = this.#components
    void (async () => {
      for (const wait of PROVIDE_RETRY_DELAYS_MS) {
        try {
          await delay(wait, controller.signal)
          const signal = withTimeout(controller.signal, DHT_QUERY_TIMEOUT_MS)
          await Promise.all(classes.map((name) => provide(classCid(name), { signal })))
          log('provided capability classes %s', classes.join(', '))
          return
        } catch (e) {
          if (controller.signal.aborted) return
          log('providing capability classes failed, will retry - %s', isCoreError(e) ? e.code : (e as Error).message)
        }
      }
    })()
  }
}
