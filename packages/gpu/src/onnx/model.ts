import { MinHeap } from '@datastructures-js/heap'
import { MAX_MODEL_BYTES, MAX_TENSOR_RANK } from '../constants.js'
import { GpuError } from '../errors.js'
import { assertShape, sizeOf } from '../tensor/tensor.js'
import { assertHostSize } from './host-tensor.js'
import { assertModelWithinBounds, DEFAULT_MODEL_BOUNDS } from './model-bounds.js'
import { assertOperatorInputs, OPERATOR_INPUTS } from './operator-inputs.js'
import type { ModelBounds } from './model-bounds.js'
import { AttributeType, DataType, onnx } from './proto.js'
import type { OnnxTypes } from './proto.js'

/**
 * A tensor held on the host: float initializers and constants, integer and boolean tensors (shape data, token ids,
 * masks) and what host operators compute from them.
 */
export interface HostConstant {
  readonly shape: readonly number[]
  readonly dataType: 'float' | 'int' | 'bool'
  /** Float data (dataType float). */
  readonly floats?: Float32Array
  /**
   * Integer data (dataType int), exact up to 2^53: int64 values beyond ±(2^53 - 1) saturate there, which keeps the
   * INT64_MAX that Slice uses for "to the end" meaning just that. Booleans (dataType bool) as 0 and 1.
   */
  readonly ints?: readonly number[]
}

/** An attribute value after decoding. */
export type AttributeValue = number | string | readonly number[] | HostConstant

/** One graph node, as the runtime executes it. */
export interface OnnxNode {
  readonly name: string
  readonly opType: string
  /** Input value names; '' marks an omitted optional input. */
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly attributes: Readonly<Record<string, AttributeValue>>
}

/** A declared graph input or output: `dims` holds a number for fixed axes and a string (or null) for free ones. */
export interface ValueInfo {
  readonly name: string
  readonly dims: readonly (number | string | null)[] | undefined
  /**
   * The element type: float32 (or undeclared), or int for inputs declared int64 or int32 (token ids), which are
   * passed as an `IntTensor`. Outputs are always float.
   */
  readonly dataType: 'float' | 'int'
}

/** A parsed, validated ONNX model whose nodes are in execution (topological) order. */
export interface OnnxModel {
  readonly opset: number
  readonly nodes: readonly OnnxNode[]
  readonly inputs: readonly ValueInfo[]
  readonly outputs: readonly ValueInfo[]
  readonly initializers: ReadonlyMap<string, HostConstant>
}

/** Operators the runtime implements (ONNX default domain): those whose inputs it knows by version. */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set(Object.keys(OPERATOR_INPUTS))

function malformed(message: string, context: Record<string, unknown> = {}, cause?: unknown): GpuError {
  return new GpuError('GPU__MALFORMED_MODEL', message, context, cause === undefined ? undefined : { cause })
}

/** A protobuf int64 (number or Long) as a safe JS integer. */
export function toInt(v: unknown, what: string): number {
  const n = longValue(v)
  if (!Number.isSafeInteger(n)) throw malformed(`${what} is not a safe integer`, { what })
  return n
}

/** A protobuf int64 (number or Long) as a number, rounded where it is beyond 2^53. */
function longValue(v: unknown): number {
  if (typeof v === 'number') return v
  return typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : NaN
}

