import { CpuBackend } from '../tensor/cpu-backend.js'
import type { OnnxModel } from './model.js'
import { runOnnx } from './run.js'
import type { ModelInputs, ModelOutputs, RunModelOptions } from './run.js'

/** Runs an ONNX model on the CPU reference kernels (verifiers without a GPU; tests). */
export async function runModelCpu(
  model: OnnxModel,
  inputs: ModelInputs,
  options: RunModelOptions = {},
): Promise<ModelOutputs> {
  return runOnnx(new CpuBackend(), model, inputs, options)
}
