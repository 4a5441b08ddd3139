// Exits 0 when Dawn finds a WebGPU adapter, 1 otherwise. Used by setup.sh to decide whether to install lavapipe.
import process from 'node:process'
import { create } from 'webgpu'

const gpu = create([])
const adapter = await gpu.requestAdapter()
if (adapter == null) {
  process.exit(1)
}
const info = adapter.info
process.stdout.write(`${info.vendor} ${info.architecture} ${info.description}\n`)
// Keep `gpu` referenced until here: Dawn's instance must outlive the adapter (PROBES.md).
globalThis.__tesseraGpu = gpu
process.exit(0)
