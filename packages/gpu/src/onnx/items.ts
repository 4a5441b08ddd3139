import { MAX_TENSOR_ELEMENTS } from '../constants.js'
import { normalizeAxis } from '../tensor/shapes.js'
import type { OnnxNode } from './model.js'
import {
  broadcastOperandShapes,
  intAttr,
  intsAttr,
  reduceParams,
  requiredInts,
  sliceParams,
  unsupported,
} from './node-params.js'
import type { IntsInput } from './node-params.js'
import { isParameterInput, leadsWithBatchSize, SHAPE_INPUT } from './batch-size.js'
import type { BatchSizeTags } from './batch-size.js'

/**
 * `RunModelOptions.items` recomputes batch items alone, which holds while every item flows through the graph apart
 * from the others along axis 0 and no value an item sees depends on how many items the run takes. The runtime follows
 * which values carry the batch (the graph inputs and everything computed from them, except Shape's output, plus what
 * an Expand, Tile or ConstantOfShape shapes with the batch size) and how host values depend on the batch size
 * (`batch-size.ts`), and refuses, before computing it, a node that would mix the items of a value carrying the batch:
 * - a Gather, Slice, Split, Tile, Concat, reduction, Softmax or LayerNormalization along axis 0, a Gather by batched
 *   indices of a batched value;
 * - a Transpose, Flatten, Unsqueeze or Reshape that moves the batch off axis 0 (a Reshape target must lead with 0, -1
 *   or the batch size read through Shape), a Gather by batched indices along another axis, a Squeeze that may drop
 *   it;
 * - a MatMul or Gemm that sums over the batch axis (a batched right operand of rank 2 or less, Gemm's B or a
 *   transposed A carrying the batch), a Conv or normalization whose weights carry it;
 * - a broadcast that moves the batch off axis 0, or lines a value not carrying it (of size other than 1) up with axis
 *   0, pairing each item with a row of it; a Concat joining such a value to batched ones;
 * - and a node reading the batch size other than as the leading entry of a Reshape, Expand, Tile or ConstantOfShape
 *   shape (a division by it, a Range or Slice up to it, a shape holding it elsewhere): host operators computing on
 *   it pass it on to where it is used.
 */

/** What the check reads about a node's inputs. */
export interface ItemsInputs {
  /** Whether input `index` carries the batch on axis 0. */
  readonly batched: (index: number) => boolean
  /** The shape of (given) input `index`. */
  readonly shape: (index: number) => readonly number[]
  readonly ints: IntsInput
  /** How the elements of input `index` depend on the batch size (see `batch-size.ts`); undefined where none does. */
  readonly batchSize: (index: number) => BatchSizeTags | undefined
  /** Whether the node computes on the host (a host operator whose every input lives there). */
  readonly onHost: boolean
}

/** Whether a node's outputs carry the batch: Shape's output holds dimensions, not items. */
export function outputsBatched(node: OnnxNode, batchedInputs: boolean): boolean {
  return batchedInputs && node.opType !== 'Shape'
}

/**
 * @throws GPU__UNSUPPORTED_OP (context `{ option: 'items' }`) when `node` mixes batch items or reads the batch size
 *   (see above), so that an item computed alone could differ from the same item of the whole batch
 */
export function assertKeepsItemsApart(node: OnnxNode, opset: number, inputs: ItemsInputs): void {
  const reason = batchSizeRead(node, inputs) ?? itemsMixing(node, opset, inputs)
  if (reason === undefined) return
  throw unsupported(node, `${reason}, so options.items cannot recompute items alone; run the whole batch instead`, {
    option: 'items',
  })
}

const MIXES = 'mixes batch items along axis 0'
const CONTRACTS = 'sums over the batch axis, adding up products of different items'
const MOVES = 'moves the batch off axis 0'
const PAIRS = 'pairs each batch item with a row of a value that does not carry the batch'
const WEIGHTS = 'takes weights from batch items'

/** Operators broadcasting their inputs elementwise (numpy rules). */
const BROADCASTING: ReadonlySet<string> = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Where',
  'Equal',
  'Less',
  'Greater',
])

