/**
 * Run an ONNX model on a batch of inputs across a small local network, and check the answer on the CPU.
 *
 * The example builds a small MLP as ONNX ModelProto bytes (x [batch, 16] -> Gemm -> Relu -> MatMul + Add -> Softmax
 * -> y [batch, 4]) with the protobuf definition `@tessera/gpu` exports, writes the batch as a tensor bundle (the
 * node's inference input format: DAG-CBOR, input name -> float32 tensor), and has one creator order it from two
 * workers (separate `tessera node start` processes on loopback) in tasks of a few batch items. The workers run
 * their items on the WebGPU tensor runtime and commit to each item's output; the creator samples items to
 * recompute, accepts, settles, and concatenates the outputs into one float32 tensor, which the example compares
 * with `runModelCpu` under the inference tolerance class (normwise relative error ≤ 1e-4).
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/inference-job.ts [--items 8] [--items-per-task 2]
 *
 *   --items N            batch items (default 8)
 *   --items-per-task N   batch items per task (default 2: four tasks)
 *   --out DIR            where model.onnx, inputs.cbor and output.f32 go (default: a new temporary directory)
 *   --dir DIR            parent of the peers' data directories, kept afterwards (default: temporary, removed)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { nextFloat, seededRng } from '@tessera/core'
import {
  bytesToFloat32,
  compareOutputs,
  float32Bytes,
  loadOnnxModel,
  onnx,
  runModelCpu,
  tensor,
  TOLERANCE,
} from '@tessera/gpu'
import { encodeTensorBundle } from '@tessera/node'
import { followJob } from './lib/follow-job.js'
import { wholeNumberFlag } from './lib/flags.js'
import { startMarket } from './lib/local-network.js'

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '8' },
    'items-per-task': { type: 'string', default: '2' },
    out: { type: 'string' },
    dir: { type: 'string' },
  },
})
const items = wholeNumberFlag('items', values.items, 1, 4096)
const itemsPerTask = wholeNumberFlag('items-per-task', values['items-per-task'], 1, items)
const [IN, HIDDEN, OUT] = [16, 32, 4]
const PRICE = 100n
const WORKERS = ['worker-1', 'worker-2']

/** Uniform floats in [-scale, scale) from a seeded generator, so every run builds the same model and batch. */
function randomFloats(n: number, seed: number, scale: number): Float32Array {
  const rng = seededRng(seed)
  return Float32Array.from({ length: n }, () => (nextFloat(rng) * 2 - 1) * scale)
}

/** A float32 initializer (weights travel inside the model, as raw little-endian bytes). */
function weight(name: string, dims: number[], data: Float32Array) {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Bytes(data) }
}

/** A float32 graph input or output; the batch axis is symbolic, so any batch size runs. */
function valueInfo(name: string, width: number) {
  const dim = [{ dimParam: 'batch' }, { dimValue: width }]
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } }
}

/** The MLP as ONNX ModelProto bytes (opset 20), what any exporter (PyTorch, tf2onnx) would hand you. */
function mlpModel(): Uint8Array {
  const T = onnx.AttributeProto.AttributeType
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'tessera-examples',
    opsetImport: [{ domain: '', version: 20 }],
    graph: {
      name: 'mlp',
      input: [valueInfo('x', IN)],
      output: [valueInfo('y', OUT)],
      initializer: [
        weight('w1', [IN, HIDDEN], randomFloats(IN * HIDDEN, 1, 0.4)),
        weight('b1', [HIDDEN], randomFloats(HIDDEN, 2, 0.1)),
        weight('w2', [HIDDEN, OUT], randomFloats(HIDDEN * OUT, 3, 0.4)),
        weight('b2', [OUT], randomFloats(OUT, 4, 0.1)),
      ],
      node: [
        { opType: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h'], name: 'fc1' },
        { opType: 'Relu', input: ['h'], output: ['a'], name: 'relu' },
        { opType: 'MatMul', input: ['a', 'w2'], output: ['l0'], name: 'fc2' },
        { opType: 'Add', input: ['l0', 'b2'], output: ['logits'], name: 'bias2' },
        {
          opType: 'Softmax',
          input: ['logits'],
          output: ['y'],
          name: 'softmax',
          attribute: [{ name: 'axis', type: T.INT, i: -1 }],
        },
      ],
    },
  }).finish()
}

