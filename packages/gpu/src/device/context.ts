import { AbortError } from '@tessera/core'
import { GpuError } from '../errors.js'
import { BufferUsage, MAP_MODE_READ } from './flags.js'
import type { Logger } from '@libp2p/logger'

/**
 * The device plus the few services every kernel needs: limit-checked buffers, a pipeline cache, error scopes and
 * read-back. Renderer and tensor runtime take this, not the whole engine, so each can be tested on its own.
 */
export class GpuContext {
  readonly device: GPUDevice
  readonly log: Logger
  readonly #pipelines = new Map<string, GPUComputePipeline>()
  #failure: GpuError | undefined

  constructor(device: GPUDevice, log: Logger) {
    this.device = device
    this.log = log
  }

  /** Marks the context unusable; every later call throws `failure`. */
  fail(failure: GpuError): void {
    this.#failure ??= failure
  }

  /** The reason the context is unusable, if it is. */
  get failure(): GpuError | undefined {
    return this.#failure
  }

  /** Throws the loss or destruction error once the device is gone, and AbortError when `signal` fired. */
  assertUsable(signal?: AbortSignal): void {
    if (this.#failure !== undefined) throw this.#failure
    if (signal?.aborted === true) throw new AbortError()
  }

  /** Largest storage buffer a shader may bind on this device. */
  get maxStorageBytes(): number {
    return Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize)
  }

  /** Throws GPU__ALLOCATION_EXCEEDED when `bytes` cannot be one storage buffer on this device. */
  checkAllocation(bytes: number, what: string): void {
    const limit = this.maxStorageBytes
    if (!Number.isFinite(bytes) || bytes > limit) {
      throw new GpuError(
        'GPU__ALLOCATION_EXCEEDED',
        `${what} needs ${bytes} bytes, more than the adapter's ${limit}-byte storage buffer limit; split the work`,
        { what, bytes, limit },
      )
    }
  }

  /** Checks a dispatch's workgroup counts against the device's per-dimension limit. */
  checkDispatch(x: number, y: number, z: number, what: string): void {
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension
    if (x > limit || y > limit || z > limit) {
      throw new GpuError(
        'GPU__ALLOCATION_EXCEEDED',
        `${what} needs ${x}x${y}x${z} workgroups, more than ${limit} per dimension`,
        {
          what,
          workgroups: [x, y, z],
          limit,
        },
      )
    }
  }

  /** A storage buffer of `bytes` (at least 4, rounded up to 4), checked against the limits. */
  createStorage(bytes: number, what: string, extraUsage = 0): GPUBuffer {
    this.assertUsable()
    this.checkAllocation(bytes, what)
    return this.device.createBuffer({
      label: what,
      size: storageBufferSize(bytes),
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST | extraUsage,
    })
  }

  /** A storage buffer holding `data`. */
  upload(data: ArrayBufferView, what: string): GPUBuffer {
    const buffer = this.createStorage(data.byteLength, what)
    if (data.byteLength > 0) {
      this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4)
    }
    return buffer
  }

  /** A uniform buffer holding `data` (a small parameter block). */
  uniform(data: ArrayBuffer, what: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16)
    const buffer = this.device.createBuffer({ label: what, size, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST })
    this.device.queue.writeBuffer(buffer, 0, data)
    return buffer
  }

  /** A compute pipeline for `code`, compiled once per `key`. */
  pipeline(key: string, code: () => string): GPUComputePipeline {
    let pipeline = this.#pipelines.get(key)
    if (pipeline === undefined) {
      const module = this.device.createShaderModule({ label: key, code: code() })
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      })
      this.#pipelines.set(key, pipeline)
    }
    return pipeline
  }

  /**
   * A bind group for @group(0) of `pipeline`: an array binds buffers to @binding(0..n-1), a record binds each
   * buffer to the binding number that keys it.
   */
  bind(
    pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[] | Readonly<Record<number, GPUBuffer>>,
  ): GPUBindGroup {
    const entries = Array.isArray(buffers)
      ? buffers.map((buffer, binding) => ({ binding, resource: { buffer } }))
      : Object.entries(buffers).map(([binding, buffer]) => ({ binding: Number(binding), resource: { buffer } }))
    return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries })
  }

  /**
   * Runs `work` inside validation and out-of-memory error scopes and turns a reported error into a coded one.
   * Device loss during the work surfaces as GPU__DEVICE_LOST.
   */
  async scoped<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.assertUsable()
    this.device.pushErrorScope('out-of-memory')
    this.device.pushErrorScope('validation')
    let result: T
    try {
      result = await work()
    } catch (cause) {
      await this.#popScopes()
      throw this.#translate(cause, what)
    }
    const [validation, oom] = await this.#popScopes()
    if (oom != null) throw new GpuError('GPU__OUT_OF_MEMORY', `${what}: ${oom.message}`, { what })
    if (validation != null) throw new GpuError('GPU__VALIDATION_FAILED', `${what}: ${validation.message}`, { what })
    return result
  }

  async #popScopes(): Promise<[GPUError | null, GPUError | null]> {
    try {
      const validation = await this.device.popErrorScope()
      const oom = await this.device.popErrorScope()
      return [validation, oom]
    } catch {
      // A lost device rejects popErrorScope; the loss itself is reported through `failure`.
      return [null, null]
    }
  }

  #translate(cause: unknown, what: string): unknown {
    if (cause instanceof GpuError || cause instanceof AbortError) return cause
    if (this.#failure !== undefined) return this.#failure
    return new GpuError('GPU__VALIDATION_FAILED', `${what} failed: ${String(cause)}`, { what }, { cause })
  }

  /** Copies `bytes` from `source` back to the CPU; an abort of `signal` stops the wait for the copy. */
  async read(source: GPUBuffer, bytes: number, signal?: AbortSignal): Promise<ArrayBuffer> {
    this.assertUsable(signal)
    const size = Math.max(4, Math.ceil(bytes / 4) * 4)
    const staging = this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST })
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(source, 0, staging, 0, size)
    this.device.queue.submit([encoder.finish()])
    // Destroying a buffer rejects its pending map, so an abort need not wait for the queued work to finish.
    const onAbort = (): void => staging.destroy()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await staging.mapAsync(MAP_MODE_READ)
    } catch (cause) {
      staging.destroy()
      this.assertUsable(signal)
      // Let the device's `lost` handler run first so a loss reads as GPU__DEVICE_LOST, not a map failure.
      await new Promise((resolve) => setImmediate(resolve))
      throw this.#translate(cause, 'read-back')
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    try {
      this.assertUsable(signal)
      return staging.getMappedRange(0, size).slice(0, bytes)
    } finally {
      staging.destroy()
    }
  }

  /** Submits one compute pass: `dispatches` run in order, each seeing the previous ones' writes. */
  submit(dispatches: readonly Dispatch[]): void {
    this.assertUsable()
    const encoder = this.device.createCommandEncoder()
    const pass = encoder.beginComputePass()
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline)
      pass.setBindGroup(0, d.bindGroup)
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1)
    }
    pass.end()
    this.device.queue.submit([encoder.finish()])
  }

  /** Resolves when the queue has finished everything submitted so far. */
  async idle(): Promise<void> {
    this.assertUsable()
    await this.device.queue.onSubmittedWorkDone()
  }
}

/** The size of the buffer `createStorage` makes for `bytes`: at least 16, rounded up to 16. */
export function storageBufferSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16)
}

/** One compute dispatch. */
export interface Dispatch {
  pipeline: GPUComputePipeline
  bindGroup: GPUBindGroup
  workgroups: readonly [number, number?, number?]
}
