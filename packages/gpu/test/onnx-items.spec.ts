import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadOnnxModel, relativeError, runModelCpu, tensorItemChunks, TOLERANCE } from '../src/index.js'
import type { Engine, OnnxModel, Tensor } from '../src/index.js'
import { randomTensor } from './helpers/onnx-builder.js'
import { ITEMS_MIXING_MODELS, shapeReadingModel } from './helpers/items-models.js'

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes)
  const out = await session.run({ x: new ort.Tensor('float32', x.data, [...x.shape]) })
  await session.release()
  return out.y!.data as Float32Array
}

describe('onnx items runs', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** Runs of a model on the GPU and on the CPU reference: output y of input x, or of its given items. */
  const runtimes = (): ((model: OnnxModel, x: Tensor, items?: number[]) => Promise<Tensor>)[] => [
    async (model, x, items) => (await engine.runModel(model, { x }, items === undefined ? {} : { items })).y!,
    async (model, x, items) => (await runModelCpu(model, { x }, items === undefined ? {} : { items })).y!,
  ]

  it('should recompute items of a model reading Shape for its batch-led shapes bit for bit', async () => {
    const bytes = shapeReadingModel()
    const x = randomTensor([3, 2, 3, 4], 11)
    const expected = await runOrt(bytes, x)
    const model = loadOnnxModel(bytes)
    for (const run of runtimes()) {
      const full = await run(model, x)
      expect(full.shape).toEqual([3, 6])
      expect(relativeError(full.data, expected)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
      const chunks = tensorItemChunks(full)
      expect(tensorItemChunks(await run(model, x, [2]))).toEqual([chunks[2]])
      expect(tensorItemChunks(await run(model, x, [2, 0]))).toEqual([chunks[2], chunks[0]])
    }
  })

  for (const r of ITEMS_MIXING_MODELS) {
    it(`should refuse items of ${r.name} with GPU__UNSUPPORTED_OP on the GPU and the CPU`, async () => {
      const model = loadOnnxModel(r.model())
      const x = randomTensor(r.dims, 12)
      for (const run of runtimes()) {
        await expect(run(model, x, [1])).rejects.toEqual(
          expect.objectContaining({
            code: 'GPU__UNSUPPORTED_OP',
            context: expect.objectContaining({ option: 'items' }),
          }),
        )
      }
      expect(engine.usable).toBe(true)
    })
  }

  it('should run items of a one-item batch, which are the whole batch, whatever its graph', async () => {
    // Reshape(x, [1, -1]) folds the batch into one row; a batch of one item has nothing to fold.
    const model = loadOnnxModel(
      ITEMS_MIXING_MODELS.find((r) => r.name === 'a Reshape to a fixed leading size')!.model(),
    )
    const x = randomTensor([1, 4], 13)
    for (const run of runtimes()) expect((await run(model, x, [0])).data).toEqual((await run(model, x)).data)
  })
})
