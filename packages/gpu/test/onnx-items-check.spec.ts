import { describe, expect, it } from 'vitest'
import { assertItemsRecomputable, intTensor, loadOnnxModel } from '../src/index.js'
import { randomTensor } from './helpers/onnx-builder.js'
import { ITEMS_MIXING_MODELS, shapeReadingModel } from './helpers/items-models.js'
import {
  cnnModel,
  MOBILENET_BLOCK,
  mlpModel,
  mobileNetBlockModel,
  TINY_GPT,
  tinyGptModel,
  TRANSFORMER,
  transformerModel,
} from './helpers/models.js'

describe('assertItemsRecomputable', () => {
  const { channels, size } = MOBILENET_BLOCK
  const models: { name: string; model: () => Uint8Array; dims: number[] }[] = [
    { name: 'an MLP', model: mlpModel, dims: [4, 64] },
    { name: 'a small CNN', model: cnnModel, dims: [3, 3, 16, 16] },
    { name: 'a transformer block', model: transformerModel, dims: [3, TRANSFORMER.seq, TRANSFORMER.width] },
    { name: 'a MobileNetV2-style block', model: mobileNetBlockModel, dims: [2, channels, size, size] },
    { name: 'a model reading Shape for its batch-led shapes', model: shapeReadingModel, dims: [3, 2, 3, 4] },
  ]

  for (const m of models) {
    it(`should pass ${m.name}, whose items runs keep items apart`, async () => {
      await expect(assertItemsRecomputable(loadOnnxModel(m.model()), { x: randomTensor(m.dims, 21) })).resolves.toBe(
        undefined,
      )
    })
  }

  it('should pass a GPT block whose head shapes lead with Shape(ids)[0]', async () => {
    const ids = intTensor(
      [3, 5],
      new Array<number>(15).fill(0).map((_, i) => i % TINY_GPT.vocab),
    )
    await expect(assertItemsRecomputable(loadOnnxModel(tinyGptModel()), { input_ids: ids })).resolves.toBe(undefined)
  })

  for (const r of ITEMS_MIXING_MODELS) {
    it(`should refuse ${r.name} with GPU__UNSUPPORTED_OP, as an items run does`, async () => {
      await expect(assertItemsRecomputable(loadOnnxModel(r.model()), { x: randomTensor(r.dims, 22) })).rejects.toEqual(
        expect.objectContaining({ code: 'GPU__UNSUPPORTED_OP', context: expect.objectContaining({ option: 'items' }) }),
      )
    })
  }

  it('should pass any graph on a one-item batch, whose only items run is the whole batch', async () => {
    const folding = ITEMS_MIXING_MODELS.find((r) => r.name === 'a Reshape to a fixed leading size')!
    await expect(
      assertItemsRecomputable(loadOnnxModel(folding.model()), { x: randomTensor([1, 4], 23) }),
    ).resolves.toBe(undefined)
  })

  it('should refuse inputs the model does not take, as a run does', async () => {
    await expect(assertItemsRecomputable(loadOnnxModel(mlpModel()), { x: randomTensor([2, 63], 24) })).rejects.toEqual(
      expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }),
    )
  })
})
