import { broadcastShapes } from '../tensor/shapes.js'
import { forEachBroadcast } from '../tensor/broadcast.js'
import { sizeOf } from '../tensor/tensor.js'
import { broadcastOperands, runHostOp } from './host-ops.js'
import { elementsOf } from './host-tensor.js'
import type { HostConstant, OnnxNode } from './model.js'
import { castTarget, intAttr } from './node-params.js'

/**
 * A graph that reads its batch size through Shape (Shape(x)[0] into a Reshape target, an Expand, a Range, a division)
 * sees the number of items a run takes, which `RunModelOptions.items` shrinks: an item computed alone could then
 * differ from the same item in the whole batch. The runtime follows, element by element, how the host values computed
 * from Shape depend on that size, so that an items run lets through what keeps items apart (a shape whose first entry
 * is the batch size, x.view(x.size(0), -1)) and refuses the rest (see `assertKeepsItemsApart`).
 *
 * The dependence of each element, held as the integers of a tag tensor of the value's shape:
 * - {@link BATCH_FREE}: none (Shape(x)[1:], constants);
 * - {@link BATCH_SCALED}: the batch size times a factor free of it, as the batch axis of a batched value is
 *   (Shape(x)[0], Shape(x)[0] * Shape(x)[1]): a Reshape, Expand or Tile led by it scales with the batch as -1 would;
 * - {@link BATCH_OTHER}: any other function of it (B + 1, B / 2, B * B, B > 4, positions 0 .. B - 1).
 */
export const BATCH_FREE = 0
/** See {@link BATCH_FREE}. */
export const BATCH_SCALED = 1
/** See {@link BATCH_FREE}. */
export const BATCH_OTHER = 2

/** One tag per element of a host value (an int tensor of its shape, see {@link BATCH_FREE}). */
export type BatchSizeTags = HostConstant

/**
 * The inputs of host operators that decide where elements go or how many there are (indices, bounds, axes, shapes)
 * rather than supply them: the batch size in one changes what the output holds, not only its values.
 */
const PARAMETER_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Gather: [1],
  Slice: [1, 2, 3, 4],
  Split: [1],
  Unsqueeze: [1],
  Squeeze: [1],
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  ReduceSum: [1],
  ReduceMax: [1],
  Range: [0, 1, 2],
  ConstantOfShape: [0],
  Where: [0],
}

/**
 * The input naming an operator's output shape (Reshape, Expand, ConstantOfShape) or repeats (Tile): led by the batch
 * size alone, it makes an output whose axis 0 follows the batch (see {@link shapedByBatch}).
 */
export const SHAPE_INPUT: Readonly<Record<string, number>> = { Reshape: 1, Expand: 1, Tile: 1, ConstantOfShape: 0 }

/** Host operators that move elements of their data inputs without computing new ones. */
const MOVES_ELEMENTS: ReadonlySet<string> = new Set([
  'Identity',
  'Gather',
  'Slice',
  'Split',
  'Concat',
  'Unsqueeze',
  'Squeeze',
  'Reshape',
  'Flatten',
  'Expand',
  'Tile',
  'Where',
])

/**
 * The dependence of an elementwise result on its operands', from their tags and, where a comparison needs them, the
 * values they hold in this run.
 */
type Combine = (tags: readonly number[], values: readonly number[]) => number

const freeOrOther: Combine = (tags) => (tags.every((t) => t === BATCH_FREE) ? BATCH_FREE : BATCH_OTHER)

/**
 * A comparison comes out alike for every batch size B >= 1 where it compares B * f with B * g (as f with g), or B * f
 * with a c free of B lying on the other side of 0 (or f = 0): PyTorch's expand(x.size(0), -1) asks Equal(B, -1).
 */
const compare: Combine = ([a, b], [x, y]) => {
  if (a === BATCH_OTHER || b === BATCH_OTHER) return BATCH_OTHER
  return a === b || x! * y! <= 0 ? BATCH_FREE : BATCH_OTHER
}

/** Elementwise host operators; Cast is read from its target. */
const COMBINE: Readonly<Record<string, Combine>> = {
  // B * f + B * g = B * (f + g): multiples of the batch size add up to one.
  Add: ([a, b]) => (a === b ? a! : BATCH_OTHER),
  Sub: ([a, b]) => (a === b ? a! : BATCH_OTHER),
  Mul: ([a, b]) => (a === BATCH_FREE ? b! : b === BATCH_FREE ? a! : BATCH_OTHER),
  Div: freeOrOther,
  Neg: freeOrOther,
  Not: freeOrOther,
  Equal: compare,
  Less: compare,
  Greater: compare,
}

/** Whether input `index` of a host operator is one of its parameters (see {@link PARAMETER_INPUTS}). */
export function isParameterInput(opType: string, index: number): boolean {
  return PARAMETER_INPUTS[opType]?.includes(index) ?? false
}

/** Whether `tags` hold the batch size scaled at element 0 and nothing else depending on it: a batch-led shape. */
export function leadsWithBatchSize(tags: BatchSizeTags): boolean {
  return tags.ints!.every((t, i) => t === (i === 0 ? BATCH_SCALED : BATCH_FREE))
}

