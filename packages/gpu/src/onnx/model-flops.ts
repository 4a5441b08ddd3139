import { outputsBatched } from './items.js'
import type { HostConstant, OnnxModel } from './model.js'

/**
 * The least FLOPs one batch item's forward pass through `model` takes, counted from its graph: twice the weights (float
 * initializers) that its MatMul, Gemm, Conv and ConvTranspose nodes multiply a value carrying the item by. The
 * runtime keeps items apart, so each item multiplies each such weight at least once (a MatMul one matrix of a stacked
 * weight). A product of two values carrying the item, and a weight used over many rows or output positions, cost
 * more than this counts: the real FLOPs need the shapes a run sees. So it never exceeds an honest declaration, and a
 * worker (or a creator, before ordering) may hold an order's `flopsPerItem` to it with `@tessera/scheduler`'s
 * `checkDeclaredWork` without refusing an honest order: it catches a declaration below the model's weights, not every
 * understatement.
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
    const weight = weightOf(node.opType, node.inputs, (name) =>
      batched.has(name) ? undefined : model.initializers.get(name),
    )
    if (weight !== undefined) flops += 2 * weightUsedPerItem(node.opType, weight)
  }
  return flops
}

/** Operand positions that may hold the weight of each multiplying op: a convolution's `W`, MatMul's and Gemm's either. */
const WEIGHT_OPERANDS: Readonly<Record<string, readonly number[]>> = {
  MatMul: [0, 1],
  Gemm: [0, 1],
  Conv: [1],
  ConvTranspose: [1],
}

/** The float initializer a node multiplies by, if it is a multiplying op (see {@link WEIGHT_OPERANDS}) with one. */
function weightOf(
  opType: string,
  inputs: readonly string[],
  constant: (name: string) => HostConstant | undefined,
): HostConstant | undefined {
  for (const position of WEIGHT_OPERANDS[opType] ?? []) {
    const name = inputs[position]
    const c = name === undefined || name === '' ? undefined : constant(name)
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
