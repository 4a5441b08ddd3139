import {
  MAX_EMPTY_REDUCTION_ELEMENTS,
  MAX_MATMUL_MULTIPLY_ADDS,
  MAX_TENSOR_ELEMENTS,
  MAX_WINDOW_OP_READS,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { assertShape, sizeOf, stridesOf } from './tensor.js'

/** Shape arithmetic shared by the GPU runtime and the CPU reference: both reject the same inputs the same way. */

function mismatch(what: string, message: string, context: Record<string, unknown>): GpuError {
  return new GpuError('GPU__SHAPE_MISMATCH', `${what}: ${message}`, { what, ...context })
}

/** Numpy-style broadcast of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], what: string): number[] {
  const rank = Math.max(a.length, b.length)
  const out = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da !== db && da !== 1 && db !== 1)
      throw mismatch(what, `shapes ${JSON.stringify(a)} and ${JSON.stringify(b)} do not broadcast`, { a, b })
    out[i] = da === 1 ? db : da
  }
  assertShape(out, what)
  return out
}

/** Strides to read `shape` as if broadcast to `out` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = stridesOf(shape)
  return out.map((d, i) => {
    const j = i - (out.length - shape.length)
    return j < 0 || shape[j] === 1 ? 0 : strides[j]!
  })
}

/**
 * Throws GPU__ALLOCATION_EXCEEDED when `outputs` elements, each reduced from `reduced` input elements, reduce nothing
 * (`reduced` is 0) and are more than {@link MAX_EMPTY_REDUCTION_ELEMENTS}: only then is a reduction's output larger
 * than its input, whose dimensions a tensor of no elements may set at will.
 */
export function assertEmptyReductionBound(outputs: number, reduced: number, what: string): void {
  if (reduced === 0 && outputs > MAX_EMPTY_REDUCTION_ELEMENTS) {
    throw new GpuError(
      'GPU__ALLOCATION_EXCEEDED',
      `${what}: ${outputs} elements reduced from no input elements are more than ${MAX_EMPTY_REDUCTION_ELEMENTS}`,
      { what, elements: outputs, limit: MAX_EMPTY_REDUCTION_ELEMENTS },
    )
  }
}

/** Plan of a (batched, broadcast) ONNX MatMul. */
export interface MatMulPlan {
  m: number
  n: number
  k: number
  /** Output shape (ONNX semantics: 1-D operands lose their added axis). */
  out: number[]
  /** Broadcast batch shape and per-operand batch strides in elements (0 where broadcast). */
  batchShape: number[]
  aBatchStrides: number[]
  bBatchStrides: number[]
  batch: number
}

/**
 * Shapes of ONNX MatMul (numpy matmul).
 *
 * @throws GPU__ALLOCATION_EXCEEDED for more multiply-adds than {@link MAX_MATMUL_MULTIPLY_ADDS}
 */
export function planMatMul(a: readonly number[], b: readonly number[], what = 'MatMul'): MatMulPlan {
  if (a.length === 0 || b.length === 0) throw mismatch(what, 'operands must have rank >= 1', { a, b })
  const a2 = a.length === 1 ? [1, a[0]!] : [...a]
  const b2 = b.length === 1 ? [b[0]!, 1] : [...b]
  const m = a2[a2.length - 2]!
  const k = a2[a2.length - 1]!
  const kb = b2[b2.length - 2]!
  const n = b2[b2.length - 1]!
  if (k !== kb) throw mismatch(what, `inner dimensions differ (${JSON.stringify(a)} x ${JSON.stringify(b)})`, { a, b })
  const aBatch = a2.slice(0, -2)
  const bBatch = b2.slice(0, -2)
  const batchShape = broadcastShapes(aBatch, bBatch, what)
  const aBatchStrides = broadcastStrides(aBatch, batchShape).map((s) => s * m * k)
  const bBatchStrides = broadcastStrides(bBatch, batchShape).map((s) => s * k * n)
  const out = [...batchShape]
  if (a.length !== 1) out.push(m)
  if (b.length !== 1) out.push(n)
  assertShape(out, what)
  assertEmptyReductionBound(sizeOf(out), k, what)
  if (sizeOf(out) * k > MAX_MATMUL_MULTIPLY_ADDS) {
    throw new GpuError(
      'GPU__ALLOCATION_EXCEEDED',
      `${what}: ${sizeOf(out)} outputs of ${k} multiply-adds each are more than the ${MAX_MATMUL_MULTIPLY_ADDS} ` +
        'one MatMul may make; use smaller operands or a smaller batch',
      { what, outputs: sizeOf(out), k, limit: MAX_MATMUL_MULTIPLY_ADDS },
    )
  }
  return { m, n, k, out, batchShape, aBatchStrides, bBatchStrides, batch: sizeOf(batchShape) }
}

/** Resolves a Reshape target (0 copies the input's dim unless allowzero; -1 is inferred). */
export function reshapeShape(
  input: readonly number[],
  target: readonly number[],
  allowZero: boolean,
  what = 'Reshape',
): number[] {
  const out = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= input.length) throw mismatch(what, 'a 0 in the target names a missing input axis', { input, target })
      return input[i]!
    }
    return d
  })
  const unknown = out.filter((d) => d === -1).length
  if (unknown > 1 || out.some((d) => !Number.isInteger(d) || d < -1))
    throw mismatch(what, `invalid target shape ${JSON.stringify(target)}`, { input, target })
  const total = sizeOf(input)
  if (unknown === 1) {
    const known = sizeOf(out.filter((d) => d !== -1))
    if (known === 0 || total % known !== 0)
      throw mismatch(what, `cannot infer -1 reshaping ${JSON.stringify(input)} to ${JSON.stringify(target)}`, {
        input,
        target,
      })
    out[out.indexOf(-1)] = total / known
  }
  if (sizeOf(out) !== total)
    throw mismatch(what, `cannot reshape ${JSON.stringify(input)} to ${JSON.stringify(target)}`, { input, target })
  assertShape(out, what)
  return out
}

