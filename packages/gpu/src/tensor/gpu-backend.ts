import { GpuError } from '../errors.js'
import { storageBufferSize } from '../device/context.js'
import type { Dispatch, GpuContext } from '../device/context.js'
import { raceSignal } from '@tessera/core'
import {
  MAX_RUN_DEVICE_BYTES,
  MAX_TENSOR_RANK,
  ONNX_PACED_WINDOW_WORK,
  ONNX_PACED_WINDOWS_IN_FLIGHT,
  TENSOR_GARBAGE_FLUSH_BYTES,
} from '../constants.js'
import {
  ALIGNED_MATMUL_K,
  alignedMatmulKernel,
  AVERAGEPOOL_WGSL,
  binaryKernel,
  BLOCKED_MATMUL_TILE,
  blockedMatmulKernel,
  CONCAT_WGSL,
  CONV2D_WGSL,
  ELEMENTWISE_WORKGROUP,
  GATHER_WGSL,
  LAYERNORM_WGSL,
  MATMUL_MAX_BATCH_RANK,
  MATMUL_TILE,
  MAXPOOL_WGSL,
  rowReduceKernel,
  SOFTMAX_WGSL,
  STRIDED_COPY_WGSL,
  TILED_MATMUL_WGSL,
  unaryKernel,
  WHERE_WGSL,
} from './kernels-wgsl.js'
import type { AlignedMatmulTile } from './kernels-wgsl.js'
import type { GatherPlan } from './gather.js'
import type { BackendTensor, BinaryOp, ReduceOp, TensorBackend, UnaryOp } from './ops.js'
import { ROW_REDUCE_START } from './scalar.js'
import { broadcastShapes, broadcastStrides, planConcat, planGlobalPool, planMatMul, rowsOf } from './shapes.js'
import type { Conv2dPlan } from './shapes.js'
import { transposeView } from './strided.js'
import type { StridedView } from './strided.js'
import { sizeOf, tensor } from './tensor.js'
import type { Tensor } from './tensor.js'

/** Which matmul kernel a runtime uses (fixed per runtime, never per shape of M, so batches stay bit-stable). */
export type MatmulKernel = 'tiled' | 'blocked'

/** Device storage shared by a tensor and its views; freed when the last holder releases it. */
interface Storage {
  buffer: GPUBuffer
  holders: number
}

/** A tensor in a GPU buffer. */
export interface GpuTensor extends BackendTensor {
  readonly storage: Storage
  /** Kept (e.g. cached weights): `release` does not free it. */
  readonly pinned: boolean
}

/** Options of a {@link GpuBackend}. */
export interface GpuBackendOptions {
  /**
   * Most bytes of device buffers the backend may hold at once: created, not pinned, and not yet destroyed (released
   * buffers count until they are). An allocation past it throws GPU__ALLOCATION_EXCEEDED.
   * @default MAX_RUN_DEVICE_BYTES
   */
  maxLiveBytes?: number
  /**
   * Bytes of released buffers at which `release` submits what is recorded and destroys them.
   * @default TENSOR_GARBAGE_FLUSH_BYTES
   */
  flushGarbageBytes?: number
  /**
   * Work recorded (multiply-adds of a MatMul or Conv, elements read by other kernels) at which `pace` submits a window.
   * @default ONNX_PACED_WINDOW_WORK
   */
  paceWork?: number
}

/**
 * The WGSL tensor runtime. Kernels are recorded as dispatches and submitted in one compute pass at the next
 * read-back (`toHost`), `flush`, or window of `pace` (a run with an abort signal); WebGPU orders dispatches in a pass, and passes in submit order, so each sees its
 * predecessors' writes. Released buffers are destroyed at the next flush, which comes early once they pass
 * `flushGarbageBytes`, so the device holds about the live set, never more than `maxLiveBytes`.
 */
