import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertItemsRecomputable, createEngine, loadOnnxModel, runModelCpu, tensor } from '../src/index.js'
import type { Engine, GpuErrorCode, Tensor } from '../src/index.js'
import { boolTensor, floatTensor, GraphBuilder, int64Tensor } from './helpers/onnx-builder.js'
import type { OnnxTypes } from '../src/onnx/proto.js'
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

  describe("inputs of an operator's version", () => {
    /** One node `op` reading x [2, 1, 3, 1] and the int64 initializer a [1] (holding 1), writing y. */
    const withAxes = (op: string, inputs: string[], opset: number): Uint8Array =>
      new GraphBuilder()
        .input('x', [2, 1, 3, 1])
        .output('y', [2, 3, 1])
        .initializer('a', int64Tensor([1], [1]))
        .node(op, inputs, ['y'])
        .build(opset)

    const refusals: { name: string; model: () => Uint8Array; code: GpuErrorCode; context: Record<string, unknown> }[] =
      [
        {
          name: 'ReduceMean-13 given an axes input, which opset 18 introduced',
          model: () => withAxes('ReduceMean', ['x', 'a'], 13),
          code: 'GPU__MALFORMED_MODEL',
          context: { op: 'ReduceMean', opset: 13, inputs: 2, max: 1 },
        },
        {
          name: 'ReduceMax-17 given an axes input',
          model: () => withAxes('ReduceMax', ['x', 'a'], 17),
          code: 'GPU__MALFORMED_MODEL',
          context: { inputs: 2, max: 1 },
        },
        {
          name: 'Squeeze-11 given an axes input, which opset 13 introduced',
          model: () => withAxes('Squeeze', ['x', 'a'], 11),
          code: 'GPU__MALFORMED_MODEL',
          context: { op: 'Squeeze', opset: 11, inputs: 2, max: 1 },
        },
        {
          name: 'Unsqueeze-13 without its axes input',
          model: () => withAxes('Unsqueeze', ['x'], 13),
          code: 'GPU__MALFORMED_MODEL',
          context: { inputs: 1, min: 2 },
        },
        {
          name: 'Relu given two inputs',
          model: () => withAxes('Relu', ['x', 'x'], 20),
          code: 'GPU__MALFORMED_MODEL',
          context: { inputs: 2, max: 1 },
        },
        {
          name: 'Gemm-9 without C, which opset 11 made optional',
          model: () =>
            new GraphBuilder()
              .input('x', [2, 3])
              .output('y', [2, 3])
              .weight('w', [3, 3], new Float32Array(9))
              .node('Gemm', ['x', 'w'], ['y'])
              .build(9),
          code: 'GPU__MALFORMED_MODEL',
          context: { inputs: 2, min: 3 },
        },
        {
          name: 'Conv omitting its weights',
          model: () =>
            new GraphBuilder()
              .input('x', [1, 1, 3, 3])
              .output('y', [1, 1, 3, 3])
              .node('Conv', ['x', ''], ['y'])
              .build(20),
          code: 'GPU__MALFORMED_MODEL',
          context: { input: 1 },
        },
        {
          name: 'LayerNormalization in opset 16, before ONNX defines it',
          model: () =>
            new GraphBuilder()
              .input('x', [2, 3])
              .output('y', [2, 3])
              .weight('s', [3], Float32Array.of(1, 1, 1))
              .node('LayerNormalization', ['x', 's'], ['y'])
              .build(16),
          code: 'GPU__MALFORMED_MODEL',
          context: { opset: 16 },
        },
        {
          name: 'Reshape-4, whose shape is an attribute',
          model: () =>
            new GraphBuilder()
              .input('x', [2, 3])
              .output('y', [3, 2])
              .node('Reshape', ['x'], ['y'], { shape: { ints: [3, 2] } })
              .build(4),
          code: 'GPU__UNSUPPORTED_OP',
          context: { op: 'Reshape', opset: 4 },
        },
        {
          name: 'Tile-5, whose tiles and axis are inputs',
          model: () =>
            new GraphBuilder()
              .input('x', [2, 3])
              .output('y', [4, 3])
              .initializer('t', int64Tensor([], [2]))
              .initializer('axis', int64Tensor([], [0]))
              .node('Tile', ['x', 't', 'axis'], ['y'])
              .build(5),
          code: 'GPU__UNSUPPORTED_OP',
          context: { op: 'Tile', opset: 5 },
        },
      ]

    for (const r of refusals) {
      it(`should refuse ${r.name} with ${r.code} when the model loads`, () => {
        expect(() => loadOnnxModel(r.model())).toThrow(
          expect.objectContaining({ code: r.code, context: expect.objectContaining(r.context) }),
        )
      })
    }

    it('should split by the split input of Split-1', async () => {
      const bytes = new GraphBuilder()
        .input('x', [2, 6])
        .output('y', [2, 4])
        .initializer('s', int64Tensor([2], [2, 4]))
        .node('Split', ['x', 's'], ['a', 'y'], { axis: { int: 1 } })
        .build(1)
      const x = tensor([2, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      await expectOutput(bytes, { x }, tensor([2, 4], [2, 3, 4, 5, 8, 9, 10, 11]))
    })
  })

  describe("attributes of an operator's version", () => {
    /** One node `op` of x [2, 3, 4] with `attributes`, at `opset`. */
    const withAttributes = (op: string, attributes: Record<string, Attr>, opset: number): Uint8Array =>
      new GraphBuilder().input('x', [2, 3, 4]).output('y', [2, 3, 4]).node(op, ['x'], ['y'], attributes).build(opset)

    const refusals: { name: string; op: string; attributes: Record<string, Attr>; opset: number; attribute: string }[] =
      [
        {
          name: 'ReduceMean-13 with noop_with_empty_axes, which opset 18 introduced',
          op: 'ReduceMean',
          attributes: { noop_with_empty_axes: { int: 1 } },
          opset: 13,
          attribute: 'noop_with_empty_axes',
        },
        {
          name: 'ReduceSum-11 with noop_with_empty_axes, which opset 13 introduced',
          op: 'ReduceSum',
          attributes: { noop_with_empty_axes: { int: 1 } },
          opset: 11,
          attribute: 'noop_with_empty_axes',
        },
        {
          name: 'Shape-13 with start, which opset 15 introduced',
          op: 'Shape',
          attributes: { start: { int: 1 } },
          opset: 13,
          attribute: 'start',
        },
        { name: 'Shape-14 with end', op: 'Shape', attributes: { end: { int: 1 } }, opset: 14, attribute: 'end' },
        {
          name: 'Clip-11 with a min attribute, which became an input',
          op: 'Clip',
          attributes: { min: { float: 0 } },
          opset: 11,
          attribute: 'min',
        },
        {
          name: 'ReduceMean-18 with an axes attribute, which became an input',
          op: 'ReduceMean',
          attributes: { axes: { ints: [1] } },
          opset: 18,
          attribute: 'axes',
        },
        {
          name: 'Squeeze-13 with an axes attribute',
          op: 'Squeeze',
          attributes: { axes: { ints: [0] } },
          opset: 13,
          attribute: 'axes',
        },
      ]
    for (const r of refusals) {
      it(`should refuse ${r.name} with GPU__MALFORMED_MODEL when the model loads`, () => {
        expect(() => loadOnnxModel(withAttributes(r.op, r.attributes, r.opset))).toThrow(
          expect.objectContaining({
            code: 'GPU__MALFORMED_MODEL',
            context: expect.objectContaining({ op: r.op, attribute: r.attribute, opset: r.opset }),
          }),
        )
      })
    }

    it('should keep the input of ReduceSum-13 with noop_with_empty_axes and no axes', async () => {
      const x = tensor(
        [2, 3, 4],
        Array.from({ length: 24 }, (_, i) => i),
      )
      await expectOutput(withAttributes('ReduceSum', { noop_with_empty_axes: { int: 1 } }, 13), { x }, x)
    })
  })

  describe("Gemm's C", () => {
    /** Gemm of a [m, 3] by b [3, 2] (y = a[:, 0] + a[:, 2], a[:, 1] + a[:, 2]) plus the weight c. */
    const gemmModel = (m: number, c: number[], cData: number[], opset = 13, attributes: Record<string, Attr> = {}) =>
      new GraphBuilder()
        .input('a', [m, 3])
        .output('y', [m, 2])
        .weight('b', [3, 2], Float32Array.of(1, 0, 0, 1, 1, 1))
        .weight('c', c, Float32Array.from(cData))
        .node('Gemm', ['a', 'b', 'c'], ['y'], attributes)
        .build(opset)
    const a = (): Tensor => tensor([2, 3], [1, 2, 3, 4, 5, 6])

    const runs: { name: string; model: () => Uint8Array; y: number[] }[] = [
      { name: 'C of the product shape', model: () => gemmModel(2, [2, 2], [1, 2, 3, 4]), y: [5, 7, 13, 15] },
      { name: 'C of one column', model: () => gemmModel(2, [2, 1], [10, 20]), y: [14, 15, 30, 31] },
      { name: 'C of one row, of rank 1', model: () => gemmModel(2, [2], [10, 20]), y: [14, 25, 20, 31] },
      {
        name: 'C of rank 1 in Gemm-6 with broadcast=1',
        model: () => gemmModel(2, [2], [10, 20], 6, { broadcast: { int: 1 } }),
        y: [14, 25, 20, 31],
      },
    ]
    for (const r of runs) {
      it(`should add ${r.name}`, async () => {
        await expectOutput(r.model(), { a: a() }, tensor([2, 2], r.y))
      })
    }

    const refusals: { name: string; model: () => Uint8Array; a: () => Tensor }[] = [
      { name: 'C of rank 3', model: () => gemmModel(2, [3, 2, 2], new Array<number>(12).fill(1)), a },
      {
        name: 'C with more rows than the product',
        model: () => gemmModel(1, [2, 1], [1, 2]),
        a: () => tensor([1, 3], [1, 2, 3]),
      },
      { name: 'C longer than a row of the product', model: () => gemmModel(2, [3], [1, 2, 3]), a },
      { name: 'C of rank 1 in Gemm-6 without broadcast', model: () => gemmModel(2, [2], [10, 20], 6), a },
    ]
    for (const r of refusals) {
      it(`should refuse ${r.name} with GPU__SHAPE_MISMATCH`, async () => {
        await expectRunRefused(r.model(), { a: r.a() }, 'GPU__SHAPE_MISMATCH')
      })
    }
  })

  describe('axes of a scalar', () => {
    /** Sums x [1] into a scalar s, then applies `op` to s and the weight w [1] (when `withWeight`), writing y. */
    const ofScalar = (op: string, attributes: Record<string, Attr>, withWeight = false): Uint8Array =>
      new GraphBuilder()
        .input('x', [1])
        .output('y', [])
        .weight('w', [1], Float32Array.of(1))
        .node('ReduceSum', ['x'], ['s'], { keepdims: { int: 0 } })
        .node(op, withWeight ? ['s', 'w'] : ['s'], ['y'], attributes)
        .build(17)

    const refusals: { name: string; model: () => Uint8Array }[] = [
      { name: 'a Softmax of a scalar along axis 0', model: () => ofScalar('Softmax', { axis: { int: 0 } }) },
      {
        name: 'a LayerNormalization of a scalar from axis 0',
        model: () => ofScalar('LayerNormalization', { axis: { int: 0 } }, true),
      },
    ]
    for (const r of refusals) {
      it(`should refuse ${r.name}, which has no axis, with GPU__SHAPE_MISMATCH`, async () => {
        await expectRunRefused(r.model(), { x: tensor([1], [3]) }, 'GPU__SHAPE_MISMATCH')
      })
    }

    it('should still reduce a scalar over every axis, which are none', async () => {
      await expectOutput(ofScalar('ReduceMean', {}), { x: tensor([1], [3]) }, tensor([], [3]))
    })
  })

  describe('Dropout', () => {
    /** Dropout of x [2, 3] with ratio 0.5 and the training_mode initializer `mode` (left out when undefined). */
    const dropout = (mode: OnnxTypes.ITensorProto | undefined): Uint8Array => {
      const g = new GraphBuilder().input('x', [2, 3]).output('y', [2, 3]).weight('r', [], Float32Array.of(0.5))
      if (mode !== undefined) g.initializer('t', mode)
      return g.node('Dropout', ['x', 'r', ...(mode === undefined ? [] : ['t'])], ['y']).build(13)
    }
    const x = (): Tensor => tensor([2, 3], [1, 2, 3, 4, 5, 6])

    it('should refuse training_mode true with GPU__UNSUPPORTED_OP', async () => {
      await expectRunRefused(dropout(boolTensor([], [true])), { x: x() }, 'GPU__UNSUPPORTED_OP')
    })

    it('should refuse a training_mode that is not a boolean', async () => {
      await expectRunRefused(dropout(floatTensor([], [0])), { x: x() }, 'GPU__UNSUPPORTED_OP')
    })

    it('should pass its input through with training_mode false or left out', async () => {
      await expectOutput(dropout(boolTensor([], [false])), { x: x() }, x())
      await expectOutput(dropout(undefined), { x: x() }, x())
    })
  })

  describe('Squeeze with an empty axes list', () => {
    const x = tensor([2, 1, 3], [1, 2, 3, 4, 5, 6])
    const squeezed = tensor([2, 3], [1, 2, 3, 4, 5, 6])

    it('should drop every axis of size 1, as without axes (an input from opset 13)', async () => {
      const g = new GraphBuilder().input('x', [2, 1, 3]).output('y', [2, 3])
      g.initializer('a', int64Tensor([0], [])).node('Squeeze', ['x', 'a'], ['y'])
      await expectOutput(g.build(13), { x }, squeezed)
    })

    it('should drop every axis of size 1, as without axes (an attribute before opset 13)', async () => {
      const g = new GraphBuilder().input('x', [2, 1, 3]).output('y', [2, 3])
      g.node('Squeeze', ['x'], ['y'], { axes: { ints: [] } })
      await expectOutput(g.build(11), { x }, squeezed)
    })
  })

  describe('LayerNormalization scale and bias', () => {
    /** LayerNormalization-17 of x [2, 3, 4] over axes 1 and 2, with a scale of `scale` and a bias of `bias` shapes. */
    const layerNormModel = (scale: number[], bias: number[]): Uint8Array =>
      new GraphBuilder()
        .input('x', [2, 3, 4])
        .output('y', [2, 3, 4])
        .weight(
          's',
          scale,
          Float32Array.from({ length: scale.reduce((a, d) => a * d, 1) }, (_, i) => i + 1),
        )
        .weight(
          'b',
          bias,
          Float32Array.from({ length: bias.reduce((a, d) => a * d, 1) }, (_, i) => -i),
        )
        .node('LayerNormalization', ['x', 's', 'b'], ['y'], { axis: { int: 1 } })
        .build(17)
    const x = (): Tensor =>
      tensor(
        [2, 3, 4],
        Array.from({ length: 24 }, (_, i) => (i * 7) % 5),
      )
    const full = (): Uint8Array => layerNormModel([3, 4], [3, 4])

    /** The output of `bytes` on the CPU reference, which `expectOutput` then holds the GPU to as well. */
    const cpuOutput = async (bytes: Uint8Array): Promise<Tensor> =>
      (await runModelCpu(loadOnnxModel(bytes), { x: x() })).y!

    it('should broadcast a scale [1, 4] and a bias [3, 1] to the normalized shape [3, 4], as onnxruntime', async () => {
      // The same parameters written out whole: scale rows 1 2 3 4, bias columns 0, -1, -2.
      const whole = new GraphBuilder()
        .input('x', [2, 3, 4])
        .output('y', [2, 3, 4])
        .weight(
          's',
          [3, 4],
          Float32Array.from({ length: 12 }, (_, i) => (i % 4) + 1),
        )
        .weight(
          'b',
          [3, 4],
          Float32Array.from({ length: 12 }, (_, i) => -Math.floor(i / 4)),
        )
        .node('LayerNormalization', ['x', 's', 'b'], ['y'], { axis: { int: 1 } })
        .build(17)
      const expected = await cpuOutput(whole)
      await expectOutput(layerNormModel([1, 4], [3, 1]), { x: x() }, expected)
      await expectOutput(whole, { x: x() }, expected)
    })

    it('should take a scale and bias of the normalized shape with leading 1s or fewer axes', async () => {
      const expected = await cpuOutput(full())
      await expectOutput(layerNormModel([1, 3, 4], [1, 3, 4]), { x: x() }, expected)
      const rowParams = new GraphBuilder()
        .input('x', [2, 3, 4])
        .output('y', [2, 3, 4])
        .weight('s', [4], Float32Array.of(1, 2, 3, 4))
        .node('LayerNormalization', ['x', 's'], ['y'], { axis: { int: 1 } })
        .build(17)
      await expectOutput(rowParams, { x: x() }, await cpuOutput(layerNormModel([1, 4], [1])))
    })

    const refusals: { name: string; scale: number[]; bias: number[]; code: GpuErrorCode }[] = [
      { name: 'a scale of 12 elements, as onnxruntime', scale: [12], bias: [3, 4], code: 'GPU__SHAPE_MISMATCH' },
      { name: 'a scale [4, 3], as onnxruntime', scale: [4, 3], bias: [3, 4], code: 'GPU__SHAPE_MISMATCH' },
      {
        name: 'a bias [1, 1, 3, 4] of higher rank than X, as onnxruntime',
        scale: [3, 4],
        bias: [1, 1, 3, 4],
        code: 'GPU__SHAPE_MISMATCH',
      },
      {
        name: 'a bias [2, 3, 4] varying before the axis, which onnxruntime runs',
        scale: [3, 4],
        bias: [2, 3, 4],
        code: 'GPU__UNSUPPORTED_OP',
      },
    ]
    for (const r of refusals) {
      it(`should refuse ${r.name}, for a normalized shape [3, 4] with ${r.code}`, async () => {
        await expectRunRefused(layerNormModel(r.scale, r.bias), { x: x() }, r.code)
      })
    }
  })

  describe('Max and Min before opset 8', () => {
    it('should refuse Max-7 and Min-6 of differing shapes with GPU__SHAPE_MISMATCH', async () => {
      for (const [op, opset] of [
        ['Max', 7],
        ['Min', 6],
      ] as const)
        await expectRunRefused(binaryModel(op, [10, 20, 30], {}, opset), { x: rows() }, 'GPU__SHAPE_MISMATCH')
    })

    it('should run Max-7 of one shape, and broadcast from opset 8', async () => {
      const same = new GraphBuilder()
        .input('x', [3, 3])
        .output('y', [3, 3])
        .node('Max', ['x', 'x', 'x'], ['y'])
        .build(7)
      await expectOutput(same, { x: rows() }, rows())
      await expectOutput(
        binaryModel('Max', [1, 0, 3], {}, 8),
        { x: rows() },
        tensor([3, 3], [1, 0, 3, 1, 1, 3, 2, 2, 3]),
      )
    })
  })

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