/** Why a node cannot read an input depending on the batch size, or undefined when it may (see `batch-size.ts`). */
function batchSizeRead(node: OnnxNode, inputs: ItemsInputs): string | undefined {
  // Shape reads its input's shape, which the batch size decides only on axis 0 of a batched value.
  if (node.opType === 'Shape') return undefined
  for (let index = 0; index < node.inputs.length; index++) {
    const tags = given(node, index) ? inputs.batchSize(index) : undefined
    if (tags === undefined) continue
    if (index === SHAPE_INPUT[node.opType] && leadsWithBatchSize(tags) && shapeFollowsBatch(node, inputs)) continue
    if (inputs.onHost && !isParameterInput(node.opType, index)) continue
    return `reads the batch size (through Shape) in input ${index}, which a run of fewer items sees smaller`
  }
  return undefined
}

/**
 * Whether a shape led by the batch size keeps items apart here: a Reshape of a batched value (as -1 would), an Expand
 * or ConstantOfShape (each item's slice alike), a Tile of a value not carrying the batch (a batched one would repeat
 * the batch by its own size).
 */
function shapeFollowsBatch(node: OnnxNode, inputs: ItemsInputs): boolean {
  if (node.opType === 'Reshape') return inputs.batched(0)
  if (node.opType === 'Tile') return !inputs.batched(0)
  return true
}

function given(node: OnnxNode, index: number): boolean {
  return (node.inputs[index] ?? '') !== ''
}

/** Why a node mixes the items of a batched input, or undefined when it keeps them apart. */
function itemsMixing(node: OnnxNode, opset: number, inputs: ItemsInputs): string | undefined {
  const batched = (index: number): boolean => given(node, index) && inputs.batched(index)
  const rank = (index: number): number => inputs.shape(index).length
  const isAxis0 = (axis: number, r = rank(0)): boolean => normalizeAxis(axis, r, node.opType) === 0
  switch (node.opType) {
    case 'MatMul':
      return matMulMixing(inputs, batched)
    case 'Gemm':
      return gemmMixing(node, inputs, batched)
    case 'Conv':
      return batched(1) || batched(2) ? WEIGHTS : undefined
    case 'BatchNormalization':
      return [1, 2, 3, 4].some(batched) ? WEIGHTS : undefined
    case 'LayerNormalization':
      if (batched(1) || batched(2)) return WEIGHTS
      return batched(0) && isAxis0(intAttr(node, 'axis', -1)) ? MIXES : undefined
    case 'Concat':
      return concatMixing(node, inputs, batched)
    case 'Gather': {
      if (!batched(0) && !batched(1)) return undefined
      const onAxis0 = isAxis0(intAttr(node, 'axis', 0))
      if (batched(0)) return onAxis0 || batched(1) ? MIXES : undefined
      // Batched indices put the batch where the gathered axis was: axis 0 only if that is it (an embedding lookup).
      return batched(1) && !onAxis0 ? MOVES : undefined
    }
    default:
      if (BROADCASTING.has(node.opType)) return broadcastMixing(node, opset, inputs, batched)
      if (!batched(0)) return undefined
  }
  switch (node.opType) {
    case 'Split':
      return isAxis0(intAttr(node, 'axis', 0)) ? MIXES : undefined
    case 'Tile':
      return requiredInts(node, inputs.ints, 1)[0] !== 1 ? MIXES : undefined
    case 'Slice': {
      const { starts, ends, axes, steps } = sliceParams(node, opset, inputs.ints)
      // Only [0, "to the end") with step 1 keeps every item whatever the batch size; INT64_MAX ends say "to the end".
      const cuts = (axes ?? starts.map((_, i) => i)).some(
        (axis, i) => isAxis0(axis) && (starts[i] !== 0 || ends[i]! < MAX_TENSOR_ELEMENTS || (steps?.[i] ?? 1) !== 1),
      )
      return cuts ? MIXES : undefined
    }
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMean': {
      const { axes, noop } = reduceParams(node, opset, inputs.ints)
      return !noop && rank(0) > 0 && (axes.length === 0 || axes.some((a) => isAxis0(a))) ? MIXES : undefined
    }
    case 'Softmax':
      // Before opset 13 Softmax flattens at its axis (1 by default): at 0, the whole batch is one row.
      return isAxis0(intAttr(node, 'axis', opset >= 13 ? -1 : 1)) ? MIXES : undefined
    case 'Transpose': {
      // Moving axis 0 elsewhere leaves the batch where later operators do not look for it (no perm reverses axes).
      const perm = intsAttr(node, 'perm')
      return (perm === undefined ? rank(0) > 1 : perm[0] !== 0) ? MOVES : undefined
    }
    case 'Flatten': {
      // Flatten at axis 0 folds every item into one row.
      const r = rank(0)
      return r > 0 && (intAttr(node, 'axis', 1) + r) % r === 0 && intAttr(node, 'axis', 1) !== r ? MIXES : undefined
    }
    case 'Reshape':
      return reshapeLeadsWithBatch(node, inputs) ? undefined : `${MOVES} (lead its target with 0, -1 or Shape's batch)`
    case 'Expand':
      return expandMixing(node, inputs)
    case 'Unsqueeze': {
      const axes = opset >= 13 ? inputs.ints(1) : intsAttr(node, 'axes')
      const r = rank(0) + (axes?.length ?? 0)
      return axes?.some((a) => isAxis0(a, r)) ? MOVES : undefined
    }
    case 'Squeeze': {
      // Without axes (or with none listed) it drops every axis of size 1: the batch axis too where a run takes one item.
      const axes = opset >= 13 ? inputs.ints(1) : intsAttr(node, 'axes')
      return axes === undefined || axes.length === 0 || axes.some((a) => isAxis0(a))
        ? 'drops the batch axis'
        : undefined
    }
    default:
      return undefined
  }
}