export class GpuBackend implements TensorBackend<GpuTensor> {
  readonly name = 'webgpu'
  readonly matmulKernel: MatmulKernel
  readonly #ctx: GpuContext
  readonly #maxLiveBytes: number
  readonly #flushGarbageBytes: number
  readonly #paceWork: number
  #pending: Dispatch[] = []
  /** Work recorded since the last submit (see {@link GpuBackendOptions.paceWork}). */
  #unsubmittedWork = 0
  /** Paced windows submitted, each settling when the device has finished it (and everything before it). */
  #windows: Promise<void>[] = []
  /** Parameter blocks for the dispatch being built: garbage once it is recorded, not before. */
  #unrecorded: GPUBuffer[] = []
  #garbage: GPUBuffer[] = []
  #garbageBytes = 0
  /** Buffers this backend created, not pinned, and not yet destroyed. */
  readonly #live = new Set<GPUBuffer>()
  #liveBytes = 0
  #peakLiveBytes = 0

  constructor(ctx: GpuContext, matmulKernel: MatmulKernel, options: GpuBackendOptions = {}) {
    this.#ctx = ctx
    this.matmulKernel = matmulKernel
    this.#maxLiveBytes = options.maxLiveBytes ?? MAX_RUN_DEVICE_BYTES
    this.#flushGarbageBytes = options.flushGarbageBytes ?? TENSOR_GARBAGE_FLUSH_BYTES
    this.#paceWork = options.paceWork ?? ONNX_PACED_WINDOW_WORK
  }

  /** Bytes of the buffers this backend holds now (created, not pinned, not yet destroyed). */
  get liveBytes(): number {
    return this.#liveBytes
  }

  /** The most bytes this backend has held at once. */
  get peakLiveBytes(): number {
    return this.#peakLiveBytes
  }

  fromHost(t: Tensor, pinned = false): GpuTensor {
    // Pinned tensors belong to their owner's cache (the engine's weights), which outlives any one run.
    const buffer = pinned
      ? this.#ctx.upload(t.data, 'tensor')
      : this.#create(t.data.byteLength, 'tensor', () => this.#ctx.upload(t.data, 'tensor'))
    return { shape: t.shape, storage: { buffer, holders: 1 }, pinned }
  }

  async toHost(t: GpuTensor, signal?: AbortSignal): Promise<Tensor> {
    this.flush()
    const n = sizeOf(t.shape)
    const bytes = await this.#ctx.read(t.storage.buffer, n * 4, signal)
    return tensor(t.shape, new Float32Array(bytes))
  }

