import { logger } from '@libp2p/logger'
import type { Logger } from '@libp2p/logger'
import { throwIfAborted, type AbortOptions } from '@tessera/core'
import { MAX_RUN_DEVICE_BYTES } from '../constants.js'
import { GpuError } from '../errors.js'
import { GpuPathTracer } from '../render/gpu-pathtracer.js'
import type { RenderControlOptions, RenderedTile, RenderTileOptions } from '../render/tile.js'
import type { Scene } from '../scene/scene.js'
import type { OnnxModel } from '../onnx/model.js'
import { runOnnx } from '../onnx/run.js'
import type { ModelInputs, ModelOutputs, RunModelOptions } from '../onnx/run.js'
import { GpuBackend } from '../tensor/gpu-backend.js'
import type { GpuTensor, MatmulKernel } from '../tensor/gpu-backend.js'
import { resolveProvider } from './backend.js'
import type { Backend } from './backend.js'
import { GpuContext } from './context.js'

/** Options of {@link createEngine}. */
export interface EngineOptions extends AbortOptions {
  /**
   * Dawn backend on Node (ignored in browsers).
   * @default 'vulkan'
   */
  backend?: Backend
  /** A WebGPU entry point to use instead of Dawn or `navigator.gpu` (browsers, tests). */
  gpu?: GPU
  /**
   * Adapter preference passed to `requestAdapter`.
   * @default undefined (the implementation's choice)
   */
  powerPreference?: GPUPowerPreference
  /**
   * Matmul kernel of the tensor runtime: `blocked` (register-blocked, no barriers: fastest on CPU drivers such
   * as lavapipe) or `tiled` (workgroup-memory tiles: fastest on GPUs). Fixed per engine, so batch results never
   * depend on which kernel a shape would prefer.
   * @default 'auto' (blocked on fallback adapters, tiled otherwise)
   */
  matmulKernel?: MatmulKernel | 'auto'
  /**
   * Most bytes of device buffers one model run may hold at once, its cached weights aside: a run past it fails with
   * GPU__ALLOCATION_EXCEEDED.
   * @default MAX_RUN_DEVICE_BYTES
   */
  maxRunDeviceBytes?: number
  /** Called once if the device is lost while the engine lives (not after `destroy()`). */
  onDeviceLost?: (error: GpuError) => void
  /**
   * Logger.
   * @default logger('tessera:gpu')
   */
  log?: Logger
}

/** What an engine runs on. */
export interface AdapterReport {
  vendor: string
  architecture: string
  device: string
  description: string
  /** The Dawn backend asked for, or 'browser'. */
  backend: Backend | 'browser'
  featureLevel: 'core' | 'compatibility'
  /** True for software adapters such as lavapipe. */
  isFallbackAdapter: boolean
  features: string[]
  /** The device's limits that bound our work. */
  limits: {
    maxBufferSize: number
    maxStorageBufferBindingSize: number
    maxStorageBuffersPerShaderStage: number
    maxComputeWorkgroupsPerDimension: number
    maxComputeInvocationsPerWorkgroup: number
    maxComputeWorkgroupStorageSize: number
  }
}

/** Limits we raise from the defaults to what the adapter supports. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
] as const

/** A model's weights on the device, and the runs using them. */
interface ModelWeights {
  tensors: Map<string, GpuTensor>
  /** Runs in flight on these weights: a release waits for the last of them. */
  runs: number
  /** Released: unpinned once no run uses them (later runs of the model upload them again). */
  released: boolean
}

/**
 * A WebGPU device with the path tracer and tensor runtime on it. Create with {@link createEngine}; call
 * {@link Engine.destroy} when done. If the device is lost, every call rejects with GPU__DEVICE_LOST.
 */
export class Engine {
  readonly adapter: AdapterReport
  /** The device context the kernels run on. */
  readonly context: GpuContext
  /** Holds Dawn's instance: if it were collected while the device lives, the process would abort. */
  readonly #gpu: GPU
  readonly #tracer: GpuPathTracer
  /** The WGSL tensor runtime; its kernels can be called directly (see `TensorBackend`). */
  readonly tensors: GpuBackend
  readonly #weights = new WeakMap<OnnxModel, ModelWeights>()
  readonly #maxRunDeviceBytes: number
  #destroyed = false

