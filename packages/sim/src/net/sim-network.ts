import { nextFloat, type Inbound, type Rng, type Topic, type WireMessage } from '@tessera/core'
import { DEFAULT_MESH_DEGREE, DEFAULT_MESSAGE_TTL_MS } from '../constants.js'
import { sampleDistinct } from '../engine/distributions.js'
import type { Simulation } from '../engine/simulation.js'
import type { NetworkModel } from './network-model.js'

/** A peer as the simulated network sees it. */
export interface SimEndpoint {
  readonly id: string
  readonly region: number
  /** The slower of its up- and downlink, Mbit/s. */
  readonly bandwidthMbps: number
  /** False once the peer left or crashed: nothing more is delivered to it. */
  alive: boolean
  /** Receives a verified message, as a MessageBus handler would. */
  deliver(inbound: Inbound, now: number): void
}

/** How the network model spreads a gossip publish: mesh fan-out and per-hop delay. */
export interface GossipConfig {
  /** Mesh degree D: a publish reaches everyone in about log_D(N) hops. @default 6 */
  meshDegree: number
  /** Mean delay each further hop adds (forwarding plus a typical link), ms. */
  hopDelayMs: number
  /**
   * At most this many subscribers (plus those a publish names as must-reach) receive one publish; 0 means all.
   * Gossipsub delivers to every subscriber, but at 100,000 peers that is 10^5 events per order: a researcher trades
   * fidelity for scale here, choosing how many peers a publish reaches within the time that matters.
   */
  audience: number
}

/** Why a message was not delivered. */
export type DropReason = 'loss' | 'partition' | 'offline' | 'unknown'

/** Counts of what the network carried. */
export interface NetworkStats {
  sent: number
  delivered: number
  bytes: number
  dropped: Record<DropReason, number>
}

interface Delivery {
  to: SimEndpoint
  inbound: Inbound
  stats: NetworkStats
}

interface Arrival {
  to: SimEndpoint
  arrive: (target: SimEndpoint, now: number) => void
  stats: NetworkStats
}

function arriveNow(a: Arrival, now: number): void {
  if (!a.to.alive) {
    a.stats.dropped.offline++
    return
  }
  a.stats.delivered++
  a.arrive(a.to, now)
}

function deliverNow(d: Delivery, now: number): void {
  if (!d.to.alive) {
    d.stats.dropped.offline++
    return
  }
  d.stats.delivered++
  d.to.deliver(d.inbound, now)
}

/**
 * Carries messages between simulated peers: direct sends pay one region-pair latency plus the transfer time;
 * gossip publishes reach live subscribers after a few mesh hops. The simulator does not forge: a message arrives
 * from the peer that sent it, as a verified envelope would.
 */
