/**
 * @packageDocumentation
 *
 * `@tessera/gpu`: the WebGPU engine every Tessera worker runs and every verifier re-runs in part. A glTF path
 * tracer with a BVH, a WGSL tensor runtime with an ONNX importer, CPU references of both, a capacity benchmark in
 * benchmark units, tolerance classes, and helpers that split outputs into Merkle-committable chunks.
 *
 * @example
 * ```ts
 * import { createEngine, generateScene, loadScene, encodePng } from '@tessera/gpu'
 *
 * const engine = await createEngine()
 * const scene = await loadScene(await generateScene())
 * const tile = await engine.renderTile({ scene, frame: 0, imageWidth: 256, imageHeight: 256, x: 0, y: 0, width: 256, height: 256, samples: 16 })
 * const png = encodePng(tile, { exposure: 2 })
 * engine.destroy()
 * ```
 */
export * from './errors.js'
export * from './constants.js'
export * from './device/backend.js'
export * from './device/context.js'
export * from './device/engine.js'
export * from './scene/scene.js'
export * from './scene/gltf.js'
export * from './scene/animation.js'
export * from './scene/json-bounds.js'
export * from './scene/generate.js'
export * from './scene/texture.js'
export { packScene } from './scene/pack.js'
export * from './scene/punctual.js'
export * from './scene/environment.js'
export * from './scene/environment-image.js'
export type { TriangleSoup } from './scene/pack.js'
export * from './render/tile.js'
export * from './render/image.js'
export * from './render/tone-curves.js'
export { encodeExr } from './render/exr.js'
export { renderTileCpu } from './render/cpu-pathtracer.js'
export { sampleSeed, pcgHash } from './render/rng.js'
export * from './tolerance.js'
export * from './tensor/tensor.js'
export * from './tensor/ops.js'
export * from './tensor/shapes.js'
export * from './tensor/strided.js'
export * from './tensor/gather.js'
export { CpuBackend } from './tensor/cpu-backend.js'
export { GpuBackend } from './tensor/gpu-backend.js'
export type { GpuTensor, MatmulKernel } from './tensor/gpu-backend.js'
export { loadOnnxModel, SUPPORTED_OPS } from './onnx/model.js'
export type {
  OnnxModel,
  OnnxNode,
  ValueInfo,
  HostConstant,
  AttributeValue,
  LoadOnnxModelOptions,
} from './onnx/model.js'
export { assertModelWithinBounds, DEFAULT_MODEL_BOUNDS } from './onnx/model-bounds.js'
export { modelFlopsLowerBound } from './onnx/model-flops.js'
export type { ModelBounds } from './onnx/model-bounds.js'
export { assertItemsRecomputable, runOnnx, selectItems, validateInputs } from './onnx/run.js'
export type { ModelInputs, ModelOutputs, RunModelOptions } from './onnx/run.js'
export { runModelCpu } from './onnx/cpu.js'
export { onnx } from './onnx/proto.js'
export * from './chunks.js'
export * from './benchmark.js'
export * from './throughput.js'
