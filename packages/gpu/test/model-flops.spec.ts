import { loadOnnxModel, modelFlopsLowerBound, onnx } from '../src/index.js'
import type { OnnxTypes } from '../src/onnx/proto.js'
import { describe, expect, it } from 'vitest'
import { cnnModel, mlpModel, tinyGptModel, transformerModel } from './helpers/models.js'

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

/** A node's integer-list attribute. */
const ints = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: values,
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

/** One spatial axis of a convolution, as its attributes give it. */
interface ConvAxis {
  readonly taps: number
  readonly stride: number
  readonly dilation: number
  readonly pads: readonly [number, number]
}

/**
 * Multiplications along one axis that read an element of an input `length` long rather than its padding, counted
 * output position by tap: undefined when the window does not fit the input.
 */
function inputReads({ taps, stride, dilation, pads }: ConvAxis, length: number): number | undefined {
  const outputs = Math.floor((length + pads[0] + pads[1] - dilation * (taps - 1) - 1) / stride) + 1
  if (outputs < 1) return undefined
  let reads = 0
  for (let o = 0; o < outputs; o++) {
    for (let tap = 0; tap < taps; tap++) {
      const element = o * stride + tap * dilation - pads[0]
      if (element >= 0 && element < length) reads++
    }
  }
  return reads
}

