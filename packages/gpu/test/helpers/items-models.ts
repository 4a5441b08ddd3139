import { GraphBuilder, int64Tensor, randomTensor } from './onnx-builder.js'

/**
 * Models for the checks of `RunModelOptions.items`: one that reads Shape and keeps items apart, and models whose items
 * could depend on which other items a run takes (reading the batch size through Shape, summing over the batch axis,
 * pairing items with rows of a weight).
 */

const FLOAT = 1

/** A graph from float input x of `dims` to output y, with the nodes `build` adds (opset 17). */
function graph(dims: (number | string)[], out: (number | string)[], build: (g: GraphBuilder) => void): Uint8Array {
  const g = new GraphBuilder().input('x', dims).output('y', out)
  build(g)
  return g.build(17)
}

/** Adds a Constant node holding an int64 tensor, as PyTorch exports shape constants. */
const constInt = (g: GraphBuilder, name: string, dims: number[], values: (number | bigint)[]): GraphBuilder =>
  g.node('Constant', [], [name], { value: { tensor: int64Tensor(dims, values) } })

/** b = [Shape(x)[0]]: the batch size as PyTorch reads x.size(0), a one-element vector. */
const batchSize = (g: GraphBuilder, name = 'b'): GraphBuilder =>
  constInt(g, `${name}_at`, [1], [0])
    .node('Shape', ['x'], [`${name}_shape`])
    .node('Gather', [`${name}_shape`, `${name}_at`], [name], { axis: { int: 0 } })

/**
 * x [n, 2, 3, 4] -> y [n, 6], reading Shape as exported models do, never with the batch size past a shape's lead:
 * x.view(x.size(0), -1) @ w; divided by Shape(x)[3] (a dimension free of the batch); plus a bias expanded to
 * (x.size(0), 6) the way torch.onnx writes expand (Where(Equal(size, -1), 1, size)); viewed as (2 * x.size(0), 3)
 * through a Relu and back to (x.size(0), -1).
 */
export function shapeReadingModel(): Uint8Array {
  return graph(['n', 2, 3, 4], ['n', 6], (g) => {
    g.weight('w', [24, 6], randomTensor([24, 6], 3, 0.3).data).weight('bias', [6], randomTensor([6], 4).data)
    batchSize(g)
      .node('Shape', ['x'], ['s'])
      .node('Shape', ['x'], ['tail'], { start: { int: 1 } })
    constInt(g, 'minus_one', [1], [-1])
      .node('Concat', ['b', 'minus_one'], ['flat_shape'], { axis: { int: 0 } })
      .node('Reshape', ['x', 'flat_shape'], ['flat'])
      .node('MatMul', ['flat', 'w'], ['h0'])
    constInt(g, 'last', [], [2])
      .node('Gather', ['tail', 'last'], ['width'], { axis: { int: 0 } })
      .node('Cast', ['width'], ['width_f'], { to: { int: FLOAT } })
      .node('Div', ['h0', 'width_f'], ['h1'])
    constInt(g, 'six', [1], [6])
      .node('Concat', ['b', 'six'], ['size'], { axis: { int: 0 } })
      .node('Shape', ['size'], ['size_len'])
      .node('ConstantOfShape', ['size_len'], ['ones'], { value: { tensor: int64Tensor([1], [1]) } })
      .node('Mul', ['ones', 'minus_one'], ['neg_ones'])
      .node('Equal', ['size', 'neg_ones'], ['keep'])
      .node('Where', ['keep', 'ones', 'size'], ['expand_shape'])
      .node('Expand', ['bias', 'expand_shape'], ['bias_n'])
      .node('Add', ['h1', 'bias_n'], ['h2'])
    constInt(g, 'two', [1], [2])
    constInt(g, 'three', [1], [3])
      .node('Mul', ['b', 'two'], ['rows'])
      .node('Concat', ['rows', 'three'], ['pairs_shape'], { axis: { int: 0 } })
      .node('Reshape', ['h2', 'pairs_shape'], ['pairs'])
      .node('Relu', ['pairs'], ['r'])
      .node('Reshape', ['r', 'flat_shape'], ['y'])
  })
}

/** A model whose batch items could depend on which other items run with them, and the shape of a batch it takes. */
export interface ItemsMixingCase {
  readonly name: string
  readonly model: () => Uint8Array
  readonly dims: number[]
}