  /** @internal use {@link createEngine} */
  constructor(
    gpu: GPU,
    device: GPUDevice,
    adapter: AdapterReport,
    log: Logger,
    matmulKernel: MatmulKernel,
    onDeviceLost?: (error: GpuError) => void,
    maxRunDeviceBytes = MAX_RUN_DEVICE_BYTES,
  ) {
    this.#gpu = gpu
    this.adapter = adapter
    this.context = new GpuContext(device, log)
    // A CPU driver runs few invocations at once and keeps its lanes busy only when each traces many samples.
    this.#tracer = new GpuPathTracer(this.context, !adapter.isFallbackAdapter)
    this.tensors = new GpuBackend(this.context, matmulKernel)
    this.#maxRunDeviceBytes = maxRunDeviceBytes
    device.onuncapturederror = (event) => log.error('uncaptured WebGPU error: %s', event.error.message)
    void device.lost.then((info) => {
      if (this.#destroyed) return
      const error = new GpuError(
        'GPU__DEVICE_LOST',
        `the WebGPU device was lost (${info.reason}): ${info.message}; create a new engine`,
        {
          reason: info.reason,
          message: info.message,
        },
      )
      this.context.fail(error)
      log.error('%s', error.message)
      onDeviceLost?.(error)
    })
  }

  /** The WebGPU device, for callers that bring their own kernels. */
  get device(): GPUDevice {
    return this.context.device
  }

  /** The WebGPU entry point the device came from. */
  get gpu(): GPU {
    return this.#gpu
  }

  /** True until the device is lost or the engine destroyed. */
  get usable(): boolean {
    return this.context.failure === undefined
  }

  /**
   * Path-traces a tile of a frame, or only some of its rows; bit-identical for identical inputs on one driver, however
   * it is cut into dispatches. A signal (or `onProgress`) has it size dispatches by time, so an abort stops it soon.
   */
  async renderTile(options: RenderTileOptions, control: RenderControlOptions = {}): Promise<RenderedTile> {
    return this.#tracer.renderTile(options, control)
  }

  /**
   * Runs an ONNX model (see `loadOnnxModel`) on the GPU. Weights stay on the device between runs of one model.
   * Float inputs are `Tensor`s; inputs the graph declares int64 or int32 (token ids, masks) are `IntTensor`s
   * (`intTensor`), kept on the host. `options.items` computes only those batch items, bit-identical to the same
   * items of a full-batch run, and refuses graphs whose items could depend on one another, mixing them along axis 0
   * or reading the batch size (`GPU__UNSUPPORTED_OP`, see `RunModelOptions.items`).
   */
  async runModel(model: OnnxModel, inputs: ModelInputs, options: RunModelOptions = {}): Promise<ModelOutputs> {
    this.context.assertUsable(options.signal)
    let weights = this.#weights.get(model)
    if (weights === undefined) {
      weights = { tensors: new Map(), runs: 0, released: false }
      this.#weights.set(model, weights)
    }
    const held = weights
    return this.context.scoped('runModel', async () => {
      // A backend of its own counts the run's buffers against its bound and destroys all of them when it ends.
      const run = new GpuBackend(this.context, this.tensors.matmulKernel, { maxLiveBytes: this.#maxRunDeviceBytes })
      held.runs++
      try {
        return await runOnnx(run, model, inputs, options, (name, c) => {
          let t = held.tensors.get(name)
          if (t === undefined) {
            t = this.tensors.fromHost({ shape: c.shape, data: c.floats! }, true)
            held.tensors.set(name, t)
          }
          return t
        })
      } finally {
        run.dispose()
        held.runs--
        if (held.released && held.runs === 0) this.#unpin(held)
        this.tensors.flush()
      }
    })
  }

  /**
   * Frees a model's cached weights on this device rather than when the model is collected. Runs in flight on the
   * model finish first: its weights go when the last of them ends. A later run uploads them again.
   */
  releaseModel(model: OnnxModel): void {
    const weights = this.#weights.get(model)
    if (weights === undefined) return
    this.#weights.delete(model)
    weights.released = true
    if (weights.runs === 0) {
      this.#unpin(weights)
      this.tensors.flush()
    }
  }

  #unpin(weights: ModelWeights): void {
    for (const t of weights.tensors.values()) this.tensors.unpin(t)
    weights.tensors.clear()
  }

  /** Frees a scene's buffers on this device now (they are also freed when the scene is collected). */
  releaseScene(scene: Scene): void {
    this.#tracer.releaseScene(scene)
  }

  /** Releases the device. Later calls reject with GPU__ENGINE_DESTROYED. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.context.fail(new GpuError('GPU__ENGINE_DESTROYED', 'the engine was destroyed; create a new one', {}))
    this.context.device.destroy()
  }
}

/**
 * Acquires a WebGPU adapter and device: Dawn on Node (Vulkan by default; lavapipe where no GPU exists), or
 * `navigator.gpu` in browsers.
 *
 * @throws GPU__ADAPTER_NOT_FOUND when no adapter exists
 * @throws GPU__DEVICE_REQUEST_FAILED when the adapter refuses a device
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  throwIfAborted(options.signal)
  const log = options.log ?? logger('tessera:gpu')
  const provider = await resolveProvider(options.backend, options.gpu)
  const adapter = await provider.gpu.requestAdapter({
    featureLevel: provider.featureLevel,
    ...(options.powerPreference === undefined ? {} : { powerPreference: options.powerPreference }),
  })
  if (adapter === null) {
    throw new GpuError(
      'GPU__ADAPTER_NOT_FOUND',
      `no WebGPU adapter for backend ${provider.backend}; install a Vulkan driver (Mesa lavapipe works)`,
      {
        backend: provider.backend,
      },
    )
  }
  throwIfAborted(options.signal)
  const requiredLimits: Record<string, number> = {}
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name]
  const requiredFeatures = (['timestamp-query'] as const).filter((f) => adapter.features.has(f))
  let device: GPUDevice
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'tessera' })
  } catch (cause) {
    throw new GpuError(
      'GPU__DEVICE_REQUEST_FAILED',
      `the adapter refused a device: ${String(cause)}`,
      { backend: provider.backend },
      { cause },
    )
  }
  if (options.signal?.aborted === true) {
    // Nobody will own this device: give it back rather than leave it to the collector.
    device.destroy()
    throwIfAborted(options.signal)
  }
  const info = adapter.info
  const report: AdapterReport = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend: provider.backend,
    featureLevel: provider.featureLevel,
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    features: [...device.features].sort(),
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    },
  }
  log('WebGPU device: %s %s (%s, %s)', report.vendor, report.description, report.backend, report.featureLevel)
  const kernel = options.matmulKernel ?? 'auto'
  const matmulKernel: MatmulKernel = kernel === 'auto' ? (report.isFallbackAdapter ? 'blocked' : 'tiled') : kernel
  return new Engine(provider.gpu, device, report, log, matmulKernel, options.onDeviceLost, options.maxRunDeviceBytes)
}
