import { GpuError } from '../errors.js'
import { forEachBroadcast } from '../tensor/broadcast.js'
import { reduceRows } from '../tensor/cpu-backend.js'
import { gatherInto, planGather } from '../tensor/gather.js'
import { BINARY_CPU } from '../tensor/scalar.js'
import {
  broadcastShapes,
  flattenShape,
  normalizeAxis,
  planConcat,
  planReduce,
  reshapeShape,
  squeezeShape,
  unsqueezeShape,
} from '../tensor/shapes.js'
import { copyStrided, expandView, sliceView, splitViews, tileView, transposeView } from '../tensor/strided.js'
import type { StridedView } from '../tensor/strided.js'
import { sizeOf } from '../tensor/tensor.js'
import { allocate, assertHostSize, elementsOf, hostTensor, reshaped } from './host-tensor.js'
import type { HostElements } from './host-tensor.js'
import type { HostConstant, OnnxNode } from './model.js'
import {
  broadcastOperandShapes,
  castTarget,
  intAttr,
  intsAttr,
  malformedNode,
  reduceParams,
  requiredInts,
  sliceParams,
  splitSizes,
  unsupported,
} from './node-params.js'
import type { IntsInput } from './node-params.js'

/**
 * The runtime's host operators. Integer and boolean tensors (shapes, token ids, masks) never go to the device: a
 * node whose inputs all live on the host is computed here, exactly, in JavaScript numbers (integers exact to 2^53,
 * floats rounded to f32 once per operation as the CPU reference rounds them). What a PyTorch export computes on shapes
 * (Shape -> Gather -> Range -> Unsqueeze -> Concat -> Reshape, causal masks from Range and Less) runs here.
 */

/** Operators with a host form, computed on the host when none of their inputs lives on the device. */
export const HOST_OPS: ReadonlySet<string> = new Set([
  'Identity',
  'Cast',
  'ConstantOfShape',
  'Range',
  'Equal',
  'Less',
  'Greater',
  'Not',
  'Where',
  'Expand',
  'Gather',
  'Slice',
  'Split',
  'ReduceSum',
  'ReduceMax',
  'Tile',
  'Concat',
  'Unsqueeze',
  'Squeeze',
  'Reshape',
  'Flatten',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
])

/**
 * Operators that exist only on the host: their outputs are integers or booleans (or, for ConstantOfShape and Range,
 * tensors whose size their input values decide), which the device cannot produce without a read-back.
 */
export const HOST_ONLY_OPS: ReadonlySet<string> = new Set([
  'ConstantOfShape',
  'Range',
  'Equal',
  'Less',
  'Greater',
  'Not',
])

/** The inputs of a node on the host ('' inputs are undefined). */
type HostInputs = readonly (HostConstant | undefined)[]

/** ONNX Shape (opset 15 `start` and `end`, negative ones counted from the rank, both clamped into it). */
export function shapeValue(node: OnnxNode, shape: readonly number[]): HostConstant {
  const rank = shape.length
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank)
  const dims = shape.slice(clamp(intAttr(node, 'start', 0)), clamp(intAttr(node, 'end', rank)))
  return { shape: [dims.length], dataType: 'int', ints: dims }
}

/**
 * Computes a node whose inputs all live on the host; one value per output.
 *
 * @throws GPU__ALLOCATION_EXCEEDED when a result would exceed the host tensor bound
 */
