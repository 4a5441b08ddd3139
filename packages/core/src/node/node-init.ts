import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2pInit } from 'libp2p'
import type { BlobAccessHook } from '../blob/blob-protocol.js'
import type { Blobstore } from '../blob/blobstore.js'
import type { Clock } from '../clock.js'
import {
  BLOB_CHUNK_BYTES,
  BLOB_FETCH_GRACE_MS,
  BLOB_MIN_FETCH_BYTES_PER_SECOND,
  DEFAULT_CAPACITY_TTL_MS,
  DEFAULT_IP_COLOCATION_THRESHOLD,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_MAX_BLOB_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FETCHING_BYTES,
  MAX_INBOUND_DIRECT_BYTES,
  MAX_SERVES,
  MAX_SERVES_PER_PEER,
  DEFAULT_MIN_CONNECTIONS,
  GOSSIP_HEARTBEAT_INTERVAL_MS,
  GOSSIP_SEEN_TTL_MS,
} from '../constants.js'
import { CoreError } from '../errors.js'
import { multiaddrProblem } from './address-problem.js'
import type { Identity } from '../identity.js'

/** How this node takes part in the DHT. */
export type DhtMode = 'server' | 'client' | 'auto'

/** Everything `createNode` accepts. Every option is optional. */
export interface NodeInit {
  /**
   * The node's key and peer id (see `loadOrCreateIdentity` for one kept on disk).
   * @default a fresh identity, generated in memory
   */
  identity?: Identity
  /**
   * Source of time for envelope expiry, sequence numbers and capacity records.
   * @default systemClock
   */
  clock?: Clock
  /**
   * Prefix for this node's log lines (`DEBUG=tessera:*,libp2p:*`), so many nodes in one process can be told apart.
   * @default the last 6 characters of the peer id
   */
  logPrefix?: string
  /**
   * Multiaddrs to listen on (TCP and WebSockets transports are loaded).
   * @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
   */
  listen?: string[]
  /**
   * Multiaddrs to announce instead of the listening ones (e.g. behind a port forward).
   * @default the listening addresses
   */
  announce?: string[]
  /**
   * Bootstrap peers, as multiaddrs ending in `/p2p/<peer id>`; dialled right after start.
   * @default [] (a lone node, or one that is dialled by others)
   */
  bootstrap?: string[]
  /**
   * The node runs on a local network (loopback or one LAN), where every peer may share an IP address. This turns
   * off gossipsub's IP-colocation penalty (which graylisted every loopback peer in our probes), keeps private
   * addresses in DHT records (`passthroughMapper`), runs the DHT in server mode and raises libp2p's per-host inbound
   * connection limits. Leave it false on public networks, where several identities behind one IP are a Sybil signal.
   * @default true when every listen and announce address is loopback or private (the default listen addresses
   * are), else false; a wildcard listen address (0.0.0.0, ::) counts as public
   */
  localNetwork?: boolean
  /**
   * DHT participation: `server` answers queries and stores records, `client` only asks, `auto` becomes a server
   * once libp2p sees a public address.
   * @default 'server' on local networks, 'auto' otherwise
   */
  dhtMode?: DhtMode
  /**
   * On public networks, peers sharing one IP address before the IP-colocation penalty applies.
   * @default DEFAULT_IP_COLOCATION_THRESHOLD (10)
   */
  ipColocationThreshold?: number
  /**
   * Application-specific gossipsub score per peer id (reputation); weighted 1.
   * @default () => 0
   */
  appSpecificScore?: (peerId: string) => number
  /**
   * How long gossipsub remembers message ids; within it a re-sent message is a duplicate and never reaches the
   * validators, after it the replay guard drops it (Ignore: the relay is not penalised).
   * @default GOSSIP_SEEN_TTL_MS (15.5 minutes, the longest the replay guard holds an entry)
   */
  seenTtlMs?: number
  /**
   * Gossipsub heartbeat interval.
   * @default GOSSIP_HEARTBEAT_INTERVAL_MS (700 ms)
   */
  heartbeatIntervalMs?: number
  /**
   * The node dials peers found by discovery (bootstrap, DHT) while it has fewer connections.
   * @default DEFAULT_MIN_CONNECTIONS (8)
   */
  minConnections?: number
  /**
   * Connections kept at most.
   * @default DEFAULT_MAX_CONNECTIONS (300)
   */
  maxConnections?: number
  /**
   * Lifetime of this node's capacity records (re-published after half of it).
   * @default DEFAULT_CAPACITY_TTL_MS (2 minutes)
   */
  capacityTtlMs?: number
  /**
   * Where blobs are kept (`FsBlobstore` for a directory on disk).
   * @default a MemoryBlobstore
   */
  blobstore?: Blobstore
  /**
   * Largest blob stored, served or fetched.
   * @default DEFAULT_MAX_BLOB_BYTES (1 GiB)
   */
  maxBlobBytes?: number
  /**
   * Bytes of blobs being fetched at once, all fetches together; a fetch that would pass it waits its turn. Fetches
   * from one provider hold at most half of it (or one blob however large).
   * @default DEFAULT_MAX_FETCHING_BYTES (2 GiB)
   */
  maxFetchingBytes?: number
  /**
   * Blobs served at once to one peer; a request past it is answered `busy` (fetchers ask again).
   * @default MAX_SERVES_PER_PEER (4)
   */
  maxServesPerPeer?: number
  /**
   * Blobs served at once to all peers together.
   * @default MAX_SERVES (64)
   */
  maxServes?: number
  /**
   * Slowest blob fetch accepted, on average since the provider's header, once `blobFetchGraceMs` is spent: a slower
   * provider is abandoned with `CORE__BLOB_DEADLINE_EXCEEDED` and the room its blob held is given back.
   * @default BLOB_MIN_FETCH_BYTES_PER_SECOND (256 KiB/s)
   */
  minBlobFetchBytesPerSecond?: number
  /**
   * Time a blob fetch has on top of what its bytes earn at `minBlobFetchBytesPerSecond`.
   * @default BLOB_FETCH_GRACE_MS (30 s)
   */
  blobFetchGraceMs?: number
  /**
   * Bytes of direct messages read at once, all peers together (one peer may hold a quarter); a message that does
   * not fit is refused with `CORE__PEER_BUSY` before its bytes are buffered.
   * @default MAX_INBOUND_DIRECT_BYTES (256 MiB)
   */
  maxInboundDirectBytes?: number
  /**
   * Blob data frame size when serving.
   * @default BLOB_CHUNK_BYTES (256 KiB)
   */
  blobChunkBytes?: number
  /**
   * Who may fetch which blob from this node (also settable later with `node.blobs.setAccessHook`).
   * @default everyone may fetch everything
   */
  blobAccess?: BlobAccessHook
  /**
   * A datastore for the peer store and DHT records (persisted by the headless node).
   * @default an in-memory datastore
   */
  datastore?: Libp2pInit['datastore']
  /**
   * A libp2p metrics implementation (e.g. `@libp2p/prometheus-metrics`).
   * @default none
   */
  metrics?: Libp2pInit['metrics']
  /**
   * Start the node before `createNode` resolves.
   * @default true
   */
  start?: boolean
}

