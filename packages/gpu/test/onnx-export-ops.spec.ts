import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  intTensor,
  isIntTensor,
  loadOnnxModel,
  MAX_HOST_TENSOR_ELEMENTS,
  relativeError,
  runModelCpu,
  tensor,
  tensorItemChunks,
  TOLERANCE,
} from '../src/index.js'
import type { Engine, GpuErrorCode, IntTensor, Tensor } from '../src/index.js'
import {
  boolTensor,
  floatTensor,
  GraphBuilder,
  int64Tensor,
  randomFloats,
  randomTensor,
} from './helpers/onnx-builder.js'
import type { ElemType } from './helpers/onnx-builder.js'
import { TINY_GPT, tinyGptModel } from './helpers/models.js'

type Feeds = Record<string, Tensor | IntTensor>

const rand = randomTensor
const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n
const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const

/** Deterministic integers in [lo, hi). */
function randomInts(n: number, seed: number, lo: number, hi: number): number[] {
  return Array.from(randomFloats(n, seed), (v) => lo + Math.min(hi - lo - 1, Math.floor(((v + 1) / 2) * (hi - lo))))
}

async function runOrt(bytes: Uint8Array, feeds: Feeds, output = 'y'): Promise<Tensor> {
  const session = await ort.InferenceSession.create(bytes)
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [
      name,
      isIntTensor(t)
        ? new ort.Tensor(t.data instanceof BigInt64Array ? 'int64' : 'int32', t.data, [...t.shape])
        : new ort.Tensor('float32', t.data, [...t.shape]),
    ]),
  )
  const out = (await session.run(ortFeeds))[output]!
  await session.release()
  return tensor(
    out.dims.map((d) => Number(d)),
    out.data as Float32Array,
  )
}

/** A test graph: inputs (name -> dims and type), output y, and the nodes `build` adds. */
function graph(
  inputs: Record<string, [dims: (number | string)[], type?: ElemType]>,
  out: (number | string)[],
  build: (g: GraphBuilder) => void,
  opset = 17,
): () => Uint8Array {
  return () => {
    const g = new GraphBuilder()
    for (const [name, [dims, type]] of Object.entries(inputs)) g.input(name, dims, type)
    g.output('y', out)
    build(g)
    return g.build(opset)
  }
}

/** Adds an int64 initializer (a scalar when `dims` is []). */
const i64 = (g: GraphBuilder, name: string, dims: number[], values: (number | bigint)[]): GraphBuilder =>
  g.initializer(name, int64Tensor(dims, values))

/** Adds a Constant node holding an int64 tensor, as PyTorch exports shape constants. */
const constInt = (g: GraphBuilder, name: string, dims: number[], values: (number | bigint)[]): GraphBuilder =>
  g.node('Constant', [], [name], { value: { tensor: int64Tensor(dims, values) } })

const constFloat = (g: GraphBuilder, name: string, dims: number[], values: number[]): GraphBuilder =>
  g.node('Constant', [], [name], { value: { tensor: floatTensor(dims, values) } })

/** A node whose result is cast to float into y, so integer and boolean results reach the graph output. */
const castOut = (g: GraphBuilder, from: string): GraphBuilder =>
  g.node('Cast', [from], ['y'], { to: { int: DataType.FLOAT } })

interface OpCase {
  name: string
  model: () => Uint8Array
  feeds: () => Feeds
  /** Host results (integers, f32 host arithmetic) must equal onnxruntime's bit for bit. */
  exact?: boolean
}

const x4 = (): Feeds => ({ x: rand([2, 3, 4, 5], 1, 4) })
const ids = (shape: number[], seed: number, hi = 10): IntTensor =>
  intTensor(
    shape,
    randomInts(
      shape.reduce((a, b) => a * b, 1),
      seed,
      0,
      hi,
    ),
  )