/** An int64 tensor value, saturated to ±(2^53 - 1) (see {@link HostConstant.ints}). */
function saturatedInt(n: number, what: string): number {
  if (!Number.isInteger(n)) throw malformed(`${what} holds a value that is not an integer`, { what })
  return Math.min(Math.max(n, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
}

/** Options of {@link loadOnnxModel}. */
export interface LoadOnnxModelOptions {
  /**
   * Bounds on what the model's bytes may hold, checked before they are decoded; tests lower them to reach them
   * cheaply.
   *
   * @default DEFAULT_MODEL_BOUNDS
   */
  readonly bounds?: ModelBounds
}

/**
 * Parses ONNX ModelProto bytes with the protobuf definition, decodes initializers, checks that every node uses a
 * supported operator, with the inputs its version in the model's opset takes, and that the graph is well formed, and
 * orders nodes topologically.
 *
 * @throws GPU__MALFORMED_MODEL when the bytes do not decode, hold more than the bounds allow (checked before
 *   decoding: nodes, initializers, attributes, values listed one by one), a node has inputs its operator's version
 *   does not take (see `assertOperatorInputs`) or the graph is not well formed
 * @throws GPU__ALLOCATION_EXCEEDED when an integer or boolean initializer or Constant holds more than
 *   MAX_HOST_TENSOR_ELEMENTS values
 * @throws GPU__UNSUPPORTED_OP (context `{ op }`) when a node uses an operator, or a version of one, the runtime lacks
 */
export function loadOnnxModel(bytes: Uint8Array, options: LoadOnnxModelOptions = {}): OnnxModel {
  if (!(bytes instanceof Uint8Array)) throw malformed('an ONNX model must be bytes')
  if (bytes.byteLength > MAX_MODEL_BYTES)
    throw malformed(`the model is ${bytes.byteLength} bytes, more than ${MAX_MODEL_BYTES}`, { bytes: bytes.byteLength })
  assertModelWithinBounds(bytes, options.bounds ?? DEFAULT_MODEL_BOUNDS)
  let proto: OnnxTypes.ModelProto
  try {
    proto = onnx.ModelProto.decode(bytes)
  } catch (cause) {
    throw malformed(`the bytes are not an ONNX ModelProto: ${String((cause as Error)?.message ?? cause)}`, {}, cause)
  }
  const graph = proto.graph
  if (graph == null) throw malformed('the model has no graph')
  const opsetEntry = (proto.opsetImport ?? []).find(
    (o) => o.domain == null || o.domain === '' || o.domain === 'ai.onnx',
  )
  if (opsetEntry == null) throw malformed('the model imports no default-domain opset')
  const opset = toInt(opsetEntry.version, 'opset version')
  const graphNodes = graph.node ?? []

  const initializers = new Map<string, HostConstant>()
  for (const t of graph.initializer ?? []) {
    if (!t.name) throw malformed('an initializer has no name')
    initializers.set(t.name, decodeTensor(t, `initializer ${t.name}`))
  }
  const inputs: ValueInfo[] = (graph.input ?? [])
    .filter((v) => !initializers.has(v.name ?? ''))
    .map((v) => valueInfo(v, true))
  const outputs: ValueInfo[] = (graph.output ?? []).map((v) => valueInfo(v, false))
  if (outputs.length === 0) throw malformed('the graph declares no outputs')

  const nodes: OnnxNode[] = graphNodes.map((n, i) => {
    const name = n.name || `node_${i}`
    const opType = n.opType ?? ''
    if (n.domain != null && n.domain !== '' && n.domain !== 'ai.onnx') {
      throw new GpuError('GPU__UNSUPPORTED_OP', `operator ${n.domain}.${opType} is outside the default ONNX domain`, {
        op: `${n.domain}.${opType}`,
        node: name,
      })
    }
    if (!SUPPORTED_OPS.has(opType)) {
      throw new GpuError(
        'GPU__UNSUPPORTED_OP',
        `operator ${opType || '(empty)'} is not supported by the Tessera runtime`,
        { op: opType, node: name },
      )
    }
    const attributes: Record<string, AttributeValue> = {}
    for (const a of n.attribute ?? []) {
      if (!a.name) throw malformed(`an attribute of node ${name} has no name`, { node: name })
      attributes[a.name] = decodeAttribute(a, name)
    }
    const node = { name, opType, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes }
    assertOperatorInputs(node, opset)
    return node
  })

  return { opset, nodes: topologicalOrder(nodes, inputs, initializers, outputs), inputs, outputs, initializers }
}

/** A declared input (`isInput`: int64 and int32 allowed) or output (float only). */
function valueInfo(v: OnnxTypes.IValueInfoProto, isInput: boolean): ValueInfo {
  if (!v.name) throw malformed('a graph input or output has no name')
  const t = v.type?.tensorType
  const elemType = t?.elemType ?? 0
  const isInt = isInput && (elemType === DataType.INT64 || elemType === DataType.INT32)
  if (elemType !== 0 && elemType !== DataType.FLOAT && !isInt) {
    throw new GpuError(
      'GPU__INVALID_MODEL_INPUT',
      `${isInput ? 'input' : 'output'} ${v.name} has element type ${elemType}; inputs may be float32, int64 or ` +
        'int32, outputs float32',
      {
        name: v.name,
        elemType,
      },
    )
  }
  const dims = t?.shape?.dim?.map((d) =>
    d.dimValue != null && d.dimParam == null ? toInt(d.dimValue, `dim of ${v.name}`) : (d.dimParam ?? null),
  )
  if (dims !== undefined && dims.length > MAX_TENSOR_RANK)
    throw malformed(`value ${v.name} has rank above ${MAX_TENSOR_RANK}`, { name: v.name })
  return { name: v.name, dims, dataType: isInt ? 'int' : 'float' }
}

/** Decodes a TensorProto into a host constant. */
export function decodeTensor(t: OnnxTypes.ITensorProto, what: string): HostConstant {
  const shape = (t.dims ?? []).map((d) => toInt(d, `${what} dim`))
  try {
    assertShape(shape, what)
  } catch (cause) {
    throw malformed(`${what} has an invalid shape`, { what, shape }, cause)
  }
  const n = sizeOf(shape)
  // Integer and boolean tensors are held as plain numbers on the host, so they take the host bound before any is read.
  if (t.dataType === DataType.INT64 || t.dataType === DataType.INT32 || t.dataType === DataType.BOOL)
    assertHostSize(shape, what)
  const raw = t.rawData != null && t.rawData.byteLength > 0 ? t.rawData : undefined
  const view = raw === undefined ? undefined : new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const need = (count: number, width: number): void => {
    const have = view === undefined ? count : view.byteLength / width
    if (have !== n) throw malformed(`${what} holds ${have} values, its shape needs ${n}`, { what, shape, values: have })
  }
  switch (t.dataType) {
    case DataType.FLOAT: {
      need(t.floatData?.length ?? 0, 4)
      const floats = new Float32Array(n)
      if (view !== undefined) for (let i = 0; i < n; i++) floats[i] = view.getFloat32(i * 4, true)
      else floats.set(t.floatData ?? [])
      return { shape, dataType: 'float', floats }
    }
    case DataType.DOUBLE: {
      need(t.doubleData?.length ?? 0, 8)
      const floats = new Float32Array(n)
      for (let i = 0; i < n; i++) floats[i] = view !== undefined ? view.getFloat64(i * 8, true) : t.doubleData![i]!
      return { shape, dataType: 'float', floats }
    }
    case DataType.INT64: {
      need(t.int64Data?.length ?? 0, 8)
      const ints = new Array<number>(n)
      for (let i = 0; i < n; i++) {
        ints[i] =
          view !== undefined
            ? saturatedInt(Number(view.getBigInt64(i * 8, true)), what)
            : saturatedInt(longValue(t.int64Data![i]), what)
      }
      return { shape, dataType: 'int', ints }
    }
    case DataType.BOOL: {
      need(t.int32Data?.length ?? 0, 1)
      const ints = new Array<number>(n)
      for (let i = 0; i < n; i++) ints[i] = (view !== undefined ? view.getUint8(i) : t.int32Data![i]!) !== 0 ? 1 : 0
      return { shape, dataType: 'bool', ints }
    }
    case DataType.INT32: {
      need(t.int32Data?.length ?? 0, 4)
      const ints = new Array<number>(n)
      for (let i = 0; i < n; i++) ints[i] = view !== undefined ? view.getInt32(i * 4, true) : t.int32Data![i]!
      return { shape, dataType: 'int', ints }
    }
    default:
      throw new GpuError(
        'GPU__UNSUPPORTED_OP',
        `${what} has data type ${t.dataType}; only float, double, int32, int64 and bool are read`,
        {
          op: 'tensor',
          what,
          dataType: t.dataType,
        },
      )
  }
}

function decodeAttribute(a: OnnxTypes.IAttributeProto, node: string): AttributeValue {
  const what = `attribute ${a.name} of ${node}`
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f ?? 0
    case AttributeType.INT:
      return toInt(a.i ?? 0, what)
    case AttributeType.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array())
    case AttributeType.TENSOR:
      if (a.t == null) throw malformed(`${what} has no tensor`, { node })
      return decodeTensor(a.t, what)
    case AttributeType.FLOATS:
      return [...(a.floats ?? [])]
    case AttributeType.INTS:
      return (a.ints ?? []).map((v) => toInt(v, what))
    default:
      throw new GpuError(
        'GPU__UNSUPPORTED_OP',
        `${what} has attribute type ${a.type}, which the runtime does not read`,
        { op: 'attribute', node, type: a.type },
      )
  }
}