export class SimNetwork {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    bytes: 0,
    dropped: { loss: 0, partition: 0, offline: 0, unknown: 0 },
  }
  readonly #sim: Simulation
  readonly #model: NetworkModel
  readonly #gossip: GossipConfig
  readonly #rng: Rng
  readonly #peers = new Map<string, SimEndpoint>()
  readonly #subscribers = new Map<Topic, SimEndpoint[]>()
  readonly #position = new Map<Topic, Map<SimEndpoint, number>>()
  #hopCdfFor = -1
  #hopCdf: number[] = []
  readonly #ttlMs: number

  constructor(
    sim: Simulation,
    model: NetworkModel,
    gossip: Partial<GossipConfig> = {},
    ttlMs = DEFAULT_MESSAGE_TTL_MS,
  ) {
    this.#sim = sim
    this.#model = model
    this.#gossip = {
      meshDegree: gossip.meshDegree ?? DEFAULT_MESH_DEGREE,
      hopDelayMs: gossip.hopDelayMs ?? 0,
      audience: gossip.audience ?? 0,
    }
    this.#rng = sim.rng('network')
    this.#ttlMs = ttlMs
  }

  get model(): NetworkModel {
    return this.#model
  }

  /** Adds a peer. */
  add(peer: SimEndpoint): void {
    this.#peers.set(peer.id, peer)
  }

  /** Removes a peer and its subscriptions (it left or crashed). */
  remove(peer: SimEndpoint): void {
    peer.alive = false
    this.#peers.delete(peer.id)
    for (const topic of this.#subscribers.keys()) this.unsubscribe(peer, topic)
  }

  get(id: string): SimEndpoint | undefined {
    return this.#peers.get(id)
  }

  get size(): number {
    return this.#peers.size
  }

  subscribe(peer: SimEndpoint, topic: Topic): void {
    let list = this.#subscribers.get(topic)
    let pos = this.#position.get(topic)
    if (list === undefined || pos === undefined) {
      list = []
      pos = new Map()
      this.#subscribers.set(topic, list)
      this.#position.set(topic, pos)
    }
    if (pos.has(peer)) return
    pos.set(peer, list.length)
    list.push(peer)
  }

  unsubscribe(peer: SimEndpoint, topic: Topic): void {
    const list = this.#subscribers.get(topic)
    const pos = this.#position.get(topic)
    const i = pos?.get(peer)
    if (list === undefined || pos === undefined || i === undefined) return
    // Swap-remove keeps removal O(1); order changes, but deterministically.
    const last = list.pop() as SimEndpoint
    if (last !== peer) {
      list[i] = last
      pos.set(last, i)
    }
    pos.delete(peer)
  }

  /** Live subscribers of a topic. */
  subscribers(topic: Topic): readonly SimEndpoint[] {
    return this.#subscribers.get(topic) ?? []
  }

  /** Sends a message to one peer over a (modelled) direct stream. */
  send(from: SimEndpoint, to: string, message: WireMessage, bytes: number): void {
    const target = this.#route(from, to, bytes)
    if (target === undefined) return
    const now = this.#sim.now
    this.#sim.after(this.#directDelay(from, target, bytes), deliverNow, {
      to: target,
      inbound: { from: from.id, message, expiresAt: now + this.#ttlMs },
      stats: this.stats,
    })
  }

  /**
   * Carries something that is not a wire message (a forwarded envelope, a fraud proof) over a modelled direct
   * stream: same latency, loss and partitions as {@link send}; `arrive` runs at the target if it is still up.
   */
  transfer(from: SimEndpoint, to: string, bytes: number, arrive: (target: SimEndpoint, now: number) => void): void {
    const target = this.#route(from, to, bytes)
    if (target === undefined) return
    this.#sim.after(this.#directDelay(from, target, bytes), arriveNow, { to: target, arrive, stats: this.stats })
  }

  /** The live target of a direct message, or undefined (counted as dropped) when it cannot be reached now. */
  #route(from: SimEndpoint, to: string, bytes: number): SimEndpoint | undefined {
    this.stats.sent++
    this.stats.bytes += bytes
    const target = this.#peers.get(to)
    if (target === undefined) {
      this.#drop('unknown')
      return undefined
    }
    if (target === from) return target
    if (!this.#model.reachable(from.region, target.region, this.#sim.now)) {
      this.#drop('partition')
      return undefined
    }
    if (this.#model.lost(from.region, target.region)) {
      this.#drop('loss')
      return undefined
    }
    return target
  }

  #directDelay(from: SimEndpoint, to: SimEndpoint, bytes: number): number {
    if (to === from) return 0
    return (
      this.#model.latency(from.region, to.region) + this.#model.transferMs(bytes, from.bandwidthMbps, to.bandwidthMbps)
    )
  }

  /**
   * Publishes to a topic: every live subscriber but the sender receives it after a modelled number of mesh hops.
   * Past `audience` subscribers, only the `mustReach` peers that subscribe and a random sample of `sample` others
   * (default `audience`) receive it. A sample of 0 suits messages the others provably ignore: a creator refuses bids
   * for jobs it does not hold, so skipping them changes no machine's state.
   */
  publish(
    from: SimEndpoint,
    topic: Topic,
    message: WireMessage,
    bytes: number,
    mustReach?: readonly string[],
    sample?: number,
  ): void {
    const list = this.#subscribers.get(topic)
    if (list === undefined || list.length === 0) return
    const now = this.#sim.now
    const inbound: Inbound = { from: from.id, message, topic, expiresAt: now + this.#ttlMs }
    const audience = this.#gossip.audience
    if (audience === 0 || list.length <= audience + 1) {
      for (let i = 0; i < list.length; i++) this.#gossipTo(from, list[i] as SimEndpoint, inbound, bytes, list.length)
      return
    }
    const pos = this.#position.get(topic) as Map<SimEndpoint, number>
    const reached = new Set<SimEndpoint>()
    if (mustReach !== undefined) {
      for (const id of mustReach) {
        const peer = this.#peers.get(id)
        if (peer !== undefined && pos.has(peer) && !reached.has(peer)) {
          reached.add(peer)
          this.#gossipTo(from, peer, inbound, bytes, list.length)
        }
      }
    }
    const wanted = Math.min(sample ?? audience, audience)
    if (wanted <= 0) return
    // One extra draw covers the sender being drawn; peers already reached are not reached twice.
    let sampled = 0
    for (const i of sampleDistinct(this.#rng, list.length, wanted + 1)) {
      const peer = list[i] as SimEndpoint
      if (sampled === wanted) break
      if (peer === from || reached.has(peer)) continue
      sampled++
      this.#gossipTo(from, peer, inbound, bytes, list.length)
    }
  }

  #gossipTo(from: SimEndpoint, to: SimEndpoint, inbound: Inbound, bytes: number, meshSize: number): void {
    if (to === from) return
    this.stats.sent++
    this.stats.bytes += bytes
    const now = this.#sim.now
    if (!this.#model.reachable(from.region, to.region, now)) {
      this.#drop('partition')
      return
    }
    if (this.#model.gossipLost()) {
      this.#drop('loss')
      return
    }
    const hops = this.#hops(meshSize)
    const delay =
      this.#model.latency(from.region, to.region) +
      (hops - 1) * this.#gossip.hopDelayMs +
      this.#model.transferMs(bytes, from.bandwidthMbps, to.bandwidthMbps)
    this.#schedule(to, inbound, delay)
  }

  /**
   * Hops from publisher to one subscriber in a random D-regular mesh of `n` peers: the number of peers h hops away
   * grows as D^h until the mesh's other n - 1 peers are all reached, so hop h holds min(D^h, those left) of them.
   * Counted in integers, so that an exact power (216 = 6^3) needs no extra hop.
   */
  #hops(n: number): number {
    if (n !== this.#hopCdfFor) {
      const d = this.#gossip.meshDegree
      const others = Math.max(1, n - 1)
      const atHop: number[] = []
      for (let left = others, reach = d; left > 0; reach *= d) {
        const k = Math.min(reach, left)
        atHop.push(k)
        left -= k
      }
      let reached = 0
      this.#hopCdf = atHop.map((k) => (reached += k) / others)
      this.#hopCdfFor = n
    }
    const u = nextFloat(this.#rng)
    const cdf = this.#hopCdf
    for (let h = 0; h < cdf.length; h++) if (u < (cdf[h] as number)) return h + 1
    return cdf.length
  }

  #drop(reason: DropReason): void {
    this.stats.dropped[reason]++
  }

  #schedule(to: SimEndpoint, inbound: Inbound, delay: number): void {
    this.#sim.after(delay, deliverNow, { to, inbound, stats: this.stats })
  }
}
