import { outputsBatched } from './items.js'
import type { HostConstant, OnnxModel, OnnxNode } from './model.js'

/**
 * The least FLOPs one batch item's forward pass through `model` takes, counted from its graph: twice the weights (float
 * initializers) that its MatMul, Gemm and Conv nodes multiply a value carrying the item by. The runtime keeps items
 * apart, so each item multiplies each such weight at least once (a MatMul one matrix of a stacked weight). A product of
 * two values carrying the item, and a weight used over many rows or output positions, cost more than this counts: the
 * real FLOPs need the shapes a run sees. So it never exceeds an honest declaration, and a worker (or a creator, before
 * ordering) may hold an order's `flopsPerItem` to it with `@tessera/scheduler`'s `checkDeclaredWork` without refusing
 * an honest order: it catches a declaration below the model's weights, not every understatement.
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
    if (weight !== undefined) flops += 2 * weightUsedPerItem(node.opType, weight)
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
): HostConstant | undefined {
  const product = PRODUCTS[node.opType]
  const carriesItem = (position: number): boolean => batched.has(node.inputs[position] ?? '')
  if (product === undefined || !product.factors.some(carriesItem)) return undefined
  for (const position of product.weights) {
    const c = carriesItem(position) ? undefined : initializers.get(node.inputs[position] ?? '')
    if (c?.dataType === 'float') return c
  }
  return undefined
}

/** Elements of `weight` one item multiplies at least once: all of a convolution's or Gemm's, one matrix of MatMul's. */
function weightUsedPerItem(opType: string, weight: HostConstant): number {
  const shape = weight.shape
  if (opType !== 'MatMul' || shape.length <= 2) return shape.reduce((n, d) => n * d, 1)
  return (shape.at(-2) ?? 1) * (shape.at(-1) ?? 1)
}