/** Init with every default applied. */
export interface ResolvedNodeInit {
  listen: string[]
  announce: string[] | undefined
  bootstrap: string[]
  localNetwork: boolean
  dhtMode: DhtMode
  ipColocationThreshold: number
  appSpecificScore: (peerId: string) => number
  seenTtlMs: number
  heartbeatIntervalMs: number
  minConnections: number
  maxConnections: number
  capacityTtlMs: number
  maxBlobBytes: number
  maxFetchingBytes: number
  maxInboundDirectBytes: number
  maxServesPerPeer: number
  maxServes: number
  minBlobFetchBytesPerSecond: number
  blobFetchGraceMs: number
  blobChunkBytes: number
}

/**
 * True when every address is loopback, private or in-memory. A wildcard (0.0.0.0, ::) is not: it binds every
 * interface, public ones too, so a node listening on it may face the internet and must keep public-network limits.
 */
export function isLocalListen(addrs: readonly string[]): boolean {
  return addrs.every((a) => {
    if (a.startsWith('/memory')) return true
    const ma = multiaddr(a)
    const host = ma.getComponents()[0]?.value
    return host !== '0.0.0.0' && host !== '::' && isPrivate(ma)
  })
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CoreError('CORE__INVALID_CONFIG', `${name} must be a positive integer, got ${value}`, { [name]: value })
  }
  return value
}

/** The values `dhtMode` takes. */
const DHT_MODES: readonly DhtMode[] = ['server', 'client', 'auto']

/** Options of each kind, checked by {@link assertNodeInitShape}. */
const ADDRESS_OPTIONS = ['listen', 'announce', 'bootstrap'] as const
const BOOLEAN_OPTIONS = ['localNetwork', 'start'] as const
const FUNCTION_OPTIONS = ['appSpecificScore', 'blobAccess', 'metrics'] as const
/** Injected objects, by the methods the node calls on them. */
const OBJECT_OPTIONS = [
  { name: 'identity', methods: ['sign'], what: 'an Identity (generateIdentity, loadOrCreateIdentity)' },
  { name: 'clock', methods: ['now'], what: 'a Clock (an object with now())' },
  {
    name: 'blobstore',
    methods: ['has', 'size', 'put', 'get', 'stream', 'delete'],
    what: 'a Blobstore (MemoryBlobstore, FsBlobstore)',
  },
  { name: 'datastore', methods: ['get', 'put', 'has', 'delete', 'query'], what: 'a datastore (interface-datastore)' },
] as const

/** A value as an error message names it. */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'function') return 'a function'
  return `${typeof value} ${String(value)}`
}

function invalidOption(name: string, expected: string, value: unknown): CoreError {
  return new CoreError('CORE__INVALID_CONFIG', `${name} must be ${expected}, got ${describeValue(value)}`, {
    option: name,
    got: describeValue(value),
  })
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  )
}