  /** Submits recorded dispatches and frees buffers released since the last flush. */
  flush(): void {
    if (this.#pending.length > 0) this.#ctx.submit(this.#pending)
    this.#pending = []
    this.#unsubmittedWork = 0
    // destroy() after submit is safe: WebGPU keeps a buffer alive until the queued work that uses it finishes.
    for (const b of this.#garbage) this.#destroy(b)
    this.#garbage = []
    this.#garbageBytes = 0
  }

  /**
   * Submits a window once the work recorded since the last submit passes `paceWork`, then waits for the oldest
   * windows while more than {@link ONNX_PACED_WINDOWS_IN_FLIGHT} are unfinished: the device runs one window while the
   * host records the next, and an abort leaves at most that many windows of work queued.
   *
   * @throws AbortError when `signal` aborts during the wait (the windows already submitted still run)
   */
  async pace(signal: AbortSignal): Promise<void> {
    if (this.#unsubmittedWork < this.#paceWork) return
    this.flush()
    const done = this.#ctx.idle()
    // An abort leaves the last windows unwaited for; a device loss is reported by the run's next call or read.
    this.#windows.push(done.catch(() => undefined))
    while (this.#windows.length > ONNX_PACED_WINDOWS_IN_FLIGHT) await raceSignal(this.#windows.shift()!, signal)
  }

  /**
   * Destroys every buffer the backend holds and drops what is recorded without submitting it: the end of a run,
   * whether it finished, failed or was aborted. Work already submitted still runs; nothing new is.
   */
  abandon(): void {
    this.#pending = []
    this.#unsubmittedWork = 0
  }

  dispose(): void {
    this.abandon()
    for (const b of [...this.#garbage, ...this.#unrecorded, ...this.#live]) this.#destroy(b)
    this.#garbage = []
    this.#unrecorded = []
    this.#garbageBytes = 0
  }

  release(t: GpuTensor): void {
    if (t.pinned) return
    t.storage.holders--
    if (t.storage.holders === 0) this.#discard(t.storage.buffer)
  }

  /** Frees a pinned tensor (cached weights). */
  unpin(t: GpuTensor): void {
    t.storage.holders--
    if (t.storage.holders <= 0) this.#discard(t.storage.buffer)
  }

  /** Queues a buffer nothing will record again for destruction, flushing once the queue passes its bound. */
  #discard(buffer: GPUBuffer): void {
    this.#garbage.push(buffer)
    this.#garbageBytes += buffer.size
    if (this.#garbageBytes >= this.#flushGarbageBytes) this.flush()
  }

  #destroy(buffer: GPUBuffer): void {
    buffer.destroy()
    if (this.#live.delete(buffer)) this.#liveBytes -= buffer.size
  }

  /** A buffer of `bytes` from `make`, counted against `maxLiveBytes` (freeing released buffers first if need be). */
  #create(bytes: number, what: string, make: () => GPUBuffer): GPUBuffer {
    const size = storageBufferSize(bytes)
    if (this.#liveBytes + size > this.#maxLiveBytes && this.#garbage.length > 0) this.flush()
    if (this.#liveBytes + size > this.#maxLiveBytes) {
      throw new GpuError(
        'GPU__ALLOCATION_EXCEEDED',
        `${what} needs ${size} bytes while ${this.#liveBytes} are held, past the ${this.#maxLiveBytes}-byte bound ` +
          'on device memory one run may hold; use smaller inputs or a model that keeps fewer large tensors alive',
        { what, bytes: size, live: this.#liveBytes, limit: this.#maxLiveBytes },
      )
    }
    const buffer = make()
    this.#live.add(buffer)
    this.#liveBytes += buffer.size
    this.#peakLiveBytes = Math.max(this.#peakLiveBytes, this.#liveBytes)
    return buffer
  }

  view(t: GpuTensor, shape: readonly number[]): GpuTensor {
    if (sizeOf(shape) !== sizeOf(t.shape)) {
      throw new GpuError('GPU__SHAPE_MISMATCH', 'a view must keep the element count', { from: t.shape, to: shape })
    }
    t.storage.holders++
    return { shape: [...shape], storage: t.storage, pinned: false }
  }

  /** An uninitialized tensor in a new buffer. */
  alloc(shape: readonly number[]): GpuTensor {
    return this.#alloc(shape, 'tensor')
  }

  #alloc(shape: readonly number[], what: string): GpuTensor {
    const bytes = sizeOf(shape) * 4
    const buffer = this.#create(bytes, what, () => this.#ctx.createStorage(bytes, what))
    return { shape: [...shape], storage: { buffer, holders: 1 }, pinned: false }
  }

  /** Uploads `data` that the next recorded dispatch reads and nothing after it. */
  #uploadForDispatch(data: Uint32Array, what: string): GPUBuffer {
    const buffer = this.#create(data.byteLength, what, () => this.#ctx.upload(data, what))
    this.#unrecorded.push(buffer)
    return buffer
  }

  #params(values: readonly number[]): GPUBuffer {
    return this.#uploadForDispatch(Uint32Array.from(values), 'kernel params')
  }

  /** Records one dispatch; `work` is its multiply-adds or elements read (see {@link GpuBackendOptions.paceWork}). */
  #record(
    key: string,
    code: () => string,
    bindings: Record<number, GPUBuffer>,
    workgroups: [number, number, number],
    work: number,
  ): void {
    this.#ctx.checkDispatch(...workgroups, key)
    const pipeline = this.#ctx.pipeline(key, code)
    this.#pending.push({ pipeline, bindGroup: this.#ctx.bind(pipeline, bindings), workgroups })
    this.#unsubmittedWork += work
    // Only now may a flush destroy them: the dispatch that reads them is submitted first.
    for (const b of this.#unrecorded) {
      this.#garbage.push(b)
      this.#garbageBytes += b.size
    }
    this.#unrecorded = []
  }

  /** A 2-D grid of 256-wide workgroups covering `n` invocations. */
  #grid(n: number): [number, number, number] {
    const groups = Math.max(1, Math.ceil(n / ELEMENTWISE_WORKGROUP))
    const limit = this.#ctx.device.limits.maxComputeWorkgroupsPerDimension
    const x = Math.min(groups, limit)
    return [x, Math.ceil(groups / x), 1]
  }

  matmul(a: GpuTensor, b: GpuTensor): GpuTensor {
    const p = planMatMul(a.shape, b.shape)
    return this.matmulInto(a, b, this.#alloc(p.out, 'MatMul output'))
  }

  /** Matmul into an existing output tensor of the right shape (benchmarks reuse one output). */
  matmulInto(a: GpuTensor, b: GpuTensor, out: GpuTensor): GpuTensor {
    const p = planMatMul(a.shape, b.shape)
    if (out.shape.length !== p.out.length || out.shape.some((d, i) => d !== p.out[i])) {
      throw new GpuError('GPU__SHAPE_MISMATCH', 'the output tensor has the wrong shape for this MatMul', {
        out: out.shape,
        expected: p.out,
      })
    }
    if (p.batchShape.length > MATMUL_MAX_BATCH_RANK) {
      throw new GpuError('GPU__SHAPE_MISMATCH', `MatMul supports at most ${MATMUL_MAX_BATCH_RANK} batch axes`, {
        a: a.shape,
        b: b.shape,
      })
    }
    if (sizeOf(p.out) === 0) return out
    const pad = (v: number[]): number[] => [...v, ...new Array<number>(MATMUL_MAX_BATCH_RANK - v.length).fill(0)]
    const layout = [
      p.m,
      p.n,
      p.k,
      p.batch,
      p.batchShape.length,
      ...pad(p.batchShape),
      ...pad(p.aBatchStrides),
      ...pad(p.bBatchStrides),
    ]
    const { key, code, grid } = this.#matmulKernelFor(p.m, p.n, p.k, p.batch)
    const limit = this.#ctx.device.limits.maxComputeWorkgroupsPerDimension
    const blocks = dispatchBlocks(grid, limit)
    for (const { origin, workgroups } of blocks) {
      const params = this.#params([...layout, ...origin])
      this.#record(
        key,
        code,
        { 0: a.storage.buffer, 1: b.storage.buffer, 2: out.storage.buffer, 9: params },
        workgroups,
        (sizeOf(p.out) * p.k) / blocks.length,
      )
    }
    return out
  }

  /** The matmul kernel this runtime takes for an (m x k) by (k x n) product over `batch`, and its whole grid. */
  #matmulKernelFor(
    m: number,
    n: number,
    k: number,
    batch: number,
  ): { key: string; code: () => string; grid: [number, number, number] } {
    const aligned = this.matmulKernel === 'tiled' ? alignedTile(m, n, k, batch) : undefined
    if (aligned !== undefined) {
      return {
        key: `matmul-aligned-${aligned}`,
        code: () => alignedMatmulKernel(aligned),
        grid: [n / aligned, m / aligned, batch],
      }
    }
    if (this.matmulKernel === 'tiled') {
      return {
        key: 'matmul-tiled',
        code: () => TILED_MATMUL_WGSL,
        grid: [Math.ceil(n / MATMUL_TILE), Math.ceil(m / MATMUL_TILE), batch],
      }
    }
    const vecN = n % 4 === 0
    const vecK = k % 4 === 0
    return {
      key: `matmul-blocked-${vecN}-${vecK}`,
      code: () => blockedMatmulKernel(vecN, vecK),
      grid: [Math.ceil(n / BLOCKED_MATMUL_TILE), Math.ceil(m / BLOCKED_MATMUL_TILE), batch],
    }
  }

  binary(op: BinaryOp, a: GpuTensor, b: GpuTensor): GpuTensor {
    const shape = broadcastShapes(a.shape, b.shape, op)
    const out = this.#alloc(shape, op)
    const n = sizeOf(shape)
    if (n === 0) return out
    const params = this.#params([
      n,
      shape.length,
      ...padRank(shape),
      ...padRank(broadcastStrides(a.shape, shape)),
      ...padRank(broadcastStrides(b.shape, shape)),
    ])
    this.#record(
      `binary-${op}`,
      () => binaryKernel(op),
      { 0: a.storage.buffer, 1: b.storage.buffer, 2: out.storage.buffer, 9: params },
      this.#grid(n),
      n,
    )
    return out
  }

  unary(op: UnaryOp, a: GpuTensor, alpha = 0, beta = 0): GpuTensor {
    const out = this.#alloc(a.shape, op)
    const n = sizeOf(a.shape)
    if (n === 0) return out
    const params = this.#params([n, f32Bits(alpha), f32Bits(beta)])
    this.#record(
      `unary-${op}`,
      () => unaryKernel(op),
      { 0: a.storage.buffer, 2: out.storage.buffer, 9: params },
      this.#grid(n),
      n,
    )
    return out
  }

  softmax(a: GpuTensor, axis: number): GpuTensor {
    const out = this.#alloc(a.shape, 'Softmax')
    const len = a.shape[axis]!
    const inner = sizeOf(a.shape.slice(axis + 1))
    const rows = sizeOf(a.shape.slice(0, axis)) * inner
    if (rows === 0 || len === 0) return out
    const params = this.#params([rows, len, inner])
    this.#record(
      'softmax',
      () => SOFTMAX_WGSL,
      { 0: a.storage.buffer, 2: out.storage.buffer, 9: params },
      this.#grid(rows),
      rows * len,
    )
    return out
  }

  layerNorm(x: GpuTensor, scale: GpuTensor, bias: GpuTensor | undefined, axis: number, epsilon: number): GpuTensor {
    const out = this.#alloc(x.shape, 'LayerNormalization')
    const n = sizeOf(x.shape.slice(axis))
    const outer = sizeOf(x.shape.slice(0, axis))
    if (outer === 0 || n === 0) return out
    const params = this.#params([outer, n, f32Bits(epsilon), bias === undefined ? 0 : 1])
    const bindings = {
      0: x.storage.buffer,
      1: scale.storage.buffer,
      3: (bias ?? scale).storage.buffer,
      2: out.storage.buffer,
      9: params,
    }
    this.#record('layernorm', () => LAYERNORM_WGSL, bindings, this.#grid(outer), outer * n)
    return out
  }

  transpose(a: GpuTensor, perm: readonly number[]): GpuTensor {
    return this.copyStrided(a, transposeView(a.shape, perm))
  }

  copyStrided(a: GpuTensor, view: StridedView): GpuTensor {
    const out = this.#alloc(view.shape, 'strided copy')
    const n = sizeOf(view.shape)
    if (n === 0) return out
    const params = this.#params([
      n,
      view.shape.length,
      view.offset,
      ...padRank(view.shape),
      ...padRank(view.wrap),
      ...padRank(view.strides),
    ])
    this.#record(
      'strided-copy',
      () => STRIDED_COPY_WGSL,
      { 0: a.storage.buffer, 2: out.storage.buffer, 9: params },
      this.#grid(n),
      n,
    )
    return out
  }

  gather(a: GpuTensor, plan: GatherPlan): GpuTensor {
    const out = this.#alloc(plan.out, 'Gather')
    const n = sizeOf(plan.out)
    if (n === 0) return out
    const indices = this.#uploadForDispatch(Uint32Array.from(plan.indices), 'Gather indices')
    this.#record(
      'gather',
      () => GATHER_WGSL,
      {
        0: a.storage.buffer,
        1: indices,
        2: out.storage.buffer,
        9: this.#params([n, plan.inner, plan.indices.length, plan.axisLength]),
      },
      this.#grid(n),
      n,
    )
    return out
  }

  where(cond: GpuTensor, a: GpuTensor, b: GpuTensor): GpuTensor {
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'Where'), b.shape, 'Where')
    const out = this.#alloc(shape, 'Where')
    const n = sizeOf(shape)
    if (n === 0) return out
    const params = this.#params([
      n,
      shape.length,
      ...padRank(shape),
      ...[cond, a, b].flatMap((t) => padRank(broadcastStrides(t.shape, shape))),
    ])
    this.#record(
      'where',
      () => WHERE_WGSL,
      { 0: cond.storage.buffer, 1: a.storage.buffer, 3: b.storage.buffer, 2: out.storage.buffer, 9: params },
      this.#grid(n),
      n,
    )
    return out
  }

  /** `flag`: the conv has a bias, or the average pool counts padding. */
  #windowParams(total: number, p: Conv2dPlan, flag: boolean): GPUBuffer {
    return this.#params([
      total,
      p.n,
      p.c,
      p.h,
      p.w,
      p.oc,
      p.oh,
      p.ow,
      p.kh,
      p.kw,
      p.group,
      ...p.strides,
      ...p.dilations,
      p.pads[0],
      p.pads[1],
      flag ? 1 : 0,
    ])
  }

  conv2d(x: GpuTensor, w: GpuTensor, bias: GpuTensor | undefined, p: Conv2dPlan): GpuTensor {
    const shape = [p.n, p.oc, p.oh, p.ow]
    const out = this.#alloc(shape, 'Conv')
    const n = sizeOf(shape)
    if (n === 0) return out
    const params = this.#windowParams(n, p, bias !== undefined)
    const bindings = {
      0: x.storage.buffer,
      1: w.storage.buffer,
      3: (bias ?? w).storage.buffer,
      2: out.storage.buffer,
      9: params,
    }
    this.#record('conv2d', () => CONV2D_WGSL, bindings, this.#grid(n), n * (p.c / p.group) * p.kh * p.kw)
    return out
  }

  maxPool2d(x: GpuTensor, p: Conv2dPlan): GpuTensor {
    return this.#pool2d('MaxPool', MAXPOOL_WGSL, x, p, false)
  }

  averagePool2d(x: GpuTensor, p: Conv2dPlan, countIncludePad: boolean): GpuTensor {
    return this.#pool2d('AveragePool', AVERAGEPOOL_WGSL, x, p, countIncludePad)
  }

  /** Runs pooling kernel `kernel` (see `poolKernel`) over x; `flag` is its p[17] (AveragePool's count_include_pad). */
  #pool2d(op: string, kernel: string, x: GpuTensor, p: Conv2dPlan, flag: boolean): GpuTensor {
    const shape = [p.n, p.c, p.oh, p.ow]
    const out = this.#alloc(shape, op)
    const n = sizeOf(shape)
    if (n === 0) return out
    this.#record(
      op.toLowerCase(),
      () => kernel,
      { 0: x.storage.buffer, 2: out.storage.buffer, 9: this.#windowParams(n, p, flag) },
      this.#grid(n),
      n * p.kh * p.kw,
    )
    return out
  }

  globalAveragePool(x: GpuTensor): GpuTensor {
    const p = planGlobalPool(x.shape)
    return this.#reduceRows('mean', x, p.out, p.rows, p.n)
  }

  meanRows(a: GpuTensor): GpuTensor {
    return this.reduceRows('mean', a)
  }

  reduceRows(op: ReduceOp, a: GpuTensor): GpuTensor {
    const [rows, n] = rowsOf(a.shape, op)
    return this.#reduceRows(op, a, [rows], rows, n)
  }

  #reduceRows(op: ReduceOp, x: GpuTensor, shape: readonly number[], rows: number, n: number): GpuTensor {
    const out = this.#alloc(shape, `row ${op}`)
    if (rows === 0) return out
    this.#record(
      `row-${op}`,
      () => rowReduceKernel(op),
      { 0: x.storage.buffer, 2: out.storage.buffer, 9: this.#params([rows, n, f32Bits(ROW_REDUCE_START[op])]) },
      this.#grid(rows),
      rows * n,
    )
    return out
  }

  concat(inputs: readonly GpuTensor[], axis: number): GpuTensor {
    const p = planConcat(
      inputs.map((t) => t.shape),
      axis,
    )
    const out = this.#alloc(p.out, 'Concat')
    let offset = 0
    inputs.forEach((t, k) => {
      const block = p.blocks[k]!
      const n = p.outer * block
      if (n > 0) {
        this.#record(
          'concat',
          () => CONCAT_WGSL,
          { 0: t.storage.buffer, 2: out.storage.buffer, 9: this.#params([n, block, p.outBlock, offset]) },
          this.#grid(n),
          n,
        )
      }
      offset += block
    })
    return out
  }
}

