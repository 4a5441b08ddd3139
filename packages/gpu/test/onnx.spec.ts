import * as ort from 'onnxruntime-node'
import { isCoreError } from '@tessera/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  isGpuError,
  loadOnnxModel,
  relativeError,
  runModelCpu,
  tensor,
  tensorItemChunks,
  TOLERANCE,
} from '../src/index.js'
import type { Engine, Tensor } from '../src/index.js'
import { GraphBuilder, randomFloats } from './helpers/onnx-builder.js'
import { cnnModel, mlpModel, TRANSFORMER, transformerModel } from './helpers/models.js'

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes)
  const out = await session.run({ x: new ort.Tensor('float32', x.data, [...x.shape]) })
  await session.release()
  return out.y!.data as Float32Array
}

const cases = [
  { name: 'an MLP', model: mlpModel, shape: [8, 64] },
  { name: 'a small CNN', model: cnnModel, shape: [4, 3, 16, 16] },
  { name: 'a transformer block', model: transformerModel, shape: [3, TRANSFORMER.seq, TRANSFORMER.width] },
]

describe('onnx runtime', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should stop a CPU run between nodes when its signal aborts mid-run', async () => {
    const builder = new GraphBuilder().input('x', [1, 4]).output('y', [1, 4])
    const depth = 64
    for (let i = 0; i < depth; i++)
      builder.node('Relu', [i === 0 ? 'x' : `r${i}`], [i === depth - 1 ? 'y' : `r${i + 1}`])
    const model = loadOnnxModel(builder.build())
    const controller = new AbortController()
    const pending = runModelCpu(model, { x: tensor([1, 4], [1, -2, 3, -4]) }, { signal: controller.signal })
    // Fires on the event loop's next turn, which only a run that yields between nodes lets come before its end.
    setImmediate(() => controller.abort())
    await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
  })

  for (const c of cases) {
    it(`should run ${c.name} within 1e-4 of onnxruntime-node`, async () => {
      const bytes = c.model()
      const x = tensor(
        c.shape,
        randomFloats(
          c.shape.reduce((a, b) => a * b, 1),
          42,
        ),
      )
      const expected = await runOrt(bytes, x)
      const model = loadOnnxModel(bytes)
      const gpu = await engine.runModel(model, { x })
      const y = gpu.y!
      expect(y.data.length).toBe(expected.length)
      expect(relativeError(y.data, expected)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
      const cpu = await runModelCpu(model, { x })
      expect(relativeError(cpu.y!.data, expected)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
    })

    it(`should recompute single batch items of ${c.name} bit for bit`, async () => {
      const model = loadOnnxModel(c.model())
      const x = tensor(
        c.shape,
        randomFloats(
          c.shape.reduce((a, b) => a * b, 1),
          7,
        ),
      )
      const full = (await engine.runModel(model, { x })).y!
      const chunks = tensorItemChunks(full)
      const last = c.shape[0]! - 1
      const alone = (await engine.runModel(model, { x }, { items: [last] })).y!
      expect(alone.shape[0]).toBe(1)
      expect(tensorItemChunks(alone)[0]).toEqual(chunks[last])
      const pair = (await engine.runModel(model, { x }, { items: [last, 0] })).y!
      expect(tensorItemChunks(pair)).toEqual([chunks[last], chunks[0]])
    })
  }

  it('should run again after its cached weights are released', async () => {
    const model = loadOnnxModel(mlpModel())
    const x = tensor([2, 64], randomFloats(128, 9))
    const first = (await engine.runModel(model, { x })).y!
    engine.releaseModel(model)
    const second = (await engine.runModel(model, { x })).y!
    expect(second.data).toEqual(first.data)
  })

  it('should finish a run whose weights are released while it runs, and run the model again after', async () => {
    // One weight, used by the first node and again after the run yields (it yields every few nodes under a signal).
    const graph = new GraphBuilder()
      .input('x', [1, 4])
      .output('y', [1, 4])
      .weight('b', [4], Float32Array.of(1, 2, 3, 4))
    for (let i = 0; i < 12; i++) graph.node('Add', [i === 0 ? 'x' : `h${i}`, 'b'], [i === 11 ? 'y' : `h${i + 1}`])
    const model = loadOnnxModel(graph.build())
    const x = tensor([1, 4], Float32Array.of(0.5, -1, 2, 0))
    const running = engine.runModel(model, { x }, { signal: new AbortController().signal })
    engine.releaseModel(model)
    expect(Array.from((await running).y!.data)).toEqual([12.5, 23, 38, 48])
    // Released again once idle (nothing left to free), and run again from a fresh upload.
    engine.releaseModel(model)
    expect(Array.from((await engine.runModel(model, { x })).y!.data)).toEqual([12.5, 23, 38, 48])
  })

  it('should reject an unsupported operator naming it', () => {
    const bytes = new GraphBuilder().input('x', [1, 4]).output('y', [1, 4]).node('Cosh', ['x'], ['y']).build()
    let error: unknown
    try {
      loadOnnxModel(bytes)
    } catch (e) {
      error = e
    }
    expect(isGpuError(error, 'GPU__UNSUPPORTED_OP')).toBe(true)
    expect((error as { context: { op: string } }).context.op).toBe('Cosh')
  })

  it('should reject malformed model bytes with a coded error', () => {
    const garbage = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255)
    expect(() => loadOnnxModel(garbage)).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_MODEL' }))
    const truncated = mlpModel().subarray(0, 500)
    expect(() => loadOnnxModel(truncated)).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_MODEL' }))
    const cyclic = new GraphBuilder()
      .input('x', [1])
      .output('y', [1])
      .node('Relu', ['z'], ['y'])
      .node('Relu', ['y'], ['z'])
      .build()
    expect(() => loadOnnxModel(cyclic)).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_MODEL' }))
  })

  it('should reject mismatched shapes with a coded error', async () => {
    const model = loadOnnxModel(mlpModel())
    await expect(engine.runModel(model, { x: tensor([2, 63]) })).rejects.toMatchObject({ code: 'GPU__SHAPE_MISMATCH' })
    await expect(engine.runModel(model, { y: tensor([2, 64]) })).rejects.toMatchObject({
      code: 'GPU__INVALID_MODEL_INPUT',
    })
    const bad = new GraphBuilder()
      .input('x', ['n', 'k'])
      .output('y', ['n', 'm'])
      .weight('w', [5, 3], randomFloats(15, 1))
      .node('MatMul', ['x', 'w'], ['y'])
      .build()
    await expect(engine.runModel(loadOnnxModel(bad), { x: tensor([2, 4]) })).rejects.toMatchObject({
      code: 'GPU__SHAPE_MISMATCH',
    })
    expect(engine.usable).toBe(true)
  })

  it('should refuse allocations beyond the adapter limits before touching the device', async () => {
    const n = 65_536
    const outer = new GraphBuilder()
      .input('a', [n, 1])
      .input('b', [1, n])
      .output('y', [n, n])
      .node('MatMul', ['a', 'b'], ['y'])
      .build()
    const model = loadOnnxModel(outer)
    await expect(engine.runModel(model, { a: tensor([n, 1]), b: tensor([1, n]) })).rejects.toMatchObject({
      code: 'GPU__ALLOCATION_EXCEEDED',
    })
    const ok = (await engine.runModel(loadOnnxModel(mlpModel()), { x: tensor([1, 64]) })).y!
    expect(ok.shape).toEqual([1, 10])
  })
})