/**
 * Normalizes a possibly negative axis into [0, rank). A scalar (rank 0) has no axis: an operator naming one of it
 * (Softmax, LayerNormalization, Split, Gather, Concat, a reduction's axes) needs rank 1 or more.
 */
export function normalizeAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw mismatch(what, `axis ${axis} is out of range for rank ${rank}`, { axis, rank })
  return a
}

/**
 * ONNX Squeeze: drops the named axes (each of size 1), or every axis of size 1 when `axes` is undefined or empty (as
 * onnxruntime reads an empty list: not given).
 */
export function squeezeShape(
  shape: readonly number[],
  axes: readonly number[] | undefined,
  what = 'Squeeze',
): number[] {
  if (axes === undefined || axes.length === 0) return shape.filter((d) => d !== 1)
  const drop = new Set(axes.map((a) => normalizeAxis(a, shape.length, what)))
  for (const a of drop)
    if (shape[a] !== 1) throw mismatch(what, `axis ${a} has size ${shape[a]}, not 1`, { shape, axes })
  return shape.filter((_, i) => !drop.has(i))
}

/** ONNX Unsqueeze: inserts axes of size 1 at the named positions of the output. */
export function unsqueezeShape(shape: readonly number[], axes: readonly number[], what = 'Unsqueeze'): number[] {
  const rank = shape.length + axes.length
  const add = new Set(axes.map((a) => normalizeAxis(a, rank, what)))
  if (add.size !== axes.length) throw mismatch(what, `axes ${JSON.stringify(axes)} name an axis twice`, { axes })
  const out: number[] = []
  let j = 0
  for (let i = 0; i < rank; i++) out.push(add.has(i) ? 1 : shape[j++]!)
  assertShape(out, what)
  return out
}

