/**
 * @packageDocumentation
 *
 * `@tessera/gpu`: The WebGPU engine: device, glTF path tracer, tensor runtime with ONNX import, capacity benchmark and CPU references. See README.md.
 */
export * from './errors.js'
