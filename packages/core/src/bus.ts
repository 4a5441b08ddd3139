import type { Topic } from './topics.js'
import type { WireMessage } from './wire/messages.js'

/** Options every async call accepts (libp2p's convention). */
export interface AbortOptions {
  signal?: AbortSignal
}

/** A verified message as the state machines see it. */
export interface Inbound {
  /** Peer id string of the verified signer. */
  from: string
  message: WireMessage
  /** The gossip topic it arrived on, or undefined for a direct message. */
  topic?: Topic
  /** When its envelope expires, ms. */
  expiresAt: number
  /** The envelope's sequence number (strictly increasing per signer), when the bus knows it. */
  seq?: bigint
  /** The signed envelope bytes, when the bus has them: a fraud proof carries the worker's signed Result. */
  envelope?: Uint8Array
}

/**
 * The seam between the sans-IO machines and the network. `@tessera/core` implements it over libp2p (signed
 * envelopes on gossipsub and direct streams); `@tessera/sim` implements it over a simulated network. Either way,
 * handlers receive only messages that passed validation.
 */
export interface MessageBus {
  /** This peer's id string. */
  readonly self: string
  /** Publishes to a gossip topic (all subscribers, eventually). */
  publish(topic: Topic, message: WireMessage, options?: AbortOptions): Promise<void>
  /** Sends to one peer over a direct stream. */
  send(to: string, message: WireMessage, options?: AbortOptions): Promise<void>
  /** Starts receiving a topic's messages. */
  subscribe(topic: Topic): void
  unsubscribe(topic: Topic): void
  /** Registers a handler for every accepted message (gossip and direct); returns a function that removes it. */
  onMessage(handler: (inbound: Inbound) => void): () => void
}