/**
 * Refuses options of the wrong type with `CORE__INVALID_CONFIG`, as the types would: `createNode` is called from
 * JavaScript and with parsed configuration too, and a wrong one would otherwise fail later, deep inside libp2p, or
 * never (an unknown `dhtMode` silently ran as `auto`).
 */
function assertNodeInitShape(init: unknown): asserts init is NodeInit {
  if (typeof init !== 'object' || init === null || Array.isArray(init)) {
    throw invalidOption('createNode init', 'an object of options', init)
  }
  const options = init as Record<string, unknown>
  for (const name of ADDRESS_OPTIONS) {
    const value = options[name]
    if (value !== undefined && !(Array.isArray(value) && value.every((a) => typeof a === 'string')))
      throw invalidOption(name, 'an array of multiaddr strings', value)
  }
  for (const name of BOOLEAN_OPTIONS) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean')
      throw invalidOption(name, 'true or false', options[name])
  }
  for (const name of FUNCTION_OPTIONS) {
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw invalidOption(name, 'a function', options[name])
  }
  if (options.logPrefix !== undefined && typeof options.logPrefix !== 'string')
    throw invalidOption('logPrefix', 'a string', options.logPrefix)
  if (options.dhtMode !== undefined && !DHT_MODES.includes(options.dhtMode as DhtMode))
    throw invalidOption('dhtMode', `one of ${DHT_MODES.map((m) => `'${m}'`).join(', ')}`, options.dhtMode)
  for (const { name, methods, what } of OBJECT_OPTIONS) {
    if (options[name] !== undefined && !hasMethods(options[name], methods))
      throw invalidOption(name, what, options[name])
  }
}

/** Applies defaults and checks types and values; a bad option is `CORE__INVALID_CONFIG`. */
export function resolveNodeInit(init: NodeInit): ResolvedNodeInit {
  assertNodeInitShape(init)
  const listen = [...(init.listen ?? DEFAULT_LISTEN_ADDRS)]
  const addresses = [
    ...[...listen, ...(init.announce ?? [])].map((address) => ({ address, peerId: false })),
    ...(init.bootstrap ?? []).map((address) => ({ address, peerId: true })),
  ]
  for (const { address, peerId } of addresses) {
    const problem = multiaddrProblem(address, { peerId })
    if (problem !== undefined) {
      throw new CoreError('CORE__INVALID_CONFIG', `address ${JSON.stringify(address)} is refused: ${problem}`, {
        address,
      })
    }
  }
  const localNetwork = init.localNetwork ?? isLocalListen([...listen, ...(init.announce ?? [])])
  return {
    listen,
    announce: init.announce,
    bootstrap: [...(init.bootstrap ?? [])],
    localNetwork,
    dhtMode: init.dhtMode ?? (localNetwork ? 'server' : 'auto'),
    ipColocationThreshold: positiveInteger(
      'ipColocationThreshold',
      init.ipColocationThreshold ?? DEFAULT_IP_COLOCATION_THRESHOLD,
    ),
    appSpecificScore: init.appSpecificScore ?? (() => 0),
    seenTtlMs: positiveInteger('seenTtlMs', init.seenTtlMs ?? GOSSIP_SEEN_TTL_MS),
    heartbeatIntervalMs: positiveInteger(
      'heartbeatIntervalMs',
      init.heartbeatIntervalMs ?? GOSSIP_HEARTBEAT_INTERVAL_MS,
    ),
    minConnections: positiveInteger('minConnections', init.minConnections ?? DEFAULT_MIN_CONNECTIONS),
    maxConnections: positiveInteger('maxConnections', init.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    capacityTtlMs: positiveInteger('capacityTtlMs', init.capacityTtlMs ?? DEFAULT_CAPACITY_TTL_MS),
    maxBlobBytes: positiveInteger('maxBlobBytes', init.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES),
    maxFetchingBytes: positiveInteger('maxFetchingBytes', init.maxFetchingBytes ?? DEFAULT_MAX_FETCHING_BYTES),
    maxInboundDirectBytes: positiveInteger(
      'maxInboundDirectBytes',
      init.maxInboundDirectBytes ?? MAX_INBOUND_DIRECT_BYTES,
    ),
    maxServesPerPeer: positiveInteger('maxServesPerPeer', init.maxServesPerPeer ?? MAX_SERVES_PER_PEER),
    maxServes: positiveInteger('maxServes', init.maxServes ?? MAX_SERVES),
    minBlobFetchBytesPerSecond: positiveInteger(
      'minBlobFetchBytesPerSecond',
      init.minBlobFetchBytesPerSecond ?? BLOB_MIN_FETCH_BYTES_PER_SECOND,
    ),
    blobFetchGraceMs: positiveInteger('blobFetchGraceMs', init.blobFetchGraceMs ?? BLOB_FETCH_GRACE_MS),
    blobChunkBytes: positiveInteger('blobChunkBytes', init.blobChunkBytes ?? BLOB_CHUNK_BYTES),
  }
}
