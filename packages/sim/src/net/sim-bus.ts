import {
  AbortError,
  type AbortOptions,
  type Inbound,
  type MessageBus,
  type Topic,
  type WireMessage,
} from '@tessera/core'
import { SimError } from '../errors.js'
import { messageBytes } from './message-size.js'
import type { SimEndpoint, SimNetwork } from './sim-network.js'

/** Options of a {@link SimBus}: the peer's id, region and link bandwidth. */
export interface SimBusInit {
  id: string
  /** Index into the network model's regions. */
  region: number
  /** @default 100 */
  bandwidthMbps?: number
}

/**
 * core's {@link MessageBus} over the simulated network: the same seam the node implements over libp2p. Handlers
 * receive `Inbound` messages whose `from` is the true sender (the simulator does not forge, so there is nothing
 * to verify).
 */
export class SimBus implements MessageBus, SimEndpoint {
  readonly self: string
  readonly id: string
  readonly region: number
  readonly bandwidthMbps: number
  alive = true
  readonly #network: SimNetwork
  readonly #handlers = new Set<(inbound: Inbound) => void>()

  constructor(network: SimNetwork, init: SimBusInit) {
    this.#network = network
    this.self = init.id
    this.id = init.id
    this.region = init.region
    this.bandwidthMbps = init.bandwidthMbps ?? 100
    network.add(this)
  }

  async publish(topic: Topic, message: WireMessage, options: AbortOptions = {}): Promise<void> {
    this.#check(options)
    this.#network.publish(this, topic, message, messageBytes(message))
  }

  async send(to: string, message: WireMessage, options: AbortOptions = {}): Promise<void> {
    this.#check(options)
    this.#network.send(this, to, message, messageBytes(message))
  }

  subscribe(topic: Topic): void {
    this.#network.subscribe(this, topic)
  }

  unsubscribe(topic: Topic): void {
    this.#network.unsubscribe(this, topic)
  }

  onMessage(handler: (inbound: Inbound) => void): () => void {
    this.#handlers.add(handler)
    return () => this.#handlers.delete(handler)
  }

  deliver(inbound: Inbound): void {
    for (const handler of this.#handlers) handler(inbound)
  }

  /** Takes the peer off the network (a crash or a leave). */
  stop(): void {
    this.#network.remove(this)
  }

  #check(options: AbortOptions): void {
    if (options.signal?.aborted === true) throw new AbortError('the send was aborted', { peer: this.id })
    if (!this.alive)
      throw new SimError('SIM__PEER_NOT_FOUND', `peer ${this.id} has left the network`, { peer: this.id })
  }
}