/** ONNX Flatten: the axes before `axis` (which may be negative or the rank) into one, the rest into another. */
export function flattenShape(shape: readonly number[], axis: number, what = 'Flatten'): [number, number] {
  const a = axis < 0 ? axis + shape.length : axis
  if (!Number.isInteger(a) || a < 0 || a > shape.length)
    throw mismatch(what, `axis ${axis} is out of range for rank ${shape.length}`, { axis, shape })
  return [sizeOf(shape.slice(0, a)), sizeOf(shape.slice(a))]
}

/**
 * Plan of a reduction (ReduceSum, ReduceMax, ReduceMean): the reduced axes are moved last by `perm` (undefined when
 * they already are), which leaves `rows` rows of `n` elements, each reduced in ascending order whatever the batch.
 */
export interface ReducePlan {
  readonly perm: readonly number[] | undefined
  readonly rows: number
  readonly n: number
  readonly out: readonly number[]
}

/** Plans a reduction of `shape` over `axes` (possibly negative; every axis when empty). */
export function planReduce(
  shape: readonly number[],
  axes: readonly number[],
  keepDims: boolean,
  what = 'Reduce',
): ReducePlan {
  const rank = shape.length
  const reduced = new Set((axes.length === 0 ? shape.map((_, i) => i) : axes).map((a) => normalizeAxis(a, rank, what)))
  if (axes.length > 0 && reduced.size !== axes.length)
    throw mismatch(what, `axes ${JSON.stringify(axes)} name an axis twice`, { axes })
  const all = shape.map((_, i) => i)
  const kept = all.filter((i) => !reduced.has(i))
  const perm = [...kept, ...all.filter((i) => reduced.has(i))]
  return {
    perm: perm.every((p, i) => p === i) ? undefined : perm,
    rows: sizeOf(kept.map((i) => shape[i]!)),
    n: sizeOf([...reduced].map((i) => shape[i]!)),
    out: keepDims ? shape.map((d, i) => (reduced.has(i) ? 1 : d)) : kept.map((i) => shape[i]!),
  }
}

/** Plan of a Concat: each input is `outer` blocks of `blocks[k]` elements, laid side by side in the output. */
export interface ConcatPlan {
  /** The axis, normalized into [0, rank). */
  axis: number
  out: number[]
  /** The product of the dimensions before the axis. */
  outer: number
  /** Elements per outer index of each input (its axis length times the trailing dimensions). */
  blocks: number[]
  /** Elements per outer index of the output. */
  outBlock: number
}

/** Shapes of ONNX Concat: one or more inputs of one rank (at least 1) that agree on every axis but `axis`. */
export function planConcat(shapes: readonly (readonly number[])[], axis: number, what = 'Concat'): ConcatPlan {
  const first = shapes[0]
  if (first === undefined || first.length === 0)
    throw mismatch(what, 'needs one or more inputs of rank 1 or more', { shapes })
  const a = normalizeAxis(axis, first.length, what)
  for (const s of shapes) {
    if (s.length !== first.length || s.some((d, i) => i !== a && d !== first[i]))
      throw mismatch(what, `shapes ${JSON.stringify(shapes)} differ on an axis other than ${axis}`, { shapes, axis })
  }
  const out = [...first]
  out[a] = shapes.reduce((sum, s) => sum + s[a]!, 0)
  assertShape(out, what)
  const inner = sizeOf(first.slice(a + 1))
  return {
    axis: a,
    out,
    outer: sizeOf(first.slice(0, a)),
    blocks: shapes.map((s) => s[a]! * inner),
    outBlock: out[a] * inner,
  }
}

/**
 * The `[rows, n]` of a 2-D shape whose rows a kernel reduces (see {@link assertEmptyReductionBound}).
 *
 * @throws GPU__SHAPE_MISMATCH unless the shape is 2-D
 * @throws GPU__ALLOCATION_EXCEEDED for rows of no elements beyond the bound on reductions over nothing
 */
