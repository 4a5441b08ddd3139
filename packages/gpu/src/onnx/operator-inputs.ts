import type { OnnxNode } from './model.js'
import { malformedNode, unsupported } from './node-params.js'

/**
 * The inputs each operator the runtime implements takes, version by version, as the ONNX operator documents define
 * them. A node with more or fewer inputs than its version allows is not that operator: read as another version, it
 * would compute what the model does not say (ReduceMean-13 or Squeeze-11 given axes as an input, which those versions
 * do not take, reduced or squeezed every axis). Such a node is refused when the model loads.
 */

/** The inputs of an operator from opset `since` on, until the next version's. */
interface InputsSince {
  readonly since: number
  readonly min: number
  /** `Infinity` for a variadic operator. */
  readonly max: number
  /** Why the runtime does not run this version, where it reads the inputs differently. */
  readonly unsupported?: string
}

/** One version from opset `since` on, taking exactly `count` inputs. */
const fixed = (count: number, since = 1): readonly InputsSince[] => [{ since, min: count, max: count }]
const UNARY = fixed(1)
const BINARY = fixed(2)
const VARIADIC: readonly InputsSince[] = [{ since: 1, min: 1, max: Infinity }]
/** Operators whose axes (or other integers) move from an attribute to an optional input at `since`. */
const optionalInputFrom = (since: number): readonly InputsSince[] => [
  { since: 1, min: 1, max: 1 },
  { since, min: 1, max: 2 },
]

/** Every operator the runtime implements (ONNX default domain), with its inputs by version, oldest first. */
export const OPERATOR_INPUTS: Readonly<Record<string, readonly InputsSince[]>> = {
  MatMul: BINARY,
  Gemm: [
    { since: 1, min: 3, max: 3 },
    { since: 11, min: 2, max: 3 },
  ],
  Conv: [{ since: 1, min: 2, max: 3 }],
  Add: BINARY,
  Sub: BINARY,
  Mul: BINARY,
  Div: BINARY,
  Relu: UNARY,
  LeakyRelu: UNARY,
  Gelu: fixed(1, 20),
  Tanh: UNARY,
  Sigmoid: UNARY,
  Erf: fixed(1, 9),
  Exp: UNARY,
  Sqrt: UNARY,
  Neg: UNARY,
  Abs: UNARY,
  Identity: UNARY,
  Dropout: [
    { since: 1, min: 1, max: 1 },
    { since: 12, min: 1, max: 3 },
  ],
  Softmax: UNARY,
  LayerNormalization: [{ since: 17, min: 2, max: 3 }],
  Reshape: [
    { since: 1, min: 1, max: 1, unsupported: 'takes its shape as an attribute before opset 5, which is not read' },
    { since: 5, min: 2, max: 2 },
  ],
  Transpose: UNARY,
  Flatten: UNARY,
  Squeeze: optionalInputFrom(13),
  Unsqueeze: [
    { since: 1, min: 1, max: 1 },
    { since: 13, min: 2, max: 2 },
  ],
  MaxPool: UNARY,
  GlobalAveragePool: UNARY,
  Constant: fixed(0),
  Clip: [
    { since: 1, min: 1, max: 1 },
    { since: 11, min: 1, max: 3 },
  ],
  HardSigmoid: UNARY,
  HardSwish: fixed(1, 14),
  Max: VARIADIC,
  Min: VARIADIC,
  Pow: BINARY,
  BatchNormalization: fixed(5),
  AveragePool: UNARY,
  Concat: VARIADIC,
  ReduceMean: optionalInputFrom(18),
  Shape: UNARY,
  ConstantOfShape: fixed(1, 9),
  Cast: UNARY,
  Range: fixed(3, 11),
  Equal: BINARY,
  Less: BINARY,
  Greater: BINARY,
  Not: UNARY,
  Where: fixed(3, 9),
  Expand: fixed(2, 8),
  Gather: BINARY,
  Slice: [
    { since: 1, min: 1, max: 1 },
    { since: 10, min: 3, max: 5 },
  ],
  // Split-1 takes its sizes as an input or an attribute, Split-2 to 12 as an attribute, Split-13 on as an input.
  Split: [
    { since: 1, min: 1, max: 2 },
    { since: 2, min: 1, max: 1 },
    { since: 13, min: 1, max: 2 },
  ],
  ReduceSum: optionalInputFrom(13),
  ReduceMax: optionalInputFrom(18),
  Tile: [
    { since: 1, min: 3, max: 3, unsupported: 'takes tiles and axis inputs before opset 6, which are not read' },
    { since: 6, min: 2, max: 2 },
  ],
}

/** The opsets an attribute exists in: from `since` (the operator's first version when absent) until before `until`. */
interface AttributeOpsets {
  readonly since?: number
  readonly until?: number
}

