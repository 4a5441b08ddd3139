import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertItemsRecomputable, createEngine, loadOnnxModel, runModelCpu, tensor } from '../src/index.js'
import type { Engine, GpuErrorCode, Tensor } from '../src/index.js'
import { GraphBuilder, int64Tensor } from './helpers/onnx-builder.js'
import type { Attr } from './helpers/onnx-builder.js'

/**
 * Operators as the model's opset defines them, where versions differ in what they compute or accept; onnxruntime
 * runs no opset below 7, so the expected values here are worked out by hand from the operator documents.
 */

const DataType = { FLOAT: 1 } as const

/** x [3, 3] holding its row index in each row. */
const rows = (): Tensor => tensor([3, 3], [0, 0, 0, 1, 1, 1, 2, 2, 2])

/** One binary node `op` of x [3, 3] and the weight b, at `opset`. */
function binaryModel(op: string, b: number[], attributes: Record<string, Attr>, opset: number): Uint8Array {
  return new GraphBuilder()
    .input('x', [3, 3])
    .output('y', [3, 3])
    .weight('b', [b.length], Float32Array.from(b))
    .node(op, ['x', 'b'], ['y'], attributes)
    .build(opset)
}

describe('onnx operators by opset', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** Runs `bytes` on the GPU and on the CPU reference; both must give `expected`. */
  async function expectOutput(bytes: Uint8Array, feeds: Record<string, Tensor>, expected: Tensor): Promise<void> {
    const model = loadOnnxModel(bytes)
    for (const out of [(await engine.runModel(model, feeds)).y!, (await runModelCpu(model, feeds)).y!]) {
      expect(out.shape).toEqual(expected.shape)
      expect(Array.from(out.data)).toEqual(Array.from(expected.data))
    }
  }

  /** Loads `bytes`, then expects the GPU and the CPU reference to refuse it with `code`. */
  async function expectRunRefused(bytes: Uint8Array, feeds: Record<string, Tensor>, code: GpuErrorCode): Promise<void> {
    const model = loadOnnxModel(bytes)
    const expected = expect.objectContaining({ code })
    await expect(engine.runModel(model, feeds)).rejects.toEqual(expected)
    await expect(runModelCpu(model, feeds)).rejects.toEqual(expected)
    expect(engine.usable).toBe(true)
  }

  describe('broadcasting before opset 7', () => {
    const legacy: { name: string; op: string; b: number[]; attributes: Record<string, Attr>; y: number[] }[] = [
      {
        name: 'Add-6 lining B up with axis 0',
        op: 'Add',
        b: [10, 20, 30],
        attributes: { broadcast: { int: 1 }, axis: { int: 0 } },
        y: [10, 10, 10, 21, 21, 21, 32, 32, 32],
      },
      {
        name: 'Sub-6 lining B up with the last axis by default',
        op: 'Sub',
        b: [10, 20, 30],
        attributes: { broadcast: { int: 1 } },
        y: [-10, -20, -30, -9, -19, -29, -8, -18, -28],
      },
      {
        name: 'Mul-6 by a one-element B',
        op: 'Mul',
        b: [3],
        attributes: { broadcast: { int: 1 }, axis: { int: 0 } },
        y: [0, 0, 0, 3, 3, 3, 6, 6, 6],
      },
      {
        name: 'Pow-1 lining B up with axis 0',
        op: 'Pow',
        b: [1, 2, 3],
        attributes: { broadcast: { int: 1 }, axis: { int: 0 } },
        y: [0, 0, 0, 1, 1, 1, 8, 8, 8],
      },
    ]
    for (const c of legacy) {
      it(`should run ${c.name} as its opset broadcasts`, async () => {
        await expectOutput(binaryModel(c.op, c.b, c.attributes, 6), { x: rows() }, tensor([3, 3], c.y))
      })
    }

    it('should line host integers up as Add-6 does', async () => {
      const bytes = new GraphBuilder()
        .input('x', [2, 2])
        .output('y', [2, 2])
        .node('Constant', [], ['m'], { value: { tensor: int64Tensor([2, 2], [1, 2, 3, 4]) } })
        .node('Constant', [], ['v'], { value: { tensor: int64Tensor([2], [10, 20]) } })
        .node('Add', ['m', 'v'], ['s'], { broadcast: { int: 1 }, axis: { int: 0 } })
        .node('Cast', ['s'], ['f'], { to: { int: DataType.FLOAT } })
        .node('Add', ['f', 'x'], ['y'])
        .build(6)
      await expectOutput(bytes, { x: tensor([2, 2], [0, 0, 0, 0]) }, tensor([2, 2], [11, 12, 23, 24]))
    })

    const refusals: { name: string; op: string; b: number[]; attributes: Record<string, Attr> }[] = [
      { name: 'Add-6 of differing shapes without broadcast', op: 'Add', b: [10, 20, 30], attributes: {} },
      { name: 'Div-6 of differing shapes with broadcast 0', op: 'Div', b: [1], attributes: { broadcast: { int: 0 } } },
      {
        name: 'Mul-6 whose B is not A from its axis',
        op: 'Mul',
        b: [1, 2],
        attributes: { broadcast: { int: 1 }, axis: { int: 0 } },
      },
      {
        name: 'Add-6 whose axis leaves no room for B',
        op: 'Add',
        b: [1, 2, 3],
        attributes: { broadcast: { int: 1 }, axis: { int: 2 } },
      },
    ]
    for (const r of refusals) {
      it(`should refuse ${r.name} with GPU__SHAPE_MISMATCH`, async () => {
        await expectRunRefused(binaryModel(r.op, r.b, r.attributes, 6), { x: rows() }, 'GPU__SHAPE_MISMATCH')
      })
    }

    it('should refuse items through Add-6 lining a weight up with the batch axis', async () => {
      const bytes = binaryModel('Add', [10, 20, 30], { broadcast: { int: 1 }, axis: { int: 0 } }, 6)
      await expect(assertItemsRecomputable(loadOnnxModel(bytes), { x: rows() })).rejects.toEqual(
        expect.objectContaining({ code: 'GPU__UNSUPPORTED_OP', context: expect.objectContaining({ option: 'items' }) }),
      )
    })

    it('should broadcast numpy-style from opset 7', async () => {
      await expectOutput(
        binaryModel('Add', [10, 20, 30], {}, 7),
        { x: rows() },
        tensor([3, 3], [10, 20, 30, 11, 21, 31, 12, 22, 32]),
      )
    })
  })
})
