import type { GatherPlan } from './gather.js'
import type { Conv2dPlan } from './shapes.js'
import type { StridedView } from './strided.js'
import type { Tensor } from './tensor.js'

/** Elementwise binary operators (numpy broadcasting). `pow` follows C's `pow` (ONNX Pow). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow'

/**
 * Elementwise unary operators. `leakyRelu` takes `alpha`, `scale` its factor `alpha`, `clip` the bounds `alpha`
 * (min) and `beta` (max), `hardSigmoid` its `alpha` and `beta`; `hardSwish` is x * hardSigmoid(x; 1/6, 1/2).
 */
export type UnaryOp =
  | 'relu'
  | 'leakyRelu'
  | 'gelu'
  | 'geluTanh'
  | 'tanh'
  | 'sigmoid'
  | 'erf'
  | 'exp'
  | 'sqrt'
  | 'neg'
  | 'abs'
  | 'identity'
  | 'scale'
  | 'clip'
  | 'hardSigmoid'
  | 'hardSwish'

/**
 * Row reductions: each row's sum pairwise in an order fixed by its length (`pairwiseSum`), its maximum in ascending
 * order from -inf.
 */
export type ReduceOp = 'sum' | 'mean' | 'max'

/** A tensor living in some backend (host memory for the CPU reference, a GPU buffer for the WebGPU runtime). */
export interface BackendTensor {
  readonly shape: readonly number[]
}

/**
 * The kernel set both runtimes implement. Shapes are validated by the shared functions in `shapes.ts` before a
 * backend is called. Every reduction runs in a fixed order per output element (k ascending, axis ascending) that
 * does not depend on batch size, so a batch item computed alone equals the same item computed in a batch.
 */
export interface TensorBackend<T extends BackendTensor> {
  readonly name: string
  fromHost(t: Tensor): T
  /** Reads a tensor back; an abort of `signal` rejects with AbortError rather than wait for the device. */
  toHost(t: T, signal?: AbortSignal): Promise<Tensor>
  /** Frees a tensor's storage (a no-op on the CPU). */
  release(t: T): void
  /**
   * Drops the work recorded and not yet submitted, so that releasing a failed or aborted run's tensors does not send
   * the rest of its graph to the device (a no-op where nothing is recorded).
   */
  abandon?(): void
  /**
   * Submits the work recorded since the last window once it passes the backend's window, then waits (until `signal`
   * aborts) while more windows are submitted and unfinished than the backend keeps, so an aborted run leaves little
   * queued on the device. Absent where kernels compute as they are called (the CPU reference).
   */
  pace?(signal: AbortSignal): Promise<void>
  /** The same elements under another shape of equal size (shares storage). */
  view(t: T, shape: readonly number[]): T
  matmul(a: T, b: T): T
  binary(op: BinaryOp, a: T, b: T): T
  /** `alpha` and `beta` are the operator's parameters (see {@link UnaryOp}); both default to 0. */
  unary(op: UnaryOp, a: T, alpha?: number, beta?: number): T
  softmax(a: T, axis: number): T
  /** Normalizes over axes [axis, rank); scale and bias have the normalized shape. */
  layerNorm(x: T, scale: T, bias: T | undefined, axis: number, epsilon: number): T
  transpose(a: T, perm: readonly number[]): T
  conv2d(x: T, w: T, bias: T | undefined, plan: Conv2dPlan): T
  maxPool2d(x: T, plan: Conv2dPlan): T
  /** Window means; `countIncludePad` divides by the whole window, otherwise by its elements inside the input. */
  averagePool2d(x: T, plan: Conv2dPlan, countIncludePad: boolean): T
  globalAveragePool(x: T): T
  /** The mean of each row of a 2-D `[rows, n]` tensor, summed pairwise (see {@link ReduceOp}): shape `[rows]`. */
  meanRows(a: T): T
  /** Each row of a 2-D `[rows, n]` tensor reduced by `op` (see {@link ReduceOp}): shape `[rows]`. */
  reduceRows(op: ReduceOp, a: T): T
  /** The elements a strided view reads (see `StridedView`): Slice, Split, Expand and Tile. */
  copyStrided(a: T, view: StridedView): T
  /** Rows of `a` picked by a Gather plan (see `planGather`), whose indices are already in range. */
  gather(a: T, plan: GatherPlan): T
  /** Elementwise `cond != 0 ? a : b` with numpy broadcasting of all three (ONNX Where, the mask as 0/1 floats). */
  where(cond: T, a: T, b: T): T
  /** Joins tensors along `axis` (may be negative); they agree on every other axis. */
  concat(inputs: readonly T[], axis: number): T
}