const cases: OpCase[] = [
  {
    name: 'Shape of a float tensor',
    model: graph({ x: [[2, 3, 4, 5]] }, [4], (g) => castOut(g.node('Shape', ['x'], ['s']), 's')),
    feeds: x4,
  },
  {
    name: 'Shape with start 1 and end -1 (opset 15)',
    model: graph({ x: [[2, 3, 4, 5]] }, [2], (g) =>
      castOut(g.node('Shape', ['x'], ['s'], { start: { int: 1 }, end: { int: -1 } }), 's'),
    ),
    feeds: x4,
  },
  {
    name: 'Shape with clamped start and end',
    model: graph({ x: [[2, 3, 4, 5]] }, [4], (g) =>
      castOut(g.node('Shape', ['x'], ['s'], { start: { int: -5 }, end: { int: 10 } }), 's'),
    ),
    feeds: x4,
  },
  {
    name: 'ConstantOfShape of a float value at Shape(x), added to x',
    model: graph({ x: [[2, 3, 4, 5]] }, [2, 3, 4, 5], (g) =>
      g
        .node('Shape', ['x'], ['s'])
        .node('ConstantOfShape', ['s'], ['c'], { value: { tensor: floatTensor([1], [0.5]) } })
        .node('Add', ['x', 'c'], ['y']),
    ),
    feeds: x4,
  },
  {
    name: 'ConstantOfShape of an int64 value, and of the default float 0',
    model: graph({ x: [[2, 3]] }, [2, 3], (g) => {
      i64(g, 'shape', [2], [2, 3])
      g.node('ConstantOfShape', ['shape'], ['c'], { value: { tensor: int64Tensor([1], [3]) } })
        .node('Cast', ['c'], ['cf'], { to: { int: DataType.FLOAT } })
        .node('ConstantOfShape', ['shape'], ['z'])
        .node('Add', ['cf', 'z'], ['s'])
        .node('Add', ['s', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([2, 3], 2) }),
  },
  {
    name: 'Cast of host floats to INT64, INT32 and BOOL (truncating toward zero)',
    model: graph({ x: [[6]] }, [6], (g) => {
      constFloat(g, 'f', [6], [-2.7, -0.5, 0, 0.5, 2.7, 300.9])
      g.node('Cast', ['f'], ['a'], { to: { int: DataType.INT64 } })
        .node('Cast', ['f'], ['b'], { to: { int: DataType.INT32 } })
        .node('Cast', ['f'], ['c'], { to: { int: DataType.BOOL } })
        .node('Cast', ['a'], ['af'], { to: { int: DataType.FLOAT } })
        .node('Cast', ['b'], ['bf'], { to: { int: DataType.FLOAT } })
        .node('Cast', ['c'], ['cf'], { to: { int: DataType.FLOAT } })
        .node('Mul', ['bf', 'cf'], ['bc'])
        .node('Add', ['af', 'bc'], ['s'])
        .node('Add', ['s', 'x'], ['y'])
    }),
    feeds: () => ({ x: tensor([6]) }),
    exact: true,
  },
  {
    name: 'Cast of int64 token ids to FLOAT, and of a float tensor to FLOAT',
    model: graph({ ids: [['n', 5], 'int64'], x: [['n', 5]] }, ['n', 5], (g) =>
      g
        .node('Cast', ['ids'], ['a'], { to: { int: DataType.FLOAT } })
        .node('Cast', ['x'], ['b'], { to: { int: DataType.FLOAT } })
        .node('Add', ['a', 'b'], ['y']),
    ),
    feeds: () => ({ ids: ids([3, 5], 4, 1000), x: rand([3, 5], 5) }),
  },
  {
    name: 'Range of int64 with positive and negative deltas',
    model: graph({ x: [[6]] }, [6], (g) => {
      for (const [name, v] of [
        ['s1', 1],
        ['l1', 10],
        ['d1', 3],
        ['s2', 10],
        ['l2', 4],
        ['d2', -2],
      ] as const)
        constInt(g, name, [], [v])
      g.node('Range', ['s1', 'l1', 'd1'], ['r1'])
        .node('Range', ['s2', 'l2', 'd2'], ['r2'])
        .node('Concat', ['r1', 'r2'], ['r'], { axis: { int: 0 } })
        .node('Cast', ['r'], ['rf'], { to: { int: DataType.FLOAT } })
        .node('Mul', ['rf', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([6], 6) }),
  },
  ...[
    { start: 0.3, limit: 1.3, delta: 0.1, why: 'accumulating an inexact delta' },
    { start: 0.1, limit: 0.4, delta: 0.1, why: 'whose length onnxruntime computes in double precision' },
    { start: 5, limit: -2.5, delta: -0.75, why: 'counting down' },
  ].map(({ start, limit, delta, why }): OpCase => ({
    name: `Range of floats ${why}`,
    model: graph({}, ['n'], (g) => {
      constFloat(g, 's', [], [start])
      constFloat(g, 'l', [], [limit])
      constFloat(g, 'd', [], [delta])
      g.node('Range', ['s', 'l', 'd'], ['y'])
    }),
    feeds: () => ({}),
    exact: true,
  })),
  {
    name: 'Add, Sub, Mul, Div (truncating) and Neg of int64 inputs',
    model: graph({ a: [['n', 3], 'int64'], b: [[3], 'int64'] }, ['n', 3], (g) =>
      g
        .node('Div', ['a', 'b'], ['q'])
        .node('Mul', ['q', 'b'], ['qb'])
        .node('Sub', ['a', 'qb'], ['r'])
        .node('Neg', ['r'], ['nr'])
        .node('Add', ['q', 'nr'], ['s'])
        .node('Mul', ['s', 'b'], ['t'])
        .node('Concat', ['t', 'q'], ['c'], { axis: { int: 0 } })
        .node('Cast', ['c'], ['y'], { to: { int: DataType.FLOAT } }),
    ),
    feeds: () => ({ a: intTensor([2, 3], [-7, 7, 5, 9, -9, -1]), b: intTensor([3], [2, -2, -3]) }),
    exact: true,
  },
  {
    name: 'Equal, Less and Greater of int64 inputs, broadcast',
    model: graph({ a: [[2, 3], 'int64'], b: [[3], 'int64'] }, [3, 2, 3], (g) =>
      g
        .node('Equal', ['a', 'b'], ['e'])
        .node('Less', ['a', 'b'], ['l'])
        .node('Greater', ['a', 'b'], ['gt'])
        .node('Unsqueeze', ['e', 'axes'], ['e1'])
        .node('Unsqueeze', ['l', 'axes'], ['l1'])
        .node('Unsqueeze', ['gt', 'axes'], ['g1'])
        .node('Concat', ['e1', 'l1', 'g1'], ['c'], { axis: { int: 0 } })
        .node('Cast', ['c'], ['y'], { to: { int: DataType.FLOAT } })
        .initializer('axes', int64Tensor([1], [0])),
    ),
    feeds: () => ({ a: intTensor([2, 3], [1, 2, 3, 3, 2, 1]), b: intTensor([3], [2, 2, 2]) }),
  },
  {
    name: 'Equal and Greater of host floats, and Not',
    model: graph({ x: [[4]] }, [4], (g) => {
      constFloat(g, 'p', [4], [0.5, -1, 2, 0.25])
      constFloat(g, 'q', [], [0.5])
      g.node('Equal', ['p', 'q'], ['e'])
        .node('Greater', ['p', 'q'], ['gt'])
        .node('Not', ['gt'], ['ng'])
        .node('Cast', ['e'], ['ef'], { to: { int: DataType.FLOAT } })
        .node('Cast', ['ng'], ['nf'], { to: { int: DataType.FLOAT } })
        .node('Sub', ['ef', 'nf'], ['d'])
        .node('Add', ['d', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([4], 7) }),
  },
  {
    name: 'Where with a host mask choosing between device tensors, all broadcast',
    model: graph({ x: [[2, 3, 4]], z: [[4]], m: [[3, 1], 'int64'] }, [2, 3, 4], (g) => {
      i64(g, 'two', [], [2])
      g.node('Less', ['m', 'two'], ['cond']).node('Where', ['cond', 'x', 'z'], ['y'])
    }),
    feeds: () => ({ x: rand([2, 3, 4], 8), z: rand([4], 9), m: intTensor([3, 1], [1, 5, 0]) }),
  },
  {
    name: 'Where with a large negative host constant (an attention mask)',
    model: graph({ x: [[2, 4, 4]], keep: [[2, 4], 'int64'] }, [2, 4, 4], (g) => {
      i64(g, 'zero', [], [0])
      i64(g, 'axes', [1], [1])
      constFloat(g, 'neg', [], [-3.4028234663852886e38])
      g.node('Equal', ['keep', 'zero'], ['pad'])
        .node('Unsqueeze', ['pad', 'axes'], ['pad3'])
        .node('Where', ['pad3', 'neg', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([2, 4, 4], 10), keep: intTensor([2, 4], [1, 1, 1, 0, 1, 0, 0, 1]) }),
  },
  {
    name: 'Where of host floats and of host integers',
    model: graph({ x: [[3, 3]] }, [3, 3], (g) => {
      constInt(g, 'r', [3], [0, 1, 2])
      constInt(g, 'ax0', [1], [0])
      constInt(g, 'ax1', [1], [1])
      constFloat(g, 'zero', [], [0])
      constFloat(g, 'neg', [], [-1e9])
      constInt(g, 'seven', [], [7])
      g.node('Unsqueeze', ['r', 'ax1'], ['rq'])
        .node('Unsqueeze', ['r', 'ax0'], ['rk'])
        .node('Greater', ['rk', 'rq'], ['future'])
        .node('Where', ['future', 'neg', 'zero'], ['mask'])
        .node('Where', ['future', 'seven', 'rq'], ['wi'])
        .node('Cast', ['wi'], ['wf'], { to: { int: DataType.FLOAT } })
        .node('Add', ['mask', 'wf'], ['m2'])
        .node('Add', ['m2', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([3, 3], 11) }),
  },
  {
    name: 'Expand of a device tensor, broadcasting both ways',
    model: graph({ x: [[3, 1]] }, [2, 3, 4], (g) => {
      i64(g, 'shape', [3], [2, 1, 4])
      g.node('Expand', ['x', 'shape'], ['y'])
    }),
    feeds: () => ({ x: rand([3, 1], 12) }),
  },
  {
    name: 'Expand of host integers to a shape from Shape',
    model: graph({ x: [[2, 3]] }, [2, 3], (g) => {
      constInt(g, 'row', [1, 3], [5, -2, 9])
      g.node('Shape', ['x'], ['s'])
        .node('Expand', ['row', 's'], ['e'])
        .node('Cast', ['e'], ['ef'], { to: { int: DataType.FLOAT } })
        .node('Mul', ['ef', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([2, 3], 13) }),
  },
  {
    name: 'Gather rows of an embedding table by int64 token ids, negative ones too',
    model: graph({ ids: [['n', 3], 'int64'] }, ['n', 3, 4], (g) => {
      g.weight('table', [10, 4], randomFloats(40, 14))
      g.node('Gather', ['table', 'ids'], ['y'])
    }),
    feeds: () => ({ ids: intTensor([2, 3], [0, 9, -1, -10, 4, 4]) }),
  },
  {
    name: 'Gather by int32 token ids',
    model: graph({ ids: [['n', 5], 'int32'] }, ['n', 5, 4], (g) => {
      g.weight('table', [10, 4], randomFloats(40, 15))
      g.node('Gather', ['table', 'ids'], ['y'], { axis: { int: 0 } })
    }),
    feeds: () => ({ ids: intTensor([3, 5], Int32Array.from(randomInts(15, 16, -10, 10))) }),
  },
  {
    name: 'Gather along axis 1 of a device tensor by constant indices',
    model: graph({ x: [[2, 5, 3]] }, [2, 2, 2, 3], (g) => {
      constInt(g, 'idx', [2, 2], [-1, 0, 2, 2])
      g.node('Gather', ['x', 'idx'], ['y'], { axis: { int: 1 } })
    }),
    feeds: () => ({ x: rand([2, 5, 3], 17) }),
  },
  {
    name: 'Gather of a scalar index along axis -1 (the rank drops)',
    model: graph({ x: [[2, 3, 4]] }, [2, 3], (g) => {
      constInt(g, 'i', [], [2])
      g.node('Gather', ['x', 'i'], ['y'], { axis: { int: -1 } })
    }),
    feeds: () => ({ x: rand([2, 3, 4], 18) }),
  },
  {
    name: 'Gather of shape dimensions (host integers)',
    model: graph({ x: [[2, 3, 4, 5]] }, [2], (g) => {
      constInt(g, 'i', [2], [-1, 1])
      castOut(g.node('Shape', ['x'], ['s']).node('Gather', ['s', 'i'], ['d'], { axis: { int: 0 } }), 'd')
    }),
    feeds: x4,
  },
  {
    name: 'Slice with INT64_MAX and negative ends on two axes (opset 13)',
    model: graph(
      { x: [[4, 6, 5]] },
      [4, 5, 3],
      (g) => {
        i64(g, 'starts', [2], [1, -4])
        i64(g, 'ends', [2], [INT64_MAX, -1])
        i64(g, 'axes', [2], [1, 2])
        g.node('Slice', ['x', 'starts', 'ends', 'axes'], ['y'])
      },
      13,
    ),
    feeds: () => ({ x: rand([4, 6, 5], 19) }),
  },
  {
    name: 'Slice backwards with step -2 to INT64_MIN',
    model: graph({ x: [[3, 7]] }, [3, 4], (g) => {
      i64(g, 'starts', [1], [-1])
      i64(g, 'ends', [1], [INT64_MIN])
      i64(g, 'axes', [1], [1])
      i64(g, 'steps', [1], [-2])
      g.node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['y'])
    }),
    feeds: () => ({ x: rand([3, 7], 20) }),
  },
  {
    name: 'Slice with clamped bounds, negative axes and steps 2 and 3, no axes for the leading ones',
    model: graph({ x: [[5, 4, 7]] }, [3, 3, 4], (g) => {
      i64(g, 'starts', [2], [-100, 0])
      i64(g, 'ends', [2], [100, 10])
      i64(g, 'axes', [2], [-1, 0])
      i64(g, 'steps', [2], [2, 2])
      i64(g, 'starts2', [2], [0, 1])
      i64(g, 'ends2', [2], [3, 4])
      g.node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['a']).node('Slice', ['a', 'starts2', 'ends2'], ['y'])
    }),
    feeds: () => ({ x: rand([5, 4, 7], 21) }),
  },
  {
    name: 'Slice of host integers (a shape)',
    model: graph({ x: [[2, 3, 4, 5]] }, [2], (g) => {
      i64(g, 'starts', [1], [1])
      i64(g, 'ends', [1], [3])
      castOut(g.node('Shape', ['x'], ['s']).node('Slice', ['s', 'starts', 'ends'], ['d']), 'd')
    }),
    feeds: x4,
  },
  {
    name: 'Split with a split input (opset 13), the pieces joined in another order',
    model: graph(
      { x: [[2, 6, 3]] },
      [2, 6, 3],
      (g) => {
        i64(g, 'split', [3], [2, 3, 1])
        g.node('Split', ['x', 'split'], ['a', 'b', 'c'], { axis: { int: 1 } }).node('Concat', ['c', 'a', 'b'], ['y'], {
          axis: { int: 1 },
        })
      },
      13,
    ),
    feeds: () => ({ x: rand([2, 6, 3], 22) }),
  },
  {
    name: 'Split into equal pieces along axis -1 (opset 13)',
    model: graph(
      { x: [[2, 3, 6]] },
      [2, 3, 6],
      (g) =>
        g
          .node('Split', ['x'], ['a', 'b', 'c'], { axis: { int: -1 } })
          .node('Concat', ['b', 'c', 'a'], ['y'], { axis: { int: -1 } }),
      13,
    ),
    feeds: () => ({ x: rand([2, 3, 6], 23) }),
  },
  {
    name: 'Split with a split attribute (opset 11)',
    model: graph(
      { x: [[5, 2]] },
      [5, 2],
      (g) =>
        g
          .node('Split', ['x'], ['a', 'b'], { axis: { int: 0 }, split: { ints: [1, 4] } })
          .node('Concat', ['b', 'a'], ['y'], { axis: { int: 0 } }),
      11,
    ),
    feeds: () => ({ x: rand([5, 2], 24) }),
  },
  {
    name: 'Split by num_outputs into uneven pieces (opset 18)',
    model: graph(
      { x: [[2, 7]] },
      [2, 7],
      (g) =>
        g
          .node('Split', ['x'], ['a', 'b', 'c'], { axis: { int: 1 }, num_outputs: { int: 3 } })
          .node('Concat', ['c', 'b', 'a'], ['y'], { axis: { int: 1 } }),
      18,
    ),
    feeds: () => ({ x: rand([2, 7], 25) }),
  },
  {
    name: 'Split of host integers',
    model: graph({ x: [[2, 3, 4, 5]] }, [4], (g) => {
      i64(g, 'split', [2], [1, 3])
      g.node('Shape', ['x'], ['s'])
        .node('Split', ['s', 'split'], ['a', 'b'])
        .node('Concat', ['b', 'a'], ['c'], { axis: { int: 0 } })
      castOut(g, 'c')
    }),
    feeds: x4,
  },
  {
    name: 'ReduceSum over an axes input, keepdims (opset 13)',
    model: graph({ x: [[2, 3, 4, 5]] }, [2, 1, 4, 5], (g) =>
      i64(g, 'axes', [1], [1]).node('ReduceSum', ['x', 'axes'], ['y']),
    ),
    feeds: x4,
  },
  {
    name: 'ReduceSum over negative unsorted axes, keepdims 0',
    model: graph({ x: [[2, 3, 4, 5]] }, [3, 4], (g) =>
      i64(g, 'axes', [2], [-1, 0]).node('ReduceSum', ['x', 'axes'], ['y'], { keepdims: { int: 0 } }),
    ),
    feeds: x4,
  },
  {
    name: 'ReduceSum over every axis when the axes input is omitted, and as a no-op',
    model: graph({ x: [[2, 3, 4, 5]] }, [2, 3, 4, 5], (g) =>
      g
        .node('ReduceSum', ['x'], ['all'])
        .node('ReduceSum', ['x'], ['same'], { noop_with_empty_axes: { int: 1 } })
        .node('Add', ['same', 'all'], ['y']),
    ),
    feeds: x4,
  },
  {
    name: 'ReduceSum with an axes attribute (opset 11)',
    model: graph(
      { x: [[2, 3, 4, 5]] },
      [2, 3],
      (g) => g.node('ReduceSum', ['x'], ['y'], { axes: { ints: [2, 3] }, keepdims: { int: 0 } }),
      11,
    ),
    feeds: x4,
  },
  {
    name: 'ReduceSum of an int64 attention mask (sequence lengths)',
    model: graph({ mask: [['n', 6], 'int64'] }, ['n'], (g) => {
      i64(g, 'axes', [1], [-1])
      castOut(g.node('ReduceSum', ['mask', 'axes'], ['len'], { keepdims: { int: 0 } }), 'len')
    }),
    feeds: () => ({ mask: ids([3, 6], 26, 2) }),
  },
  {
    name: 'ReduceMax over an axes attribute (opset 13)',
    model: graph(
      { x: [[2, 3, 4, 5]] },
      [2, 3, 1, 5],
      (g) => g.node('ReduceMax', ['x'], ['y'], { axes: { ints: [-2] } }),
      13,
    ),
    feeds: x4,
  },
  {
    name: 'ReduceMax over an axes input (opset 18), keepdims 0',
    model: graph(
      { x: [[2, 3, 4, 5]] },
      [2, 5],
      (g) => i64(g, 'axes', [2], [1, 2]).node('ReduceMax', ['x', 'axes'], ['y'], { keepdims: { int: 0 } }),
      18,
    ),
    feeds: x4,
  },
  {
    name: 'ReduceMax of host integers',
    model: graph({ a: [['n', 4], 'int64'] }, ['n', 1], (g) =>
      castOut(g.node('ReduceMax', ['a'], ['m'], { axes: { ints: [1] } }), 'm'),
    ),
    feeds: () => ({ a: intTensor([2, 4], [3, -7, 12, 0, -1, -2, -3, -4]) }),
  },
  {
    name: 'Tile of a device tensor',
    model: graph({ x: [[2, 3]] }, [4, 9], (g) => i64(g, 'reps', [2], [2, 3]).node('Tile', ['x', 'reps'], ['y'])),
    feeds: () => ({ x: rand([2, 3], 27) }),
  },
  {
    name: 'Tile of host integers',
    model: graph({ x: [[2, 6]] }, [2, 6], (g) => {
      constInt(g, 'row', [1, 2], [1, -1])
      i64(g, 'reps', [2], [2, 3])
      g.node('Tile', ['row', 'reps'], ['t'])
        .node('Cast', ['t'], ['tf'], { to: { int: DataType.FLOAT } })
        .node('Mul', ['tf', 'x'], ['y'])
    }),
    feeds: () => ({ x: rand([2, 6], 28) }),
  },
  {
    name: 'a head split whose Reshape target comes from host integer arithmetic',
    model: graph({ x: [['n', 4, 6]] }, ['n', 4, 2, 3], (g) => {
      constInt(g, 'i0', [], [0])
      constInt(g, 'i1', [], [1])
      constInt(g, 'i2', [], [2])
      constInt(g, 'two', [], [2])
      constInt(g, 'ax', [1], [0])
      g.node('Shape', ['x'], ['s'])
        .node('Gather', ['s', 'i0'], ['b'])
        .node('Gather', ['s', 'i1'], ['t'])
        .node('Gather', ['s', 'i2'], ['w'])
        .node('Div', ['w', 'two'], ['hd'])
        .node('Mul', ['hd', 'two'], ['w2'])
        .node('Sub', ['w2', 'hd'], ['hd2'])
        .node('Neg', ['two'], ['m2'])
        .node('Add', ['m2', 'two'], ['z'])
        .node('Add', ['two', 'z'], ['heads'])
        .node('Div', ['w', 'heads'], ['d0'])
        .node('Sub', ['d0', 'hd2'], ['dz'])
        .node('Add', ['dz', 'd0'], ['d'])
        .node('Sub', ['d', 'z'], ['d1'])
      for (const v of ['b', 't', 'heads']) g.node('Unsqueeze', [v, 'ax'], [`${v}_1`])
      g.node('Div', ['w', 'heads'], ['dd']).node('Unsqueeze', ['dd', 'ax'], ['dd_1'])
      g.node('Concat', ['b_1', 't_1', 'heads_1', 'dd_1'], ['shape'], { axis: { int: 0 } })
        .node('Reshape', ['x', 'shape'], ['r'])
        .node('Unsqueeze', ['d1', 'ax'], ['d1_1'])
        .node('Cast', ['d1_1'], ['df'], { to: { int: DataType.FLOAT } })
        .node('Mul', ['r', 'df'], ['y'])
    }),
    feeds: () => ({ x: rand([3, 4, 6], 29) }),
  },
]

describe('onnx operators of exported transformers', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** Runs `bytes` on onnxruntime-node, the GPU engine and the CPU reference; both must match ORT. */
  /**
   * Runs `bytes` on onnxruntime-node, the GPU engine and the CPU reference; both must match ORT (`exact`: bit for
   * bit).
   */
  async function expectMatchesOrt(bytes: Uint8Array, feeds: Feeds, output = 'y', exact = false): Promise<Tensor> {
    const expected = await runOrt(bytes, feeds, output)
    const model = loadOnnxModel(bytes)
    for (const out of [(await engine.runModel(model, feeds))[output]!, (await runModelCpu(model, feeds))[output]!]) {
      expect(out.shape).toEqual(expected.shape)
      if (exact) expect(out.data).toEqual(expected.data)
      else expect(relativeError(out.data, expected.data)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
    }
    return expected
  }

  for (const c of cases) {
    it(`should run ${c.name} like onnxruntime-node on the GPU and the CPU`, async () => {
      await expectMatchesOrt(c.model(), c.feeds(), 'y', c.exact)
    })
  }

  describe('a tiny GPT block exported the torch way', () => {
    const tokens = (batch: number, seq: number, seed: number): IntTensor =>
      intTensor([batch, seq], randomInts(batch * seq, seed, 0, TINY_GPT.vocab))

    it('should run like onnxruntime-node on the GPU and the CPU', async () => {
      const logits = await expectMatchesOrt(tinyGptModel(), { input_ids: tokens(3, 7, 40) }, 'logits')
      expect(logits.shape).toEqual([3, 7, TINY_GPT.vocab])
    })

    it('should run the whole context and a single token like onnxruntime-node', async () => {
      await expectMatchesOrt(tinyGptModel(), { input_ids: tokens(2, TINY_GPT.context, 41) }, 'logits')
      await expectMatchesOrt(tinyGptModel(), { input_ids: tokens(1, 1, 42) }, 'logits')
    })

    it('should take int32 token ids like int64 ones', async () => {
      const model = loadOnnxModel(tinyGptModel())
      const ids64 = tokens(2, 5, 43)
      const ids32 = intTensor(ids64.shape, Int32Array.from(ids64.data, Number))
      const a = (await runModelCpu(model, { input_ids: ids64 })).logits!
      const b = (await runModelCpu(model, { input_ids: ids32 })).logits!
      expect(b.data).toEqual(a.data)
    })

    it('should recompute single batch items bit for bit on the GPU and the CPU', async () => {
      const model = loadOnnxModel(tinyGptModel())
      const input_ids = tokens(4, 6, 44)
      const last = 3
      for (const run of [
        (items?: number[]) => engine.runModel(model, { input_ids }, { items }),
        (items?: number[]) => runModelCpu(model, { input_ids }, { items }),
      ]) {
        const chunks = tensorItemChunks((await run()).logits!)
        const alone = (await run([last])).logits!
        expect(alone.shape).toEqual([1, 6, TINY_GPT.vocab])
        expect(tensorItemChunks(alone)[0]).toEqual(chunks[last])
        const pair = (await run([last, 1])).logits!
        expect(tensorItemChunks(pair)).toEqual([chunks[last], chunks[1]])
      }
    })
  })

  it('should recompute items through a Slice that keeps the whole batch axis', async () => {
    const bytes = graph({ x: [['n', 4]] }, ['n', 2], (g) => {
      i64(g, 'starts', [2], [0, 1])
      i64(g, 'ends', [2], [INT64_MAX, 3])
      g.node('Slice', ['x', 'starts', 'ends'], ['y'])
    })()
    const model = loadOnnxModel(bytes)
    const x = rand([3, 4], 45)
    const full = (await engine.runModel(model, { x })).y!
    const alone = (await engine.runModel(model, { x }, { items: [2] })).y!
    expect(tensorItemChunks(alone)[0]).toEqual(tensorItemChunks(full)[2])
  })

  const refusals: {
    name: string
    model: () => Uint8Array
    feeds: () => Feeds
    code: GpuErrorCode
    context?: Record<string, unknown>
    items?: number[]
  }[] = [
    {
      name: 'a token id beyond the embedding table',
      model: graph({ ids: [['n', 2], 'int64'] }, ['n', 2, 4], (g) => {
        g.weight('table', [10, 4], randomFloats(40, 50))
        g.node('Gather', ['table', 'ids'], ['y'])
      }),
      feeds: () => ({ ids: intTensor([2, 2], [1, 2, 10, 3]) }),
      code: 'GPU__INVALID_MODEL_INPUT',
      context: { index: 10, axisLength: 10 },
    },
    {
      name: 'a negative index beyond the axis',
      model: graph({ x: [[2, 3]] }, [2, 1], (g) => {
        constInt(g, 'i', [1], [-4])
        g.node('Gather', ['x', 'i'], ['y'], { axis: { int: 1 } })
      }),
      feeds: () => ({ x: rand([2, 3], 51) }),
      code: 'GPU__INVALID_MODEL_INPUT',
      context: { index: -4 },
    },
    {
      name: 'a Gather by float indices',
      model: graph({ x: [[2, 3]], i: [[1]] }, [2, 1], (g) => g.node('Gather', ['x', 'i'], ['y'], { axis: { int: 1 } })),
      feeds: () => ({ x: rand([2, 3], 52), i: tensor([1], [0]) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'a Slice step of 0',
      model: graph({ x: [[2, 3]] }, [2, 3], (g) => {
        i64(g, 'starts', [1], [0])
        i64(g, 'ends', [1], [3])
        i64(g, 'axes', [1], [1])
        i64(g, 'steps', [1], [0])
        g.node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 53) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'a Slice of host integers with a step of 0',
      model: graph({ x: [[2, 3]] }, [1], (g) => {
        i64(g, 'starts', [1], [0])
        i64(g, 'ends', [1], [1])
        i64(g, 'axes', [1], [0])
        i64(g, 'steps', [1], [0])
        castOut(g.node('Shape', ['x'], ['s']).node('Slice', ['s', 'starts', 'ends', 'axes', 'steps'], ['d']), 'd')
      }),
      feeds: () => ({ x: rand([2, 3], 54) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'a Slice naming an axis twice',
      model: graph({ x: [[2, 3]] }, [2, 3], (g) => {
        i64(g, 'starts', [2], [0, 0])
        i64(g, 'ends', [2], [1, 1])
        i64(g, 'axes', [2], [1, -1])
        g.node('Slice', ['x', 'starts', 'ends', 'axes'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 55) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'a Slice whose bounds are computed on the device',
      model: graph({ x: [[2, 3]], s: [[1]] }, [2, 3], (g) => {
        i64(g, 'ends', [1], [3])
        g.node('Slice', ['x', 's', 'ends'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 56), s: tensor([1], [0]) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    ...[DataType.DOUBLE, DataType.FLOAT16].map((to) => ({
      name: `a Cast to data type ${to}`,
      model: graph({ x: [[2]] }, [2], (g) => {
        constInt(g, 'c', [2], [1, 2])
        g.node('Cast', ['c'], ['d'], { to: { int: to } })
          .node('Cast', ['d'], ['f'], { to: { int: DataType.FLOAT } })
          .node('Add', ['f', 'x'], ['y'])
      }),
      feeds: () => ({ x: rand([2], 57) }),
      code: 'GPU__UNSUPPORTED_OP' as const,
      context: { attribute: 'to', to },
    })),
    {
      name: 'a Cast of a device tensor to INT64',
      model: graph({ x: [[2]] }, [2], (g) =>
        g
          .node('Cast', ['x'], ['i'], { to: { int: DataType.INT64 } })
          .node('Cast', ['i'], ['y'], { to: { int: DataType.FLOAT } }),
      ),
      feeds: () => ({ x: rand([2], 58) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { attribute: 'to' },
    },
    {
      name: 'a Cast of NaN to an integer',
      model: graph({ x: [[1]] }, [1], (g) => {
        constFloat(g, 'z', [1], [0])
        g.node('Div', ['z', 'z'], ['nan'])
          .node('Cast', ['nan'], ['i'], { to: { int: DataType.INT64 } })
          .node('Cast', ['i'], ['f'], { to: { int: DataType.FLOAT } })
          .node('Add', ['f', 'x'], ['y'])
      }),
      feeds: () => ({ x: rand([1], 59) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'an Expand to a shape that does not broadcast',
      model: graph({ x: [[2, 3]] }, [2, 4], (g) => i64(g, 'shape', [1], [4]).node('Expand', ['x', 'shape'], ['y'])),
      feeds: () => ({ x: rand([2, 3], 60) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'a Split whose sizes do not add up to the axis',
      model: graph({ x: [[2, 6]] }, [2, 6], (g) => {
        i64(g, 'split', [2], [2, 3])
        g.node('Split', ['x', 'split'], ['a', 'b'], { axis: { int: 1 } }).node('Concat', ['a', 'b'], ['y'], {
          axis: { int: 1 },
        })
      }),
      feeds: () => ({ x: rand([2, 6], 61) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'an equal Split that does not divide the axis (opset 13)',
      model: graph(
        { x: [[2, 5]] },
        [2, 5],
        (g) =>
          g
            .node('Split', ['x'], ['a', 'b'], { axis: { int: 1 } })
            .node('Concat', ['a', 'b'], ['y'], { axis: { int: 1 } }),
        13,
      ),
      feeds: () => ({ x: rand([2, 5], 62) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'a Tile with repeats for the wrong rank',
      model: graph({ x: [[2, 3]] }, [2, 3], (g) => i64(g, 'reps', [1], [2]).node('Tile', ['x', 'reps'], ['y'])),
      feeds: () => ({ x: rand([2, 3], 63) }),
      code: 'GPU__SHAPE_MISMATCH',
    },
    {
      name: 'a ConstantOfShape larger than the host bound',
      model: graph({ x: [[1]] }, [4096, 4096], (g) => {
        i64(g, 'shape', [2], [4096, 4096])
        g.node('ConstantOfShape', ['shape'], ['c'], { value: { tensor: int64Tensor([1], [1]) } })
        castOut(g, 'c')
      }),
      feeds: () => ({ x: rand([1], 64) }),
      code: 'GPU__ALLOCATION_EXCEEDED',
      context: { limit: MAX_HOST_TENSOR_ELEMENTS },
    },
    {
      name: 'a Range longer than the host bound',
      model: graph({ x: [[1]] }, ['n'], (g) => {
        constInt(g, 's', [], [0])
        constInt(g, 'l', [], [MAX_HOST_TENSOR_ELEMENTS + 1])
        constInt(g, 'd', [], [1])
        castOut(g.node('Range', ['s', 'l', 'd'], ['r']), 'r')
      }),
      feeds: () => ({ x: rand([1], 65) }),
      code: 'GPU__ALLOCATION_EXCEEDED',
    },
    {
      name: 'a Range with delta 0',
      model: graph({ x: [[1]] }, ['n'], (g) => {
        constInt(g, 's', [], [0])
        constInt(g, 'l', [], [5])
        constInt(g, 'd', [], [0])
        castOut(g.node('Range', ['s', 'l', 'd'], ['r']), 'r')
      }),
      feeds: () => ({ x: rand([1], 66) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'a Range of a device tensor',
      model: graph({ x: [[]] }, ['n'], (g) => {
        constFloat(g, 's', [], [0])
        constFloat(g, 'd', [], [1])
        g.node('Range', ['s', 'x', 'd'], ['y'])
      }),
      feeds: () => ({ x: tensor([], [3]) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'an Equal of a device tensor',
      model: graph({ x: [[2]] }, [2], (g) => {
        constFloat(g, 'z', [], [0])
        castOut(g.node('Equal', ['x', 'z'], ['e']), 'e')
      }),
      feeds: () => ({ x: rand([2], 67) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'a Where whose condition is a float tensor',
      model: graph({ x: [[2]] }, [2], (g) => g.node('Where', ['x', 'x', 'x'], ['y'])),
      feeds: () => ({ x: rand([2], 68) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'an integer tensor fed to a float operator',
      model: graph({ ids: [[2], 'int64'], x: [[2]] }, [2], (g) => g.node('Add', ['x', 'ids'], ['y'])),
      feeds: () => ({ ids: intTensor([2], [1, 2]), x: rand([2], 69) }),
      code: 'GPU__UNSUPPORTED_OP',
    },
    {
      name: 'an Add mixing host integers and host floats',
      model: graph({ x: [[2]] }, [2], (g) => {
        constInt(g, 'i', [2], [1, 2])
        constFloat(g, 'f', [2], [1, 2])
        g.node('Add', ['i', 'f'], ['s']).node('Add', ['s', 'x'], ['y'])
      }),
      feeds: () => ({ x: rand([2], 70) }),
      code: 'GPU__MALFORMED_MODEL',
    },
    {
      name: 'an integer division by zero',
      model: graph({ a: [[2], 'int64'] }, [2], (g) => {
        constInt(g, 'z', [], [0])
        castOut(g.node('Div', ['a', 'z'], ['q']), 'q')
      }),
      feeds: () => ({ a: intTensor([2], [4, 2]) }),
      code: 'GPU__INVALID_MODEL_INPUT',
    },
    {
      name: 'token ids passed as floats',
      model: graph({ ids: [[2], 'int64'] }, [2], (g) => castOut(g, 'ids')),
      feeds: () => ({ ids: tensor([2], [1, 2]) }),
      code: 'GPU__INVALID_MODEL_INPUT',
    },
    {
      name: 'floats passed as integers',
      model: graph({ x: [[2]] }, [2], (g) => g.node('Relu', ['x'], ['y'])),
      feeds: () => ({ x: intTensor([2], [1, 2]) }),
      code: 'GPU__INVALID_MODEL_INPUT',
    },
    {
      name: 'an int64 input beyond 2^53',
      model: graph({ ids: [[2], 'int64'] }, [2], (g) => castOut(g, 'ids')),
      feeds: () => ({ ids: intTensor([2], BigInt64Array.of(1n, 2n ** 60n)) }),
      code: 'GPU__INVALID_MODEL_INPUT',
    },
    {
      name: 'an integer input larger than the host bound',
      model: graph({ ids: [['n'], 'int32'] }, ['n'], (g) => castOut(g, 'ids')),
      feeds: () => ({ ids: intTensor([MAX_HOST_TENSOR_ELEMENTS + 1], new Int32Array(MAX_HOST_TENSOR_ELEMENTS + 1)) }),
      code: 'GPU__INVALID_MODEL_INPUT',
      context: { limit: MAX_HOST_TENSOR_ELEMENTS },
    },
    {
      name: 'items through a Gather along the batch axis',
      model: graph({ x: [['n', 3]] }, [1, 3], (g) => {
        constInt(g, 'i', [1], [0])
        g.node('Gather', ['x', 'i'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 71) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [1],
    },
    {
      name: 'items through a Gather along the batch axis of a computed tensor',
      model: graph({ x: [['n', 3]] }, [3], (g) => {
        constInt(g, 'i', [], [-1])
        g.node('Relu', ['x'], ['r']).node('Gather', ['r', 'i'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 75) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [1],
    },
    {
      name: 'items through a ReduceSum over the batch axis',
      model: graph({ x: [['n', 3]] }, [1, 3], (g) => i64(g, 'axes', [1], [0]).node('ReduceSum', ['x', 'axes'], ['y'])),
      feeds: () => ({ x: rand([2, 3], 72) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [0],
    },
    {
      name: 'items through a Slice of the batch axis',
      model: graph({ x: [['n', 3]] }, [1, 3], (g) => {
        i64(g, 'starts', [1], [1])
        i64(g, 'ends', [1], [INT64_MAX])
        g.node('Slice', ['x', 'starts', 'ends'], ['y'])
      }),
      feeds: () => ({ x: rand([2, 3], 73) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [0],
    },
    {
      name: 'items through a Tile of the batch axis of token ids',
      model: graph({ ids: [['n', 3], 'int64'] }, [4, 3], (g) => {
        i64(g, 'reps', [2], [2, 1])
        castOut(g.node('Tile', ['ids', 'reps'], ['t']), 't')
      }),
      feeds: () => ({ ids: intTensor([2, 3], [1, 2, 3, 4, 5, 6]) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [1],
    },
    {
      name: 'items through a Concat along the batch axis',
      model: graph({ x: [['n', 3]] }, ['m', 3], (g) => g.node('Concat', ['x', 'x'], ['y'], { axis: { int: 0 } })),
      feeds: () => ({ x: rand([2, 3], 76) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [1],
    },
    {
      name: 'items through a Transpose that moves the batch axis',
      model: graph({ x: [['n', 3]] }, [3, 'n'], (g) => g.node('Transpose', ['x'], ['y'])),
      feeds: () => ({ x: rand([2, 3], 77) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [0],
    },
    {
      name: 'items through a Flatten at the batch axis',
      model: graph({ x: [['n', 3]] }, [1, 'm'], (g) => g.node('Flatten', ['x'], ['y'], { axis: { int: 0 } })),
      feeds: () => ({ x: rand([2, 3], 78) }),
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items' },
      items: [0],
    },
  ]

  for (const r of refusals) {
    it(`should refuse ${r.name} with ${r.code} on the GPU and the CPU`, async () => {
      const model = loadOnnxModel(r.model())
      const expected = expect.objectContaining({
        code: r.code,
        ...(r.context === undefined ? {} : { context: expect.objectContaining(r.context) }),
      })
      const options = r.items === undefined ? {} : { items: r.items }
      await expect(engine.runModel(model, r.feeds(), options)).rejects.toEqual(expected)
      await expect(runModelCpu(model, r.feeds(), options)).rejects.toEqual(expected)
      expect(engine.usable).toBe(true)
    })
  }

  it('should refuse a boolean graph input when the model loads', () => {
    const bytes = graph({ m: [[2], 'bool'] }, [2], (g) => castOut(g, 'm'))()
    expect(() => loadOnnxModel(bytes)).toThrow(expect.objectContaining({ code: 'GPU__INVALID_MODEL_INPUT' }))
  })

  it('should read boolean initializers', async () => {
    const bytes = graph({ x: [[4]] }, [4], (g) => {
      g.initializer('keep', boolTensor([4], [true, false, false, true]))
      constFloat(g, 'zero', [], [0])
      g.node('Where', ['keep', 'x', 'zero'], ['y'])
    })()
    await expectMatchesOrt(bytes, { x: rand([4], 74) })
  })
})