/**
 * MatMul of A [..., M, K] by B [..., K, N]: a batched A of rank 1 or B of rank 2 or less holds the batch on K, which
 * the product sums over. Otherwise the batch axis of a batched operand must stay the output's axis 0 (A's M when both
 * are matrices, else the leading broadcast axis of the longer), and an operand not carrying the batch that reaches
 * that axis must be 1 long there.
 */
function matMulMixing(inputs: ItemsInputs, batched: (index: number) => boolean): string | undefined {
  if (!batched(0) && !batched(1)) return undefined
  const ranks = [inputs.shape(0).length, inputs.shape(1).length] as const
  if ((batched(0) && ranks[0] === 1) || (batched(1) && ranks[1] <= 2)) return CONTRACTS
  const out = Math.max(...ranks)
  const reachesAxis0 = (index: 0 | 1): boolean =>
    ranks[index] >= 3 ? ranks[index] === out : index === 0 && ranks[0] === 2 && ranks[1] <= 2
  for (const index of [0, 1] as const) {
    if (batched(index) && !reachesAxis0(index)) return MOVES
    if (!batched(index) && reachesAxis0(index) && inputs.shape(index)[0] !== 1) return PAIRS
  }
  return undefined
}

/**
 * Gemm computes A' B' + C (A' = A or its transpose, B' likewise) on matrices: the batch may only run along the rows
 * of A (batched, not transposed) or of C (of rank 2), and the other of the two, not carrying it, must hold one row.
 */
function gemmMixing(node: OnnxNode, inputs: ItemsInputs, batched: (index: number) => boolean): string | undefined {
  if (![0, 1, 2].some(batched)) return undefined
  const transA = intAttr(node, 'transA', 0) === 1
  // B's axis 0 is K (summed over) or, transposed, N (the output's axis 1).
  if (batched(1)) return intAttr(node, 'transB', 0) === 1 ? MOVES : CONTRACTS
  if (batched(0) && transA) return CONTRACTS
  const rows = inputs.shape(0)[transA ? 1 : 0]
  const c = given(node, 2) ? inputs.shape(2) : undefined
  if (batched(2) && c!.length < 2) return MOVES
  if (batched(2) && !batched(0) && rows !== 1) return PAIRS
  if (batched(0) && c !== undefined && !batched(2) && c.length === 2 && c[0] !== 1) return PAIRS
  return undefined
}

