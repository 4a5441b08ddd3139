/** Bounds and defaults for `@tessera/core`. Every bound that protects a decoder is named here. */

/** Protocol version carried in envelopes and in topic names. */
export const PROTOCOL_VERSION = 1

/** Largest key file read (an Ed25519 key in libp2p's protobuf is 68 bytes). */
export const MAX_KEY_FILE_BYTES = 4096
/** Largest signed envelope accepted from gossip. */
export const MAX_GOSSIP_ENVELOPE_BYTES = 64 * 1024
/** Largest signed envelope accepted on a direct stream (reveals carry output chunks). */
export const MAX_DIRECT_ENVELOPE_BYTES = 8 * 1024 * 1024
/** The furthest into the future an envelope may expire: bounds the replay cache. */
export const MAX_ENVELOPE_TTL_MS = 15 * 60 * 1000
/** Envelopes issued this far ahead of our clock are still accepted (peers' clocks drift). */
export const MAX_CLOCK_SKEW_MS = 30 * 1000
/** The longest the replay guard holds an entry: an envelope expires at most this long after it arrives. */
export const MAX_REPLAY_HOLD_MS = MAX_ENVELOPE_TTL_MS + MAX_CLOCK_SKEW_MS
/** Signers the replay guard distrusts for equivocating, at most (about 1 MB); past it the oldest is forgotten. */
export const MAX_DISTRUSTED_SIGNERS = 10_000
/** Replay cache entries kept at most; past it, new envelopes are refused until entries expire. */
export const MAX_REPLAY_ENTRIES = 200_000
/** One signer may hold at most 1/this of the replay cache (25,000 of 200,000: 27 envelopes a second for 15 minutes). */
export const MAX_REPLAY_SIGNER_SHARE = 8
/** Peers a capacity view holds at most; past it, new peers wait for a held record to expire. */
export const MAX_CAPACITY_RECORDS = 20_000
/** The longest a capacity record lives, as announced and as kept (announcers re-publish at half their TTL). */
export const MAX_CAPACITY_RECORD_MS = 5 * 60 * 1000
/** DHT provider records held for one other peer (a worker provides a few capability classes). */
export const MAX_PROVIDER_RECORDS_PER_PEER = 1_024
/** DHT provider records held for all other peers together (about 10 MB). */
export const MAX_PROVIDER_RECORDS = 100_000

/** Bounds on message fields. */
export const MAX_ID_LENGTH = 128
export const MAX_PEER_ID_LENGTH = 128
export const MAX_CID_LENGTH = 128
export const MAX_LABEL_LENGTH = 64
export const MAX_TEXT_LENGTH = 256
export const MAX_INPUTS_PER_ORDER = 64
export const MAX_FEATURES = 32
export const MAX_ADDRS = 16
export const MAX_CLASSES = 16
export const MAX_TASKS_PER_JOB = 65_536
/** Most batch items an inference order may ask, and put in one task: 1,024 for each of its most tasks (65,536). */
export const MAX_INFERENCE_ITEMS = 67_108_864
export const MAX_TASKS_PER_MESSAGE = 4_096
export const MAX_CHALLENGE_CHUNKS = 256
export const MAX_MERKLE_DEPTH = 32
export const MAX_CHUNK_BYTES = 1024 * 1024
export const MAX_FRAMES_PER_JOB = 10_000
/** Largest first frame of a render: its last frame still has at most nine digits, as task ids spell it. */
export const MAX_FIRST_FRAME = 999_990_000
export const MAX_IMAGE_SIDE = 16_384
export const MAX_SAMPLES_PER_PIXEL = 65_536
/**
 * Most pixel-samples one render task may ask (its largest tile's pixels x samples per pixel): 2^32, a 4096x4096
 * tile at 256 samples or a 256x256 one at 65,536. The tile and sample bounds alone allow a 16384x16384 tile at 65,536
 * samples (1.8e13), which no worker finishes; this one is about 2.4e10 rays at the benchmark scene's 5.6 rays per
 * pixel-sample, or 2.8 hours on the benchmark's reference device (score 100, 2.4 M rays/s), minutes on a fast GPU.
 * Larger work splits into more tiles. Below 2^53, so the product is exact in a double.
 */
export const MAX_PIXEL_SAMPLES_PER_TASK = 2 ** 32
/**
 * Most pixels of a render task's tile (clipped to its image) that every worker's device holds the output of: 2^23,
 * e.g. a 2896x2896 tile or a 16384x512 strip. A worker renders a tile into one storage buffer of
 * {@link TILE_BYTES_PER_PIXEL} bytes a pixel, 128 MiB at this bound: the least `maxStorageBufferBindingSize` WebGPU
 * guarantees and all that lavapipe offers. The order schema does not enforce it (a GPU with larger buffers renders a
 * larger tile, and such orders were valid before this bound); a worker skips an order whose tile its own device cannot
 * hold (the scheduler's `maxTilePixels`, at least this), and a creator keeps to it by default, so that every worker can
 * take its order.
 */
