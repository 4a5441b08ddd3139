import { outputsBatched } from './items.js'
import type { HostConstant, OnnxModel, OnnxNode } from './model.js'
import { intAttr, intsAttr, stringAttr } from './node-params.js'

/**
 * The least FLOPs one batch item's forward pass through `model` takes, counted from its graph: twice the weights (float
 * initializers) that its MatMul, Gemm and Conv nodes multiply a value carrying the item by. The runtime keeps items
 * apart, so each item multiplies each such weight at least once (a MatMul one matrix of a stacked weight, a Conv the
 * taps that reach the smallest input it takes rather than only its padding). A product of two values carrying the
 * item, a weight used over many rows or output positions, and a padded Conv's taps on a larger input cost more than
 * this counts: the real FLOPs need the shapes a run sees. So it never exceeds an honest declaration, even one counting
 * only the multiplications by the input (none by padding), and a worker (or a creator, before ordering) may hold an
 * order's `flopsPerItem` to it with `@tessera/scheduler`'s `checkDeclaredWork` without refusing an honest order: it
 * catches a declaration below the model's weights, not every understatement.
 *
 * @throws GPU__UNSUPPORTED_OP when a Conv's `pads` or `dilations` is not a list, which the runtime refuses
 */
export function modelFlopsLowerBound(model: OnnxModel): number {
  // The values carrying the batch, by the runtime's own rule: the graph inputs and what is computed from them, but not
  // Shape's dimensions. A product of the rest (weights, shapes and what they alone make) runs once a batch.
  const batched = new Set(model.inputs.map((input) => input.name))
  let flops = 0
  for (const node of model.nodes) {
    const readsBatch = node.inputs.some((name) => batched.has(name))
    if (!outputsBatched(node, readsBatch)) continue
    for (const name of node.outputs) batched.add(name)
    const weight = weightOf(node, batched, model.initializers)
    if (weight !== undefined) flops += 2 * weightUsedPerItem(node, weight.value, weight.position)
  }
  return flops
}

/** Where a multiplying op reads the operands it multiplies, and which of them may be a weight. */
interface Product {
  /**
   * The operands multiplied together: the product costs each item only where one of them carries it, not where only
   * the bias added to it (Gemm's C, Conv's B) does.
   */
  readonly factors: readonly number[]
  /** Those that may hold the weight: a convolution's `W`, either of MatMul's and Gemm's. */
  readonly weights: readonly number[]
}

/** The multiplying ops the runtime implements (it has no ConvTranspose). */
const PRODUCTS: Readonly<Record<string, Product>> = {
  MatMul: { factors: [0, 1], weights: [0, 1] },
  Gemm: { factors: [0, 1], weights: [0, 1] },
  Conv: { factors: [0, 1], weights: [1] },
}

/**
 * The float initializer a node multiplies a value carrying the item by, if it is a multiplying op (see
 * {@link PRODUCTS}) with one among its factors.
 */
function weightOf(
  node: OnnxNode,
  batched: ReadonlySet<string>,
  initializers: ReadonlyMap<string, HostConstant>,
): { value: HostConstant; position: number } | undefined {
  const product = PRODUCTS[node.opType]
  const carriesItem = (position: number): boolean => batched.has(node.inputs[position] ?? '')
  if (product === undefined || !product.factors.some(carriesItem)) return undefined
  for (const position of product.weights) {
    const c = carriesItem(position) ? undefined : initializers.get(node.inputs[position] ?? '')
    if (c?.dataType === 'float') return { value: c, position }
  }
  return undefined
}

/**
 * Elements of `weight` (input `position` of `node`) one item multiplies at least once: all of Gemm's, one matrix of
 * MatMul's, a convolution's taps that reach its input ({@link tapsReachingInput}). A Gemm whose item-carrying operand
 * holds the batch on K (a transposed A, a B not transposed) sums over the items: each multiplies only its own row or
 * column of the weight, K times fewer elements. (Such a product mixes items, which items runs refuse. A MatMul does
 * the same where its right operand carries the batch with rank 2, but the graph does not tell that operand's rank, and
 * a rank-3 one multiplies the whole matrix: the count stays that of a matrix. An order for such a model is refused
 * whatever it declares, by `assertItemsRecomputable` where the count does not exceed the declaration.)
 */
function weightUsedPerItem(node: OnnxNode, weight: HostConstant, position: number): number {
  const shape = weight.shape
  const elements = shape.reduce((n, d) => n * d, 1)
  if (node.opType === 'Conv') return convWeightUsed(node, shape)
  if (node.opType === 'Gemm') {
    const transposed = (input: number): boolean => intAttr(node, input === 0 ? 'transA' : 'transB', 0) === 1
    // The item-carrying operand holds the batch on K where A is transposed or B is not.
    const itemOnK = position === 0 ? !transposed(1) : transposed(0)
    // K is the weight's axis 1 as A (axis 0 transposed), its axis 0 as B (axis 1 transposed).
    const k = shape[(position === 0) !== transposed(position) ? 1 : 0] ?? 1
    return itemOnK && k > 0 ? elements / k : elements
  }
  if (node.opType !== 'MatMul' || shape.length <= 2) return elements
  return (shape.at(-2) ?? 1) * (shape.at(-1) ?? 1)
}

/**
 * Elements of a convolution's weight (M x C/group x k1 x k2 ...) that one item multiplies by its input, whatever the
 * input's size: each output channel's filter over each input channel, at the kernel positions that reach the input
 * and not only its padding. A tap that meets padding alone multiplies by zero, which a creator need not count.
 */
function convWeightUsed(node: OnnxNode, shape: readonly number[]): number {
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET')
  // SAME_UPPER and SAME_LOWER pad by the input's size, which the graph does not tell; the runtime refuses them.
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return 0
  const kernel = shape.slice(2)
  const pads = autoPad === 'VALID' ? undefined : intsAttr(node, 'pads')
  const dilations = intsAttr(node, 'dilations')
  const taps = kernel.reduce(
    (n, size, axis) =>
      n *
      tapsReachingInput({
        size,
        dilation: dilations?.[axis] ?? 1,
        padBegin: pads?.[axis] ?? 0,
        padEnd: pads?.[axis + kernel.length] ?? 0,
      }),
    1,
  )
  return (shape[0] ?? 1) * (shape[1] ?? 1) * taps
}

/** A convolution kernel along one spatial axis, as ONNX Conv's attributes give it. */
interface KernelAxis {
  readonly size: number
  readonly dilation: number
  readonly padBegin: number
  readonly padEnd: number
}

/**
 * Kernel taps along one axis that read an input element at some output position, on every input the convolution
 * accepts. The graph does not tell the input's length, and a longer one only adds output positions and elements, so
 * these are the taps reaching the shortest input that yields an output: the window fits it once, the taps landing in
 * the padding at either end reach nothing (a 3-tap kernel padded 1 each side reaches a 1-long input with its middle
 * tap alone), and where the padding alone spans the window an empty input yields outputs that no tap reaches. The
 * stride does not matter, as that input has a single output position.
 */
function tapsReachingInput({ size, dilation, padBegin, padEnd }: KernelAxis): number {
  // The runtime refuses these attributes, so it runs no such convolution.
  if (!(dilation >= 1 && padBegin >= 0 && padEnd >= 0)) return 0
  return Math.max(0, size - Math.ceil(padBegin / dilation) - Math.ceil(padEnd / dilation))
}
