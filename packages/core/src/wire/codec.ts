import * as dagCbor from '@ipld/dag-cbor'
import { decode as cborDecode, encode as cborEncode, Tokenizer, type DecodeOptions, type EncodeOptions } from 'cborg'
import { equals } from 'uint8arrays/equals'
import { LATER_BODY_FIELD_ITEMS } from '../constants.js'
import { CoreError, isCoreError } from '../errors.js'
import { maxItemsOf } from './items.js'
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

/** DAG-CBOR's own decoding options, for a decode through a {@link BoundedTokenizer}. */
const DAG_CBOR_DECODE_OPTIONS: DecodeOptions = dagCbor.decodeOptions

/**
 * cborg's tokenizer, refusing its input (`CORE__MALFORMED_MESSAGE`) at its item past `maxItems`: every token is one
 * data item (a map or array header, a key, a scalar, a byte string, a tag), so the decode stops there, having built
 * at most that many values, however many the input announces.
 */
class BoundedTokenizer extends Tokenizer {
  readonly #what: string
  readonly #maxItems: number
  #items = 0

  constructor(data: Uint8Array, what: string, maxItems: number) {
    super(data, DAG_CBOR_DECODE_OPTIONS)
    this.#what = what
    this.#maxItems = maxItems
  }

  override next(): ReturnType<Tokenizer['next']> {
    if (++this.#items > this.#maxItems) {
      throw new CoreError('CORE__MALFORMED_MESSAGE', `${this.#what} holds more than ${this.#maxItems} CBOR items`, {
        what: this.#what,
        maxItems: this.#maxItems,
      })
    }
    return super.next()
  }
}

/**
 * Decodes DAG-CBOR, turning any decoder failure into `CORE__MALFORMED_MESSAGE`. With `maxItems`, the input is refused
 * once it holds more data items than that, before the rest is decoded (see {@link maxItemsOf}).
 */
export function decodeCanonical(bytes: Uint8Array, what = 'value', maxItems = Infinity): unknown {
  try {
    if (maxItems === Infinity) return dagCbor.decode(bytes)
    // A plain view, as cborg decodes through its own tokenizer: a Buffer's byte strings would come out as Buffers.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return cborDecode(view, { ...DAG_CBOR_DECODE_OPTIONS, tokenizer: new BoundedTokenizer(view, what, maxItems) })
  } catch (cause) {
    if (isCoreError(cause)) throw cause
    throw new CoreError('CORE__MALFORMED_MESSAGE', `${what} is not valid DAG-CBOR`, { what }, { cause })
  }
}

/**
 * Decodes DAG-CBOR that must be the one canonical encoding of its value: re-encoded, the value is these very bytes,
 * else `CORE__MALFORMED_MESSAGE` (context `canonical: false`). The decoder alone reads many encodings as one value
 * (map keys in any order, a whole number as a float, `undefined` as null, invalid UTF-8 replaced), so bytes whose
 * meaning is signed, not the bytes themselves, could be altered by anyone on the way and still verify. `maxItems` as
 * for {@link decodeCanonical}.
 */
export function decodeCanonicalOnly(bytes: Uint8Array, what = 'value', maxItems = Infinity): unknown {
  const value = decodeCanonical(bytes, what, maxItems)
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
 * one meaning, and hold no more data items than its type may ({@link maxBodyItems}). Arbitrary bytes yield a message or
 * a `CoreError`.
 */
export function decodeMessage<T extends MessageType>(type: T, bytes: Uint8Array): MessageBody<T> {
  if (!isMessageType(type)) {
    throw new CoreError('CORE__UNKNOWN_MESSAGE_TYPE', `unknown message type ${String(type)}`, { type })
  }
  return validateBody(type, decodeCanonicalOnly(bytes, `${type} body`, maxBodyItems(type)))
}

const bodyItems = new Map<MessageType, number>()

/**
 * The most CBOR data items a body of `type` holds: what its schema allows ({@link maxItemsOf}) and
 * LATER_BODY_FIELD_ITEMS. Read from the schema the first time it is asked.
 */
export function maxBodyItems(type: MessageType): number {
  let items = bodyItems.get(type)
  if (items === undefined) {
    items = maxItemsOf(MESSAGE_SCHEMAS[type]) + LATER_BODY_FIELD_ITEMS
    bodyItems.set(type, items)
  }
  return items
}
