import type { ComponentLogger, Libp2p, Logger, PeerId } from '@libp2p/interface'
import { throwIfAborted, withTimeout } from '../abort.js'
import type { AbortOptions, MessageBus } from '../bus.js'
import type { Clock } from '../clock.js'
import { DHT_QUERY_TIMEOUT_MS } from '../constants.js'
import { TOPICS } from '../topics.js'
import type { Capacity } from '../wire/capacity.js'
import type { PublishOptions } from '../node/libp2p-bus.js'
import type { GossipSub } from '../node/gossip.js'
import { CapacityAnnouncer, type CapacityAnnouncement, type CapacityAnnouncerInit } from './capacity-announcer.js'
import { CapacityView } from './capacity-view.js'
import type { ListenerErrorHandler } from '../listener-guard.js'
import { classCid } from './classes.js'

/** What the capacity service needs from its node: the bus, gossipsub, content routing and a clock. */
export interface CapacityServiceComponents {
  peerId: PeerId
  clock: Clock
  bus: Pick<MessageBus, 'subscribe' | 'onMessage'> & {
    publish(
      topic: typeof TOPICS.capacity,
      message: { type: 'capacity'; body: Capacity },
      options?: PublishOptions,
    ): Promise<void>
  }
  pubsub: Pick<GossipSub, 'addEventListener' | 'removeEventListener'>
  libp2p: Pick<Libp2p, 'contentRouting' | 'getMultiaddrs'>
  logger: ComponentLogger
}

/** Options of {@link CapacityService.findWorkers}. */
export interface FindWorkersOptions extends AbortOptions {
  /**
   * Stop after this many workers.
   * @default 20
   */
  limit?: number
}

/** Default number of workers {@link CapacityService.findWorkers} returns at most. */
const DEFAULT_FIND_WORKERS_LIMIT = 20

/** Options of {@link CapacityService}: the announcer's, and who hears of a view listener that threw. */
export interface CapacityServiceInit extends CapacityAnnouncerInit {
  /**
   * Told of a listener of the view that threw or rejected (see {@link ListenerGuard}).
   * @default logged
   */
  onListenerError?: ListenerErrorHandler
}

/**
 * The market's capacity as this node sees and shows it: a live {@link CapacityView} fed by the capacity topic, a
 * {@link CapacityAnnouncer} for this node's own record, and DHT lookups of workers by capability class.
 */
export class CapacityService {
  readonly view: CapacityView
  readonly announcer: CapacityAnnouncer
  readonly #components: CapacityServiceComponents
  readonly #log: Logger
  #unsubscribe: (() => void) | undefined
  readonly #onSubscriptionChange: (
    event: CustomEvent<{ subscriptions: Array<{ topic: string; subscribe: boolean }> }>,
  ) => void

  constructor(components: CapacityServiceComponents, init: CapacityServiceInit = {}) {
    this.#components = components
    const self = components.peerId.toString()
    const log = components.logger.forComponent('tessera:core:capacity')
    this.#log = log
    const onListenerError =
      init.onListenerError ??
      ((error: unknown, event: Event) => log.error('a listener of %s threw - %e', event.type, error))
    this.view = new CapacityView({ clock: components.clock, self, onListenerError })
    this.announcer = new CapacityAnnouncer(
      {
        self,
        clock: components.clock,
        publish: (message, options) => components.bus.publish(TOPICS.capacity, message, options),
        provide: (cid, options) => components.libp2p.contentRouting.provide(cid, options),
        cancelProvide: (cid, options) => components.libp2p.contentRouting.cancelReprovide(cid, options),
        addrs: () => components.libp2p.getMultiaddrs().map((ma) => ma.toString()),
        log,
      },
      init,
    )
    // A peer that joins the capacity topic has missed every record published so far: show it ours soon.
    this.#onSubscriptionChange = (event) => {
      if (event.detail.subscriptions.some((s) => s.topic === TOPICS.capacity && s.subscribe))
        this.announcer.requestRepublish()
    }
  }

  /**
   * Subscribes to the capacity topic, starts the view's expiry timer, and announces again the record announced before
   * a {@link stop}. Idempotent.
   */
  start(): void {
    if (this.#unsubscribe !== undefined) return
    const { bus, pubsub } = this.#components
    this.#unsubscribe = bus.onMessage((inbound) => this.view.offer(inbound))
    bus.subscribe(TOPICS.capacity)
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.view.start()
    this.announcer.resume()
  }

  /** Stops the view and the announcer, which keeps its record for the next {@link start}. */
  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#components.pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    this.view.stop()
    this.announcer.stop()
  }

  /** Announces this node's capacity (see {@link CapacityAnnouncer.announce}). */
  async announce(announcement: CapacityAnnouncement, options: AbortOptions = {}): Promise<Capacity> {
    return this.announcer.announce(announcement, options)
  }

  /** Stops announcing; peers drop our record when it expires. */
  withdraw(): void {
    this.announcer.withdraw()
  }

  /**
   * Peer ids of workers that provide capability class `className` in the DHT (not this node), found without any
   * gossip history.
   */
  async findWorkers(className: string, options: FindWorkersOptions = {}): Promise<string[]> {
    const cid = classCid(className)
    const self = this.#components.peerId
    const limit = options.limit ?? DEFAULT_FIND_WORKERS_LIMIT
    const found = new Set<string>()
    const controller = new AbortController()
    const signal = AbortSignal.any([withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS), controller.signal])
    try {
      for await (const provider of this.#components.libp2p.contentRouting.findProviders(cid, { signal })) {
        if (!provider.id.equals(self)) found.add(provider.id.toString())
        if (found.size >= limit) break
      }
    } catch (e) {
      throwIfAborted(options.signal)
      // A query that timed out or ran out of peers still found what it found.
      this.#log('finding workers of class %s ended early - %e', className, e)
    } finally {
      controller.abort()
    }
    return [...found]
  }
}
