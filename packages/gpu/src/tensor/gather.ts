import { GpuError } from '../errors.js'
import { normalizeAxis } from './shapes.js'
import { assertShape, sizeOf } from './tensor.js'
import type { NumberSink } from './strided.js'

/**
 * Plan of an ONNX Gather: the input is `outer` blocks of `axisLength` rows of `inner` elements, and output block
 * `o`, position `j` is input row `indices[j]` of block `o`.
 */
export interface GatherPlan {
  readonly out: readonly number[]
  readonly outer: number
  readonly axisLength: number
  readonly inner: number
  /** The indices, negative ones already counted from the end: each in [0, axisLength). */
  readonly indices: Int32Array
}

/**
 * Plans ONNX Gather of `shape` along `axis` by `indices` of `indicesShape`: the output shape is
 * `shape[:axis] + indicesShape + shape[axis + 1:]`.
 *
 * @throws GPU__INVALID_MODEL_INPUT (context `{ index, position, axisLength }`) for an index outside
 *   [-axisLength, axisLength): a token id outside the embedding table, typically
 * @throws GPU__SHAPE_MISMATCH for an axis outside the rank or an output above the rank bound
 */
export function planGather(
  shape: readonly number[],
  indicesShape: readonly number[],
  indices: ArrayLike<number>,
  axis: number,
  what = 'Gather',
): GatherPlan {
  if (shape.length === 0)
    throw new GpuError('GPU__SHAPE_MISMATCH', `${what}: cannot gather from a scalar`, { what, shape })
  const a = normalizeAxis(axis, shape.length, what)
  const axisLength = shape[a]!
  const out = [...shape.slice(0, a), ...indicesShape, ...shape.slice(a + 1)]
  assertShape(out, what)
  const normalized = new Int32Array(indices.length)
  for (let j = 0; j < indices.length; j++) {
    const index = indices[j]!
    if (!Number.isInteger(index) || index < -axisLength || index >= axisLength)
      throw new GpuError(
        'GPU__INVALID_MODEL_INPUT',
        `${what}: index ${index} is outside an axis of ${axisLength} (a token id beyond the vocabulary?)`,
        { what, index, position: j, axisLength },
      )
    normalized[j] = index < 0 ? index + axisLength : index
  }
  return { out, outer: sizeOf(shape.slice(0, a)), axisLength, inner: sizeOf(shape.slice(a + 1)), indices: normalized }
}

/** The CPU form of Gather: fills `out` with the rows `plan` picks from `src`. */
export function gatherInto<A extends NumberSink>(src: ArrayLike<number>, plan: GatherPlan, out: A): A {
  const { outer, axisLength, inner, indices } = plan
  let o = 0
  for (let block = 0; block < outer; block++) {
    for (let j = 0; j < indices.length; j++) {
      const from = (block * axisLength + indices[j]!) * inner
      for (let k = 0; k < inner; k++) out[o++] = src[from + k]!
    }
  }
  return out
}