export function rowsOf(shape: readonly number[], what = 'meanRows'): [number, number] {
  if (shape.length !== 2) throw mismatch(what, `needs a 2-D tensor, not ${JSON.stringify(shape)}`, { shape })
  assertEmptyReductionBound(shape[0]!, shape[1]!, what)
  return [shape[0]!, shape[1]!]
}

/** Plan of a GlobalAveragePool: each of `rows` (N, C) planes of `n` elements averaged into one of `out`. */
export interface GlobalPoolPlan {
  readonly rows: number
  readonly n: number
  readonly out: readonly number[]
}

/**
 * Plans GlobalAveragePool over `shape` (N, C, spatial...).
 *
 * @throws GPU__ALLOCATION_EXCEEDED for empty planes beyond the bound on reductions over nothing
 */
export function planGlobalPool(shape: readonly number[], what = 'GlobalAveragePool'): GlobalPoolPlan {
  const [n = 1, c = 1] = shape
  const plan = { rows: n * c, n: sizeOf(shape.slice(2)), out: [n, c, ...shape.slice(2).map(() => 1)] }
  assertEmptyReductionBound(plan.rows, plan.n, what)
  return plan
}

/** Output shape of a transpose; `perm` defaults to reversing the axes. */
export function transposeShape(
  shape: readonly number[],
  perm: readonly number[] | undefined,
  what = 'Transpose',
): { out: number[]; perm: number[] } {
  const p = perm === undefined ? shape.map((_, i) => shape.length - 1 - i) : [...perm]
  const sorted = [...p].sort((x, y) => x - y)
  if (p.length !== shape.length || sorted.some((v, i) => v !== i))
    throw mismatch(what, `perm ${JSON.stringify(perm)} is not a permutation of rank ${shape.length}`, { shape, perm })
  return { out: p.map((i) => shape[i]!), perm: p }
}

/** 2-D convolution/pooling geometry for NCHW input. */
export interface Conv2dPlan {
  n: number
  c: number
  h: number
  w: number
  oc: number
  oh: number
  ow: number
  kh: number
  kw: number
  group: number
  strides: [number, number]
  dilations: [number, number]
  /** top, left, bottom, right */
  pads: [number, number, number, number]
}

/** Conv attributes as ONNX names them. */
export interface ConvAttributes {
  strides?: readonly number[]
  dilations?: readonly number[]
  pads?: readonly number[]
  group?: number
  kernelShape?: readonly number[]
}

/**
 * Plans ONNX Conv for 4-D NCHW input and OIHW weights.
 *
 * @throws GPU__SHAPE_MISMATCH for weights that do not fit the input, or a window that does not fit it
 * @throws GPU__UNSUPPORTED_OP for pads as wide as the dilated kernel, or geometry beyond 32-bit parameters
 * @throws GPU__ALLOCATION_EXCEEDED for more reads than {@link MAX_WINDOW_OP_READS}
 */
export function planConv2d(
  x: readonly number[],
  w: readonly number[],
  attrs: ConvAttributes,
  what = 'Conv',
): Conv2dPlan {
  if (x.length !== 4 || w.length !== 4)
    throw mismatch(what, 'only 2-D convolution (NCHW input, OIHW weights) is supported', { x, w })
  const group = attrs.group ?? 1
  const [n, c, h, wd] = x as [number, number, number, number]
  const [oc, icg, kh, kw] = w as [number, number, number, number]
  if (!Number.isInteger(group) || group < 1 || c % group !== 0 || oc % group !== 0 || icg !== c / group) {
    throw mismatch(what, `weights ${JSON.stringify(w)} do not fit input ${JSON.stringify(x)} with group ${group}`, {
      x,
      w,
      group,
    })
  }
  if (attrs.kernelShape !== undefined && (attrs.kernelShape[0] !== kh || attrs.kernelShape[1] !== kw)) {
    throw mismatch(what, 'kernel_shape disagrees with the weights', { kernelShape: attrs.kernelShape, w })
  }
  return windowPlan({ n, c, h, w: wd, oc, kh, kw, group }, attrs, 'conv', what)
}