export function runHostOp(node: OnnxNode, opset: number, inputs: HostInputs): HostConstant[] {
  const arg = (index: number): HostConstant => {
    const c = inputs[index]
    if (c === undefined) throw malformedNode(node, `lacks input ${index}`, { input: index })
    return c
  }
  const ints: IntsInput = (index) => {
    const c = inputs[index]
    if (c === undefined) return undefined
    if (c.dataType !== 'int') throw unsupported(node, `input ${index} must be an integer tensor`, { input: index })
    return c.ints!
  }
  const op = node.opType
  switch (op) {
    case 'Identity':
      return [arg(0)]
    case 'Cast':
      return [cast(node, arg(0))]
    case 'ConstantOfShape':
      return [constantOfShape(node, requiredInts(node, ints, 0))]
    case 'Range':
      return [range(node, arg(0), arg(1), arg(2))]
    case 'Equal':
    case 'Less':
    case 'Greater': {
      const [a, b] = broadcastOperands(node, opset, [arg(0), arg(1)])
      return [compare(node, a!, b!)]
    }
    case 'Not':
      return [not(node, arg(0))]
    case 'Where':
      return [where(node, arg(0), arg(1), arg(2))]
    case 'Expand':
      return [strided(node, arg(0), expandView(arg(0).shape, requiredInts(node, ints, 1), op))]
    case 'Tile':
      return [strided(node, arg(0), tileView(arg(0).shape, requiredInts(node, ints, 1), op))]
    case 'Slice':
      return [strided(node, arg(0), sliceView(arg(0).shape, sliceParams(node, opset, ints), op))]
    case 'Split': {
      const x = arg(0)
      const axis = normalizeAxis(intAttr(node, 'axis', 0), x.shape.length, op)
      return splitViews(x.shape, axis, splitSizes(node, opset, x.shape[axis]!, ints), op).map((v) =>
        strided(node, x, v),
      )
    }
    case 'Gather':
      return [gather(node, arg(0), arg(1))]
    case 'ReduceSum':
    case 'ReduceMax':
      return [reduce(node, opset, arg(0), ints)]
    case 'Concat':
      return [concat(node, inputs)]
    case 'Unsqueeze':
    case 'Squeeze': {
      const x = arg(0)
      const axes = opset >= 13 ? ints(1) : intsAttr(node, 'axes')
      return [reshaped(x, op === 'Squeeze' ? squeezeShape(x.shape, axes) : unsqueezeShape(x.shape, axes ?? []))]
    }
    case 'Reshape': {
      const x = arg(0)
      return [reshaped(x, reshapeShape(x.shape, requiredInts(node, ints, 1), intAttr(node, 'allowzero', 0) === 1))]
    }
    case 'Flatten':
      return [reshaped(arg(0), flattenShape(arg(0).shape, intAttr(node, 'axis', 1)))]
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const [a, b] = broadcastOperands(node, opset, [arg(0), arg(1)])
      return [arithmetic(node, a!, b!)]
    }
    case 'Neg': {
      const x = arg(0)
      numericType(node, [x])
      return [map(x, x.dataType, (v) => -v)]
    }
    default:
      throw unsupported(node, 'operator without a host form')
  }
}

/** The operands of an elementwise node, shaped as its opset broadcasts them (see `broadcastOperandShapes`). */
export function broadcastOperands(node: OnnxNode, opset: number, xs: readonly HostConstant[]): HostConstant[] {
  const shapes = broadcastOperandShapes(
    node,
    opset,
    xs.map((x) => x.shape),
  )
  return xs.map((x, i) => (shapes[i] === x.shape ? x : reshaped(x, shapes[i]!)))
}

/** The common type of inputs that ONNX requires to agree. */
function sameType(node: OnnxNode, xs: readonly HostConstant[]): HostConstant['dataType'] {
  const t = xs[0]!.dataType
  if (xs.some((x) => x.dataType !== t))
    throw malformedNode(node, `inputs mix ${[...new Set(xs.map((x) => x.dataType))].join(' and ')} tensors`)
  return t
}

/** The common type of numeric (float or integer) inputs. */
function numericType(node: OnnxNode, xs: readonly HostConstant[]): 'float' | 'int' {
  const t = sameType(node, xs)
  if (t === 'bool') throw unsupported(node, 'boolean inputs are not supported here')
  return t
}

/** Integers stay within ±(2^53 - 1), where JavaScript numbers are exact (see HostConstant.ints). */
function saturate(v: number): number {
  return Math.min(Math.max(v, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
}

/** `f` applied to every element, stored as `dataType`. */
function map(x: HostConstant, dataType: HostConstant['dataType'], f: (v: number) => number): HostConstant {
  const src = elementsOf(x)
  const out = allocate(dataType, src.length)
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]!)
  return hostTensor(dataType, x.shape, out)
}

/** `f` over the broadcast elements of `xs`, stored as `dataType`. */
function broadcastMap(
  node: OnnxNode,
  xs: readonly HostConstant[],
  dataType: HostConstant['dataType'],
  f: (values: readonly number[]) => number,
): HostConstant {
  const shape = xs.slice(1).reduce((s, x) => broadcastShapes(s, x.shape, node.opType), [...xs[0]!.shape])
  assertHostSize(shape, node.opType)
  const out = allocate(dataType, sizeOf(shape))
  const sources = xs.map(elementsOf)
  const values = xs.map(() => 0)
  forEachBroadcast(
    shape,
    xs.map((x) => x.shape),
    (o, at) => {
      for (let k = 0; k < sources.length; k++) values[k] = sources[k]![at[k]!]!
      out[o] = f(values)
    },
  )
  return hostTensor(dataType, shape, out)
}

