import { MAX_TENSOR_ELEMENTS, MAX_TENSOR_RANK } from '../constants.js'
import { GpuError } from '../errors.js'

/** A float32 tensor on the host: row-major `data` of `shape`. */
export interface Tensor {
  readonly shape: readonly number[]
  readonly data: Float32Array
}

/**
 * An integer tensor on the host: row-major `data` of `shape`, for model inputs the graph declares int64 or int32
 * (token ids, attention masks). The runtime keeps integer tensors on the host, so they are bounded by
 * `MAX_HOST_TENSOR_ELEMENTS` (constants); int64 values must lie within ±(2^53 - 1).
 */
export interface IntTensor {
  readonly shape: readonly number[]
  readonly data: BigInt64Array | Int32Array
}

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

/**
 * Throws GPU__SHAPE_MISMATCH unless `shape` is a valid tensor shape, and GPU__ALLOCATION_EXCEEDED unless it lies
 * within the runtime's bounds: at most {@link MAX_TENSOR_ELEMENTS} elements, and no dimension above that either, so a
 * tensor of no elements (a 0 among its dimensions) cannot carry a dimension that a reduction or a matmul over its
 * empty axis would turn into the length of a non-empty output.
 */
export function assertShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || shape.length > MAX_TENSOR_RANK || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new GpuError('GPU__SHAPE_MISMATCH', `${what}: a shape is up to ${MAX_TENSOR_RANK} non-negative integers`, {
      what,
      shape,
    })
  }
  const long = shape.find((d) => d > MAX_TENSOR_ELEMENTS)
  if (long !== undefined) {
    throw new GpuError(
      'GPU__ALLOCATION_EXCEEDED',
      `${what}: a dimension of ${long} is more than ${MAX_TENSOR_ELEMENTS}, even in a tensor of no elements`,
      { what, shape },
    )
  }
  const n = sizeOf(shape)
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new GpuError('GPU__ALLOCATION_EXCEEDED', `${what}: ${n} elements is more than ${MAX_TENSOR_ELEMENTS}`, {
      what,
      shape,
    })
  }
}

/** A validated host tensor; `data` defaults to zeros and must hold exactly the shape's element count. */
export function tensor(shape: readonly number[], data?: Float32Array | readonly number[]): Tensor {
  assertShape(shape, 'tensor')
  const n = sizeOf(shape)
  const values =
    data === undefined ? new Float32Array(n) : data instanceof Float32Array ? data : Float32Array.from(data)
  if (values.length !== n) {
    throw new GpuError(
      'GPU__SHAPE_MISMATCH',
      `tensor data holds ${values.length} values, shape ${JSON.stringify(shape)} needs ${n}`,
      {
        shape,
        values: values.length,
      },
    )
  }
  return { shape: Object.freeze([...shape]), data: values }
}

/**
 * A validated integer tensor. Numbers become int64 (`BigInt64Array`); pass an `Int32Array` or a `BigInt64Array` to
 * keep that type.
 */
export function intTensor(shape: readonly number[], data: BigInt64Array | Int32Array | readonly number[]): IntTensor {
  assertShape(shape, 'intTensor')
  const n = sizeOf(shape)
  if (!(data instanceof BigInt64Array || data instanceof Int32Array) && !data.every((v) => Number.isSafeInteger(v)))
    throw new GpuError('GPU__INVALID_INPUT', 'intTensor data must be safe integers', { shape })
  const values = data instanceof BigInt64Array || data instanceof Int32Array ? data : BigInt64Array.from(data, BigInt)
  if (values.length !== n)
    throw new GpuError(
      'GPU__SHAPE_MISMATCH',
      `intTensor data holds ${values.length} values, shape ${JSON.stringify(shape)} needs ${n}`,
      { shape, values: values.length },
    )
  return { shape: Object.freeze([...shape]), data: values }
}

/** Whether a model input is an {@link IntTensor} (its data is a `BigInt64Array` or an `Int32Array`). */
export function isIntTensor(t: Tensor | IntTensor): t is IntTensor {
  return t.data instanceof BigInt64Array || t.data instanceof Int32Array
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s
    s *= shape[i]!
  }
  return strides
}
