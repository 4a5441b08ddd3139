import { loadOnnxModel, modelFlopsLowerBound, onnx } from '../src/index.js'
import type { OnnxTypes } from '../src/onnx/proto.js'
import { describe, expect, it } from 'vitest'

/** A float input or output of `dims` (a string for the batch axis). */
const info = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  },
})

/** A float initializer of `dims`, every element `value`. */
const weight = (name: string, dims: number[], value = 0.5): OnnxTypes.ITensorProto => ({
  name,
  dataType: onnx.TensorProto.DataType.FLOAT,
  dims,
  floatData: new Array<number>(dims.reduce((n, d) => n * d, 1)).fill(value),
})

/** An int64 initializer holding `values` (a shape). */
const int64s = (name: string, values: number[]): OnnxTypes.ITensorProto => ({
  name,
  dataType: onnx.TensorProto.DataType.INT64,
  dims: [values.length],
  int64Data: values,
})

/** ONNX bytes of a graph of `nodes` from input `x` to output `y`. */
function modelOf(
  x: (number | string)[],
  y: (number | string)[],
  nodes: OnnxTypes.INodeProto[],
  initializer: OnnxTypes.ITensorProto[],
): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', input: [info('x', x)], output: [info('y', y)], node: nodes, initializer },
  }).finish()
}

/** y = relu(x @ w1) @ w2: an MLP of 4 -> 8 -> 2, whose weights hold 48 elements. */
const mlp = () =>
  modelOf(
    ['b', 4],
    ['b', 2],
    [
      { opType: 'MatMul', input: ['x', 'w1'], output: ['h'] },
      { opType: 'Relu', input: ['h'], output: ['r'] },
      { opType: 'MatMul', input: ['r', 'w2'], output: ['y'] },
    ],
    [weight('w1', [4, 8]), weight('w2', [8, 2])],
  )

describe('modelFlopsLowerBound', () => {
  it("should count twice the weights an item multiplies, which is an item's FLOPs through a one-row MLP", () => {
    const model = loadOnnxModel(mlp())
    expect(modelFlopsLowerBound(model)).toBe(2 * (4 * 8 + 8 * 2))
  })

  it('should count a weight on either side of a MatMul, one matrix of a stacked one, and all of a convolution', () => {
    // W @ x: a 3x4 weight times each item's 4x1 column.
    const left = modelOf(
      ['b', 4, 1],
      ['b', 3, 1],
      [{ opType: 'MatMul', input: ['w', 'x'], output: ['y'] }],
      [weight('w', [3, 4])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(left))).toBe(2 * 12)
    const stacked = modelOf(
      ['b', 5, 4],
      ['b', 5, 8],
      [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      [weight('w', [1, 4, 8])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(stacked))).toBe(2 * 32)
    const conv = modelOf(
      ['b', 1, 6, 6],
      ['b', 2, 4, 4],
      [{ opType: 'Conv', input: ['x', 'w'], output: ['y'] }],
      [weight('w', [2, 1, 3, 3])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(conv))).toBe(2 * 18)
  })

  it('should not count a product the runtime folds once, of weights alone', () => {
    const folded = modelOf(
      ['b', 4],
      ['b', 2],
      [
        { opType: 'MatMul', input: ['a', 'c'], output: ['w'] },
        { opType: 'MatMul', input: ['x', 'w'], output: ['y'] },
      ],
      [weight('a', [4, 16]), weight('c', [16, 2])],
    )
    // Only x @ w is per item, and w (4x2) is computed, not stored: nothing the graph alone can count.
    expect(modelFlopsLowerBound(loadOnnxModel(folded))).toBe(0)
  })

  it("should count a weight multiplied by Shape's dimensions once a batch, not per item, as the runtime does", () => {
    // y = reshape(x @ w, shape(x)) + reshape(float(shape(x)), [1, 2]) @ v: the product by v reads the batch's size,
    // not an item, so it runs once whatever the batch; x @ w, reshaped to Shape's dimensions, still runs per item.
    const model = modelOf(
      ['b', 8],
      ['b', 8],
      [
        { opType: 'Shape', input: ['x'], output: ['s'] },
        {
          opType: 'Cast',
          input: ['s'],
          output: ['f'],
          attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
        },
        { opType: 'Reshape', input: ['f', 'row'], output: ['r'] },
        { opType: 'MatMul', input: ['r', 'v'], output: ['q'] },
        { opType: 'MatMul', input: ['x', 'w'], output: ['h'] },
        { opType: 'Reshape', input: ['h', 's'], output: ['hs'] },
        { opType: 'Add', input: ['hs', 'q'], output: ['y'] },
      ],
      [weight('w', [8, 8]), weight('v', [2, 8]), int64s('row', [1, 2])],
    )
    // An item costs x @ w's 2 * 64 FLOPs, its 8 adds and its share of r @ v's 32: the bound counts x @ w alone.
    expect(modelFlopsLowerBound(loadOnnxModel(model))).toBe(2 * 64)
  })

  it('should count a product only where a factor carries the item, not where only the bias added to it does', () => {
    // Gemm(a, w, x) = a @ w + x: a @ w is the same for every item, which only adds its row to it.
    const gemmOfWeights = modelOf(
      ['b', 16],
      ['b', 16],
      [{ opType: 'Gemm', input: ['a', 'w', 'x'], output: ['y'] }],
      [weight('a', [1, 8]), weight('w', [8, 16])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(gemmOfWeights))).toBe(0)
    // Conv(c, w, x): a stored image convolved once, x its per-channel bias.
    const convOfWeights = modelOf(
      ['b'],
      [1, 2, 2, 2],
      [{ opType: 'Conv', input: ['c', 'w', 'x'], output: ['y'] }],
      [weight('c', [1, 1, 4, 4]), weight('w', [2, 1, 3, 3])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(convOfWeights))).toBe(0)
    // Gemm(x, w, c) = x @ w + c: each item's row multiplies all of w; the bias is no factor.
    const gemmOfItem = modelOf(
      ['b', 8],
      ['b', 16],
      [{ opType: 'Gemm', input: ['x', 'w', 'c'], output: ['y'] }],
      [weight('w', [8, 16]), weight('c', [16])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(gemmOfItem))).toBe(2 * 128)
  })
})