/** A per-axis parameter list padded with zeros to the kernels' fixed rank. */
function padRank(values: readonly number[]): number[] {
  return [...values, ...new Array<number>(MAX_TENSOR_RANK - values.length).fill(0)]
}

const bitsScratch = new Float32Array(1)
const bitsView = new Uint32Array(bitsScratch.buffer)

/** The IEEE-754 bits of `x` rounded to f32. */
function f32Bits(x: number): number {
  bitsScratch[0] = x
  return bitsView[0]!
}

/** One dispatch of a grid split by {@link dispatchBlocks}: its first workgroup in the grid, and its size. */
export interface DispatchBlock {
  readonly origin: readonly [number, number, number]
  readonly workgroups: [number, number, number]
}

/**
 * A grid of workgroups cut into blocks of at most `limit` on each axis (WebGPU's maxComputeWorkgroupsPerDimension),
 * in ascending z, then y, then x: one block when the grid fits in one dispatch.
 */
export function dispatchBlocks(grid: readonly [number, number, number], limit: number): DispatchBlock[] {
  const [gx, gy, gz] = grid
  const blocks: DispatchBlock[] = []
  for (let z = 0; z < gz; z += limit) {
    for (let y = 0; y < gy; y += limit) {
      for (let x = 0; x < gx; x += limit) {
        const workgroups: [number, number, number] = [
          Math.min(limit, gx - x),
          Math.min(limit, gy - y),
          Math.min(limit, gz - z),
        ]
        blocks.push({ origin: [x, y, z], workgroups })
      }
    }
  }
  return blocks
}

/** Workgroups below which the 128 tile leaves a large GPU idle: at n = 1024 (64 of them) it lost a third on an H100. */
const ALIGNED_128_MIN_WORKGROUPS = 256

/**
 * The aligned kernel's tile for a matmul whose every dimension fills whole tiles, or undefined for the edge-tested
 * kernel. All of them sum in the same order, so the choice by shape changes speed, never bits.
 */
export function alignedTile(m: number, n: number, k: number, batch: number): AlignedMatmulTile | undefined {
  const fits = (t: AlignedMatmulTile): boolean => m % t === 0 && n % t === 0 && k % ALIGNED_MATMUL_K[t] === 0
  if (fits(128) && (m / 128) * (n / 128) * batch >= ALIGNED_128_MIN_WORKGROUPS) return 128
  return fits(64) ? 64 : undefined
}
