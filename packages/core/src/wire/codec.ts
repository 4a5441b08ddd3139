import * as dagCbor from '@ipld/dag-cbor'
import { CoreError } from '../errors.js'
import { isMessageType, MESSAGE_SCHEMAS, type MessageBody, type MessageType, type WireMessage } from './messages.js'

/**
 * Message bodies are DAG-CBOR: one deterministic encoding (sorted map keys, minimal integers), so a signature
 * over bytes is a signature over one value.
 */

/** Drops `undefined` properties, which DAG-CBOR cannot encode and which mean "absent" in our schemas. */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined)
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v)
    return out
  }
  return value
}

/** Encodes any plain value deterministically (DAG-CBOR). */
export function encodeCanonical(value: unknown): Uint8Array {
  return dagCbor.encode(withoutUndefined(value))
}

/** Decodes DAG-CBOR, turning any decoder failure into `CORE__MALFORMED_MESSAGE`. */
export function decodeCanonical(bytes: Uint8Array, what = 'value'): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (cause) {
    throw new CoreError('CORE__MALFORMED_MESSAGE', `${what} is not valid DAG-CBOR`, { what }, { cause })
  }
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

/** Decodes and validates a body of the given type. Arbitrary bytes yield a message or a `CoreError`. */
export function decodeMessage<T extends MessageType>(type: T, bytes: Uint8Array): MessageBody<T> {
  if (!isMessageType(type)) {
    throw new CoreError('CORE__UNKNOWN_MESSAGE_TYPE', `unknown message type ${String(type)}`, { type })
  }
  return validateBody(type, decodeCanonical(bytes, `${type} body`))
}