export const MAX_TILE_PIXELS = 2 ** 23
/** Bytes of a rendered tile's output a pixel (RGBA float32), all in one storage buffer on the worker's device. */
export const TILE_BYTES_PER_PIXEL = 16
/**
 * Most FLOPs one inference task may declare (its items times the order's `flopsPerItem`): 2^47, about 1.4e14, four
 * hours on the capacity benchmark's reference device (score 100, 9.6 GFLOP/s of matmul), the bound a render task has
 * in {@link MAX_PIXEL_SAMPLES_PER_TASK}. Larger work splits into tasks of fewer items. Below 2^53, so the product is
 * exact in a double.
 */
export const MAX_FLOPS_PER_TASK = 2 ** 47
/** Highest frame rate an order may play a scene's animations at. */
export const MAX_FPS = 1_000
/** Lowest frame rate (a frame a thousand seconds): below it a frame's time could overflow to infinity. */
export const MIN_FPS = 0.001
/** Longest animation name an order may pick a scene's animation by. */
export const MAX_ANIMATION_NAME_LENGTH = 256
/** Largest multiplier of a render's environment panorama. */
export const MAX_ENVIRONMENT_INTENSITY = 1e6
/** Largest turn of a render's environment panorama either way, radians (any angle fits in 2π; this bounds junk). */
export const MAX_ENVIRONMENT_ROTATION = 1000
/** A signed envelope quoted inside another message (a worker's Result, a creator's assignment). */
export const MAX_QUOTED_ENVELOPE_BYTES = 64 * 1024
/** A fraud proof on the wire: two chunks, the quoted commitment and the Merkle path. */
export const MAX_FRAUD_PROOF_WIRE_BYTES = 2 * MAX_CHUNK_BYTES + MAX_QUOTED_ENVELOPE_BYTES + 8 * 1024
/** Arbitration rounds an accusation may go through. */
export const MAX_ARBITRATION_ROUNDS = 16
/**
 * CBOR items a message body may hold past the most its schema allows: room for optional fields a later version adds
 * without changing the type's schema version, which this version strips and still reads.
 */
export const LATER_BODY_FIELD_ITEMS = 32

/** Byte length of a SHA-256 digest (Merkle roots, hashes). */
export const HASH_BYTES = 32
/** Byte length of an Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32
/** Byte length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64
/** Byte length of a verifier's challenge nonce. */
export const NONCE_BYTES = 32

/*
 * Node defaults (`createNode`). Each is the `@default` of the matching `NodeInit` option.
 */

/** Listen on loopback TCP and WebSockets with OS-chosen ports: the embedded default needs no set-up. */
export const DEFAULT_LISTEN_ADDRS: readonly string[] = Object.freeze([
  '/ip4/127.0.0.1/tcp/0',
  '/ip4/127.0.0.1/tcp/0/ws',
])
/** Bootstrap peers are dialled this soon after start (libp2p's default is a full second). */
export const BOOTSTRAP_DIAL_DELAY_MS = 50
/** Inbound connections per second accepted from one host on local networks, where every peer shares 127.0.0.1. */
export const LOCAL_INBOUND_CONNECTION_THRESHOLD = 1_000
/** Pending inbound connections on local networks (many peers join at once in tests and demos). */
export const LOCAL_MAX_INCOMING_PENDING_CONNECTIONS = 200
/** Concurrent ping streams per connection, each way: kad-dht and the connection monitor both ping. */
export const PING_MAX_STREAMS = 4
/** The node dials peers found by discovery while it has fewer connections than this. */
export const DEFAULT_MIN_CONNECTIONS = 8
/** Connections kept at most. */
export const DEFAULT_MAX_CONNECTIONS = 300
/**
 * kad-dht looks itself up only at start and every few minutes, so a late joiner's routing table stays tiny
 * (PROBES.md). After its first connection the node looks itself up again and again, the pause doubling from
 * JOIN_LOOKUP_FIRST_PAUSE_MS up to JOIN_LOOKUP_MAX_PAUSE_MS, until a lookup teaches it nothing new (after at least
 * JOIN_LOOKUPS_MIN) or JOIN_LOOKUPS_MAX lookups ran.
 */
export const JOIN_LOOKUP_FIRST_PAUSE_MS = 2_000
export const JOIN_LOOKUP_MAX_PAUSE_MS = 16_000
export const JOIN_LOOKUPS_MIN = 2
export const JOIN_LOOKUPS_MAX = 6
/** A DHT query (lookup, provide, findProviders) gives up after this long unless the caller's signal says otherwise. */
export const DHT_QUERY_TIMEOUT_MS = 30_000