/**
 * Plans ONNX MaxPool or AveragePool over NCHW input.
 *
 * @throws GPU__SHAPE_MISMATCH for a window that does not fit the input, or pads as wide as the kernel
 * @throws GPU__UNSUPPORTED_OP for geometry beyond 32-bit parameters
 * @throws GPU__ALLOCATION_EXCEEDED for more reads than {@link MAX_WINDOW_OP_READS}
 */
export function planPool2d(x: readonly number[], attrs: ConvAttributes, what = 'MaxPool'): Conv2dPlan {
  if (x.length !== 4) throw mismatch(what, 'only 2-D pooling over NCHW input is supported', { x })
  const k = attrs.kernelShape
  if (k?.length !== 2) throw mismatch(what, 'kernel_shape must name two dimensions', { kernelShape: k })
  const [n, c, h, w] = x as [number, number, number, number]
  return windowPlan({ n, c, h, w, oc: c, kh: k[0]!, kw: k[1]!, group: c }, attrs, 'pool', what)
}

/**
 * The window geometry the kernels take: strides, dilations, the padded input's extent on each axis and the kernel's
 * taps stay within {@link MAX_TENSOR_ELEMENTS}, so the shaders' u32 parameters and i32 input coordinates (at most the
 * padded extent) never wrap.
 */
const MAX_WINDOW_GEOMETRY = MAX_TENSOR_ELEMENTS

/**
 * The geometry of a Conv (`kind` 'conv') or a pooling ('pool'), checked as the kernels need it: within 32-bit
 * parameters ({@link MAX_WINDOW_GEOMETRY}), no window wholly in the padding, and within
 * {@link MAX_WINDOW_OP_READS} (or, reading nothing, {@link MAX_EMPTY_REDUCTION_ELEMENTS}).
 */
function windowPlan(
  g: { n: number; c: number; h: number; w: number; oc: number; kh: number; kw: number; group: number },
  attrs: ConvAttributes,
  kind: 'conv' | 'pool',
  what: string,
): Conv2dPlan {
  const strides = pair(attrs.strides, 1, what, 'strides')
  const dilations = pair(attrs.dilations, 1, what, 'dilations')
  const p = attrs.pads ?? [0, 0, 0, 0]
  if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0))
    throw mismatch(what, 'pads must be four non-negative integers', { pads: p })
  const pads = [p[0]!, p[1]!, p[2]!, p[3]!] as [number, number, number, number]
  const padded = [g.h + pads[0] + pads[2], g.w + pads[1] + pads[3]]
  if (padded.some((extent) => extent > MAX_WINDOW_GEOMETRY))
    throw beyondGeometry(what, 'pads', `the padded input (${JSON.stringify(padded)}) is longer than`, { pads })
  const oh = Math.floor((padded[0]! - dilations[0] * (g.kh - 1) - 1) / strides[0]) + 1
  const ow = Math.floor((padded[1]! - dilations[1] * (g.kw - 1) - 1) / strides[1]) + 1
  if (!(g.kh >= 1 && g.kw >= 1 && oh >= 1 && ow >= 1))
    throw mismatch(what, 'the window does not fit the input', { h: g.h, w: g.w, kh: g.kh, kw: g.kw })
  // AveragePool's count_include_pad divides by them.
  if (g.kh * g.kw > MAX_WINDOW_GEOMETRY)
    throw beyondGeometry(what, 'kernel_shape', `the kernel's ${g.kh * g.kw} taps are more than`, {
      kernelShape: [g.kh, g.kw],
    })
  assertPaddingWithinWindow(g, dilations, pads, kind, what)
  const outputs = [g.n, g.oc, oh, ow]
  assertShape(outputs, what)
  assertWindowReads(g, dilations, sizeOf(outputs), what)
  return { ...g, oh, ow, strides, dilations, pads }
}