/**
 * Whether a node's output follows the batch on axis 0 because its shape input leads with the batch size (Expand or
 * Tile of a value not carrying the batch, ConstantOfShape): every item's slice of it is alike.
 */
export function shapedByBatch(node: OnnxNode, tagsOf: (index: number) => BatchSizeTags | undefined): boolean {
  const index = SHAPE_INPUT[node.opType]
  const tags = index === undefined ? undefined : tagsOf(index)
  return tags !== undefined && leadsWithBatchSize(tags)
}

/**
 * The tags of Shape's output: its entry for axis 0 of a batched value is the batch size times the rows an item spans
 * there (1, or more after a Reshape such as [B * S, H]).
 */
export function shapeTags(node: OnnxNode, rank: number, batched: boolean): BatchSizeTags | undefined {
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank)
  const start = clamp(intAttr(node, 'start', 0))
  const end = clamp(intAttr(node, 'end', rank))
  if (!batched || start > 0 || end <= start) return undefined
  return tagTensor(
    [end - start],
    Array.from({ length: end - start }, (_, i) => (i === 0 ? BATCH_SCALED : BATCH_FREE)),
  )
}

/**
 * The tags of the outputs of a node computed on the host, from those of its inputs (undefined where no element
 * depends on the batch size): an operator that moves elements moves their tags (it runs on the tags as on the
 * values), an elementwise one combines them ({@link COMBINE}), and any other, or a parameter depending on the batch
 * size, makes every element {@link BATCH_OTHER}.
 */
export function hostTags(
  node: OnnxNode,
  opset: number,
  inputs: readonly (HostConstant | undefined)[],
  tags: readonly (BatchSizeTags | undefined)[],
  results: readonly HostConstant[],
): (BatchSizeTags | undefined)[] {
  if (tags.every((t) => t === undefined)) return []
  const op = node.opType
  const shapeInput = SHAPE_INPUT[op]
  const decided = tags.some(
    (t, i) => t !== undefined && isParameterInput(op, i) && !(i === shapeInput && leadsWithBatchSize(t)),
  )
  const everyOther = (): BatchSizeTags[] => results.map((r) => filled(r.shape, BATCH_OTHER))
  if (decided) return everyOther()
  // Its values are its `value` attribute's; only its shape follows the batch (see shapedByBatch).
  if (op === 'ConstantOfShape') return []
  const operands = inputs.map((c, i) =>
    c === undefined || isParameterInput(op, i) ? c : (tags[i] ?? filled(c.shape, BATCH_FREE)),
  )
  if (MOVES_ELEMENTS.has(op)) return runHostOp(node, opset, operands).map(dependentOnly)
  const combine = op === 'Cast' ? castCombine(node, inputs[0]) : COMBINE[op]
  // A reduction folds elements together.
  if (combine === undefined) return everyOther()
  const [tagged, values] = [operands, inputs].map((xs) => broadcastOperands(node, opset, xs as HostConstant[]))
  return [dependentOnly(elementwise(tagged!, values!, combine, op))]
}

/** Cast keeps the batch size through integer and float types, but not to booleans nor when it truncates floats. */
function castCombine(node: OnnxNode, input: HostConstant | undefined): Combine {
  const target = castTarget(node)
  const keeps = target === 'float' || (target !== 'bool' && input?.dataType !== 'float')
  return keeps ? ([t]) => t! : freeOrOther
}

/** `combine` over the broadcast elements of `tags` (tag tensors) and of `values`, the tensors they tag. */
function elementwise(
  tags: readonly BatchSizeTags[],
  values: readonly HostConstant[],
  combine: Combine,
  what: string,
): BatchSizeTags {
  const shape = tags.slice(1).reduce((s, x) => broadcastShapes(s, x.shape, what), [...tags[0]!.shape])
  const out = new Array<number>(sizeOf(shape)).fill(BATCH_FREE)
  const elements = values.map(elementsOf)
  const tagsAt = tags.map(() => BATCH_FREE)
  const valuesAt = tags.map(() => 0)
  forEachBroadcast(
    shape,
    tags.map((x) => x.shape),
    (o, at) => {
      for (let k = 0; k < tags.length; k++) {
        tagsAt[k] = tags[k]!.ints![at[k]!]!
        valuesAt[k] = elements[k]![at[k]!]!
      }
      out[o] = combine(tagsAt, valuesAt)
    },
  )
  return tagTensor(shape, out)
}

function tagTensor(shape: readonly number[], ints: number[]): BatchSizeTags {
  return { shape: [...shape], dataType: 'int', ints }
}

/** Every element of `shape` tagged `tag`. */
function filled(shape: readonly number[], tag: number): BatchSizeTags {
  return tagTensor(shape, new Array<number>(sizeOf(shape)).fill(tag))
}

/** `tags`, or undefined when no element depends on the batch size. */
function dependentOnly(tags: BatchSizeTags): BatchSizeTags | undefined {
  return tags.ints!.some((t) => t !== BATCH_FREE) ? tags : undefined
}
