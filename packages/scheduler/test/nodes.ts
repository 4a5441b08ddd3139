import {
  createNode,
  TOPICS,
  type CapacityAnnouncement,
  type NodeInit,
  type TesseraNode,
  type Topic,
} from '@tessera/core'
import { fixedPrice, type WorkerProfile } from '../src/index.js'
import { cpuWorkload, createScheduler, type SchedulerDriver, type TaskExecutor } from '../src/driver/index.js'

/** Real Tessera nodes on loopback, stopped together. */
export class LocalNetwork {
  readonly nodes: TesseraNode[] = []
  readonly drivers: SchedulerDriver[] = []

  async node(init: NodeInit = {}): Promise<TesseraNode> {
    const node = await createNode(init)
    this.nodes.push(node)
    return node
  }

  /** The first TCP multiaddr of `node`, to bootstrap from. */
  static tcpAddr(node: TesseraNode): string {
    const addr = node.getMultiaddrs().find((ma) => !ma.toString().includes('/ws'))
    if (addr === undefined) throw new Error('the node has no TCP address')
    return addr.toString()
  }

  /** Starts a worker scheduler on `node` that runs the CPU workload, and announces the matching capacity record. */
  async worker(
    node: TesseraNode,
    profile: WorkerProfile,
    price: bigint,
    options: { executor?: TaskExecutor; stake?: bigint; announce?: Partial<CapacityAnnouncement> } = {},
  ): Promise<SchedulerDriver> {
    const driver = createScheduler(
      { bus: node.bus, blobs: node.blobs },
      { creator: false, worker: { profile, pricing: fixedPrice(price), executor: options.executor ?? cpuWorkload() } },
    )
    this.drivers.push(driver)
    await node.capacity.announce(announcement(profile, price, options.stake ?? 100n, options.announce))
    return driver
  }

  async stop(): Promise<void> {
    for (const driver of this.drivers.splice(0)) driver.stop()
    await Promise.all(this.nodes.splice(0).map((n) => n.stop()))
  }
}

export function announcement(
  profile: WorkerProfile,
  price: bigint,
  stake: bigint,
  extra: Partial<CapacityAnnouncement> = {},
): CapacityAnnouncement {
  return {
    gpu: { vendor: 'cpu', architecture: 'x86_64', description: 'deterministic CPU workload', backend: 'cpu' },
    memoryMb: profile.memoryMb,
    features: [...profile.features],
    score: profile.score,
    price,
    tiers: [...profile.tiers],
    stake,
    classes: ['render/cpu'],
    slots: profile.slots,
    busy: 0,
    ...extra,
  }
}

/** True when `node` knows every peer in `peers` subscribes to `topic`. */
export function subscribed(node: TesseraNode, topic: Topic, peers: readonly TesseraNode[]): boolean {
  const subscribers = new Set(node.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString()))
  return peers.every((p) => subscribers.has(p.peerId.toString()))
}

/**
 * True when gossip can carry the market between `creator` and `workers`: the creator knows they take orders and
 * they know it takes bids.
 */
export function marketReady(creator: TesseraNode, workers: readonly TesseraNode[]): boolean {
  return subscribed(creator, TOPICS.orders, workers) && workers.every((w) => subscribed(w, TOPICS.bids, [creator]))
}

export { TOPICS }
