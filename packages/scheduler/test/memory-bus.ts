import { blobCid, type AbortOptions, type Inbound, type MessageBus, type Topic, type WireMessage } from '@tessera/core'
import type { OutputStore } from '../src/driver/index.js'

/** Envelope lifetime on the in-memory network. */
const TTL_MS = 60_000

/**
 * A tiny in-memory network for driver tests: every message is delivered on a later macrotask (as a real network
 * would), gossip to every other subscriber of the topic, direct messages to their addressee. Peers can be cut off.
 */
export class MemoryNetwork {
  readonly #buses = new Map<string, MemoryBus>()
  readonly #blobs = new Map<string, Map<string, Uint8Array>>()
  readonly cut = new Set<string>()
  /** Direct sends of these message types that fail at the sender, as many as each count says. */
  readonly failSends = new Map<WireMessage['type'], number>()

  bus(self: string): MemoryBus {
    const bus = new MemoryBus(self, this)
    this.#buses.set(self, bus)
    return bus
  }

  /** A peer's output store; fetching from a cut-off peer fails. */
  blobs(self: string): OutputStore {
    const held = new Map<string, Uint8Array>()
    this.#blobs.set(self, held)
    return {
      put: async (bytes) => {
        const cid = blobCid(bytes)
        held.set(cid.toString(), bytes)
        return cid
      },
      fetchFrom: async (peer, cid) => {
        const bytes = this.cut.has(peer) ? undefined : this.#blobs.get(peer)?.get(cid)
        if (bytes === undefined) throw new Error(`${peer} does not serve ${cid}`)
        return bytes
      },
    }
  }

  deliver(from: string, to: string | undefined, message: WireMessage, topic: Topic | undefined): void {
    if (this.cut.has(from)) return
    setImmediate(() => {
      for (const [peer, bus] of this.#buses) {
        if (peer === from || this.cut.has(peer)) continue
        if (to !== undefined ? peer !== to : topic === undefined || !bus.topics.has(topic)) continue
        const inbound: Inbound =
          topic === undefined
            ? { from, message, expiresAt: Date.now() + TTL_MS }
            : { from, message, topic, expiresAt: Date.now() + TTL_MS }
        bus.receive(inbound)
      }
    })
  }
}

export class MemoryBus implements MessageBus {
  readonly self: string
  readonly topics = new Set<Topic>()
  readonly #network: MemoryNetwork
  readonly #handlers = new Set<(inbound: Inbound) => void>()

  constructor(self: string, network: MemoryNetwork) {
    this.self = self
    this.#network = network
  }

  async publish(topic: Topic, message: WireMessage, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    this.#network.deliver(this.self, undefined, message, topic)
  }

  async send(to: string, message: WireMessage, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const failing = this.#network.failSends.get(message.type) ?? 0
    if (failing > 0) {
      this.#network.failSends.set(message.type, failing - 1)
      throw new Error(`the stream to ${to} was reset`)
    }
    this.#network.deliver(this.self, to, message, undefined)
  }

  subscribe(topic: Topic): void {
    this.topics.add(topic)
  }

  unsubscribe(topic: Topic): void {
    this.topics.delete(topic)
  }

  onMessage(handler: (inbound: Inbound) => void): () => void {
    this.#handlers.add(handler)
    return () => this.#handlers.delete(handler)
  }

  receive(inbound: Inbound): void {
    for (const handler of this.#handlers) handler(inbound)
  }
}

/** Polls `condition` until it holds: tests wait on conditions, never on time. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