/**
 * Orders nodes so that each comes after the nodes producing what it reads: Kahn's algorithm, O((V + E) log V). A node
 * is ready once none of its inputs is pending; ready nodes are taken lowest file index first, so a graph already in
 * order keeps it and ties follow the file.
 *
 * @throws GPU__MALFORMED_MODEL when a value is produced twice, read or declared but never produced, or on a cycle
 */
export function topologicalOrder(
  nodes: readonly OnnxNode[],
  inputs: readonly ValueInfo[],
  initializers: ReadonlyMap<string, HostConstant>,
  outputs: readonly ValueInfo[],
): OnnxNode[] {
  const available = new Set<string>(['', ...inputs.map((v) => v.name), ...initializers.keys()])
  const producers = new Map<string, number>()
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (o === '') continue
      if (producers.has(o) || available.has(o))
        throw malformed(`value ${o} is produced more than once`, { value: o, node: n.name })
      producers.set(o, i)
    }
  })
  // pending[i]: inputs of node i not produced yet (one per reading, so a value read twice counts twice)
  const pending = new Int32Array(nodes.length)
  const readers = new Map<string, number[]>()
  const ready = new MinHeap<number>()
  nodes.forEach((n, i) => {
    for (const v of n.inputs) {
      if (available.has(v)) continue
      if (!producers.has(v))
        throw malformed(`node ${n.name} reads ${v}, which nothing produces`, { node: n.name, value: v })
      pending[i]!++
      const list = readers.get(v)
      if (list === undefined) readers.set(v, [i])
      else list.push(i)
    }
    if (pending[i] === 0) ready.push(i)
  })
  for (const o of outputs) {
    if (!available.has(o.name) && !producers.has(o.name))
      throw malformed(`graph output ${o.name} is never produced`, { value: o.name })
  }
  const order: OnnxNode[] = []
  while (!ready.isEmpty()) {
    const n = nodes[ready.pop()!]!
    order.push(n)
    for (const o of n.outputs) for (const r of readers.get(o) ?? []) if (--pending[r]! === 0) ready.push(r)
  }
  if (order.length < nodes.length)
    throw malformed('the graph has a cycle', { stuck: nodes.filter((_, i) => pending[i]! > 0).map((n) => n.name) })
  return order
}