/** Gossipsub heartbeat: mesh maintenance and gossip emission. */
export const GOSSIP_HEARTBEAT_INTERVAL_MS = 700
/**
 * How long gossipsub remembers message ids it has seen (duplicates inside it never reach the validator): as long as
 * the replay guard holds an entry, so a byte-identical replay is dropped as a duplicate, never judged. About 160 bytes
 * of heap a message id: 100 messages a second (all topics, valid or not) hold some 15 MB.
 */
export const GOSSIP_SEEN_TTL_MS = MAX_REPLAY_HOLD_MS
/** Largest gossipsub RPC frame read from a peer; larger frames close the stream before any decoding. */
export const GOSSIP_MAX_RPC_BYTES = 1024 * 1024
/**
 * Most bytes of gossip queued toward one peer that does not read them: past it the stream to that peer is aborted
 * (gossipsub opens another if it stays). Unset, a peer that subscribes and never reads held memory without end.
 */
export const GOSSIP_MAX_OUTBOUND_BUFFER_BYTES = 4 * 1024 * 1024
/**
 * Bounds on one decoded gossipsub RPC (finite `decodeRpcLimits`), well under the library's 5000s: a peer cannot make
 * us allocate for thousands of message ids or subscriptions in one frame.
 */
export const GOSSIP_DECODE_LIMITS = Object.freeze({
  maxSubscriptions: 64,
  maxMessages: 256,
  maxIhaveMessageIDs: 1_000,
  maxIwantMessageIDs: 1_000,
  maxIdontwantMessageIDs: 512,
  maxControlMessages: 256,
  maxPeerInfos: 16,
})
/**
 * Peers behind one IP address tolerated before the IP-colocation penalty applies on public networks: up to this
 * many operators may share a NAT (a small GPU farm); beyond it, extra identities look like a Sybil attack.
 */
export const DEFAULT_IP_COLOCATION_THRESHOLD = 10
/** Weight of the IP-colocation penalty on public networks (0 on local ones, where every peer is on 127.0.0.1). */
export const IP_COLOCATION_WEIGHT = -5
/** Score lost per invalid message, squared by count: one mistake costs a little, a pattern graylists the peer. */
export const INVALID_MESSAGE_WEIGHT = -10
/** Invalid-message counters decay by this factor every decay interval (one second): about a minute to forget one. */
export const INVALID_MESSAGE_DECAY = 0.97
/** Behavioural penalty (P7: GRAFT floods, broken IWANT promises): weight of (count - threshold)². */
export const BEHAVIOUR_PENALTY_WEIGHT = -10
/** Misbehaviours tolerated before P7 applies. */
export const BEHAVIOUR_PENALTY_THRESHOLD = 6
/** The P7 counter decays by this factor every second. */
export const BEHAVIOUR_PENALTY_DECAY = 0.9
/** Application-specific score a signer loses per proven equivocation, squared by count (gossipsub cannot see these). */
export const EQUIVOCATION_PENALTY_WEIGHT = 10
/** An equivocation counter halves over this long. */
export const EQUIVOCATION_PENALTY_HALF_LIFE_MS = 60_000
/** Gossipsub score thresholds: below gossip no gossip, below publish no flood publish, below graylist ignored. */
export const GOSSIP_SCORE_THRESHOLDS = Object.freeze({
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 5,
})

/** Lifetime of published gossip envelopes unless the caller says otherwise. */
export const DEFAULT_MESSAGE_TTL_MS = 5 * 60 * 1000
/** Envelopes that expired less than this ago are ignored, not punished: an honest relay may be a little late. */
export const EXPIRY_GRACE_MS = MAX_CLOCK_SKEW_MS
/** A direct message and its acknowledgement must complete within this long. */
export const DIRECT_SEND_TIMEOUT_MS = 15_000
/** Concurrent inbound `/tessera/task/1` streams per connection. */
export const MAX_INBOUND_TASK_STREAMS = 32
/**
 * Bytes of direct messages a node reads at once, all peers together: 32 maximum-size envelopes. Without it, each of
 * 300 connections could hold 32 streams of 8 MiB half-sent (75 GiB).
 */
export const MAX_INBOUND_DIRECT_BYTES = 256 * 1024 * 1024
/** One peer may hold at most 1/this of {@link MAX_INBOUND_DIRECT_BYTES}. */
export const INBOUND_DIRECT_PEER_SHARE = 4
/**
 * Least a chunk of a direct message counts against {@link MAX_INBOUND_DIRECT_BYTES}, however few its bytes: each chunk
 * read costs a list entry and a closure besides its bytes, about 250 bytes of heap for a 1-byte yamux frame, so
 * counting bytes alone let a peer sending 1-byte frames hold some 250 times its share in memory.
 */
