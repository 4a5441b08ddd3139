import {
  MAX_MODEL_ATTRIBUTES,
  MAX_MODEL_ENTRIES,
  MAX_MODEL_INITIALIZERS,
  MAX_MODEL_LISTED_FLOATS,
  MAX_MODEL_LISTED_INTEGERS,
  MAX_MODEL_MESSAGES,
  MAX_MODEL_NESTING,
  MAX_MODEL_NODES,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { ProtoReader } from './proto.js'

/**
 * Most items of each kind a ModelProto may hold, counted over the whole model (subgraphs and functions included)
 * before it is decoded. The protobuf decoder makes a JavaScript value for every element of a repeated field, so
 * these bound the memory a decode can take however the bytes are packed.
 */
export interface ModelBounds {
  /** Graph and function nodes. @default MAX_MODEL_NODES */
  readonly nodes: number
  /** Initializers, dense and sparse. @default MAX_MODEL_INITIALIZERS */
  readonly initializers: number
  /** Node attributes. @default MAX_MODEL_ATTRIBUTES */
  readonly attributes: number
  /** Integers listed one by one (dims, int32_data, int64_data, uint64_data, ints). @default MAX_MODEL_LISTED_INTEGERS */
  readonly listedIntegers: number
  /** Floats listed one by one (float_data, double_data, floats). @default MAX_MODEL_LISTED_FLOATS */
  readonly listedFloats: number
  /** Every other repeated element: names, declared values, dimensions, opset imports, metadata. @default MAX_MODEL_ENTRIES */
  readonly entries: number
  /**
   * Messages, repeated or not: the decoder makes an object (and its empty repeated fields) for each, so nested
   * singular messages (an attribute's tensor, graph and types) add up too. @default MAX_MODEL_MESSAGES
   */
  readonly messages: number
  /** Deepest nesting of messages. @default MAX_MODEL_NESTING */
  readonly nesting: number
}

/** The bounds `loadOnnxModel` applies. */
export const DEFAULT_MODEL_BOUNDS: ModelBounds = Object.freeze({
  nodes: MAX_MODEL_NODES,
  initializers: MAX_MODEL_INITIALIZERS,
  attributes: MAX_MODEL_ATTRIBUTES,
  listedIntegers: MAX_MODEL_LISTED_INTEGERS,
  listedFloats: MAX_MODEL_LISTED_FLOATS,
  entries: MAX_MODEL_ENTRIES,
  messages: MAX_MODEL_MESSAGES,
  nesting: MAX_MODEL_NESTING,
})

/** A counted kind of repeated element (a key of {@link ModelBounds}). */
type Counter = Exclude<keyof ModelBounds, 'nesting'>

/** Protobuf wire types. */
const WIRE = Object.freeze({ VARINT: 0, FIXED64: 1, LENGTH: 2, FIXED32: 5 })

/** How a field is encoded: a scalar wire type, or a nested message (by name in {@link SCHEMA}). */
type Encoding = 'varint' | 'fixed32' | 'fixed64' | 'bytes' | MessageName

/** One field of a message: its encoding and, for a repeated field, what its elements count against. */
interface Field {
  readonly encoding: Encoding
  readonly repeated?: Counter
}

type MessageName =
  | 'Model'
  | 'StringStringEntry'
  | 'TrainingInfo'
  | 'TensorAnnotation'
  | 'Graph'
  | 'Node'
  | 'Attribute'
  | 'ValueInfo'
  | 'Tensor'
  | 'Segment'
  | 'SparseTensor'
  | 'TensorShape'
  | 'Dimension'
  | 'Type'
  | 'TypeTensor'
  | 'TypeSequence'
  | 'TypeMap'
  | 'TypeOptional'
  | 'TypeSparseTensor'
  | 'OperatorSetId'
  | 'Function'

const one = (encoding: Encoding): Field => ({ encoding })
const many = (encoding: Encoding, counter: Counter = 'entries'): Field => ({ encoding, repeated: counter })

/**
 * Every field the `onnx-proto` decoder reads (onnx.proto of ONNX 1.10, IR version 8), by message and field number.
 * Fields outside it are skipped by the decoder without a value, and so are here.
 */
const SCHEMA: Readonly<Record<MessageName, Readonly<Record<number, Field>>>> = {
  Model: {
    1: one('varint'),
    2: one('bytes'),
    3: one('bytes'),
    4: one('bytes'),
    5: one('varint'),
    6: one('bytes'),
    7: one('Graph'),
    8: many('OperatorSetId'),
    14: many('StringStringEntry'),
    20: many('TrainingInfo'),
    25: many('Function'),
  },
  StringStringEntry: { 1: one('bytes'), 2: one('bytes') },
  TrainingInfo: { 1: one('Graph'), 2: one('Graph'), 3: many('StringStringEntry'), 4: many('StringStringEntry') },
  TensorAnnotation: { 1: one('bytes'), 2: many('StringStringEntry') },
  Graph: {
    1: many('Node', 'nodes'),
    2: one('bytes'),
    5: many('Tensor', 'initializers'),
    10: one('bytes'),
    11: many('ValueInfo'),
    12: many('ValueInfo'),
    13: many('ValueInfo'),
    14: many('TensorAnnotation'),
    15: many('SparseTensor', 'initializers'),
  },
  Node: {
    1: many('bytes'),
    2: many('bytes'),
    3: one('bytes'),
    4: one('bytes'),
    5: many('Attribute', 'attributes'),
    6: one('bytes'),
    7: one('bytes'),
  },
  Attribute: {
    1: one('bytes'),
    2: one('fixed32'),
    3: one('varint'),
    4: one('bytes'),
    5: one('Tensor'),
    6: one('Graph'),
    7: many('fixed32', 'listedFloats'),
    8: many('varint', 'listedIntegers'),
    9: many('bytes'),
    10: many('Tensor'),
    11: many('Graph'),
    13: one('bytes'),
    14: one('Type'),
    15: many('Type'),
    20: one('varint'),
    21: one('bytes'),
    22: one('SparseTensor'),
    23: many('SparseTensor'),
  },
  ValueInfo: { 1: one('bytes'), 2: one('Type'), 3: one('bytes') },
  Tensor: {
    1: many('varint', 'listedIntegers'),
    2: one('varint'),
    3: one('Segment'),
    4: many('fixed32', 'listedFloats'),
    5: many('varint', 'listedIntegers'),
    6: many('bytes'),
    7: many('varint', 'listedIntegers'),
    8: one('bytes'),
    9: one('bytes'),
    10: many('fixed64', 'listedFloats'),
    11: many('varint', 'listedIntegers'),
    12: one('bytes'),
    13: many('StringStringEntry'),
    14: one('varint'),
  },
  Segment: { 1: one('varint'), 2: one('varint') },
  SparseTensor: { 1: one('Tensor'), 2: one('Tensor'), 3: many('varint', 'listedIntegers') },
  TensorShape: { 1: many('Dimension') },
  Dimension: { 1: one('varint'), 2: one('bytes'), 3: one('bytes') },
  Type: {
    1: one('TypeTensor'),
    4: one('TypeSequence'),
    5: one('TypeMap'),
    6: one('bytes'),
    8: one('TypeSparseTensor'),
    9: one('TypeOptional'),
  },
  TypeTensor: { 1: one('varint'), 2: one('TensorShape') },
  TypeSequence: { 1: one('Type') },
  TypeMap: { 1: one('varint'), 2: one('Type') },
  TypeOptional: { 1: one('Type') },
  TypeSparseTensor: { 1: one('varint'), 2: one('TensorShape') },
  OperatorSetId: { 1: one('bytes'), 2: one('varint') },
  Function: {
    1: one('bytes'),
    4: many('bytes'),
    5: many('bytes'),
    6: many('bytes'),
    7: many('Node', 'nodes'),
    8: one('bytes'),
    9: many('OperatorSetId'),
    10: one('bytes'),
  },
}

/** The wire type each scalar encoding is written with (messages and bytes: length-delimited). */
const SCALAR_WIRE: Readonly<Record<'varint' | 'fixed32' | 'fixed64' | 'bytes', number>> = {
  varint: WIRE.VARINT,
  fixed32: WIRE.FIXED32,
  fixed64: WIRE.FIXED64,
  bytes: WIRE.LENGTH,
}

/** What each bound counts, in words for error messages. */
const BOUND_WORDS: Readonly<Record<keyof ModelBounds, string>> = {
  nodes: 'nodes',
  initializers: 'initializers',
  attributes: 'attributes',
  listedIntegers: 'integers listed one by one (bulk integers belong in raw_data)',
  listedFloats: 'floats listed one by one (bulk floats belong in raw_data)',
  entries: 'repeated entries (names, declared values, dimensions)',
  messages: 'nested messages',
  nesting: 'levels of nested messages',
}

function tooLarge(what: keyof ModelBounds, count: number, limit: number): GpuError {
  return new GpuError('GPU__MALFORMED_MODEL', `the model holds more than ${limit} ${BOUND_WORDS[what]}`, {
    what,
    count,
    limit,
  })
}

function misencoded(message: MessageName, field: number, wireType: number): GpuError {
  return new GpuError(
    'GPU__MALFORMED_MODEL',
    `field ${field} of ${message} has wire type ${wireType}, which its type is never written with`,
    { message, field, wireType },
  )
}

/**
 * Walks ModelProto bytes along the ONNX schema without decoding them, counting the elements of every repeated field
 * the decoder would build and every message it would make, and throws once a count passes its bound: the decoder makes a JavaScript value per
 * element (a Long object per listed int64, for one byte of wire), so a small file could otherwise take gigabytes.
 *
 * The walk is stricter than the decoder, so the two cannot read the same bytes differently: a known field must use
 * its type's wire type (packed or not, for repeated numbers) and a nested message or packed run must end inside
 * its parent, where the decoder would read on past it.
 *
 * @throws GPU__MALFORMED_MODEL when a count or the nesting passes its bound, or the bytes are not a ModelProto
 */
export function assertModelWithinBounds(bytes: Uint8Array, bounds: ModelBounds = DEFAULT_MODEL_BOUNDS): void {
  const counts: Record<Counter, number> = {
    nodes: 0,
    initializers: 0,
    attributes: 0,
    listedIntegers: 0,
    listedFloats: 0,
    entries: 0,
    messages: 0,
  }
  const count = (counter: Counter, n: number): void => {
    counts[counter] += n
    if (counts[counter] > bounds[counter]) throw tooLarge(counter, counts[counter], bounds[counter])
  }
  const reader = ProtoReader.create(bytes)

  const walk = (message: MessageName, end: number, depth: number): void => {
    if (depth > bounds.nesting) throw tooLarge('nesting', depth, bounds.nesting)
    const fields = SCHEMA[message]
    while (reader.pos < end) {
      const tag = reader.uint32()
      const number = tag >>> 3
      const wireType = tag & 7
      const field = fields[number]
      if (field === undefined) {
        reader.skipType(wireType)
        continue
      }
      const { encoding, repeated } = field
      if (encoding in SCALAR_WIRE) {
        const scalarWire = SCALAR_WIRE[encoding as keyof typeof SCALAR_WIRE]
        if (repeated !== undefined && scalarWire !== WIRE.LENGTH && wireType === WIRE.LENGTH) {
          countPacked(encoding as 'varint' | 'fixed32' | 'fixed64', repeated, end)
          continue
        }
        if (wireType !== scalarWire) throw misencoded(message, number, wireType)
        if (repeated !== undefined) count(repeated, 1)
        reader.skipType(wireType)
      } else {
        if (wireType !== WIRE.LENGTH) throw misencoded(message, number, wireType)
        if (repeated !== undefined) count(repeated, 1)
        count('messages', 1)
        walk(encoding as MessageName, nestedEnd(end), depth + 1)
      }
    }
    if (reader.pos !== end) throw new GpuError('GPU__MALFORMED_MODEL', `a ${message} runs past its end`, { message })
  }

  /** The end of a length-delimited value starting at the reader, which must lie within `parentEnd`. */
  const nestedEnd = (parentEnd: number): number => {
    const end = reader.uint32() + reader.pos
    if (end > parentEnd) throw new GpuError('GPU__MALFORMED_MODEL', 'a nested value runs past its parent', { end })
    return end
  }

  /** Counts the values of a packed run, leaving the reader after it; varints one by one, to stop at the bound. */
  const countPacked = (encoding: 'varint' | 'fixed32' | 'fixed64', counter: Counter, parentEnd: number): void => {
    const end = nestedEnd(parentEnd)
    const length = end - reader.pos
    if (encoding !== 'varint') {
      const width = encoding === 'fixed32' ? 4 : 8
      if (length % width !== 0)
        throw new GpuError('GPU__MALFORMED_MODEL', `a packed run of ${length} bytes is not whole values`, { length })
      count(counter, length / width)
      reader.skip(length)
      return
    }
    while (reader.pos < end) {
      count(counter, 1)
      reader.skipType(WIRE.VARINT)
    }
    if (reader.pos !== end) throw new GpuError('GPU__MALFORMED_MODEL', 'a packed varint runs past its end', { end })
  }

  try {
    walk('Model', reader.len, 0)
  } catch (cause) {
    if (cause instanceof GpuError) throw cause
    throw new GpuError(
      'GPU__MALFORMED_MODEL',
      `the bytes are not an ONNX ModelProto: ${String((cause as Error)?.message ?? cause)}`,
      {},
      { cause },
    )
  }
}