/** The elements a strided view reads (Expand, Tile, Slice, Split). */
function strided(node: OnnxNode, x: HostConstant, view: StridedView): HostConstant {
  assertHostSize(view.shape, node.opType)
  return hostTensor(x.dataType, view.shape, copyStrided(elementsOf(x), view, allocate(x.dataType, sizeOf(view.shape))))
}

/** ONNX Cast to float (rounded to f32), int64, int32 (wrapping to 32 bits, as C casts do) or bool (non-zero). */
function cast(node: OnnxNode, x: HostConstant): HostConstant {
  const target = castTarget(node)
  if (target === 'float') return map(x, 'float', (v) => v)
  if (target === 'bool') return map(x, 'bool', (v) => (v !== 0 ? 1 : 0))
  return map(x, 'int', (v) => {
    if (!Number.isFinite(v)) throw unsupported(node, `cannot cast ${v} to an integer`, { value: v })
    const n = saturate(Math.trunc(v))
    return target === 'int32' ? n | 0 : n
  })
}

/** ONNX ConstantOfShape: the `value` attribute's one element (float 0 by default) in every place of `shape`. */
function constantOfShape(node: OnnxNode, shape: readonly number[]): HostConstant {
  const v = node.attributes.value
  if (v !== undefined && (typeof v !== 'object' || Array.isArray(v) || elementsOf(v as HostConstant).length !== 1))
    throw malformedNode(node, 'value must be a one-element tensor', { attribute: 'value' })
  const value = v === undefined ? undefined : (v as HostConstant)
  const dataType = value?.dataType ?? 'float'
  assertHostSize(shape, node.opType)
  const out = allocate(dataType, sizeOf(shape))
  const fill = value === undefined ? 0 : elementsOf(value)[0]!
  for (let i = 0; i < out.length; i++) out[i] = fill
  return hostTensor(dataType, shape, out)
}

/** ONNX Range: max(ceil((limit - start) / delta), 0) values from start by delta (floats accumulate in f32). */
function range(node: OnnxNode, start: HostConstant, limit: HostConstant, delta: HostConstant): HostConstant {
  const dataType = numericType(node, [start, limit, delta])
  const [s, l, d] = [start, limit, delta].map((c, i) => {
    const e = elementsOf(c)
    if (e.length !== 1) throw malformedNode(node, `input ${i} must be a scalar`, { input: i, shape: c.shape })
    return e[0]!
  }) as [number, number, number]
  if (d === 0) throw malformedNode(node, 'delta must not be 0', { input: 2 })
  // As onnxruntime computes it (measured): the span and the quotient in double precision.
  const n = Math.max(Math.ceil((l - s) / d), 0)
  if (!Number.isFinite(n))
    throw new GpuError('GPU__ALLOCATION_EXCEEDED', `${node.opType} (${node.name}): the range has no end`, {
      op: node.opType,
      node: node.name,
    })
  assertHostSize([Math.min(n, Number.MAX_SAFE_INTEGER)], node.opType)
  const out = allocate(dataType, n)
  let v = s
  for (let i = 0; i < n; i++) {
    // onnxruntime accumulates start += delta in the input type.
    out[i] = dataType === 'int' ? saturate(s + i * d) : v
    v = Math.fround(v + d)
  }
  return hostTensor(dataType, [n], out)
}

const COMPARE: Readonly<Record<string, (x: number, y: number) => boolean>> = {
  Equal: (x, y) => x === y,
  Less: (x, y) => x < y,
  Greater: (x, y) => x > y,
}

/** Equal, Less, Greater: a broadcast boolean tensor (Less and Greater of numbers only). */
function compare(node: OnnxNode, a: HostConstant, b: HostConstant): HostConstant {
  if (node.opType === 'Equal') sameType(node, [a, b])
  else numericType(node, [a, b])
  const f = COMPARE[node.opType]!
  return broadcastMap(node, [a, b], 'bool', ([x, y]) => (f(x!, y!) ? 1 : 0))
}

function not(node: OnnxNode, x: HostConstant): HostConstant {
  if (x.dataType !== 'bool') throw malformedNode(node, 'needs a boolean input')
  return map(x, 'bool', (v) => 1 - v)
}