/**
 * Refuses padding as wide as the window, where a window may lie in the padding alone: pooling as onnxruntime does
 * (ONNX requires pads smaller than the kernel) with GPU__SHAPE_MISMATCH, a Conv, which would output its bias alone
 * there, whatever the padding adds, with GPU__UNSUPPORTED_OP (context `attribute: 'pads'`). A pad below the dilated
 * kernel's extent is all that "same" padding needs.
 */
function assertPaddingWithinWindow(
  g: { kh: number; kw: number },
  dilations: readonly [number, number],
  pads: readonly [number, number, number, number],
  kind: 'conv' | 'pool',
  what: string,
): void {
  const kernelShape = [g.kh, g.kw]
  const extent = kind === 'pool' ? kernelShape : kernelShape.map((k, i) => dilations[i]! * (k - 1) + 1)
  if (pads.every((pad, i) => pad < extent[i % 2]!)) return
  if (kind === 'pool') throw mismatch(what, 'pads must be smaller than kernel_shape', { op: what, pads, kernelShape })
  throw new GpuError(
    'GPU__UNSUPPORTED_OP',
    `${what}: pads must be smaller than the dilated kernel (${JSON.stringify(extent)})`,
    {
      what,
      op: what,
      attribute: 'pads',
      pads,
      extent,
    },
  )
}

/**
 * Throws GPU__ALLOCATION_EXCEEDED when a window op's `outputs` would read more than {@link MAX_WINDOW_OP_READS} input
 * elements (each its group's input channels at the kernel taps that can reach the input), or read none and be more
 * than {@link MAX_EMPTY_REDUCTION_ELEMENTS}.
 */
function assertWindowReads(
  g: { c: number; h: number; w: number; kh: number; kw: number; group: number },
  dilations: readonly [number, number],
  outputs: number,
  what: string,
): void {
  // A pooling's group is its channel count, 0 for an input of no channels.
  const channels = g.group === 0 ? 0 : g.c / g.group
  const taps = Math.min(g.kh, Math.ceil(g.h / dilations[0])) * Math.min(g.kw, Math.ceil(g.w / dilations[1]))
  const reads = channels * taps
  assertEmptyReductionBound(outputs, reads, what)
  if (outputs * reads > MAX_WINDOW_OP_READS) {
    throw new GpuError(
      'GPU__ALLOCATION_EXCEEDED',
      `${what}: ${outputs} outputs reading up to ${reads} input elements each are more than the ` +
        `${MAX_WINDOW_OP_READS} reads one window op may make; use a smaller input, kernel or batch`,
      { what, outputs, reads, limit: MAX_WINDOW_OP_READS },
    )
  }
}

function pair(v: readonly number[] | undefined, fallback: number, what: string, name: string): [number, number] {
  const p = v ?? [fallback, fallback]
  if (p.length !== 2 || p.some((x) => !Number.isInteger(x) || x < 1))
    throw mismatch(what, `${name} must be two positive integers`, { [name]: v })
  if (p.some((x) => x > MAX_WINDOW_GEOMETRY)) throw beyondGeometry(what, name, `${name} are above`, { [name]: v })
  return [p[0]!, p[1]!]
}

/** GPU__UNSUPPORTED_OP for window attributes beyond {@link MAX_WINDOW_GEOMETRY}. */
function beyondGeometry(what: string, attribute: string, message: string, context: Record<string, unknown>): GpuError {
  return new GpuError('GPU__UNSUPPORTED_OP', `${what}: ${message} ${MAX_WINDOW_GEOMETRY}`, {
    what,
    op: what,
    attribute,
    limit: MAX_WINDOW_GEOMETRY,
    ...context,
  })
}