/**
 * Numpy broadcasting aligns trailing axes: a batched operand shorter than the output lands its batch on a later axis,
 * and an operand not carrying the batch as long as the output lines its axis 0 up with the batch. Before opset 7 some
 * operators line B up with A from an axis, which `broadcastOperandShapes` turns into shapes numpy rules align so.
 */
function broadcastMixing(
  node: OnnxNode,
  opset: number,
  inputs: ItemsInputs,
  batched: (index: number) => boolean,
): string | undefined {
  const operands = node.inputs.map((_, i) => i).filter((i) => given(node, i))
  if (!operands.some(batched)) return undefined
  const shapes = broadcastOperandShapes(
    node,
    opset,
    operands.map((i) => inputs.shape(i)),
  )
  const out = Math.max(...shapes.map((s) => s.length))
  for (const [k, i] of operands.entries()) {
    const shape = shapes[k]!
    if (batched(i) && shape.length < out) return MOVES
    if (!batched(i) && shape.length === out && shape[0] !== 1) return PAIRS
  }
  return undefined
}

/** Concat along axis 0 mixes items; along another, each input must carry the batch (axis 0 agrees across them). */
function concatMixing(node: OnnxNode, inputs: ItemsInputs, batched: (index: number) => boolean): string | undefined {
  const operands = node.inputs.map((_, i) => i).filter((i) => given(node, i))
  if (!operands.some(batched)) return undefined
  // Items of one input follow those of another along axis 0: an item's place depends on the batch size.
  if (normalizeAxis(intAttr(node, 'axis', 0), inputs.shape(operands[0]!).length, node.opType) === 0) return MIXES
  return operands.every(batched) ? undefined : PAIRS
}

/**
 * Whether a Reshape of a batched value keeps the batch on axis 0: its target leads with 0 (copy the axis), -1 (what
 * is left: each item's rows) or the batch size read through Shape (times a factor free of it), not a fixed size.
 * Under -1 the rows must also split each item whole: rows longer than an item, or not dividing it, straddle two.
 */
function reshapeLeadsWithBatch(node: OnnxNode, inputs: ItemsInputs): boolean {
  const target = requiredInts(node, inputs.ints, 1)
  const tags = inputs.batchSize(1)
  if (tags !== undefined) return leadsWithBatchSize(tags)
  const allowZero = intAttr(node, 'allowzero', 0) !== 0
  if (target[0] === 0 && !allowZero) return true
  return target[0] === -1 && rowsSplitItems(inputs.shape(0), target, allowZero)
}

/** Whether the rows of a Reshape target led by -1 (the product of its other entries) divide an item of `shape`. */
function rowsSplitItems(shape: readonly number[], target: readonly number[], allowZero: boolean): boolean {
  const item = shape.slice(1).reduce((a, b) => a * b, 1)
  // An entry of 0 copies the input's dimension at its place, unless allowzero makes it a zero-length axis.
  const row = target.slice(1).reduce((a, d, i) => a * (d === 0 && !allowZero ? (shape[i + 1] ?? 0) : d), 1)
  return row > 0 && item % row === 0
}

/**
 * Expand of a batched value broadcasts it with its target: a longer target moves the batch off axis 0, and a leading
 * entry other than 1 or the batch size (read through Shape) lines a fixed size up with the batch.
 */
function expandMixing(node: OnnxNode, inputs: ItemsInputs): string | undefined {
  const target = requiredInts(node, inputs.ints, 1)
  const rank = inputs.shape(0).length
  if (target.length > rank) return MOVES
  const tags = inputs.batchSize(1)
  const leadsWithBatch = tags !== undefined && leadsWithBatchSize(tags)
  return target.length === rank && target[0] !== 1 && !leadsWithBatch ? PAIRS : undefined
}