/** ONNX Where with every operand on the host (masks built from shapes, before they meet device tensors). */
function where(node: OnnxNode, cond: HostConstant, a: HostConstant, b: HostConstant): HostConstant {
  if (cond.dataType !== 'bool') throw malformedNode(node, 'the condition must be a boolean tensor', { input: 0 })
  return broadcastMap(node, [cond, a, b], sameType(node, [a, b]), ([c, x, y]) => (c !== 0 ? x! : y!))
}

function gather(node: OnnxNode, data: HostConstant, indices: HostConstant): HostConstant {
  if (indices.dataType !== 'int') throw malformedNode(node, 'indices must be an integer tensor', { input: 1 })
  const plan = planGather(data.shape, indices.shape, indices.ints!, intAttr(node, 'axis', 0), node.opType)
  assertHostSize(plan.out, node.opType)
  return hostTensor(
    data.dataType,
    plan.out,
    gatherInto(elementsOf(data), plan, allocate(data.dataType, sizeOf(plan.out))),
  )
}

/** ReduceSum and ReduceMax of host tensors: integers exactly, floats as the CPU reference's row kernel. */
function reduce(node: OnnxNode, opset: number, x: HostConstant, ints: IntsInput): HostConstant {
  const dataType = numericType(node, [x])
  const { axes, keepDims, noop } = reduceParams(node, opset, ints)
  if (noop) return x
  const plan = planReduce(x.shape, axes, keepDims, node.opType)
  // Over an axis of length 0 the output is larger than the input, which bounded nothing.
  assertHostSize(plan.out, node.opType)
  const rows = elementsOf(plan.perm === undefined ? x : strided(node, x, transposeView(x.shape, plan.perm)))
  const op = node.opType === 'ReduceSum' ? 'sum' : 'max'
  if (dataType === 'float') return hostTensor('float', plan.out, reduceRows(op, rows, plan.rows, plan.n))
  const out = allocate('int', plan.rows)
  for (let r = 0; r < plan.rows; r++) {
    let acc = op === 'sum' ? 0 : -Number.MAX_SAFE_INTEGER
    for (let j = 0; j < plan.n; j++) {
      const v = rows[r * plan.n + j]!
      acc = op === 'sum' ? saturate(acc + v) : Math.max(acc, v)
    }
    out[r] = acc
  }
  return hostTensor('int', plan.out, out)
}

function concat(node: OnnxNode, inputs: HostInputs): HostConstant {
  if (inputs.length === 0 || inputs.some((c) => c === undefined))
    throw malformedNode(node, 'needs one or more inputs, none omitted')
  const xs = inputs as readonly HostConstant[]
  const dataType = sameType(node, xs)
  const axis = node.attributes.axis
  if (typeof axis !== 'number') throw malformedNode(node, 'needs an integer attribute axis', { attribute: 'axis' })
  const plan = planConcat(
    xs.map((x) => x.shape),
    axis,
    node.opType,
  )
  assertHostSize(plan.out, node.opType)
  const out: HostElements = allocate(dataType, sizeOf(plan.out))
  let offset = 0
  xs.forEach((x, k) => {
    const block = plan.blocks[k]!
    const src = elementsOf(x)
    for (let o = 0; o < plan.outer; o++)
      for (let i = 0; i < block; i++) out[o * plan.outBlock + offset + i] = src[o * block + i]!
    offset += block
  })
  return hostTensor(dataType, plan.out, out)
}

const INT_ARITHMETIC: Readonly<Record<string, (x: number, y: number) => number>> = {
  Add: (x, y) => saturate(x + y),
  Sub: (x, y) => saturate(x - y),
  Mul: (x, y) => saturate(x * y),
  // Integer division truncates toward zero, as onnxruntime's C++ division does.
  Div: (x, y) => Math.trunc(x / y),
}

/** Add, Sub, Mul, Div of host tensors: exact on integers, f32 on floats. */
function arithmetic(node: OnnxNode, a: HostConstant, b: HostConstant): HostConstant {
  const dataType = numericType(node, [a, b])
  if (dataType === 'float') {
    const f = BINARY_CPU[node.opType.toLowerCase()]!
    return broadcastMap(node, [a, b], 'float', ([x, y]) => f(x!, y!))
  }
  const f = INT_ARITHMETIC[node.opType]!
  return broadcastMap(node, [a, b], 'int', ([x, y]) => {
    if (node.opType === 'Div' && y === 0)
      throw new GpuError('GPU__INVALID_MODEL_INPUT', `${node.opType} (${node.name}): integer division by zero`, {
        op: node.opType,
        node: node.name,
      })
    return f(x!, y!)
  })
}
