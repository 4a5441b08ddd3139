import { MemoryDatastore } from 'datastore-core'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify, type Identify } from '@libp2p/identify'
import { type ComponentLogger, type Logger, type PeerId, type PeerInfo } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { prefixLogger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { delay, raceSignal, throwIfAborted, withTimeout } from '../abort.js'
import { BlobService } from '../blob/blob-service.js'
import { MemoryBlobstore } from '../blob/blobstore.js'
import type { AbortOptions, Inbound } from '../bus.js'
import type { CapacityRecord } from '../capacity/capacity-view.js'
import { CapacityService } from '../capacity/capacity-service.js'
import { systemClock, type Clock } from '../clock.js'
import {
  BOOTSTRAP_DIAL_DELAY_MS,
  DHT_QUERY_TIMEOUT_MS,
  JOIN_LOOKUP_FIRST_PAUSE_MS,
  JOIN_LOOKUP_MAX_PAUSE_MS,
  JOIN_LOOKUPS_MAX,
  JOIN_LOOKUPS_MIN,
  LOCAL_INBOUND_CONNECTION_THRESHOLD,
  LOCAL_MAX_INCOMING_PENDING_CONNECTIONS,
  MAX_PROVIDER_RECORDS,
  MAX_PROVIDER_RECORDS_PER_PEER,
  PING_MAX_STREAMS,
} from '../constants.js'
import { CoreError } from '../errors.js'
import { generateIdentity, type Identity } from '../identity.js'
import { GuardedEventEmitter } from '../listener-guard.js'
import { ReplayGuard } from '../replay.js'
import { DHT_PROTOCOL_PREFIX, type Topic } from '../topics.js'
import { asScored, tesseraGossipsub, type GossipSub, type ScoredGossipSub } from './gossip.js'
import { Libp2pMessageBus, type RejectedMessage } from './libp2p-bus.js'
import { withProviderQuota } from './provider-quota.js'
import { refuseValueRecords, withoutValueRecords } from './dht-records.js'
import { PeerPenalties } from './peer-penalties.js'
import { resolveNodeInit, type NodeInit, type ResolvedNodeInit } from './node-init.js'

/** The kad-dht protocol id: Tessera's DHT is separate from the public IPFS one. */
export const DHT_PROTOCOL = `${DHT_PROTOCOL_PREFIX}/kad/1.0.0`

/** The libp2p services every Tessera node runs. */
export interface TesseraServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

/** A peer found by discovery (bootstrap list or DHT). */
export interface PeerDiscovered {
  peer: string
  addrs: string[]
}

/** A listener of a node's event threw, or its promise rejected. */
export interface ListenerFailure {
  /** The event the listener was given. */
  event: string
  error: unknown
}

/** The node's typed events, named `noun:verb`. */
export interface NodeEvents {
  'node:started': CustomEvent<undefined>
  'node:stopped': CustomEvent<undefined>
  'peer:discovered': CustomEvent<PeerDiscovered>
  'peer:connected': CustomEvent<string>
  'peer:disconnected': CustomEvent<string>
  /** A message passed validation and was handed to the bus's handlers. */
  'message:received': CustomEvent<Inbound>
  /** A validator turned a message away (and, when `penalised`, gossipsub lowered the sender's score). */
  'message:rejected': CustomEvent<RejectedMessage>
  'capacity:updated': CustomEvent<CapacityRecord>
  'capacity:expired': CustomEvent<CapacityRecord>
  /**
   * A listener of another event threw (or its promise rejected): caught, so it does not end the process, and logged.
   * An error in a listener of this event is only logged.
   */
  'listener:failed': CustomEvent<ListenerFailure>
}

/** Where a node is in its lifecycle; `start` and `stop` move it through these. */
export type NodeStatus = 'stopped' | 'starting' | 'started' | 'stopping'

/** kad-dht's implementation exposes its routing table; the public interface does not. */
interface RoutingTableView {
  routingTable: { size: number; kb: { toIterable(): Iterable<{ peerId: PeerId }> } }
}

function hasRoutingTable(dht: unknown): dht is RoutingTableView {
  return typeof (dht as Partial<RoutingTableView>).routingTable?.kb?.toIterable === 'function'
}

/**
 * A Tessera peer: libp2p over TCP and WebSockets (noise, yamux, identify, ping), kad-dht under `/tessera`, gossipsub
 * with peer scoring, the signed-envelope {@link Libp2pMessageBus}, the market's capacity view and announcer, and
 * CID blob transfer. Create it with {@link createNode}.
 */
export class TesseraNode extends GuardedEventEmitter<NodeEvents> {
  readonly identity: Identity
  readonly peerId: PeerId
  readonly clock: Clock
  readonly config: Readonly<ResolvedNodeInit>
  readonly logger: ComponentLogger
  /** The libp2p node, for metrics, dialling and protocols of your own. */
  readonly libp2p: Libp2p<TesseraServices>
  /** Signed messages: gossip topics and direct `/tessera/task/1` streams. */
  readonly bus: Libp2pMessageBus
  /** The market's capacity: the live view, this node's announcer, DHT lookups by class. */
  readonly capacity: CapacityService
  /** CID-addressed blobs: store, serve, provide, fetch. */
  readonly blobs: BlobService
  readonly #log: Logger
  readonly #pubsub: ScoredGossipSub
  #status: NodeStatus = 'stopped'
  #transition: Promise<void> | undefined
  #lifetime: AbortController | undefined
  #joinScheduled = false
  readonly #dialling = new Set<string>()

  /** @internal use {@link createNode} */
  constructor(
    identity: Identity,
    clock: Clock,
    config: ResolvedNodeInit,
    libp2p: Libp2p<TesseraServices>,
    init: NodeInit,
    logger: ComponentLogger,
    penalties: PeerPenalties,
  ) {
    // Listeners of the node and of its capacity view: one that throws is logged and reported as `listener:failed`.
    super((error, event) => this.#listenerFailed(error, event))
    this.identity = identity
    this.peerId = identity.peerId
    this.clock = clock
    this.config = Object.freeze(config)
    this.logger = logger
    this.libp2p = libp2p
    this.#log = logger.forComponent('tessera:core:node')
    this.#pubsub = asScored(libp2p.services.pubsub)
    this.bus = new Libp2pMessageBus(
      { signer: identity, peerId: identity.peerId, clock, pubsub: this.#pubsub, libp2p, logger },
      {
        replay: new ReplayGuard(),
        penalties,
        maxInboundDirectBytes: config.maxInboundDirectBytes,
        observer: {
          received: (inbound) => this.safeDispatchEvent('message:received', { detail: inbound }),
          rejected: (rejected) => this.safeDispatchEvent('message:rejected', { detail: rejected }),
        },
      },
    )
    this.capacity = new CapacityService(
      { peerId: identity.peerId, clock, bus: this.bus, pubsub: this.#pubsub, libp2p, logger },
      { ttlMs: config.capacityTtlMs, onListenerError: (error, event) => this.#listenerFailed(error, event) },
    )
    this.capacity.view.addEventListener('capacity:updated', (e) =>
      this.safeDispatchEvent('capacity:updated', { detail: e.detail }),
    )
    this.capacity.view.addEventListener('capacity:expired', (e) =>
      this.safeDispatchEvent('capacity:expired', { detail: e.detail }),
    )
    this.blobs = new BlobService(
      { peerId: identity.peerId, libp2p, store: init.blobstore ?? new MemoryBlobstore(), logger },
      {
        maxBlobBytes: config.maxBlobBytes,
        maxFetchingBytes: config.maxFetchingBytes,
        maxServesPerPeer: config.maxServesPerPeer,
        maxServes: config.maxServes,
        minFetchBytesPerSecond: config.minBlobFetchBytesPerSecond,
        fetchGraceMs: config.blobFetchGraceMs,
        chunkBytes: config.blobChunkBytes,
        access: init.blobAccess,
      },
    )
  }

  get status(): NodeStatus {
    return this.#status
  }

  #listenerFailed(error: unknown, event: Event): void {
    this.#log.error('a listener of %s threw - %e', event.type, error)
    if (event.type !== 'listener:failed')
      this.safeDispatchEvent('listener:failed', { detail: { event: event.type, error } })
  }

  /**
   * Starts libp2p and every service. Idempotent: concurrent and repeated calls share one start, and a call made while
   * the node stops waits for the stop, then starts it (or joins the start another waiting call began). A start that
   * fails or is aborted stops whatever part of it ran, and leaves the node stopped; a call that joined another's start
   * and is aborted only stops waiting for it (`CORE__ABORTED`).
   */
  async start(options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    for (;;) {
      if (this.#status === 'started') return
      if (this.#status === 'stopped') break
      const transition = this.#transition!
      // A call that joins another's start (or waits for a stop) stops waiting when its own signal fires; the start it
      // joined goes on for the call that began it.
      if (this.#status === 'starting') return raceSignal(transition, options.signal)
      // Stopping: once it is done, look again, as another waiting call may have started the node meanwhile.
      await raceSignal(
        transition.catch(() => {}),
        options.signal,
      )
    }
    this.#transition = this.#runStart(options)
    return this.#transition
  }

  /**
   * Stops every service and libp2p. Idempotent: concurrent and repeated calls share one stop, and a call made while
   * the node starts waits for the start, then stops it (or joins the stop another waiting call began).
   */
  async stop(options: AbortOptions = {}): Promise<void> {
    for (;;) {
      if (this.#status === 'stopped') return
      if (this.#status === 'started') break
      const transition = this.#transition!
      if (this.#status === 'stopping') return transition
      // Starting: once it is done (or failed), look again, as another waiting call may have stopped the node.
      await transition.catch(() => {})
    }
    this.#transition = this.#runStop(options)
    return this.#transition
  }

  /** The addresses peers can dial, each ending in `/p2p/<peer id>`. */
  getMultiaddrs(): Multiaddr[] {
    return this.libp2p.getMultiaddrs()
  }

  /** Dials a peer by multiaddr (string or object) or peer id. */
  async dial(target: string | Multiaddr | PeerId, options: AbortOptions = {}): Promise<void> {
    let resolved: Multiaddr | PeerId
    try {
      resolved =
        typeof target === 'string' ? (target.startsWith('/') ? multiaddr(target) : peerIdFromString(target)) : target
    } catch (cause) {
      throw new CoreError(
        'CORE__INVALID_CONFIG',
        `${target.toString()} is neither a multiaddr nor a peer id`,
        {},
        { cause },
      )
    }
    try {
      await this.libp2p.dial(resolved, { signal: withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS) })
    } catch (cause) {
      throwIfAborted(options.signal)
      throw new CoreError(
        'CORE__PEER_UNREACHABLE',
        `could not dial ${target.toString()}`,
        { target: target.toString() },
        { cause },
      )
    }
  }

  /** Gossipsub's current score of `peer` (a peer id string): negative after invalid messages. */
  gossipScore(peer: string): number {
    return this.#pubsub.getScore(peer)
  }

  /** Peers in this node's gossipsub mesh for `topic`. */
  meshPeers(topic: Topic): string[] {
    return this.#pubsub.getMeshPeers(topic)
  }

  /** Peer id strings in the DHT routing table. */
  routingTable(): string[] {
    const dht: unknown = this.libp2p.services.dht
    if (!hasRoutingTable(dht)) return []
    return [...dht.routingTable.kb.toIterable()].map((p) => p.peerId.toString())
  }

  /** Looks this node up in the DHT, which fills the routing table with its neighbourhood. */
  async selfLookup(options: AbortOptions = {}): Promise<void> {
    const signal = withTimeout(options.signal, DHT_QUERY_TIMEOUT_MS)
    try {
      for await (const event of this.libp2p.services.dht.getClosestPeers(this.peerId.toMultihash().bytes, { signal })) {
        void event
      }
    } catch (e) {
      // kad-dht rejects with the signal's own reason: the caller aborted, and is told so as every call tells it.
      throwIfAborted(options.signal)
      throw e
    }
  }

  /** One start transition; the status says `starting` until it has started, or undone what it had started. */
  async #runStart(options: AbortOptions): Promise<void> {
    this.#status = 'starting'
    try {
      await this.#start(options)
    } catch (e) {
      await this.#stop({}).catch((cause) => this.#log('stopping after a failed start - %e', cause))
      this.#status = 'stopped'
      this.#transition = undefined
      // Whatever a step threw when the signal fired (libp2p's own abort errors among them), the caller aborted.
      throwIfAborted(options.signal)
      throw e
    }
    this.#status = 'started'
    this.#transition = undefined
    this.safeDispatchEvent('node:started', { detail: undefined })
  }

  /** One stop transition; the node is stopped after it, even when a step failed. */
  async #runStop(options: AbortOptions): Promise<void> {
    this.#status = 'stopping'
    try {
      await this.#stop(options)
    } finally {
      this.#status = 'stopped'
      this.#transition = undefined
    }
    this.safeDispatchEvent('node:stopped', { detail: undefined })
  }

  async #start(options: AbortOptions): Promise<void> {
    this.#lifetime = new AbortController()
    this.libp2p.addEventListener('peer:connect', this.#onPeerConnect)
    this.libp2p.addEventListener('peer:disconnect', this.#onPeerDisconnect)
    this.libp2p.addEventListener('peer:discovery', this.#onPeerDiscovery)
    // libp2p.start takes no signal: check between the steps instead.
    await this.libp2p.start()
    throwIfAborted(options.signal)
    if (this.config.dhtMode !== 'auto')
      await this.libp2p.services.dht.setMode(this.config.dhtMode, { ...options, force: true })
    throwIfAborted(options.signal)
    await this.bus.start(options)
    throwIfAborted(options.signal)
    await this.blobs.start(options)
    throwIfAborted(options.signal)
    this.capacity.start()
    this.#log('started %p on %s', this.peerId, this.getMultiaddrs().join(', '))
  }

  async #stop(options: AbortOptions): Promise<void> {
    this.#lifetime?.abort()
    this.#lifetime = undefined
    this.#joinScheduled = false
    this.libp2p.removeEventListener('peer:connect', this.#onPeerConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.#onPeerDisconnect)
    this.libp2p.removeEventListener('peer:discovery', this.#onPeerDiscovery)
    this.capacity.stop()
    await this.blobs.stop(options).catch((e) => this.#log('stopping blobs - %e', e))
    await this.bus.stop(options).catch((e) => this.#log('stopping the bus - %e', e))
    await this.libp2p.stop()
  }

  readonly #onPeerConnect = (event: CustomEvent<PeerId>): void => {
    this.safeDispatchEvent('peer:connected', { detail: event.detail.toString() })
    this.#scheduleJoinLookups()
  }

  readonly #onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    this.safeDispatchEvent('peer:disconnected', { detail: event.detail.toString() })
  }

  /** Dials peers that discovery found while the node has fewer connections than it wants. */
  readonly #onPeerDiscovery = (event: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = event.detail
    const peer = id.toString()
    this.safeDispatchEvent('peer:discovered', { detail: { peer, addrs: multiaddrs.map((m) => m.toString()) } })
    const signal = this.#lifetime?.signal
    if (signal === undefined || id.equals(this.peerId) || this.#dialling.has(peer)) return
    if (this.libp2p.getConnections(id).length > 0 || this.libp2p.getConnections().length >= this.config.minConnections)
      return
    this.#dialling.add(peer)
    this.libp2p
      .dial(id, { signal: withTimeout(signal, DHT_QUERY_TIMEOUT_MS) })
      .catch((e) => this.#log('dialling discovered peer %s failed - %e', peer, e))
      .finally(() => this.#dialling.delete(peer))
  }

  /**
   * After the first connection, look ourselves up until the routing table stops growing (PROBES.md: kad-dht does so
   * only at start and every few minutes, which leaves late joiners with tiny routing tables). Each lookup also tells
   * the peers it asks about us, so earlier joiners learn of later ones.
   */
  #scheduleJoinLookups(): void {
    if (this.#joinScheduled) return
    this.#joinScheduled = true
    void this.#runJoinLookups()
  }

  async #runJoinLookups(): Promise<void> {
    const signal = this.#lifetime?.signal
    if (signal === undefined) return
    let pause = 0
    for (let lookups = 1; lookups <= JOIN_LOOKUPS_MAX && !signal.aborted; lookups++) {
      const before = this.routingTable().length
      try {
        await delay(pause, signal)
        await this.selfLookup({ signal })
      } catch (e) {
        if (signal.aborted) return
        this.#log('self-lookup failed - %e', e)
      }
      const after = this.routingTable().length
      this.#log('self-lookup %d: %d peers in the routing table', lookups, after)
      if (after <= before && lookups >= JOIN_LOOKUPS_MIN) return
      pause = Math.min(Math.max(pause * 2, JOIN_LOOKUP_FIRST_PAUSE_MS), JOIN_LOOKUP_MAX_PAUSE_MS)
    }
  }
}

/**
 * Creates (and, unless `start: false`, starts) a Tessera node. Every option is optional: with none, the node listens
 * on loopback TCP and WebSockets with a fresh in-memory identity and an empty bootstrap list. When `options.signal`
 * aborts before the node is returned, whatever was started is stopped and the call rejects with an AbortError.
 *
 * @example
 * ```ts
 * const node = await createNode({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'] })
 * const seen: string[] = []
 * node.bus.subscribe(TOPICS.orders)
 * node.bus.onMessage(({ from, message }) => seen.push(`${from}: ${message.type}`))
 * const cid = await node.blobs.put(new TextEncoder().encode('scene'))
 * await node.stop()
 * ```
 */
export async function createNode(init: NodeInit = {}, options: AbortOptions = {}): Promise<TesseraNode> {
  throwIfAborted(options.signal)
  const config = resolveNodeInit(init)
  const identity = init.identity ?? (await generateIdentity())
  throwIfAborted(options.signal)
  const clock = init.clock ?? systemClock
  const logger = prefixLogger(init.logPrefix ?? identity.peerId.toString().slice(-6))
  const penalties = new PeerPenalties(clock)
  const libp2pOptions: Libp2pOptions<TesseraServices> = {
    start: false,
    privateKey: identity.privateKey,
    logger,
    addresses: { listen: config.listen, ...(config.announce === undefined ? {} : { announce: config.announce }) },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery:
      config.bootstrap.length > 0 ? [bootstrap({ list: config.bootstrap, timeout: BOOTSTRAP_DIAL_DELAY_MS })] : [],
    connectionManager: {
      maxConnections: config.maxConnections,
      // Every loopback peer shares one host: libp2p's per-host limits would refuse most of a local network.
      ...(config.localNetwork
        ? {
            inboundConnectionThreshold: LOCAL_INBOUND_CONNECTION_THRESHOLD,
            maxIncomingPendingConnections: LOCAL_MAX_INCOMING_PENDING_CONNECTIONS,
          }
        : {}),
    },
    services: {
      identify: identify(),
      // kad-dht needs the ping service to check its contacts. libp2p's connection monitor pings every connection
      // too; with ping's default of one outbound stream per connection the two collide, the monitor's ping fails
      // with TooManyOutboundProtocolStreams and it aborts a healthy connection (seen in the gossip benchmark).
      ping: ping({ maxOutboundStreams: PING_MAX_STREAMS, maxInboundStreams: PING_MAX_STREAMS }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // The default mapper drops private and loopback addresses, which leaves a local network with nothing to dial.
        peerInfoMapper: config.localNetwork ? passthroughMapper : removePrivateAddressesMapper,
        ...(config.dhtMode === 'auto' ? {} : { clientMode: config.dhtMode === 'client' }),
        validators: refuseValueRecords,
      }),
      pubsub: tesseraGossipsub({
        localNetwork: config.localNetwork,
        ipColocationThreshold: config.ipColocationThreshold,
        seenTtlMs: config.seenTtlMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        appSpecificScore: (peer) => config.appSpecificScore(peer) + penalties.score(peer),
        debugName: 'tessera:gossipsub',
      }),
    },
    datastore: await withProviderQuota(
      await withoutValueRecords(init.datastore ?? new MemoryDatastore(), options),
      { perPeer: MAX_PROVIDER_RECORDS_PER_PEER, total: MAX_PROVIDER_RECORDS, self: identity.peerId.toString() },
      options,
    ),
    ...(init.metrics === undefined ? {} : { metrics: init.metrics }),
  }
  let libp2p: Libp2p<TesseraServices>
  try {
    libp2p = await createLibp2p(libp2pOptions)
  } catch (cause) {
    throw new CoreError(
      'CORE__INVALID_CONFIG',
      `libp2p refused the configuration: ${(cause as Error).message}`,
      {},
      { cause },
    )
  }
  // Not started yet, libp2p holds nothing that needs stopping.
  throwIfAborted(options.signal)
  const node = new TesseraNode(identity, clock, config, libp2p, init, logger, penalties)
  if (init.start !== false) await node.start(options)
  return node
}