export const MIN_DIRECT_CHUNK_COST_BYTES = 1024
/**
 * Chunks under {@link MIN_DIRECT_CHUNK_COST_BYTES} that every peer's share has room for on top of a maximum-size
 * envelope: an honest sender's envelope may arrive with a few small chunks (its length prefix, the edges of yamux's
 * send window), and must still fit.
 */
export const DIRECT_SMALL_CHUNK_ALLOWANCE = 64
/** A direct message a peer refused as busy is sent again after this pause, doubling, within DIRECT_SEND_TIMEOUT_MS. */
export const DIRECT_BUSY_FIRST_PAUSE_MS = 50

/** A capacity record lives this long; the announcer re-publishes it well before. */
export const DEFAULT_CAPACITY_TTL_MS = 2 * 60 * 1000
/** Re-publish when this fraction of the record's lifetime has passed. */
export const CAPACITY_REPUBLISH_FRACTION = 0.5
/** A new capacity subscriber triggers a re-publish, at most this often, so late joiners see the market quickly. */
export const CAPACITY_REANNOUNCE_MIN_GAP_MS = 1_000

/** Blobs are streamed in frames of this many bytes by default. */
export const BLOB_CHUNK_BYTES = 256 * 1024
/** Longest blob data frame a receiver accepts (a provider may choose larger frames than the default, up to this). */
export const MAX_BLOB_CHUNK_BYTES = 1024 * 1024
/** Largest blob stored or fetched unless configured otherwise. */
export const DEFAULT_MAX_BLOB_BYTES = 1024 * 1024 * 1024
/** Bytes of blobs being fetched at once by one node, all fetches together (two default-sized blobs). */
export const DEFAULT_MAX_FETCHING_BYTES = 2 * DEFAULT_MAX_BLOB_BYTES
/**
 * Fetches from one provider hold at most 1/this of the fetching budget at once (or one blob however large): a node
 * fetches a task's inputs mostly from one creator, and half is left for every other provider.
 */
export const FETCHING_PEER_SHARE = 2
/** Largest blob request or response header frame. */
export const MAX_BLOB_HEADER_BYTES = 1024
/** A blob transfer with no progress for this long is abandoned for the next provider. */
export const BLOB_IDLE_TIMEOUT_MS = 20_000
/**
 * Slowest a blob fetch may run, on average since its header, once its grace is spent: a provider slower than this is
 * abandoned with `CORE__BLOB_DEADLINE_EXCEEDED`. Bytes trickled in just often enough to beat the idle timeout would
 * otherwise hold the blob's announced size of the fetching budget for as long as the provider liked. A 1 GiB blob
 * gets at most 68 minutes past its grace.
 */
export const BLOB_MIN_FETCH_BYTES_PER_SECOND = 256 * 1024
/** Time a blob fetch has before any byte arrives, on top of what its bytes earn at the minimum rate. */
export const BLOB_FETCH_GRACE_MS = 30_000
/**
 * Slowest a requester may read a blob we serve, on average since its header, once `BLOB_SERVE_GRACE_MS` is spent: a
 * slower one loses its serving slot (`CORE__BLOB_DEADLINE_EXCEEDED`). Reading a chunk just often enough to beat the
 * idle timeout would otherwise hold a slot for as long as the reader liked, and a few peers all of them. Half the
 * fetch minimum: an honest fetcher abandons a provider slower than that itself, before its serve would be cut.
 */
export const BLOB_MIN_SERVE_BYTES_PER_SECOND = BLOB_MIN_FETCH_BYTES_PER_SECOND / 2
/** Time a blob serve has before its first byte is read, on top of what its bytes earn at the minimum serve rate. */
export const BLOB_SERVE_GRACE_MS = 2 * BLOB_FETCH_GRACE_MS
/** Providers asked at most per fetch. */
export const MAX_BLOB_PROVIDERS = 8
/** Concurrent inbound `/tessera/blob/1` streams per connection. */
export const MAX_INBOUND_BLOB_STREAMS = 16
/** Blobs a node serves at once to one peer: past it, a request is answered `busy`. */
export const MAX_SERVES_PER_PEER = 4
/** Blobs a node serves at once to all peers together. */
export const MAX_SERVES = 64
/** A fetch from a provider that answers `busy` asks again after this pause, doubling each time. */
export const BLOB_BUSY_FIRST_PAUSE_MS = 50
/** The longest pause between asks of a busy provider. */
export const BLOB_BUSY_MAX_PAUSE_MS = 2_000
/**
 * How long a fetch keeps asking a busy provider, all pauses together, before giving up on it: long enough for a
 * creator, the one source of its inputs, to serve its other workers first.
 */
export const BLOB_BUSY_RETRY_MS = 60_000
