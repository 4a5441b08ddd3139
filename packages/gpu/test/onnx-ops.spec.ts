import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  loadOnnxModel,
  relativeError,
  runModelCpu,
  tensor,
  tensorItemChunks,
  TOLERANCE,
} from '../src/index.js'
import type { Engine, GpuErrorCode, Tensor } from '../src/index.js'
import { GraphBuilder, randomFloats, randomTensor } from './helpers/onnx-builder.js'
import type { Attr } from './helpers/onnx-builder.js'
import { MOBILENET_BLOCK, mobileNetBlockModel } from './helpers/models.js'

type Feeds = Record<string, Tensor>

const rand = randomTensor

async function runOrt(bytes: Uint8Array, feeds: Feeds): Promise<Tensor> {
  const session = await ort.InferenceSession.create(bytes)
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data, [...t.shape])]),
  )
  const out = (await session.run(ortFeeds)).y!
  await session.release()
  return tensor(
    out.dims.map((d) => Number(d)),
    out.data as Float32Array,
  )
}

/** A model of one node `op` reading the graph inputs (and any weights), writing y. */
interface OpCase {
  name: string
  model: () => Uint8Array
  feeds: () => Feeds
}

/** One node with graph inputs `inputs` (name -> dims), optional weights, and output y of dims `out`. */
function single(
  op: string,
  inputs: Record<string, number[]>,
  out: number[],
  nodeInputs: string[],
  attributes: Record<string, Attr> = {},
  opset = 20,
  extra: (g: GraphBuilder) => void = () => {},
): () => Uint8Array {
  return () => {
    const g = new GraphBuilder()
    for (const [name, dims] of Object.entries(inputs)) g.input(name, dims)
    g.output('y', out)
    extra(g)
    return g.node(op, nodeInputs, ['y'], attributes).build(opset)
  }
}

const weight =
  (name: string, dims: number[], data: Float32Array) =>
  (g: GraphBuilder): void => {
    g.weight(name, dims, data)
  }

const x4 = (): Feeds => ({ x: rand([2, 3, 4, 5], 1, 8) })

