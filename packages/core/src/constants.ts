/** Bounds and defaults for `@tessera/core`. Every bound that protects a decoder is named here. */

/** Protocol version carried in envelopes and in topic names. */
export const PROTOCOL_VERSION = 1

/** Largest signed envelope accepted from gossip. */
export const MAX_GOSSIP_ENVELOPE_BYTES = 64 * 1024
/** Largest signed envelope accepted on a direct stream (reveals carry output chunks). */
export const MAX_DIRECT_ENVELOPE_BYTES = 8 * 1024 * 1024
/** The furthest into the future an envelope may expire: bounds the replay cache. */
export const MAX_ENVELOPE_TTL_MS = 15 * 60 * 1000
/** Envelopes issued this far ahead of our clock are still accepted (peers' clocks drift). */
export const MAX_CLOCK_SKEW_MS = 30 * 1000
/** Replay cache entries kept at most; the oldest-expiring are evicted first. */
export const MAX_REPLAY_ENTRIES = 200_000

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
export const MAX_TASKS_PER_MESSAGE = 4_096
export const MAX_CHALLENGE_CHUNKS = 256
export const MAX_MERKLE_DEPTH = 32
export const MAX_CHUNK_BYTES = 1024 * 1024
export const MAX_FRAMES_PER_JOB = 10_000
export const MAX_IMAGE_SIDE = 16_384
export const MAX_SAMPLES_PER_PIXEL = 65_536

/** Byte length of a SHA-256 digest (Merkle roots, hashes). */
export const HASH_BYTES = 32
/** Byte length of an Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32
/** Byte length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64
/** Byte length of a verifier's challenge nonce. */
export const NONCE_BYTES = 32
