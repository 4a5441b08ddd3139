import { MAX_HOST_TENSOR_ELEMENTS } from '../constants.js'
import { GpuError } from '../errors.js'
import { assertShape, sizeOf } from '../tensor/tensor.js'
import type { IntTensor } from '../tensor/tensor.js'
import type { HostConstant } from './model.js'

/** Element storage of a host tensor: f32 for floats, plain numbers for integers and booleans. */
export type HostElements = Float32Array | number[]

/**
 * Throws GPU__ALLOCATION_EXCEEDED when a host tensor of `shape` would hold more than
 * {@link MAX_HOST_TENSOR_ELEMENTS}; host operators call it before they allocate.
 */
export function assertHostSize(shape: readonly number[], what: string): void {
  assertShape(shape, what)
  const elements = sizeOf(shape)
  if (elements > MAX_HOST_TENSOR_ELEMENTS)
    throw new GpuError(
      'GPU__ALLOCATION_EXCEEDED',
      `${what}: a host (integer or boolean) tensor of ${elements} elements is more than ${MAX_HOST_TENSOR_ELEMENTS}`,
      { what, shape, elements, limit: MAX_HOST_TENSOR_ELEMENTS },
    )
}

/** Empty storage for `n` elements of `dataType`. */
export function allocate(dataType: HostConstant['dataType'], n: number): HostElements {
  return dataType === 'float' ? new Float32Array(n) : new Array<number>(n).fill(0)
}

/** A host tensor over `elements` (taken as they are: f32 for floats, integers, 0/1 for booleans). */
export function hostTensor(
  dataType: HostConstant['dataType'],
  shape: readonly number[],
  elements: HostElements,
): HostConstant {
  return dataType === 'float'
    ? { shape: [...shape], dataType, floats: elements instanceof Float32Array ? elements : Float32Array.from(elements) }
    : { shape: [...shape], dataType, ints: elements instanceof Float32Array ? Array.from(elements) : elements }
}

/** The elements of a host tensor, whatever its type. */
export function elementsOf(c: HostConstant): ArrayLike<number> {
  return c.floats ?? c.ints ?? []
}

/** The same elements under another shape of equal size. */
export function reshaped(c: HostConstant, shape: readonly number[]): HostConstant {
  return { ...c, shape: [...shape] }
}

/**
 * An integer model input as a host tensor.
 *
 * @throws GPU__INVALID_MODEL_INPUT when it holds more than {@link MAX_HOST_TENSOR_ELEMENTS} values or an int64 value
 *   beyond ±(2^53 - 1)
 */
export function hostInput(name: string, t: IntTensor): HostConstant {
  const n = t.data.length
  if (n > MAX_HOST_TENSOR_ELEMENTS)
    throw new GpuError(
      'GPU__INVALID_MODEL_INPUT',
      `input ${name} holds ${n} integers, more than the ${MAX_HOST_TENSOR_ELEMENTS} kept on the host`,
      { name, elements: n, limit: MAX_HOST_TENSOR_ELEMENTS },
    )
  const ints = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const v = Number(t.data[i]!)
    if (!Number.isSafeInteger(v))
      throw new GpuError('GPU__INVALID_MODEL_INPUT', `input ${name} holds ${String(t.data[i])}, beyond ±(2^53 - 1)`, {
        name,
        position: i,
      })
    ints[i] = v
  }
  return { shape: [...t.shape], dataType: 'int', ints }
}
