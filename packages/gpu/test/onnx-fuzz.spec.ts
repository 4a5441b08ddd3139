import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, intTensor, loadOnnxModel, runModelCpu } from '../src/index.js'
import type { Engine } from '../src/index.js'
import { onnx } from '../src/onnx/proto.js'
import { rejectionCode } from './helpers/errors.js'
import { tinyGptModel } from './helpers/models.js'

/** A seeded generator of floats in [0, 1) (a linear congruential one: these tests need variety, not quality). */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32
}

/** Operators a damaged node may turn into: those of exported transformers, whose inputs and attributes differ most. */
const OPS = [
  'Gather',
  'Slice',
  'Split',
  'Reshape',
  'Transpose',
  'Concat',
  'Where',
  'Range',
  'Cast',
  'Expand',
  'Tile',
].concat(['MatMul', 'Add', 'Unsqueeze', 'Squeeze', 'ReduceSum', 'Softmax', 'Shape', 'ConstantOfShape', 'Less'])
/** Integers a damaged attribute, dimension or constant may take: edges of every range the runtime checks. */
const VALUES = [-1, 0, 1, 2, 3, -3, 7, 255, 1 << 20, 2 ** 31, -(2 ** 31), 2 ** 40]

/**
 * The tiny GPT block (`torch.onnx.export`'s shape) with one to three things changed, chosen by `next`: a node's
 * operator, an attribute's integer or float, a node's input (rewired to another node's output), an initializer's
 * dimension, or a Constant's value. The bytes stay a well-formed ModelProto, so the damage reaches the runtime.
 */
function damagedGpt(next: () => number): Uint8Array {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
  const model = onnx.ModelProto.decode(tinyGptModel())
  const graph = model.graph!
  for (let k = 0; k < 1 + next() * 3; k++) {
    const node = pick(graph.node!)
    const r = next()
    if (r < 0.2) node.opType = pick(OPS)
    else if (r < 0.4 && node.attribute!.length > 0) {
      const a = pick(node.attribute!)
      if (a.ints?.length) a.ints[Math.floor(next() * a.ints.length)] = pick(VALUES)
      else a.i = pick(VALUES)
      a.f = pick([0, -1, 1e30, NaN])
    } else if (r < 0.55 && node.input!.length > 0) {
      node.input![Math.floor(next() * node.input!.length)] = pick(graph.node!).output![0] ?? ''
    } else if (r < 0.7) {
      const dims = pick(graph.initializer!).dims!
      if (dims.length > 0) dims[Math.floor(next() * dims.length)] = pick(VALUES)
    } else {
      const constants = graph.node!.filter((n) => n.opType === 'Constant')
      const t = constants.length > 0 ? pick(constants).attribute![0]!.t : undefined
      if (t?.int64Data?.length) t.int64Data[Math.floor(next() * t.int64Data.length)] = pick(VALUES)
      if (t?.rawData?.length) t.rawData[Math.floor(next() * t.rawData.length)] = Math.floor(next() * 256)
    }
  }
  return onnx.ModelProto.encode(model).finish()
}

describe('damaged ONNX models', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const ids = () => intTensor([2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])

  /** Outcome counts of `runs` damaged models, each loaded and run by `run`. */
  async function outcomes(runs: number, seed: number, run: (bytes: Uint8Array) => Promise<unknown>) {
    const next = random(seed)
    const counts = new Map<string, number>()
    for (let i = 0; i < runs; i++) {
      const key = (await rejectionCode(run(damagedGpt(next)))) ?? 'ran'
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return counts
  }

  it('should run or refuse with a coded error on the CPU reference, never throw anything else', async () => {
    const counts = await outcomes(400, 2026, async (bytes) => runModelCpu(loadOnnxModel(bytes), { input_ids: ids() }))
    expect(counts.get('uncoded'), JSON.stringify([...counts])).toBeUndefined()
    // The damage reaches past the loader: some models still run, others fail the runtime's own checks.
    expect(counts.get('ran')).toBeGreaterThan(0)
    expect(counts.get('GPU__SHAPE_MISMATCH')).toBeGreaterThan(0)
  })

  it('should run or refuse with a coded error on the GPU, and leave the engine usable', async () => {
    const counts = await outcomes(80, 1123, async (bytes) =>
      engine.runModel(loadOnnxModel(bytes), { input_ids: ids() }),
    )
    expect(counts.get('uncoded'), JSON.stringify([...counts])).toBeUndefined()
    expect(counts.get('ran')).toBeGreaterThan(0)
    expect(engine.usable).toBe(true)
  })
})