const out = values.out !== undefined ? resolve(values.out) : await mkdtemp(join(tmpdir(), 'tessera-inference-out-'))

const modelBytes = mlpModel()
const x = tensor([items, IN], randomFloats(items * IN, 5, 1))
const bundle = encodeTensorBundle({ x })
await mkdir(out, { recursive: true })
await writeFile(join(out, 'model.onnx'), modelBytes)
await writeFile(join(out, 'inputs.cbor'), bundle)
console.log(
  `model: MLP ${IN}->${HIDDEN}->${OUT}, ${modelBytes.byteLength} bytes of ONNX; inputs: x [${items}, ${IN}], ${bundle.byteLength} bytes`,
)

const dir = values.dir !== undefined ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'tessera-inference-'))
console.log(`starting a creator and ${WORKERS.length} workers (separate processes, loopback TCP) in ${dir}`)
const { network, creator, workers, workerStatus } = await startMarket({ dir, workers: WORKERS, price: PRICE })
try {
  await creator.client.airdrop(1_000_000n)

  // Inputs by CID: the model first, then the tensor bundle (the order the node's workload reads them in).
  const inputs = [await creator.client.putBlob(modelBytes), await creator.client.putBlob(bundle)]
  const { jobId } = await creator.client.submitJob({
    kind: 'inference',
    inputs,
    inference: { items, itemsPerTask },
    maxPrice: (PRICE * 2n).toString(),
    minBids: WORKERS.length,
  })
  console.log(`ordered job ${jobId}: ${items} items in tasks of ${itemsPerTask}`)
  const final = await followJob(creator.client, jobId, (line) => console.log(line))

  // The output is one float32 little-endian tensor: every item's output row, in item order.
  const output = await creator.client.jobOutput(jobId)
  const file = output.files[0]
  if (file === undefined) throw new Error('the job has no output')
  const bytes = Buffer.from(file.base64, 'base64')
  await writeFile(join(out, file.name), bytes)
  const y = bytesToFloat32(bytes)
  console.log(`wrote ${join(out, file.name)}: ${y.length} float32 values (y [${items}, ${OUT}])`)

  // The CPU reference kernels run the same graph here; GPUs round differently, hence a tolerance, not equality.
  const reference = (await runModelCpu(loadOnnxModel(modelBytes), { x })).y
  if (reference === undefined) throw new Error('the model has no output y')
  const comparison = compareOutputs(TOLERANCE.inference, y, reference.data)
  let maxAbs = 0
  for (let i = 0; i < y.length; i++) maxAbs = Math.max(maxAbs, Math.abs(y[i]! - reference.data[i]!))
  console.log(`item 0: [${Array.from(y.subarray(0, OUT), (v) => v.toFixed(5)).join(', ')}]`)
  console.log(
    `cpu reference: ${comparison.ok ? 'match' : 'MISMATCH'} (relative error ${comparison.value.toExponential(2)}, max abs diff ${maxAbs.toExponential(2)}, tolerance ${TOLERANCE.inference.maxRelativeError})`,
  )

  for (const [i, w] of workers.entries()) {
    const { peerId, payee } = workerStatus[i]!
    const stats = final.workers?.[peerId] ?? { accepted: 0, rejected: 0 }
    console.log(
      `${w.name}: ${stats.accepted} tasks accepted, ${stats.rejected} rejected, paid ${final.settlement?.paid[payee] ?? '0'} token units`,
    )
  }
  if (!comparison.ok || y.length !== reference.data.length) process.exitCode = 1
} finally {
  await network.stop()
  if (values.dir === undefined) await rm(dir, { recursive: true, force: true })
}
