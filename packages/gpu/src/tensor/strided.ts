import { GpuError } from '../errors.js'
import { broadcastShapes, broadcastStrides, normalizeAxis, transposeShape } from './shapes.js'
import { assertShape, sizeOf, stridesOf } from './tensor.js'

/**
 * A strided read of a row-major tensor, as one copy kernel serves Transpose, Slice, Split, Expand and Tile: output
 * element `(i_0, …, i_r)` of `shape` reads input element `offset + Σ_d (i_d mod wrap[d]) * strides[d]`. Strides may be
 * negative (Slice with negative steps) or 0 (broadcast axes); `wrap[d]` divides `shape[d]`, and is smaller than it
 * only where Tile repeats the input.
 */
export interface StridedView {
  readonly shape: readonly number[]
  readonly offset: number
  readonly strides: readonly number[]
  readonly wrap: readonly number[]
}

/** ONNX Slice parameters (opset 10+ inputs), before normalization. */
export interface SliceParams {
  readonly starts: readonly number[]
  readonly ends: readonly number[]
  /** @default every axis in order, as many as `starts` */
  readonly axes?: readonly number[] | undefined
  /** @default 1 for every axis */
  readonly steps?: readonly number[] | undefined
}

function mismatch(what: string, message: string, context: Record<string, unknown>): GpuError {
  return new GpuError('GPU__SHAPE_MISMATCH', `${what}: ${message}`, { what, ...context })
}

function malformed(what: string, message: string, context: Record<string, unknown>): GpuError {
  return new GpuError('GPU__MALFORMED_MODEL', `${what}: ${message}`, { what, ...context })
}

/** A view that reads `shape` with `strides` and no wrapping. */
function plainView(shape: readonly number[], offset: number, strides: readonly number[]): StridedView {
  return { shape: [...shape], offset, strides: [...strides], wrap: [...shape] }
}

/** Transpose as a strided view: output axis d reads input axis perm[d]. */
export function transposeView(shape: readonly number[], perm: readonly number[], what = 'Transpose'): StridedView {
  const { out } = transposeShape(shape, perm, what)
  const inStrides = stridesOf(shape)
  return plainView(
    out,
    0,
    perm.map((p) => inStrides[p]!),
  )
}

/** ONNX Expand: `shape` broadcast with `target` (numpy rules, both ways), broadcast axes read with stride 0. */
export function expandView(shape: readonly number[], target: readonly number[], what = 'Expand'): StridedView {
  const out = broadcastShapes(shape, target, what)
  return plainView(out, 0, broadcastStrides(shape, out))
}

/** ONNX Tile: axis d repeated `repeats[d]` times, each output index wrapping at the input's dimension. */
export function tileView(shape: readonly number[], repeats: readonly number[], what = 'Tile'): StridedView {
  if (repeats.length !== shape.length || repeats.some((r) => !Number.isInteger(r) || r < 0))
    throw mismatch(what, `repeats ${JSON.stringify(repeats)} must be ${shape.length} non-negative integers`, {
      shape,
      repeats,
    })
  const out = shape.map((d, i) => d * repeats[i]!)
  assertShape(out, what)
  return { shape: out, offset: 0, strides: stridesOf(shape), wrap: [...shape] }
}

/**
 * ONNX Slice (opset 10+): negative starts and ends count from the end, then both are clamped into the axis (to
 * [0, dim] for positive steps, [-1, dim - 1] for negative ones), so INT64_MAX means "to the end".
 *
 * @throws GPU__MALFORMED_MODEL for a step of 0, an axis named twice, or parameter lists of different lengths
 * @throws GPU__SHAPE_MISMATCH for an axis outside the rank
 */
export function sliceView(shape: readonly number[], params: SliceParams, what = 'Slice'): StridedView {
  const { starts, ends } = params
  const axes = params.axes ?? starts.map((_, i) => i)
  const steps = params.steps ?? starts.map(() => 1)
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    throw malformed(what, 'starts, ends, axes and steps must have one entry per sliced axis', {
      starts: starts.length,
      ends: ends.length,
      axes: axes.length,
      steps: steps.length,
    })
  const inStrides = stridesOf(shape)
  const out = [...shape]
  const strides = [...inStrides]
  const seen = new Set<number>()
  let offset = 0
  axes.forEach((axis, i) => {
    const a = normalizeAxis(axis, shape.length, what)
    if (seen.has(a)) throw malformed(what, `axis ${axis} is sliced twice`, { axes })
    seen.add(a)
    const step = steps[i]!
    if (step === 0 || !Number.isInteger(step))
      throw malformed(what, `step ${step} of axis ${axis} is not allowed`, { steps })
    const dim = shape[a]!
    const [start, end] = clampRange(starts[i]!, ends[i]!, dim, step)
    const length = Math.max(0, Math.ceil((end - start) / step))
    out[a] = length
    strides[a] = inStrides[a]! * step
    if (length > 0) offset += start * inStrides[a]!
  })
  return plainView(out, offset, strides)
}

/** A slice's start and end along an axis of `dim`, normalized and clamped as ONNX Slice does. */
function clampRange(start: number, end: number, dim: number, step: number): [number, number] {
  const s = start < 0 ? start + dim : start
  const e = end < 0 ? end + dim : end
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi)
  return step > 0 ? [clamp(s, 0, dim), clamp(e, 0, dim)] : [clamp(s, 0, dim - 1), clamp(e, -1, dim - 1)]
}

/**
 * ONNX Split: consecutive pieces of `sizes[k]` elements along `axis`, one view per output.
 *
 * @throws GPU__SHAPE_MISMATCH unless the sizes are non-negative integers that add up to the axis
 */
export function splitViews(
  shape: readonly number[],
  axis: number,
  sizes: readonly number[],
  what = 'Split',
): StridedView[] {
  const a = normalizeAxis(axis, shape.length, what)
  const total = sizes.reduce((sum, s) => sum + s, 0)
  if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== shape[a])
    throw mismatch(what, `sizes ${JSON.stringify(sizes)} do not split an axis of ${shape[a]}`, { shape, axis, sizes })
  let start = 0
  return sizes.map((size) => {
    const view = sliceView(shape, { starts: [start], ends: [start + size], axes: [a] }, what)
    start += size
    return view
  })
}

/** A writable array of numbers: a typed array or a plain array. */
export interface NumberSink {
  [index: number]: number
}

/**
 * The CPU form of the strided copy: fills `out` with the elements `view` reads from `src`, walking the output in
 * row-major order (an odometer that adds strides rather than dividing indices).
 */
export function copyStrided<A extends NumberSink>(src: ArrayLike<number>, view: StridedView, out: A): A {
  const { shape, strides, wrap } = view
  const total = sizeOf(shape)
  const rank = shape.length
  const idx = new Array<number>(rank).fill(0)
  const wrapped = new Array<number>(rank).fill(0)
  let at = view.offset
  for (let o = 0; o < total; o++) {
    out[o] = src[at]!
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++
      wrapped[d]!++
      at += strides[d]!
      // wrap[d] divides shape[d], so at the end of the axis the wrapped index is back at 0 as well.
      if (wrapped[d] === wrap[d]) {
        wrapped[d] = 0
        at -= strides[d]! * wrap[d]!
      }
      if (idx[d]! < shape[d]!) break
      idx[d] = 0
    }
  }
  return out
}