/** Models whose items could depend on which other items run with them. */
export const ITEMS_MIXING_MODELS: readonly ItemsMixingCase[] = [
  {
    name: 'a division by the batch size read through Shape',
    model: () =>
      graph(['n', 4], ['n', 4], (g) =>
        batchSize(g)
          .node('Cast', ['b'], ['bf'], { to: { int: FLOAT } })
          .node('Div', ['x', 'bf'], ['y']),
      ),
    dims: [3, 4],
  },
  {
    name: 'positions numbered by Range up to the batch size',
    model: () =>
      graph(['n', 4], ['n', 4], (g) => {
        constInt(g, 'zero', [], [0])
        constInt(g, 'one', [], [1])
        constInt(g, 'at', [], [0])
        constInt(g, 'axes', [1], [1])
          .node('Shape', ['x'], ['s'])
          .node('Gather', ['s', 'at'], ['n'], { axis: { int: 0 } })
          .node('Range', ['zero', 'n', 'one'], ['positions'])
          .node('Unsqueeze', ['positions', 'axes'], ['column'])
          .node('Cast', ['column'], ['cf'], { to: { int: FLOAT } })
          .node('Add', ['x', 'cf'], ['y'])
      }),
    dims: [3, 4],
  },
  {
    name: 'a Reshape target holding the batch size past its lead',
    model: () =>
      graph(['n', 4], [1, 'n', 4], (g) => {
        batchSize(g)
        constInt(g, 'lead', [1], [1])
        constInt(g, 'minus_one', [1], [-1])
          .node('Concat', ['lead', 'b', 'minus_one'], ['target'], { axis: { int: 0 } })
          .node('Reshape', ['x', 'target'], ['folded'])
          .node('Softmax', ['folded'], ['y'], { axis: { int: 1 } })
      }),
    dims: [3, 4],
  },
  {
    name: 'the batch size as a graph output',
    model: () =>
      graph(['n', 4], [2], (g) => g.node('Shape', ['x'], ['s']).node('Cast', ['s'], ['y'], { to: { int: FLOAT } })),
    dims: [3, 4],
  },
  {
    name: 'a MatMul of a weight by the batch, summing over its items',
    model: () =>
      graph(['n', 4], [2, 4], (g) =>
        g.weight('w', [2, 3], randomTensor([2, 3], 5).data).node('MatMul', ['w', 'x'], ['y']),
      ),
    dims: [3, 4],
  },
  {
    name: 'a Gemm of a weight by the batch (its B), summing over its items',
    model: () =>
      graph(['n', 4], [2, 4], (g) =>
        g.weight('w', [2, 3], randomTensor([2, 3], 6).data).node('Gemm', ['w', 'x'], ['y']),
      ),
    dims: [3, 4],
  },
  {
    name: 'a Gemm of the batch transposed (transA), summing over its items',
    model: () =>
      graph(['n', 4], [4, 5], (g) =>
        g.weight('w', [3, 5], randomTensor([3, 5], 7).data).node('Gemm', ['x', 'w'], ['y'], { transA: { int: 1 } }),
      ),
    dims: [3, 4],
  },
  {
    name: 'a batched MatMul pairing each item with a matrix of a stacked weight',
    model: () =>
      graph(['n', 2, 4], ['n', 2, 5], (g) =>
        g.weight('w', [3, 4, 5], randomTensor([3, 4, 5], 8).data).node('MatMul', ['x', 'w'], ['y']),
      ),
    dims: [3, 2, 4],
  },
  {
    name: 'an Add pairing each item with a row of a weight',
    model: () =>
      graph(['n', 4], ['n', 4], (g) =>
        g.weight('w', [3, 4], randomTensor([3, 4], 9).data).node('Add', ['x', 'w'], ['y']),
      ),
    dims: [3, 4],
  },
  {
    name: 'a Softmax over the batch axis',
    model: () => graph(['n', 4], ['n', 4], (g) => g.node('Softmax', ['x'], ['y'], { axis: { int: 0 } })),
    dims: [3, 4],
  },
  {
    name: 'a Reshape to a fixed leading size',
    model: () =>
      graph(['n', 4], [1, 'm'], (g) => {
        constInt(g, 'target', [2], [1, -1])
        g.node('Reshape', ['x', 'target'], ['folded']).node('Softmax', ['folded'], ['y'], { axis: { int: -1 } })
      }),
    dims: [3, 4],
  },
  {
    name: 'a Reshape led by -1 whose rows straddle items',
    model: () =>
      graph(['n', 2], ['m', 4], (g) => {
        constInt(g, 'target', [2], [-1, 4])
        g.node('Reshape', ['x', 'target'], ['pairs']).node('Relu', ['pairs'], ['y'])
      }),
    dims: [4, 2],
  },
]