const cases: OpCase[] = [
  {
    name: 'Clip(0, 6) with constant min and max inputs (ReLU6)',
    model: single('Clip', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x', 'lo', 'hi'], {}, 13, (g) => {
      g.weight('lo', [], Float32Array.of(0)).weight('hi', [], Float32Array.of(6))
    }),
    feeds: x4,
  },
  {
    name: 'Clip with min omitted and max given',
    model: single(
      'Clip',
      { x: [2, 3, 4, 5] },
      [2, 3, 4, 5],
      ['x', '', 'hi'],
      {},
      13,
      weight('hi', [], Float32Array.of(2.5)),
    ),
    feeds: x4,
  },
  {
    name: 'Clip with a min from a Constant node and no max',
    model: () =>
      new GraphBuilder()
        .input('x', [2, 3, 4, 5])
        .output('y', [2, 3, 4, 5])
        .node('Constant', [], ['lo'], { value_float: { float: -1.5 } })
        .node('Clip', ['x', 'lo'], ['y'])
        .build(13),
    feeds: x4,
  },
  {
    name: 'Clip with min and max attributes (opset 10)',
    model: single('Clip', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x'], { min: { float: -2 }, max: { float: 3 } }, 10),
    feeds: x4,
  },
  {
    name: 'HardSigmoid with default alpha and beta',
    model: single('HardSigmoid', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x']),
    feeds: x4,
  },
  {
    name: 'HardSigmoid with alpha 0.3 and beta 0.4',
    model: single('HardSigmoid', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x'], {
      alpha: { float: 0.3 },
      beta: { float: 0.4 },
    }),
    feeds: x4,
  },
  {
    name: 'HardSwish',
    model: single('HardSwish', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x']),
    feeds: x4,
  },
  {
    name: 'Max of three inputs, broadcast from a row and a scalar',
    model: single('Max', { x: [2, 3, 4] }, [2, 3, 4], ['x', 'row', 's'], {}, 20, (g) => {
      g.weight('row', [4], Float32Array.of(-0.5, 0.2, 0.9, -2)).weight('s', [], Float32Array.of(0.1))
    }),
    feeds: () => ({ x: rand([2, 3, 4], 2) }),
  },
  {
    name: 'Min of two inputs broadcast against each other',
    model: single('Min', { x: [3, 1, 5], z: [4, 1] }, [3, 4, 5], ['x', 'z']),
    feeds: () => ({ x: rand([3, 1, 5], 3), z: rand([4, 1], 4) }),
  },
  {
    name: 'Max of one input',
    model: single('Max', { x: [2, 3] }, [2, 3], ['x']),
    feeds: () => ({ x: rand([2, 3], 5) }),
  },
  {
    name: 'Pow with exponent 2 of negative bases',
    model: single('Pow', { x: [2, 3, 4] }, [2, 3, 4], ['x', 'e'], {}, 20, weight('e', [], Float32Array.of(2))),
    feeds: () => ({ x: rand([2, 3, 4], 6, 3) }),
  },
  {
    name: 'Pow with exponent 3 of negative bases',
    model: single('Pow', { x: [2, 3, 4] }, [2, 3, 4], ['x', 'e'], {}, 20, weight('e', [], Float32Array.of(3))),
    feeds: () => ({ x: rand([2, 3, 4], 7, 3) }),
  },
  {
    name: 'Pow of positive bases with broadcast exponents',
    model: () =>
      new GraphBuilder()
        .input('x', [2, 3, 4])
        .output('y', [2, 3, 4])
        .weight('half', [], Float32Array.of(0.5))
        .weight('e', [4], Float32Array.of(-1, 0.5, 1.5, 2.5))
        .node('Abs', ['x'], ['a'])
        .node('Add', ['a', 'half'], ['b'])
        .node('Pow', ['b', 'e'], ['y'])
        .build(20),
    feeds: () => ({ x: rand([2, 3, 4], 8, 3) }),
  },
  {
    name: 'Pow of two inputs broadcast against each other',
    model: single('Pow', { x: [3, 1], z: [1, 4] }, [3, 4], ['x', 'z']),
    feeds: () => ({ x: tensor([3, 1], [0.5, 1.5, 2.25]), z: rand([1, 4], 9, 2) }),
  },
  ...[
    { rank: 'rank 4', shape: [2, 4, 5, 5], opset: 15, epsilon: 1e-5 },
    { rank: 'rank 2', shape: [3, 4], opset: 9, epsilon: 1e-5 },
    { rank: 'rank 3 with epsilon 1e-3', shape: [2, 4, 6], opset: 15, epsilon: 1e-3 },
  ].map(({ rank, shape, opset, epsilon }): OpCase => ({
    name: `BatchNormalization of ${rank} (opset ${opset})`,
    model: single(
      'BatchNormalization',
      { x: shape },
      shape,
      ['x', 'scale', 'bias', 'mean', 'var'],
      { epsilon: { float: epsilon } },
      opset,
      (g) => {
        g.weight('scale', [4], randomFloats(4, 10, 2))
          .weight('bias', [4], randomFloats(4, 11))
          .weight('mean', [4], randomFloats(4, 12))
          .weight('var', [4], Float32Array.of(0.5, 1.5, 0.01, 3))
      },
    ),
    feeds: () => ({ x: rand(shape, 13, 2) }),
  })),
  ...[0, 1].map((countIncludePad): OpCase => ({
    name: `AveragePool 3x3, stride 2, padded, count_include_pad ${countIncludePad}`,
    model: single('AveragePool', { x: [2, 3, 9, 8] }, [2, 3, 5, 4], ['x'], {
      kernel_shape: { ints: [3, 3] },
      strides: { ints: [2, 2] },
      pads: { ints: [1, 1, 1, 1] },
      count_include_pad: { int: countIncludePad },
    }),
    feeds: () => ({ x: rand([2, 3, 9, 8], 14) }),
  })),
  {
    name: 'AveragePool 2x3 with asymmetric pads and strides',
    model: single('AveragePool', { x: [2, 3, 9, 8] }, [2, 3, 9, 4], ['x'], {
      kernel_shape: { ints: [2, 3] },
      strides: { ints: [1, 2] },
      pads: { ints: [0, 1, 1, 0] },
    }),
    feeds: () => ({ x: rand([2, 3, 9, 8], 15) }),
  },
  {
    name: 'AveragePool with dilations (opset 19)',
    model: single(
      'AveragePool',
      { x: [1, 2, 9, 9] },
      [1, 2, 9, 8],
      ['x'],
      { kernel_shape: { ints: [2, 2] }, dilations: { ints: [2, 3] }, pads: { ints: [1, 1, 1, 1] } },
      19,
    ),
    feeds: () => ({ x: rand([1, 2, 9, 9], 16) }),
  },
  {
    name: 'Concat of three inputs on axis 1, one a weight',
    model: single('Concat', { x: [2, 3, 4] }, [2, 8, 4], ['x', 'w', 'x'], { axis: { int: 1 } }, 20, (g) => {
      g.weight('w', [2, 2, 4], randomFloats(16, 17))
    }),
    feeds: () => ({ x: rand([2, 3, 4], 18) }),
  },
  {
    name: 'Concat on axis -1',
    model: single('Concat', { x: [2, 3, 4], z: [2, 3, 1] }, [2, 3, 5], ['x', 'z'], { axis: { int: -1 } }),
    feeds: () => ({ x: rand([2, 3, 4], 19), z: rand([2, 3, 1], 20) }),
  },
  {
    name: 'Concat on axis 0',
    model: single(
      'Concat',
      { x: [2, 3] },
      [3, 3],
      ['x', 'w'],
      { axis: { int: 0 } },
      20,
      weight('w', [1, 3], randomFloats(3, 21)),
    ),
    feeds: () => ({ x: rand([2, 3], 22) }),
  },
  {
    name: 'ReduceMean over an axes attribute, keepdims by default (opset 13)',
    model: single('ReduceMean', { x: [2, 3, 4, 5] }, [2, 1, 4, 5], ['x'], { axes: { ints: [1] } }, 13),
    feeds: x4,
  },
  {
    name: 'ReduceMean over negative, unsorted, non-trailing axes, keepdims 0',
    model: single(
      'ReduceMean',
      { x: [2, 3, 4, 5] },
      [2, 4],
      ['x'],
      { axes: { ints: [-1, 1] }, keepdims: { int: 0 } },
      13,
    ),
    feeds: x4,
  },
  {
    name: 'ReduceMean over every axis when none are named (opset 13)',
    model: single('ReduceMean', { x: [2, 3, 4, 5] }, [], ['x'], { keepdims: { int: 0 } }, 13),
    feeds: x4,
  },
  {
    name: 'ReduceMean over an axes input (opset 18)',
    model: single('ReduceMean', { x: [2, 3, 4, 5] }, [2, 3], ['x', 'axes'], { keepdims: { int: 0 } }, 18, (g) => {
      g.ints('axes', [2, -1])
    }),
    feeds: x4,
  },
  {
    name: 'ReduceMean over every axis with no axes input, keepdims 1 (opset 18)',
    model: single('ReduceMean', { x: [2, 3, 4, 5] }, [1, 1, 1, 1], ['x'], {}, 18),
    feeds: x4,
  },
  {
    name: 'ReduceMean as a no-op with noop_with_empty_axes',
    model: single('ReduceMean', { x: [2, 3, 4, 5] }, [2, 3, 4, 5], ['x'], { noop_with_empty_axes: { int: 1 } }, 18),
    feeds: x4,
  },
  {
    name: 'a decomposed LayerNorm (ReduceMean, Sub, Pow, Add, Sqrt, Div)',
    model: () =>
      new GraphBuilder()
        .input('x', [2, 5, 16])
        .output('y', [2, 5, 16])
        .weight('two', [], Float32Array.of(2))
        .weight('eps', [], Float32Array.of(1e-5))
        .weight('gamma', [16], randomFloats(16, 23))
        .weight('beta', [16], randomFloats(16, 24))
        .node('ReduceMean', ['x'], ['mean'], { axes: { ints: [-1] } })
        .node('Sub', ['x', 'mean'], ['d'])
        .node('Pow', ['d', 'two'], ['d2'])
        .node('ReduceMean', ['d2'], ['var'], { axes: { ints: [-1] } })
        .node('Add', ['var', 'eps'], ['ve'])
        .node('Sqrt', ['ve'], ['std'])
        .node('Div', ['d', 'std'], ['n'])
        .node('Mul', ['n', 'gamma'], ['s'])
        .node('Add', ['s', 'beta'], ['y'])
        .build(17),
    feeds: () => ({ x: rand([2, 5, 16], 25, 3) }),
  },
]

describe('onnx operators', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** Runs `bytes` on onnxruntime-node, the GPU engine and the CPU reference; both must match ORT. */
  async function expectMatchesOrt(bytes: Uint8Array, feeds: Feeds): Promise<Tensor> {
    const expected = await runOrt(bytes, feeds)
    const model = loadOnnxModel(bytes)
    for (const out of [(await engine.runModel(model, feeds)).y!, (await runModelCpu(model, feeds)).y!]) {
      expect(out.shape).toEqual(expected.shape)
      expect(relativeError(out.data, expected.data)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
    }
    return expected
  }

  for (const c of cases) {
    it(`should run ${c.name} like onnxruntime-node on the GPU and the CPU`, async () => {
      await expectMatchesOrt(c.model(), c.feeds())
    })
  }

  const blockShape = [3, MOBILENET_BLOCK.channels, MOBILENET_BLOCK.size, MOBILENET_BLOCK.size]

  it('should run a MobileNetV2-style block like onnxruntime-node on the GPU and the CPU', async () => {
    const y = await expectMatchesOrt(mobileNetBlockModel(), { x: rand(blockShape, 42) })
    expect(y.shape).toEqual([3, MOBILENET_BLOCK.classes])
  })

  it('should recompute single batch items of a MobileNetV2-style block bit for bit', async () => {
    const model = loadOnnxModel(mobileNetBlockModel())
    const x = rand(blockShape, 7)
    const last = blockShape[0]! - 1
    for (const run of [
      (items?: number[]) => engine.runModel(model, { x }, { items }),
      (items?: number[]) => runModelCpu(model, { x }, { items }),
    ]) {
      const chunks = tensorItemChunks((await run()).y!)
      const alone = (await run([last])).y!
      expect(alone.shape[0]).toBe(1)
      expect(tensorItemChunks(alone)[0]).toEqual(chunks[last])
      const pair = (await run([last, 0])).y!
      expect(tensorItemChunks(pair)).toEqual([chunks[last], chunks[0]])
    }
  })

  const refusals: {
    name: string
    model: () => Uint8Array
    feeds: () => Feeds
    code: GpuErrorCode
    attribute?: string
  }[] = [
    {
      name: 'BatchNormalization with training_mode 1',
      model: single(
        'BatchNormalization',
        { x: [2, 4, 3] },
        [2, 4, 3],
        ['x', 'p', 'p', 'p', 'p'],
        { training_mode: { int: 1 } },
        15,
        weight('p', [4], Float32Array.of(1, 1, 1, 1)),
      ),
      feeds: () => ({ x: rand([2, 4, 3], 30) }),
      code: 'GPU__UNSUPPORTED_OP',
      attribute: 'training_mode',
    },
    {
      name: 'BatchNormalization with parameters of the wrong length',
      model: single(
        'BatchNormalization',
        { x: [2, 4, 3] },
        [2, 4, 3],
        ['x', 'p', 'p', 'p', 'p'],
        {},
        15,
        weight('p', [3], Float32Array.of(1, 1, 1)),
      ),
      feeds: () => ({ x: rand([2, 4, 3], 31) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'AveragePool with ceil_mode 1',
      model: single('AveragePool', { x: [1, 1, 5, 5] }, [1, 1, 2, 2], ['x'], {
        kernel_shape: { ints: [2, 2] },
        strides: { ints: [2, 2] },
        ceil_mode: { int: 1 },
      }),
      feeds: () => ({ x: rand([1, 1, 5, 5], 32) }),
      code: 'GPU__UNSUPPORTED_OP',
      attribute: 'ceil_mode',
    },
    {
      name: 'AveragePool with count_include_pad 2',
      model: single('AveragePool', { x: [1, 1, 5, 5] }, [1, 1, 4, 4], ['x'], {
        kernel_shape: { ints: [2, 2] },
        count_include_pad: { int: 2 },
      }),
      feeds: () => ({ x: rand([1, 1, 5, 5], 33) }),
      code: 'GPU__UNSUPPORTED_OP',
      attribute: 'count_include_pad',
    },
    {
      name: 'AveragePool with pads as large as the kernel',
      model: single('AveragePool', { x: [1, 1, 5, 5] }, [1, 1, 4, 4], ['x'], {
        kernel_shape: { ints: [2, 2] },
        pads: { ints: [2, 0, 0, 0] },
      }),
      feeds: () => ({ x: rand([1, 1, 5, 5], 34) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'Concat of shapes that differ off the axis',
      model: single('Concat', { x: [2, 3], z: [2, 4] }, [4, 3], ['x', 'z'], { axis: { int: 0 } }),
      feeds: () => ({ x: rand([2, 3], 35), z: rand([2, 4], 36) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'Concat on an axis beyond the rank',
      model: single('Concat', { x: [2, 3] }, [2, 3], ['x', 'x'], { axis: { int: 2 } }),
      feeds: () => ({ x: rand([2, 3], 37) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'Concat without an axis',
      model: single('Concat', { x: [2, 3] }, [4, 3], ['x', 'x']),
      feeds: () => ({ x: rand([2, 3], 38) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'Clip whose min is computed at run time',
      model: single('Clip', { x: [2, 3], lo: [] }, [2, 3], ['x', 'lo']),
      feeds: () => ({ x: rand([2, 3], 39), lo: tensor([], [0]) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'Max of shapes that do not broadcast',
      model: single('Max', { x: [2, 3], z: [2] }, [2, 3], ['x', 'z']),
      feeds: () => ({ x: rand([2, 3], 40), z: rand([2], 41) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'ReduceMean naming an axis twice',
      model: single('ReduceMean', { x: [2, 3] }, [2, 1], ['x'], { axes: { ints: [1, -1] } }, 13),
      feeds: () => ({ x: rand([2, 3], 42) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
  ]

  for (const r of refusals) {
    it(`should refuse ${r.name} with ${r.code} on the GPU and the CPU`, async () => {
      const model = loadOnnxModel(r.model())
      const expected = expect.objectContaining({
        code: r.code,
        ...(r.attribute === undefined ? {} : { context: expect.objectContaining({ attribute: r.attribute }) }),
      })
      await expect(engine.runModel(model, r.feeds())).rejects.toEqual(expected)
      await expect(runModelCpu(model, r.feeds())).rejects.toEqual(expected)
      expect(engine.usable).toBe(true)
    })
  }
})
