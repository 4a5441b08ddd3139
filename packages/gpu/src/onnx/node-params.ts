import { GpuError } from '../errors.js'
import type { SliceParams } from '../tensor/strided.js'
import { sizeOf } from '../tensor/tensor.js'
import type { OnnxNode } from './model.js'
import { DataType } from './proto.js'

/**
 * Attribute readers and the decoding of operator parameters that the host and the device forms of an operator
 * share (Slice's bounds, Split's sizes, a reduction's axes, Cast's target), so both read a node the same way.
 */

/** GPU__UNSUPPORTED_OP naming the node's operator and the node. */
export function unsupported(node: OnnxNode, reason: string, context: Record<string, unknown> = {}): GpuError {
  return new GpuError('GPU__UNSUPPORTED_OP', `${node.opType} (${node.name}): ${reason}`, {
    op: node.opType,
    node: node.name,
    ...context,
  })
}

/** GPU__MALFORMED_MODEL naming the node's operator and the node. */
export function malformedNode(node: OnnxNode, reason: string, context: Record<string, unknown> = {}): GpuError {
  return new GpuError('GPU__MALFORMED_MODEL', `${node.opType} (${node.name}): ${reason}`, {
    op: node.opType,
    node: node.name,
    ...context,
  })
}

export function intAttr(node: OnnxNode, name: string, fallback: number): number {
  const v = node.attributes[name]
  if (v === undefined) return fallback
  if (typeof v !== 'number') throw unsupported(node, `attribute ${name} must be a number`)
  return v
}

export function intsAttr(node: OnnxNode, name: string): readonly number[] | undefined {
  const v = node.attributes[name]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw unsupported(node, `attribute ${name} must be a list of integers`)
  return v as readonly number[]
}

export function stringAttr(node: OnnxNode, name: string, fallback: string): string {
  const v = node.attributes[name]
  return typeof v === 'string' ? v : fallback
}

export function floatAttr(node: OnnxNode, name: string, fallback: number): number {
  const v = node.attributes[name]
  if (v === undefined) return fallback
  if (typeof v !== 'number') throw unsupported(node, `attribute ${name} must be a number`)
  return v
}

/**
 * The integer values of input `index` of a node, which must be a host integer tensor, or undefined when the input
 * is omitted.
 */
export type IntsInput = (index: number) => readonly number[] | undefined

/** A required integer input (Slice's starts, Expand's shape, Tile's repeats). */
export function requiredInts(node: OnnxNode, ints: IntsInput, index: number): readonly number[] {
  const v = ints(index)
  if (v === undefined) throw malformedNode(node, `input ${index} is missing`, { input: index })
  return v
}

/** Slice's starts, ends, axes and steps: inputs from opset 10, attributes before. */
export function sliceParams(node: OnnxNode, opset: number, ints: IntsInput): SliceParams {
  if (opset < 10) {
    const starts = intsAttr(node, 'starts')
    const ends = intsAttr(node, 'ends')
    if (starts === undefined || ends === undefined)
      throw malformedNode(node, 'needs starts and ends attributes before opset 10', { attribute: 'starts' })
    return { starts, ends, axes: intsAttr(node, 'axes') }
  }
  return {
    starts: requiredInts(node, ints, 1),
    ends: requiredInts(node, ints, 2),
    axes: ints(3),
    steps: ints(4),
  }
}

/**
 * Split's piece sizes along an axis of `dim`: the split input (opset 13), attribute (opset 2 to 12) or either (opset
 * 1), else equal pieces,
 * one per output (from opset 18, `num_outputs` pieces of ceil(dim / n), the last one smaller).
 *
 * @throws GPU__MALFORMED_MODEL when the sizes do not name one piece per output
 * @throws GPU__SHAPE_MISMATCH when equal pieces do not divide the axis (before opset 18)
 */
export function splitSizes(node: OnnxNode, opset: number, dim: number, ints: IntsInput): number[] {
  const outputs = node.outputs.length
  const given = opset >= 13 ? ints(1) : opset < 2 ? (ints(1) ?? intsAttr(node, 'split')) : intsAttr(node, 'split')
  if (given !== undefined) {
    if (given.length !== outputs)
      throw malformedNode(node, `split names ${given.length} pieces for ${outputs} outputs`, { split: given })
    return [...given]
  }
  const count = opset >= 18 ? intAttr(node, 'num_outputs', outputs) : outputs
  if (count !== outputs || count < 1)
    throw malformedNode(node, `num_outputs ${count} disagrees with its ${outputs} outputs`, {
      attribute: 'num_outputs',
    })
  if (opset >= 18) {
    const piece = Math.ceil(dim / count)
    return Array.from({ length: count }, (_, i) => Math.max(0, Math.min(piece, dim - i * piece)))
  }
  if (dim % count !== 0)
    throw new GpuError('GPU__SHAPE_MISMATCH', `${node.opType} (${node.name}): ${dim} does not split in ${count}`, {
      op: node.opType,
      node: node.name,
      dim,
      outputs: count,
    })
  return new Array<number>(count).fill(dim / count)
}

/** The opset from which elementwise operators broadcast numpy-style. */
const NUMPY_BROADCAST_OPSET = 7

/** Binary operators that, before {@link NUMPY_BROADCAST_OPSET}, broadcast B onto A as `broadcast` and `axis` say. */
const LEGACY_BROADCASTING: ReadonlySet<string> = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Equal',
  'Less',
  'Greater',
])

/** The opset from which Max and Min broadcast their inputs; before it they must all have one shape. */
const VARIADIC_BROADCAST_OPSET = 8

