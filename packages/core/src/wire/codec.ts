import * as dagCbor from '@ipld/dag-cbor'
import { encode as cborEncode, type EncodeOptions } from 'cborg'
import { equals } from 'uint8arrays/equals'
import { CoreError } from '../errors.js'
import { isMessageType, MESSAGE_SCHEMAS, type MessageBody, type MessageType, type WireMessage } from './messages.js'

/**
 * Message bodies are DAG-CBOR: one deterministic encoding (sorted map keys, minimal integers), so a signature
 * over bytes is a signature over one value.
 */

/**
 * DAG-CBOR's own options, plus skipping `undefined` properties, which DAG-CBOR cannot encode and which mean "absent"
 * in our schemas. cborg skips them as it walks the value; copying the value without them first was a third of the
 * cost of encoding a receipt.
 */
const CANONICAL_OPTIONS: EncodeOptions = { ...dagCbor.encodeOptions, ignoreUndefinedProperties: true }

/** Encodes any plain value deterministically (DAG-CBOR). */
export function encodeCanonical(value: unknown): Uint8Array {
  return cborEncode(value, CANONICAL_OPTIONS)
}

/** Decodes DAG-CBOR, turning any decoder failure into `CORE__MALFORMED_MESSAGE`. */
export function decodeCanonical(bytes: Uint8Array, what = 'value'): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (cause) {
    throw new CoreError('CORE__MALFORMED_MESSAGE', `${what} is not valid DAG-CBOR`, { what }, { cause })
  }
}

/**
 * Decodes DAG-CBOR that must be the one canonical encoding of its value: re-encoded, the value is these very bytes,
 * else `CORE__MALFORMED_MESSAGE` (context `canonical: false`). The decoder alone reads many encodings as one value
 * (map keys in any order, a whole number as a float, `undefined` as null, invalid UTF-8 replaced), so bytes whose
 * meaning is signed, not the bytes themselves, could be altered by anyone on the way and still verify.
 */
export function decodeCanonicalOnly(bytes: Uint8Array, what = 'value'): unknown {
  const value = decodeCanonical(bytes, what)
  if (!equals(encodeCanonical(value), bytes)) {
    throw new CoreError('CORE__MALFORMED_MESSAGE', `${what} is not in canonical DAG-CBOR form`, {
      what,
      canonical: false,
    })
  }
  return value
}

/** Validates a body against its type's schema, returning the normalised (e.g. bigint amounts) value. */
export function validateBody<T extends MessageType>(type: T, body: unknown): MessageBody<T> {
  const schema = MESSAGE_SCHEMAS[type]
  const parsed = schema.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new CoreError(
      'CORE__MALFORMED_MESSAGE',
      `${type} message is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      { type, path: issue?.path.map(String) ?? [] },
    )
  }
  return parsed.data as MessageBody<T>
}

/** Encodes a message body after validating it, so a node never sends what its peers would reject. */
export function encodeMessage(message: WireMessage): Uint8Array {
  return encodeCanonical(validateBody(message.type, message.body))
}

/**
 * Decodes and validates a body of the given type, which must be canonical so a signed body has one encoding, not only
 * one meaning. Arbitrary bytes yield a message or a `CoreError`.
 */
export function decodeMessage<T extends MessageType>(type: T, bytes: Uint8Array): MessageBody<T> {
  if (!isMessageType(type)) {
    throw new CoreError('CORE__UNKNOWN_MESSAGE_TYPE', `unknown message type ${String(type)}`, { type })
  }
  return validateBody(type, decodeCanonicalOnly(bytes, `${type} body`))
}