const LEGACY_BROADCAST: Readonly<Record<string, AttributeOpsets>> = { broadcast: { until: 7 }, axis: { until: 7 } }
const REDUCE_FROM_18: Readonly<Record<string, AttributeOpsets>> = {
  axes: { until: 18 },
  noop_with_empty_axes: { since: 18 },
}

/**
 * The attributes the runtime reads that some versions of their operator do not define. A node that carries one where
 * its version lacks it is not that version (ReduceMean-13 with noop_with_empty_axes reduces every axis; Shape-13 with
 * start returns the whole shape): read anyway, it would compute what the model does not say, so the model is refused,
 * as the ONNX checker and onnxruntime refuse it.
 */
export const ATTRIBUTE_OPSETS: Readonly<Record<string, Readonly<Record<string, AttributeOpsets>>>> = {
  Add: LEGACY_BROADCAST,
  Sub: LEGACY_BROADCAST,
  Mul: LEGACY_BROADCAST,
  Div: LEGACY_BROADCAST,
  Pow: LEGACY_BROADCAST,
  Equal: LEGACY_BROADCAST,
  Less: LEGACY_BROADCAST,
  Greater: LEGACY_BROADCAST,
  Gemm: { broadcast: { until: 7 } },
  ReduceMean: REDUCE_FROM_18,
  ReduceMax: REDUCE_FROM_18,
  ReduceSum: { axes: { until: 13 }, noop_with_empty_axes: { since: 13 } },
  Shape: { start: { since: 15 }, end: { since: 15 } },
  Reshape: { allowzero: { since: 14 } },
  Split: { split: { until: 13 }, num_outputs: { since: 18 } },
  Squeeze: { axes: { until: 13 } },
  Unsqueeze: { axes: { until: 13 } },
  Slice: { starts: { until: 10 }, ends: { until: 10 }, axes: { until: 10 } },
  Clip: { min: { until: 11 }, max: { until: 11 } },
  BatchNormalization: { spatial: { until: 9 }, training_mode: { since: 14 } },
  MaxPool: { storage_order: { since: 8 }, ceil_mode: { since: 10 }, dilations: { since: 10 } },
  AveragePool: { count_include_pad: { since: 7 }, ceil_mode: { since: 10 }, dilations: { since: 19 } },
}

/**
 * Checks a node of a supported operator against the version of it that the model's opset holds.
 *
 * @throws GPU__MALFORMED_MODEL (context `{ opset }`) when the opset predates the operator, when the node has fewer
 *   or more inputs than that version takes (omitted '' inputs count, as the ONNX checker counts them; context
 *   `inputs`, `min`, `max`), when it omits a required input (context `input`), or when it carries an attribute that
 *   version does not define (context `attribute`, `since` or `until`; see {@link ATTRIBUTE_OPSETS})
 * @throws GPU__UNSUPPORTED_OP (context `{ opset }`) for a version whose inputs the runtime does not read (Reshape
 *   before opset 5, Tile before opset 6)
 */
export function assertOperatorInputs(node: OnnxNode, opset: number): void {
  const versions = OPERATOR_INPUTS[node.opType] ?? []
  const version = versions.findLast((v) => v.since <= opset)
  if (version === undefined)
    throw malformedNode(node, `is not in opset ${opset}: ONNX defines it from opset ${versions[0]?.since}`, { opset })
  if (version.unsupported !== undefined) throw unsupported(node, version.unsupported, { opset })
  const count = node.inputs.length
  if (count < version.min || count > version.max) {
    const range = version.min === version.max ? `${version.min}` : `${version.min} to ${version.max}`
    throw malformedNode(node, `takes ${range} inputs in opset ${opset}, not ${count}`, {
      opset,
      inputs: count,
      min: version.min,
      max: version.max,
    })
  }
  const omitted = node.inputs.slice(0, version.min).indexOf('')
  if (omitted >= 0)
    throw malformedNode(node, `omits input ${omitted}, which opset ${opset} requires`, { input: omitted })
  assertAttributesInOpset(node, opset)
}

/**
 * @throws GPU__MALFORMED_MODEL (context `{ attribute, opset }`) when the node carries an attribute that its version
 *   in the model's opset does not define (see {@link ATTRIBUTE_OPSETS})
 */
function assertAttributesInOpset(node: OnnxNode, opset: number): void {
  const opsets = ATTRIBUTE_OPSETS[node.opType] ?? {}
  for (const attribute of Object.keys(node.attributes)) {
    const { since, until } = opsets[attribute] ?? {}
    const defined =
      since !== undefined && opset < since
        ? `ONNX defines from opset ${since}`
        : until !== undefined && opset >= until
          ? `ONNX removed at opset ${until}`
          : undefined
    if (defined !== undefined) {
      throw malformedNode(node, `has attribute ${attribute}, which ${defined}, not in opset ${opset}`, {
        attribute,
        opset,
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      })
    }
  }
}