/** Variadic elementwise operators that broadcast only from {@link VARIADIC_BROADCAST_OPSET}. */
const VARIADIC_BROADCASTING: ReadonlySet<string> = new Set(['Max', 'Min'])

/**
 * The shapes the operands of an elementwise node take, so that numpy broadcasting computes what the node's opset
 * says: their own, except for B (the second) of Add, Sub, Mul, Div, Pow, Equal, Less and Greater before opset 7.
 * There B must have A's shape unless `broadcast` is 1, and then it broadcasts onto A without stretching an axis of 1:
 * B holds one element (at a rank up to A's), or B's axes are A's from `axis` on (A's last ones without `axis`). B
 * then takes A's rank, with 1s around its axes, and the result has A's shape. Max and Min before opset 8 do not
 * broadcast: every input must have the first one's shape.
 *
 * @throws GPU__SHAPE_MISMATCH when B does not broadcast onto A that way, or Max or Min before opset 8 is given inputs
 *   of differing shapes (context `shapes`)
 */
export function broadcastOperandShapes(
  node: OnnxNode,
  opset: number,
  shapes: readonly (readonly number[])[],
): readonly (readonly number[])[] {
  const [a, b] = shapes
  if (opset < VARIADIC_BROADCAST_OPSET && VARIADIC_BROADCASTING.has(node.opType) && a !== undefined) {
    if (shapes.some((s) => s.length !== a.length || s.some((d, i) => d !== a[i])))
      throw new GpuError(
        'GPU__SHAPE_MISMATCH',
        `${node.opType} (${node.name}): all inputs must have one shape before opset ${VARIADIC_BROADCAST_OPSET}, ` +
          `not ${shapes.map((s) => JSON.stringify(s)).join(', ')}`,
        { op: node.opType, node: node.name, opset, shapes },
      )
    return shapes
  }
  if (opset >= NUMPY_BROADCAST_OPSET || !LEGACY_BROADCASTING.has(node.opType) || a === undefined || b === undefined)
    return shapes
  return [a, legacyOperandShape(node, a, b)]
}

/** B's shape for numpy broadcasting onto A as a node before opset 7 asks (see {@link broadcastOperandShapes}). */
function legacyOperandShape(node: OnnxNode, a: readonly number[], b: readonly number[]): readonly number[] {
  const mismatch = (reason: string): GpuError =>
    new GpuError('GPU__SHAPE_MISMATCH', `${node.opType} (${node.name}): ${reason}`, {
      op: node.opType,
      node: node.name,
      a,
      b,
    })
  const sameShape = a.length === b.length && a.every((d, i) => d === b[i])
  if (intAttr(node, 'broadcast', 0) === 0) {
    if (sameShape) return b
    throw mismatch(
      `B of shape ${JSON.stringify(b)} must have A's shape ${JSON.stringify(a)}: before opset ` +
        `${NUMPY_BROADCAST_OPSET} only broadcast=1 lets it broadcast`,
    )
  }
  if (b.length > a.length) throw mismatch(`B of rank ${b.length} cannot broadcast onto A of rank ${a.length}`)
  if (sizeOf(b) === 1) return a.map(() => 1)
  const start = intAttr(node, 'axis', a.length - b.length)
  if (!Number.isInteger(start) || start < 0 || start > a.length - b.length)
    throw mismatch(`axis ${start} must lie in [0, ${a.length - b.length}]`)
  if (b.some((d, i) => d !== a[start + i]))
    throw mismatch(`B's shape ${JSON.stringify(b)} is not A's ${JSON.stringify(a)} from axis ${start}`)
  return [...a.slice(0, start).map(() => 1), ...b, ...a.slice(start + b.length).map(() => 1)]
}

/** A reduction's axes (empty: every axis), keepdims, and whether empty axes make it a no-op. */
export interface ReduceParams {
  readonly axes: readonly number[]
  readonly keepDims: boolean
  readonly noop: boolean
}

/**
 * ReduceSum takes its axes as an input from opset 13, ReduceMean and ReduceMax from opset 18; attributes before.
 *
 * @throws GPU__MALFORMED_MODEL for an axes attribute where the opset wants an input
 */
export function reduceParams(node: OnnxNode, opset: number, ints: IntsInput): ReduceParams {
  const inputFrom = node.opType === 'ReduceSum' ? 13 : 18
  if (opset >= inputFrom && node.attributes.axes !== undefined)
    throw malformedNode(node, `takes axes as an input from opset ${inputFrom}`, { attribute: 'axes' })
  const axes = (opset >= inputFrom ? ints(1) : intsAttr(node, 'axes')) ?? []
  return {
    axes,
    keepDims: intAttr(node, 'keepdims', 1) !== 0,
    noop: axes.length === 0 && intAttr(node, 'noop_with_empty_axes', 0) !== 0,
  }
}

/** Cast's target: float32, int64, int32 (values wrap to 32 bits) or bool. */
export type CastTarget = 'float' | 'int64' | 'int32' | 'bool'

const CAST_TARGETS: ReadonlyMap<number, CastTarget> = new Map([
  [DataType.FLOAT, 'float'],
  [DataType.INT64, 'int64'],
  [DataType.INT32, 'int32'],
  [DataType.BOOL, 'bool'],
])

/** @throws GPU__UNSUPPORTED_OP (context `{ attribute: 'to', to }`) for any other target type */
export function castTarget(node: OnnxNode): CastTarget {
  const to = node.attributes.to
  const target = typeof to === 'number' ? CAST_TARGETS.get(to) : undefined
  if (target === undefined)
    throw unsupported(node, `cannot cast to type ${String(to)}: only FLOAT, INT64, INT32 and BOOL`, {
      attribute: 'to',
      to,
    })
  return target
}
