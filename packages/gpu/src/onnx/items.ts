import { MAX_TENSOR_ELEMENTS } from '../constants.js'
import { normalizeAxis } from '../tensor/shapes.js'
import type { OnnxNode } from './model.js'
import { intAttr, intsAttr, reduceParams, requiredInts, sliceParams, unsupported } from './node-params.js'
import type { IntsInput } from './node-params.js'

/**
 * `RunModelOptions.items` recomputes batch items alone, which holds while every item flows through the graph apart
 * from the others along axis 0. The runtime follows which values carry the batch (the graph inputs and everything
 * computed from them, except Shape's output) and refuses, before computing it, a node that would mix the items of
 * such a value: a Gather, Slice, Split, Tile, Concat or reduction along axis 0, a Gather by batched indices, a
 * Transpose that moves axis 0 or a Flatten at axis 0.
 */

/** What the check reads about a node's inputs. */
export interface ItemsInputs {
  /** Whether input `index` carries the batch on axis 0. */
  readonly batched: (index: number) => boolean
  readonly rank: (index: number) => number
  readonly ints: IntsInput
}

/** Whether a node's outputs carry the batch: Shape's output holds dimensions, not items. */
export function outputsBatched(node: OnnxNode, batchedInputs: boolean): boolean {
  return batchedInputs && node.opType !== 'Shape'
}

/**
 * @throws GPU__UNSUPPORTED_OP (context `{ option: 'items' }`) when `node` mixes batch items, so that an item computed
 *   alone could differ from the same item of the whole batch
 */
export function assertKeepsItemsApart(node: OnnxNode, opset: number, inputs: ItemsInputs): void {
  // A Concat mixes items when any of its inputs carries the batch, its first or not.
  const batched = node.opType === 'Concat' ? node.inputs.some((_, i) => inputs.batched(i)) : inputs.batched(0)
  if (!batched || !mixesItems(node, opset, inputs)) return
  throw unsupported(
    node,
    'mixes batch items along axis 0, so options.items cannot recompute items alone; run the whole batch instead',
    { option: 'items' },
  )
}

function mixesItems(node: OnnxNode, opset: number, inputs: ItemsInputs): boolean {
  const rank = inputs.rank(0)
  const isAxis0 = (axis: number): boolean => normalizeAxis(axis, rank, node.opType) === 0
  switch (node.opType) {
    case 'Gather':
      return isAxis0(intAttr(node, 'axis', 0)) || inputs.batched(1)
    case 'Split':
      return isAxis0(intAttr(node, 'axis', 0))
    case 'Tile':
      return requiredInts(node, inputs.ints, 1)[0] !== 1
    case 'Slice': {
      const { starts, ends, axes, steps } = sliceParams(node, opset, inputs.ints)
      // Only [0, "to the end") with step 1 keeps every item whatever the batch size; INT64_MAX ends say "to the end".
      return (axes ?? starts.map((_, i) => i)).some(
        (axis, i) => isAxis0(axis) && (starts[i] !== 0 || ends[i]! < MAX_TENSOR_ELEMENTS || (steps?.[i] ?? 1) !== 1),
      )
    }
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMean': {
      const { axes, noop } = reduceParams(node, opset, inputs.ints)
      return !noop && rank > 0 && (axes.length === 0 || axes.some(isAxis0))
    }
    case 'Concat':
      // Items of one input follow those of another along axis 0: an item's place depends on the batch size.
      return isAxis0(intAttr(node, 'axis', 0))
    case 'Transpose': {
      // Moving axis 0 elsewhere leaves the batch where later operators do not look for it (no perm reverses axes).
      const perm = intsAttr(node, 'perm')
      return perm === undefined ? rank > 1 : perm[0] !== 0
    }
    case 'Flatten':
      // Flatten at axis 0 folds every item into one row.
      return rank > 0 && (intAttr(node, 'axis', 1) + rank) % rank === 0 && intAttr(node, 'axis', 1) !== rank
    default:
      return false
  }
}