describe('modelFlopsLowerBound', () => {
  it("should count twice the weights an item multiplies, which is an item's FLOPs through a one-row MLP", () => {
    const model = loadOnnxModel(mlp())
    expect(modelFlopsLowerBound(model)).toBe(2 * (4 * 8 + 8 * 2))
  })

  it('should count a weight on either side of a MatMul, one matrix of a stacked one, all of an unpadded convolution', () => {
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

  it("should count the weights an item of each test model multiplies, behind reshapes to Shape's dimensions too", () => {
    const bound = (bytes: Uint8Array): number => modelFlopsLowerBound(loadOnnxModel(bytes))
    // x @ w1 (64x128), then w2 (128x32) and w3 (10x32).
    expect(bound(mlpModel())).toBe(2 * (64 * 128 + 128 * 32 + 10 * 32))
    // q, k, v and o (32x32 each), then the MLP's 32x64 and 64x32.
    expect(bound(transformerModel())).toBe(2 * (4 * 32 * 32 + 2 * 32 * 64))
    // Heads reshaped to a shape built from Shape(ids): c_attn (32x96), c_proj (32x32), c_fc (32x128), c_proj (128x32).
    // The logits multiply the token embedding transposed at run time, which no initializer holds.
    expect(bound(tinyGptModel())).toBe(2 * (32 * 96 + 32 * 32 + 32 * 128 + 128 * 32))
    // k1 (8x3x3x3) padded 1 around, whose middle tap alone reaches a 1x1 input; k2 (16x4x3x3) unpadded; fc (10x16).
    expect(bound(cnnModel())).toBe(2 * (8 * 3 + 16 * 4 * 9 + 10 * 16))
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

  it('should count one row or column of a Gemm weight where the item sits on the axis the product sums', () => {
    const transposed = (name: string): OnnxTypes.IAttributeProto => ({
      name,
      type: onnx.AttributeProto.AttributeType.INT,
      i: 1,
    })
    const bound = (bytes: Uint8Array): number => modelFlopsLowerBound(loadOnnxModel(bytes))
    // x [b, 4] transposed is [4, b] with b = 8 the summed axis: item k multiplies row k of w (5 of its 8 x 5).
    const transA = modelOf(
      ['b', 4],
      [4, 5],
      [{ opType: 'Gemm', input: ['x', 'w'], output: ['y'], attribute: [transposed('transA')] }],
      [weight('w', [8, 5])],
    )
    expect(bound(transA)).toBe(2 * 5)
    // w [3, 8] times x [b, 6] with b = 8 the summed axis: item k multiplies column k of w.
    const itemAsB = modelOf(
      ['b', 6],
      [3, 6],
      [{ opType: 'Gemm', input: ['w', 'x'], output: ['y'] }],
      [weight('w', [3, 8])],
    )
    expect(bound(itemAsB)).toBe(2 * 3)
    // x [b, 8] transposed is [8, b]: each item, a column of the output, multiplies all of w.
    const transB = modelOf(
      ['b', 8],
      [3, 'b'],
      [{ opType: 'Gemm', input: ['w', 'x'], output: ['y'], attribute: [transposed('transB')] }],
      [weight('w', [3, 8])],
    )
    expect(bound(transB)).toBe(2 * 24)
  })

  it('should count the kernel taps that reach the input, not only its padding, on every input size', () => {
    // 2 output channels over 3 input channels, 3x3 taps, on an input of free height and width.
    const cases: { attribute: OnnxTypes.IAttributeProto[]; axes: [ConvAxis, ConvAxis]; taps: number }[] = [
      {
        // Padded 1 each side: a 1x1 input meets the middle tap alone.
        attribute: [ints('pads', [1, 1, 1, 1])],
        axes: [
          { taps: 3, stride: 1, dilation: 1, pads: [1, 1] },
          { taps: 3, stride: 1, dilation: 1, pads: [1, 1] },
        ],
        taps: 1,
      },
      {
        // Rows padded 2 above and strided 2: a 1-high input meets the bottom tap alone, whatever the stride. Columns
        // dilated 2 and unpadded: the narrowest input, 5 wide, meets every tap.
        attribute: [ints('pads', [2, 0, 0, 0]), ints('strides', [2, 1]), ints('dilations', [1, 2])],
        axes: [
          { taps: 3, stride: 2, dilation: 1, pads: [2, 0] },
          { taps: 3, stride: 1, dilation: 2, pads: [0, 0] },
        ],
        taps: 3,
      },
      {
        // Columns padded 3 each side, past the kernel: a 0-wide input still yields outputs, all of padding.
        attribute: [ints('pads', [1, 3, 1, 3])],
        axes: [
          { taps: 3, stride: 1, dilation: 1, pads: [1, 1] },
          { taps: 3, stride: 1, dilation: 1, pads: [3, 3] },
        ],
        taps: 0,
      },
    ]
    for (const { attribute, axes, taps } of cases) {
      const conv = modelOf(
        ['b', 3, 'h', 'w'],
        ['b', 2, 'oh', 'ow'],
        [{ opType: 'Conv', input: ['x', 'k'], output: ['y'], attribute }],
        [weight('k', [2, 3, 3, 3])],
      )
      const bound = modelFlopsLowerBound(loadOnnxModel(conv))
      expect(bound).toBe(2 * 6 * taps)
      // An honest count of the multiply-adds by the input, on each input up to 12x12 the conv takes (an empty one
      // too): the least of them is the bound.
      const honest: number[] = []
      for (let h = 0; h <= 12; h++) {
        for (let w = 0; w <= 12; w++) {
          const [rows, columns] = [inputReads(axes[0], h), inputReads(axes[1], w)]
          if (rows !== undefined && columns !== undefined) honest.push(2 * 6 * rows * columns)
        }
      }
      expect(Math.min(...honest)).toBe(bound)
    }
    // SAME_UPPER pads by the input's size, which the graph does not tell (and the runtime refuses): nothing counts.
    const autoPadded = modelOf(
      ['b', 3, 'h', 'w'],
      ['b', 2, 'h', 'w'],
      [
        {
          opType: 'Conv',
          input: ['x', 'k'],
          output: ['y'],
          attribute: [
            {
              name: 'auto_pad',
              type: onnx.AttributeProto.AttributeType.STRING,
              s: new TextEncoder().encode('SAME_UPPER'),
            },
          ],
        },
      ],
      [weight('k', [2, 3, 3, 3])],
    )
    expect(modelFlopsLowerBound(loadOnnxModel(autoPadded))).toBe(0)
  })
})
