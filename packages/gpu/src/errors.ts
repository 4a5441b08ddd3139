import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/gpu`. Codes are stable: never reused or renamed. */
export type GpuErrorCode =
  /** An argument was out of range or of the wrong kind (context says which). */
  | 'GPU__INVALID_INPUT'
  /** No WebGPU implementation or no adapter was found. */
  | 'GPU__ADAPTER_NOT_FOUND'
  /** The adapter refused to create a device. */
  | 'GPU__DEVICE_REQUEST_FAILED'
  /** The device was lost (driver reset, external destroy); create a new engine. */
  | 'GPU__DEVICE_LOST'
  /** The engine was destroyed by its owner; create a new engine. */
  | 'GPU__ENGINE_DESTROYED'
  /** A buffer or dispatch would exceed the adapter's limits. */
  | 'GPU__ALLOCATION_EXCEEDED'
  /** The device reported a validation error (a bug in the engine, or an exotic adapter). */
  | 'GPU__VALIDATION_FAILED'
  /** The device ran out of memory. */
  | 'GPU__OUT_OF_MEMORY'
  /** A glTF asset could not be parsed or uses something the path tracer cannot draw. */
  | 'GPU__MALFORMED_SCENE'
  /** A scene holds more triangles than the engine accepts. */
  | 'GPU__SCENE_TOO_LARGE'
  /**
   * A scene's BVH would make each ray test more boxes and triangles than the engine accepts (many long thin or
   * overlapping triangles); context holds the cost and the limit.
   */
  | 'GPU__TRAVERSAL_COST_EXCEEDED'
  /** A tile lies outside its image, or tiles do not fit together. */
  | 'GPU__INVALID_TILE'
  /** An ONNX model could not be parsed or is not a well-formed graph. */
  | 'GPU__MALFORMED_MODEL'
  /** An ONNX model uses an operator (or an attribute value) the runtime does not implement. */
  | 'GPU__UNSUPPORTED_OP'
  /** Tensor shapes do not agree (inputs, broadcasting, matmul, reshape). */
  | 'GPU__SHAPE_MISMATCH'
  /** A model input is missing, unknown or of the wrong data type. */
  | 'GPU__INVALID_MODEL_INPUT'
  /**
   * A texture the loader cannot use: an image neither PNG nor JPEG, or a material whose textures are sampled at
   * different texture coordinates.
   */
  | 'GPU__UNSUPPORTED_TEXTURE'
  /** An environment image that is neither Radiance .hdr nor OpenEXR, or one the decoders cannot read or bound. */
  | 'GPU__MALFORMED_ENVIRONMENT'
  /** A texture decoder's WebAssembly module could not start (a missing `.wasm`, a module that does not compile). */
  | 'GPU__DECODER_UNAVAILABLE'

/** An error raised by `@tessera/gpu`. */
export class GpuError extends TesseraError<GpuErrorCode> {
  static override name = 'GpuError'
}

/** Narrows `e` to a {@link GpuError}, optionally with the given code. */
export function isGpuError<C extends GpuErrorCode>(e: unknown, code?: C): e is GpuError & { code: C } {
  return e instanceof GpuError && (code === undefined || e.code === code)
}
