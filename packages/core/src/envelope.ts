import { z } from 'zod'
import { decodeCanonicalOnly, decodeMessage, encodeCanonical, encodeMessage } from './wire/codec.js'
import { AUTHOR_FIELD, isMessageType, SCHEMA_VERSIONS, type MessageType, type WireMessage } from './wire/messages.js'
import { MAX_CLOCK_SKEW_MS, MAX_ENVELOPE_TTL_MS, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './constants.js'
import { CoreError } from './errors.js'
import { peerIdOfPublicKey, verifySignature } from './identity.js'
import type { ReplayGuard } from './replay.js'
import { sha256 } from './sha256.js'

/**
 * Bytes of the signed content's SHA-256 the replay guard keeps to tell a replay from an equivocation. Only the
 * signer can sign two contents under one seq, so a shorter digest only lets a signer that grinds 2^32 contents
 * equivocate unnoticed (taken as a replay, which costs no one); nobody else can make a collision count against it.
 */
const REPLAY_DIGEST_BYTES = 8

/** Envelope format version. */
export const ENVELOPE_VERSION = 1
/** Prefix of every signed payload: a Tessera signature can never be mistaken for another protocol's. */
export const SIGNING_CONTEXT = 'tessera-envelope-v1'

/**
 * The signed container every message travels in: domain separation (the channel it is valid on), a sequence
 * number (replay protection) and an expiry. The signature covers all fields but itself, DAG-CBOR encoded.
 *
 * The signature is over the fields, not over the envelope's bytes, so an envelope is opened only in its one canonical
 * encoding and with no field but these: else anyone could re-encode a signed envelope into other bytes that still
 * verify, a second gossip message (ids hash the bytes) that races the original and has it refused as a replay.
 */
export interface Envelope {
  v: number
  domain: string
  type: MessageType
  schema: number
  signer: Uint8Array
  seq: bigint
  expiresAt: number
  body: Uint8Array
  sig: Uint8Array
}

const envelopeSchema = z.strictObject({
  v: z.number().int(),
  domain: z.string().max(64),
  type: z.string().max(32),
  schema: z.number().int().nonnegative(),
  signer: z.instanceof(Uint8Array).refine((b) => b.byteLength === PUBLIC_KEY_BYTES),
  seq: z
    .union([z.bigint(), z.number().int()])
    .transform((v) => BigInt(v))
    .refine((v) => v >= 0n && v <= 0xffff_ffff_ffff_ffffn),
  expiresAt: z.number().int().nonnegative(),
  body: z.instanceof(Uint8Array),
  sig: z.instanceof(Uint8Array).refine((b) => b.byteLength === SIGNATURE_BYTES),
})

/**
 * CBOR data items in an envelope: a map, and a key and a scalar or byte string for each field. Bytes announcing more
 * (8 MiB of empty maps, say) are refused after that many, before the rest is decoded or the signature checked.
 */
const ENVELOPE_ITEMS = 1 + 2 * Object.keys(envelopeSchema.shape).length

/** Anything that can sign: an {@link Identity} in practice. */
export interface Signer {
  readonly publicKey: Uint8Array
  sign(data: Uint8Array): Uint8Array
}

/** Where and until when a sealed envelope is valid, and its place in the signer's sequence. */
export interface SealOptions {
  domain: string
  seq: bigint
  expiresAt: number
}

function signingBytes(e: Omit<Envelope, 'sig'>): Uint8Array {
  return encodeCanonical([SIGNING_CONTEXT, e.v, e.domain, e.type, e.schema, e.signer, e.seq, e.expiresAt, e.body])
}

/** Signs a message into envelope bytes. */
export function sealEnvelope(signer: Signer, message: WireMessage, options: SealOptions): Uint8Array {
  const unsigned = {
    v: ENVELOPE_VERSION,
    domain: options.domain,
    type: message.type,
    schema: SCHEMA_VERSIONS[message.type],
    signer: signer.publicKey,
    seq: options.seq,
    expiresAt: options.expiresAt,
    body: encodeMessage(message),
  }
  return encodeCanonical({ ...unsigned, sig: signer.sign(signingBytes(unsigned)) })
}

/** The channel, size bound and time an envelope is checked against. */
export interface OpenOptions {
  /** The domain of the channel this arrived on. */
  domain: string
  /** Reject envelopes longer than this. */
  maxBytes: number
  /** Current time, ms. */
  now: number
  /** When given, replays are rejected. */
  replay?: ReplayGuard
  /**
   * When given, the peer id the envelope must be signed by (a direct message's sender): checked before the replay
   * guard admits it, so a peer cannot fill the guard with envelopes it relays for others.
   */
  sender?: string
}

/** A verified message and who signed it. */
export interface Opened {
  message: WireMessage
  /** Peer id string of the signer. */
  from: string
  signer: Uint8Array
  seq: bigint
  expiresAt: number
}

/**
 * Checks and opens envelope bytes: size, canonical encoding, shape, version, domain, expiry, signature, body schema,
 * author and finally replay (after the signature, so forged envelopes cannot fill the replay cache). Every failure is
 * a `CoreError` with a distinct code; arbitrary bytes never raise anything else.
 */
export function openEnvelope(bytes: Uint8Array, options: OpenOptions): Opened {
  return open(bytes, options, true)
}

/** {@link openEnvelope}, with the freshness checks (expiry against `now`) only when `fresh`. */
function open(bytes: Uint8Array, options: OpenOptions, fresh: boolean): Opened {
  if (bytes.byteLength > options.maxBytes) {
    throw new CoreError(
      'CORE__MESSAGE_TOO_LARGE',
      `envelope of ${bytes.byteLength} bytes exceeds ${options.maxBytes}`,
      {
        bytes: bytes.byteLength,
        max: options.maxBytes,
      },
    )
  }
  const parsed = envelopeSchema.safeParse(decodeCanonicalOnly(bytes, 'envelope', ENVELOPE_ITEMS))
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new CoreError(
      'CORE__MALFORMED_MESSAGE',
      `envelope is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      { path: issue?.path.map(String) ?? [] },
    )
  }
  const e = parsed.data
  if (e.v !== ENVELOPE_VERSION) {
    throw new CoreError('CORE__UNSUPPORTED_VERSION', `envelope version ${e.v} is not supported`, { version: e.v })
  }
  if (!isMessageType(e.type)) {
    throw new CoreError('CORE__UNKNOWN_MESSAGE_TYPE', `unknown message type ${e.type}`, { type: e.type })
  }
  if (e.schema !== SCHEMA_VERSIONS[e.type]) {
    throw new CoreError('CORE__UNSUPPORTED_VERSION', `${e.type} schema ${e.schema} is not supported`, {
      type: e.type,
      schema: e.schema,
    })
  }
  if (e.domain !== options.domain) {
    throw new CoreError('CORE__DOMAIN_MISMATCH', `envelope signed for ${e.domain} arrived on ${options.domain}`, {
      domain: e.domain,
      expected: options.domain,
    })
  }
  if (fresh && e.expiresAt < options.now) {
    throw new CoreError('CORE__MESSAGE_EXPIRED', `envelope expired ${options.now - e.expiresAt} ms ago`, {
      expiresAt: e.expiresAt,
      now: options.now,
    })
  }
  if (fresh && e.expiresAt > options.now + MAX_ENVELOPE_TTL_MS + MAX_CLOCK_SKEW_MS) {
    throw new CoreError('CORE__EXPIRY_TOO_FAR', 'envelope expires further ahead than any peer accepts', {
      expiresAt: e.expiresAt,
      now: options.now,
    })
  }
  const envelope = { ...e, type: e.type }
  const signed = signingBytes(envelope)
  if (!verifySignature(e.signer, signed, e.sig)) {
    throw new CoreError('CORE__INVALID_SIGNATURE', 'envelope signature does not verify', { type: e.type })
  }
  const body = decodeMessage(e.type, e.body)
  const from = peerIdOfPublicKey(e.signer)
  const authorField = AUTHOR_FIELD[e.type]
  if (authorField !== undefined && (body as Record<string, unknown>)[authorField] !== from) {
    throw new CoreError('CORE__SIGNER_MISMATCH', `${e.type}.${authorField} is not the envelope's signer`, {
      type: e.type,
      from,
    })
  }
  if (options.sender !== undefined && from !== options.sender) {
    throw new CoreError('CORE__SIGNER_MISMATCH', 'a direct message must be signed by the peer that sends it', {
      from,
      remote: options.sender,
    })
  }
  if (options.replay !== undefined) {
    const signerHex = Buffer.from(e.signer).toString('hex')
    // The digest is of the signed fields, not of the envelope's bytes: were the signature malleable, a third party
    // could make other bytes of the same content, and have them taken as the signer's equivocation.
    const digest = Buffer.from(sha256(signed).subarray(0, REPLAY_DIGEST_BYTES)).toString('hex')
    const verdict = options.replay.admit(signerHex, e.domain, e.seq, e.expiresAt, options.now, digest)
    if (verdict === 'replayed') {
      throw new CoreError('CORE__MESSAGE_REPLAYED', 'envelope was already received', { from, seq: String(e.seq) })
    }
    if (verdict === 'equivocated') {
      throw new CoreError(
        'CORE__MESSAGE_EQUIVOCATED',
        'the signer sent another envelope under this sequence number: it is distrusted for a while',
        { from, seq: String(e.seq) },
      )
    }
    if (verdict === 'distrusted') {
      throw new CoreError(
        'CORE__SIGNER_DISTRUSTED',
        'the signer recently sent two envelopes under one sequence number: its envelopes are refused for a while',
        { from },
      )
    }
    if (verdict === 'full') {
      throw new CoreError('CORE__REPLAY_GUARD_FULL', 'too many valid envelopes are held to remember another', {
        from,
        held: options.replay.size,
      })
    }
  }
  return { message: { type: e.type, body } as WireMessage, from, signer: e.signer, seq: e.seq, expiresAt: e.expiresAt }
}

/**
 * Opens an envelope quoted inside another message as evidence (a worker's Result in a fraud proof, a creator's
 * assignment forwarded to an arbiter): signature, domain, schema and author are all checked, but not freshness,
 * since evidence is read long after it expired. The quote must still be of type `type`.
 */
export function openQuotedEnvelope(
  bytes: Uint8Array,
  options: { domain: string; maxBytes: number; type: MessageType },
): Opened {
  const opened = open(bytes, { domain: options.domain, maxBytes: options.maxBytes, now: 0 }, false)
  if (opened.message.type !== options.type) {
    throw new CoreError('CORE__UNEXPECTED_TYPE', `quoted envelope is a ${opened.message.type}, not a ${options.type}`, {
      type: opened.message.type,
      expected: options.type,
    })
  }
  return opened
}
