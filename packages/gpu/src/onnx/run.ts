import { throwIfAborted } from '@tessera/core'
import type { AbortOptions } from '@tessera/core'
import { ONNX_NODES_PER_YIELD } from '../constants.js'
import { GpuError } from '../errors.js'
import { planGather } from '../tensor/gather.js'
import type { BackendTensor, BinaryOp, ReduceOp, TensorBackend, UnaryOp } from '../tensor/ops.js'
import { F32_LOWEST, F32_MAX } from '../tensor/scalar.js'
import {
  flattenShape,
  normalizeAxis,
  planConv2d,
  planPool2d,
  planReduce,
  reshapeShape,
  squeezeShape,
  unsqueezeShape,
} from '../tensor/shapes.js'
import type { Conv2dPlan } from '../tensor/shapes.js'
import { ShapeBackend } from '../tensor/shape-backend.js'
import { expandView, sliceView, splitViews, tileView } from '../tensor/strided.js'
import { assertShape, isIntTensor, sizeOf, tensor } from '../tensor/tensor.js'
import type { IntTensor, Tensor } from '../tensor/tensor.js'
import { HOST_ONLY_OPS, runHostOp, shapeValue } from './host-ops.js'
import { assertKeepsItemsApart } from './items.js'
import type { AttributeValue, HostConstant, OnnxModel, OnnxNode } from './model.js'
import {
  broadcastOperandShapes,
  castTarget,
  floatAttr,
  intAttr,
  intsAttr,
  malformedNode,
  reduceParams,
  requiredInts,
  sliceParams,
  splitSizes,
  stringAttr,
  unsupported,
} from './node-params.js'
import { createRunValues } from './values.js'
import type { RunValues, WeightSource } from './values.js'

export type { WeightSource } from './values.js'

/** Options of a model run. */
export interface RunModelOptions extends AbortOptions {
  /**
   * Batch items (indices along axis 0 of every input) to compute; outputs hold just these, in this order.
   * Verifiers recompute challenged items this way; each equals the same item of the full batch bit for bit on
   * one driver, because no kernel's reduction order depends on the batch size. A graph whose item could depend on
   * the others (mixing items along axis 0, summing over the batch axis, reading the batch size through Shape other
   * than to lead a shape: see `items.ts`) is refused with GPU__UNSUPPORTED_OP (context `option: 'items'`): its items
   * cannot be recomputed alone. A one-item batch is its only item: nothing is refused.
   * @default every item
   */
  items?: readonly number[]
}

/**
 * Model inputs by graph input name: a float {@link Tensor} for float32 inputs, an {@link IntTensor} (int64 or int32
 * data) for inputs the graph declares int64 or int32, such as token ids.
 */
export type ModelInputs = Readonly<Record<string, Tensor | IntTensor>>
/** Model outputs by graph output name. */
export type ModelOutputs = Record<string, Tensor>

const BINARY: Record<string, BinaryOp> = { Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div', Pow: 'pow' }
/** Variadic elementwise operators, folded pairwise from the left. */
const VARIADIC: Record<string, BinaryOp> = { Max: 'max', Min: 'min' }
const UNARY: Record<string, UnaryOp> = {
  Relu: 'relu',
  Tanh: 'tanh',
  Sigmoid: 'sigmoid',
  Erf: 'erf',
  Exp: 'exp',
  Sqrt: 'sqrt',
  Neg: 'neg',
  Abs: 'abs',
  HardSwish: 'hardSwish',
}
/** Reductions with a row kernel. */
const REDUCE: Record<string, ReduceOp> = { ReduceSum: 'sum', ReduceMean: 'mean', ReduceMax: 'max' }

/** Checks the supplied inputs against the graph's declared inputs (integer inputs as {@link IntTensor}s). */
export function validateInputs(model: OnnxModel, inputs: ModelInputs): void {
  const declared = new Set(model.inputs.map((v) => v.name))
  for (const name of Object.keys(inputs)) {
    if (!declared.has(name))
      throw new GpuError('GPU__INVALID_MODEL_INPUT', `the model has no input named ${name}`, { name })
  }
  for (const info of model.inputs) {
    const t = inputs[info.name]
    if (t === undefined)
      throw new GpuError('GPU__INVALID_MODEL_INPUT', `input ${info.name} is missing`, { name: info.name })
    const isInt = info.dataType === 'int'
    if (isInt ? !isIntTensor(t) : !(t.data instanceof Float32Array))
      throw new GpuError(
        'GPU__INVALID_MODEL_INPUT',
        `input ${info.name} must hold ${isInt ? 'a BigInt64Array or an Int32Array (an IntTensor)' : 'a Float32Array'}`,
        { name: info.name, dataType: info.dataType },
      )
    assertShape(t.shape, `input ${info.name}`)
    if (t.data.length !== sizeOf(t.shape)) {
      throw new GpuError(
        'GPU__SHAPE_MISMATCH',
        `input ${info.name} holds ${t.data.length} values for shape ${JSON.stringify(t.shape)}`,
        { name: info.name, shape: t.shape },
      )
    }
    if (info.dims !== undefined) {
      const fixedMismatch = info.dims.some((d, i) => typeof d === 'number' && d > 0 && d !== t.shape[i])
      if (info.dims.length !== t.shape.length || fixedMismatch) {
        throw new GpuError(
          'GPU__SHAPE_MISMATCH',
          `input ${info.name} has shape ${JSON.stringify(t.shape)}, the model declares ${JSON.stringify(info.dims)}`,
          {
            name: info.name,
            shape: t.shape,
            declared: info.dims,
          },
        )
      }
    }
  }
}

/**
 * The batch size: the length of axis 0, on which every input must agree (undefined for a graph without inputs).
 *
 * @throws GPU__SHAPE_MISMATCH when an input is a scalar or the inputs disagree
 */
export function batchSizeOf(inputs: ModelInputs): number | undefined {
  let batch: number | undefined
  for (const [name, t] of Object.entries(inputs)) {
    if (t.shape.length === 0)
      throw new GpuError('GPU__SHAPE_MISMATCH', `input ${name} is a scalar and has no batch axis`, { name })
    const b = t.shape[0]!
    if (batch !== undefined && b !== batch)
      throw new GpuError('GPU__SHAPE_MISMATCH', 'inputs disagree on the batch size (axis 0)', {
        name,
        batch: b,
        expected: batch,
      })
    batch = b
  }
  return batch
}

/** The given batch items (axis 0) of every input, in order. */
export function selectItems(inputs: ModelInputs, items: readonly number[]): Record<string, Tensor | IntTensor> {
  const out: Record<string, Tensor | IntTensor> = {}
  const batch = batchSizeOf(inputs)
  if (items.length === 0 || items.some((i) => !Number.isInteger(i) || i < 0 || i >= (batch ?? 0))) {
    throw new GpuError('GPU__INVALID_MODEL_INPUT', `items must be indices in [0, ${batch ?? 0})`, {
      items: [...items.slice(0, 16)],
      batch,
    })
  }
  for (const [name, t] of Object.entries(inputs)) {
    const itemSize = sizeOf(t.shape.slice(1))
    const shape = [items.length, ...t.shape.slice(1)]
    out[name] = isIntTensor(t)
      ? { shape, data: pickItems(t.data, items, itemSize) }
      : tensor(shape, pickItems(t.data, items, itemSize))
  }
  return out
}

/** The runs of `itemSize` elements at `items`, in that order, in a new array of the same type. */
function pickItems<A extends Float32Array | Int32Array | BigInt64Array>(
  data: A,
  items: readonly number[],
  itemSize: number,
): A {
  const out = new (data.constructor as new (length: number) => A)(items.length * itemSize)
  // Each typed array's `set` takes its own kind, which the union's signatures cannot say.
  const target = out as unknown as { set(source: A, offset: number): void }
  items.forEach((item, k) => target.set(data.subarray(item * itemSize, (item + 1) * itemSize) as A, k * itemSize))
  return out
}

/**
 * Runs a model on a backend: validates inputs, optionally selects batch items, executes nodes in topological
 * order (on the host where every input of a node lives there, see `host-ops.ts`; on the backend otherwise), frees
 * each intermediate after its last use, and reads the graph outputs back. With `options.signal` it yields to the
 * event loop every {@link ONNX_NODES_PER_YIELD} nodes, so an abort stops the run between nodes, and lets the backend
 * pace its submissions (`TensorBackend.pace`), so an abort also stops the work sent to the device.
 */
export async function runOnnx<T extends BackendTensor>(
  backend: TensorBackend<T>,
  model: OnnxModel,
  inputs: ModelInputs,
  options: RunModelOptions = {},
  weight?: WeightSource<T>,
): Promise<ModelOutputs> {
  validateInputs(model, inputs)
  const feed = options.items === undefined ? inputs : selectItems(inputs, options.items)
  // One item of a one-item batch is the whole batch: nothing to mix, nor a batch size to differ from.
  const checkItems = options.items !== undefined && !(batchSizeOf(inputs) === 1 && options.items.length === 1)
  const run = createRunValues(backend, model, weight)
  try {
    run.feed(feed)
    await computeNodes(backend, model, run, checkItems, options)
    return await run.outputs(options.signal)
  } catch (e) {
    // Failed or aborted: what is recorded is not sent on as its tensors are released below.
    backend.abandon?.()
    throw e
  } finally {
    run.dispose()
  }
}

/**
 * Checks, before any task runs, that every batch item of `inputs` can be recomputed alone (`RunModelOptions.items`):
 * walks the graph as an items run does, on the shapes alone (no kernel runs; host operators compute their small
 * integer tensors), and throws what such a run would. Creators check an order's model this way before placing it.
 *
 * @throws GPU__UNSUPPORTED_OP (context `{ option: 'items' }`) when a node mixes items or reads the batch size (see
 *   `assertKeepsItemsApart`); the codes of `runOnnx` for inputs or graphs it cannot run
 */
export async function assertItemsRecomputable(
  model: OnnxModel,
  inputs: ModelInputs,
  options: AbortOptions = {},
): Promise<void> {
  validateInputs(model, inputs)
  if ((batchSizeOf(inputs) ?? 0) <= 1) return
  const backend = new ShapeBackend()
  // All the items in order: the run an items run of the whole batch would be, without copying the inputs.
  const run = createRunValues(backend, model)
  run.feed(inputs)
  await computeNodes(backend, model, run, true, options)
}

/**
 * Computes the nodes of `model` in order; with `checkItems`, refuses first a node that would mix batch items (see
 * `assertKeepsItemsApart`), and last a graph output depending on the batch size.
 */
async function computeNodes<T extends BackendTensor>(
  backend: TensorBackend<T>,
  model: OnnxModel,
  run: RunValues<T>,
  checkItems: boolean,
  options: AbortOptions,
): Promise<void> {
  for (let i = 0; i < model.nodes.length; i++) {
    if (options.signal !== undefined && i > 0 && i % ONNX_NODES_PER_YIELD === 0) {
      await nextTurn()
    }
    throwIfAborted(options.signal)
    const node = model.nodes[i]!
    if (checkItems) assertKeepsItemsApart(node, model.opset, run.itemsInputs(node))
    computeNode(backend, node, model.opset, run)
    run.releaseAfter(node, i)
    if (options.signal !== undefined) await backend.pace?.(options.signal)
  }
  if (!checkItems) return
  const sized = model.outputs.find((o) => run.batchSizeTags(o.name) !== undefined)
  if (sized !== undefined)
    throw new GpuError(
      'GPU__UNSUPPORTED_OP',
      `graph output ${sized.name} depends on the batch size (through Shape), which a run of fewer items sees ` +
        'smaller, so options.items cannot recompute items alone; run the whole batch instead',
      { option: 'items', value: sized.name },
    )
}

/** Lets pending events, an abort among them, run: `setImmediate` on Node, a zero timeout in browsers. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve)
    else setTimeout(resolve, 0)
  })
}

/** Computes one node where its inputs live: Constant and Shape give host values, host operators stay on the host. */
function computeNode<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  opset: number,
  run: RunValues<T>,
): void {
  if (node.opType === 'Constant') run.store(node, [constantValue(node)], 'host')
  else if (node.opType === 'Shape') run.store(node, [shapeValue(node, run.shapeOf(node, 0))], 'host')
  else if (run.computesOnHost(node)) run.store(node, runHostOp(node, opset, run.hostInputs(node)), 'host')
  else {
    const result = execute(b, node, opset, run)
    run.store(node, Array.isArray(result) ? result : [result], 'device')
  }
}

/** Executes one node on the backend; returns its first output, or every output (Split). */
function execute<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  opset: number,
  run: RunValues<T>,
): T | T[] {
  const { input, optional, constInts, consts } = run
  const op = node.opType
  const reduction = REDUCE[op]
  if (reduction !== undefined) {
    const x = input(node, 0)
    const { axes, keepDims, noop } = reduceParams(node, opset, run.ints(node))
    return noop ? b.view(x, x.shape) : reduce(b, reduction, x, axes, keepDims, op)
  }
  if (HOST_ONLY_OPS.has(op))
    throw unsupported(node, 'computes on host tensors (integers, booleans, constants) only; an input is on the device')
  const binary = BINARY[op]
  if (binary !== undefined) return elementwise(b, binary, node, opset, input(node, 0), input(node, 1))
  const unary = UNARY[op]
  if (unary !== undefined) return b.unary(unary, input(node, 0))
  const variadic = VARIADIC[op]
  if (variadic !== undefined) {
    const xs = inputsOf(node, input)
    // Refuses inputs of differing shapes before opset 8, where Max and Min do not broadcast.
    broadcastOperandShapes(
      node,
      opset,
      xs.map((x) => x.shape),
    )
    return fold(b, variadic, xs)
  }
  switch (op) {
    case 'MatMul':
      return b.matmul(input(node, 0), input(node, 1))
    case 'Gemm':
      return gemm(b, node, opset, input(node, 0), input(node, 1), optional(node, 2))
    case 'Conv': {
      const x = input(node, 0)
      const w = input(node, 1)
      const autoPad = stringAttr(node, 'auto_pad', 'NOTSET')
      if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
        throw unsupported(node, `auto_pad ${autoPad} is not supported`, { attribute: 'auto_pad' })
      const plan = planConv2d(x.shape, w.shape, {
        strides: intsAttr(node, 'strides'),
        dilations: intsAttr(node, 'dilations'),
        pads: autoPad === 'VALID' ? undefined : intsAttr(node, 'pads'),
        group: intAttr(node, 'group', 1),
        kernelShape: intsAttr(node, 'kernel_shape'),
      })
      const bias = optional(node, 2)
      if (bias !== undefined && (bias.shape.length !== 1 || bias.shape[0] !== plan.oc)) {
        throw new GpuError('GPU__SHAPE_MISMATCH', `Conv bias must have shape [${plan.oc}]`, { op, bias: bias.shape })
      }
      return b.conv2d(x, w, bias, plan)
    }
    case 'MaxPool': {
      const x = input(node, 0)
      if (intAttr(node, 'storage_order', 0) !== 0)
        throw unsupported(node, 'storage_order must be 0', { attribute: 'storage_order' })
      return b.maxPool2d(x, poolPlan(node, x.shape))
    }
    case 'AveragePool': {
      const x = input(node, 0)
      const countIncludePad = intAttr(node, 'count_include_pad', 0)
      if (countIncludePad !== 0 && countIncludePad !== 1)
        throw unsupported(node, `count_include_pad must be 0 or 1, not ${countIncludePad}`, {
          attribute: 'count_include_pad',
        })
      return b.averagePool2d(x, poolPlan(node, x.shape), countIncludePad === 1)
    }
    case 'GlobalAveragePool': {
      const x = input(node, 0)
      if (x.shape.length < 3)
        throw new GpuError('GPU__SHAPE_MISMATCH', 'GlobalAveragePool needs rank >= 3 (N, C, spatial...)', {
          op,
          shape: x.shape,
        })
      return b.globalAveragePool(x)
    }
    case 'LeakyRelu':
      return b.unary('leakyRelu', input(node, 0), floatAttr(node, 'alpha', 0.01))
    case 'HardSigmoid':
      return b.unary('hardSigmoid', input(node, 0), floatAttr(node, 'alpha', 0.2), floatAttr(node, 'beta', 0.5))
    case 'Clip': {
      const x = input(node, 0)
      if (opset < 11) return b.unary('clip', x, floatAttr(node, 'min', F32_LOWEST), floatAttr(node, 'max', F32_MAX))
      return b.unary('clip', x, constFloat(node, 1, consts, F32_LOWEST), constFloat(node, 2, consts, F32_MAX))
    }
    case 'BatchNormalization':
      return batchNorm(b, node, opset, input(node, 0), [1, 2, 3, 4].map((k) => input(node, k)) as [T, T, T, T])
    case 'Concat': {
      const axis = node.attributes.axis
      if (typeof axis !== 'number')
        throw new GpuError('GPU__MALFORMED_MODEL', `Concat (${node.name}) needs an integer attribute axis`, {
          op,
          node: node.name,
          attribute: 'axis',
        })
      return b.concat(inputsOf(node, input), axis)
    }
    case 'Gather':
      return gather(b, node, input(node, 0), run.host(node, 1))
    case 'Slice': {
      const x = input(node, 0)
      return b.copyStrided(x, sliceView(x.shape, sliceParams(node, opset, run.ints(node)), op))
    }
    case 'Split': {
      const x = input(node, 0)
      const axis = intAttr(node, 'axis', 0)
      const dim = x.shape[normalizeAxis(axis, x.shape.length, op)]!
      return splitViews(x.shape, axis, splitSizes(node, opset, dim, run.ints(node)), op).map((v) => b.copyStrided(x, v))
    }
    case 'Expand': {
      const x = input(node, 0)
      return b.copyStrided(x, expandView(x.shape, requiredInts(node, run.ints(node), 1), op))
    }
    case 'Tile': {
      const x = input(node, 0)
      return b.copyStrided(x, tileView(x.shape, requiredInts(node, run.ints(node), 1), op))
    }
    case 'Where':
      return where(b, node, run)
    case 'Cast': {
      const x = input(node, 0)
      if (castTarget(node) !== 'float')
        throw unsupported(node, 'a float tensor on the device cannot become an integer or boolean tensor', {
          attribute: 'to',
        })
      return b.view(x, x.shape)
    }
    case 'Gelu': {
      const approximate = stringAttr(node, 'approximate', 'none')
      if (approximate !== 'none' && approximate !== 'tanh')
        throw unsupported(node, `approximate=${approximate} is not supported`)
      return b.unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', input(node, 0))
    }
    case 'Dropout':
      // In inference Dropout passes its input through, as Identity does.
      assertDropoutInference(node, run)
      return b.view(input(node, 0), input(node, 0).shape)
    case 'Identity': {
      const x = input(node, 0)
      return b.view(x, x.shape)
    }
    case 'Softmax': {
      const x = input(node, 0)
      if (opset >= 13) return b.softmax(x, normalizeAxis(intAttr(node, 'axis', -1), x.shape.length, op))
      // Before opset 13, Softmax flattens to 2-D at `axis` and normalizes each row.
      const axis = normalizeAxis(intAttr(node, 'axis', 1), x.shape.length, op)
      const flat = b.view(x, [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))])
      const y = b.softmax(flat, 1)
      b.release(flat)
      const shaped = b.view(y, x.shape)
      b.release(y)
      return shaped
    }
    case 'LayerNormalization': {
      const x = input(node, 0)
      const axis = normalizeAxis(intAttr(node, 'axis', -1), x.shape.length, op)
      const normalized = x.shape.slice(axis)
      const scale = normalizedParam(b, node, input(node, 1), normalized, x.shape)
      const bias = optional(node, 2)
      const shift = bias === undefined ? undefined : normalizedParam(b, node, bias, normalized, x.shape)
      const y = b.layerNorm(x, scale, shift, axis, floatAttr(node, 'epsilon', 1e-5))
      for (const t of shift === undefined ? [scale] : [scale, shift]) b.release(t)
      return y
    }
    case 'Reshape': {
      const x = input(node, 0)
      return b.view(x, reshapeShape(x.shape, constInts(node, 1), intAttr(node, 'allowzero', 0) === 1))
    }
    case 'Flatten': {
      const x = input(node, 0)
      return b.view(x, flattenShape(x.shape, intAttr(node, 'axis', 1)))
    }
    case 'Transpose': {
      const x = input(node, 0)
      const perm = intsAttr(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i)
      return b.transpose(x, perm)
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const x = input(node, 0)
      const axes =
        opset >= 13 ? ((node.inputs[1] ?? '') === '' ? undefined : constInts(node, 1)) : intsAttr(node, 'axes')
      return b.view(x, op === 'Squeeze' ? squeezeShape(x.shape, axes) : unsqueezeShape(x.shape, axes ?? []))
    }
    default:
      throw unsupported(node, 'operator outside the supported subset')
  }
}

/** A float scalar input that must be a constant (Clip's bounds), or `fallback` when the input is omitted. */
function constFloat(
  node: OnnxNode,
  index: number,
  consts: ReadonlyMap<string, HostConstant>,
  fallback: number,
): number {
  const name = node.inputs[index] ?? ''
  if (name === '') return fallback
  const c = consts.get(name)
  if (c?.dataType !== 'float' || c.floats?.length !== 1)
    throw unsupported(node, `input ${index} must be a constant float scalar`, { input: index })
  return c.floats[0]!
}

/** Every input of a variadic operator (one or more, none omitted). */
function inputsOf<T>(node: OnnxNode, input: (node: OnnxNode, index: number) => T): T[] {
  if (node.inputs.length === 0)
    throw new GpuError('GPU__MALFORMED_MODEL', `${node.opType} (${node.name}) needs one or more inputs`, {
      op: node.opType,
      node: node.name,
    })
  return node.inputs.map((_, k) => input(node, k))
}

/** `op` folded pairwise from the left (ONNX Max, Min); a single input passes through. */
function fold<T extends BackendTensor>(b: TensorBackend<T>, op: BinaryOp, xs: readonly T[]): T {
  const [first, ...rest] = xs as [T, ...T[]]
  if (rest.length === 0) return b.view(first, first.shape)
  let acc = first
  for (const x of rest) {
    const next = b.binary(op, acc, x)
    if (acc !== first) b.release(acc)
    acc = next
  }
  return acc
}

/** Add, Sub, Mul, Div, Pow: B viewed as its opset broadcasts it (see `broadcastOperandShapes`). */
function elementwise<T extends BackendTensor>(
  b: TensorBackend<T>,
  op: BinaryOp,
  node: OnnxNode,
  opset: number,
  x: T,
  y: T,
): T {
  const shape = broadcastOperandShapes(node, opset, [x.shape, y.shape])[1]!
  if (shape === y.shape) return b.binary(op, x, y)
  const view = b.view(y, shape)
  const out = b.binary(op, x, view)
  b.release(view)
  return out
}

/** Dropout's `training_mode` input (from opset 12), which asks for random dropout when true. */
const DROPOUT_TRAINING_MODE = 2

/**
 * Dropout passes its input through in inference only: `training_mode` must be omitted or false, for in training it
 * drops random elements (BatchNormalization likewise refuses training_mode).
 *
 * @throws GPU__UNSUPPORTED_OP (context `{ input: 2 }`) when training_mode is not a boolean known on the host to be false
 */
function assertDropoutInference<T extends BackendTensor>(node: OnnxNode, run: RunValues<T>): void {
  if ((node.inputs[DROPOUT_TRAINING_MODE] ?? '') === '') return
  const mode = run.host(node, DROPOUT_TRAINING_MODE)
  if (mode?.dataType === 'bool' && mode.ints!.every((v) => v === 0)) return
  throw unsupported(node, 'training_mode must be omitted or false: only inference is supported', {
    input: DROPOUT_TRAINING_MODE,
  })
}

/** Plans MaxPool and AveragePool, refusing the attributes the kernels lack. */
function poolPlan(node: OnnxNode, x: readonly number[]): Conv2dPlan {
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET')
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
    throw unsupported(node, `auto_pad ${autoPad} is not supported`, { attribute: 'auto_pad' })
  if (intAttr(node, 'ceil_mode', 0) !== 0) throw unsupported(node, 'ceil_mode must be 0', { attribute: 'ceil_mode' })
  return planPool2d(
    x,
    {
      kernelShape: intsAttr(node, 'kernel_shape'),
      strides: intsAttr(node, 'strides'),
      dilations: intsAttr(node, 'dilations'),
      pads: autoPad === 'VALID' ? undefined : intsAttr(node, 'pads'),
    },
    node.opType,
  )
}

/**
 * Inference BatchNormalization over axis 1 as onnxruntime computes it: per channel, factor = scale / sqrt(var + eps)
 * and shift = B - mean * factor, then y = x * factor + shift, so only two passes touch the whole tensor.
 */
function batchNorm<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  opset: number,
  x: T,
  [scale, bias, mean, variance]: [T, T, T, T],
): T {
  if (intAttr(node, 'training_mode', 0) !== 0)
    throw unsupported(node, 'training_mode must be 0: only inference is supported', { attribute: 'training_mode' })
  if (opset < 9 && intAttr(node, 'spatial', 1) !== 1)
    throw unsupported(node, 'spatial must be 1', { attribute: 'spatial' })
  const c = x.shape[1]
  if (c === undefined)
    throw new GpuError('GPU__SHAPE_MISMATCH', 'BatchNormalization needs rank >= 2 (N, C, ...)', {
      op: node.opType,
      shape: x.shape,
    })
  for (const p of [scale, bias, mean, variance]) {
    if (p.shape.length !== 1 || p.shape[0] !== c)
      throw new GpuError('GPU__SHAPE_MISMATCH', `BatchNormalization scale, B, mean and var need shape [${c}]`, {
        op: node.opType,
        x: x.shape,
        param: p.shape,
      })
  }
  const epsilon = b.fromHost(tensor([], [floatAttr(node, 'epsilon', 1e-5)]))
  const shifted = b.binary('add', variance, epsilon)
  const std = b.unary('sqrt', shifted)
  const factor = b.binary('div', scale, std)
  const meanFactor = b.binary('mul', mean, factor)
  const shift = b.binary('sub', bias, meanFactor)
  const perChannel = [c, ...x.shape.slice(2).map(() => 1)]
  const factorView = b.view(factor, perChannel)
  const shiftView = b.view(shift, perChannel)
  const scaled = b.binary('mul', x, factorView)
  const y = b.binary('add', scaled, shiftView)
  for (const t of [epsilon, shifted, std, factor, meanFactor, shift, factorView, shiftView, scaled]) b.release(t)
  return y
}

/**
 * LayerNormalization's scale or bias as a new tensor of the normalized shape X.shape[axis:]. onnxruntime takes a
 * parameter that broadcasts numpy-style onto X (rank up to X's, its axes lined up with X's last ones, each equal or
 * 1): one without axes before `axis` other than 1s is the same for every row, viewed under the normalized shape when
 * it has as many elements, copied out to it when it stretches.
 *
 * @throws GPU__SHAPE_MISMATCH (context `x`, `param`) when the parameter does not broadcast onto X, as onnxruntime
 *   refuses it (a scale of 12 or [4, 3] for a normalized shape [3, 4], or one of higher rank than X)
 * @throws GPU__UNSUPPORTED_OP (context `x`, `param`) when it varies along an axis before `axis` (a scale [2, 3, 4] for
 *   X [2, 3, 4] and axis 1), which onnxruntime runs and the kernel, taking one scale for every row, does not
 */
function normalizedParam<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  p: T,
  normalized: readonly number[],
  x: readonly number[],
): T {
  const context = { op: node.opType, node: node.name, x, param: p.shape }
  const offset = x.length - p.shape.length
  if (offset < 0 || p.shape.some((d, i) => d !== 1 && d !== x[offset + i]))
    throw new GpuError(
      'GPU__SHAPE_MISMATCH',
      `${node.opType} (${node.name}): scale and bias must broadcast onto X ${JSON.stringify(x)}, ` +
        `not ${JSON.stringify(p.shape)}`,
      context,
    )
  // The parameter's axes that line up with the normalized ones; those before them must all be 1.
  const outer = Math.max(0, p.shape.length - normalized.length)
  if (p.shape.slice(0, outer).some((d) => d !== 1))
    throw unsupported(
      node,
      `a scale or bias ${JSON.stringify(p.shape)} varying before axis ${x.length - normalized.length} is not supported`,
      context,
    )
  const dims = p.shape.slice(outer)
  if (sizeOf(dims) === sizeOf(normalized)) return b.view(p, normalized)
  return b.copyStrided(p, expandView(dims, normalized, node.opType))
}

/**
 * ReduceSum, ReduceMean, ReduceMax: the reduced axes are transposed last (when they are not already) and each row of
 * the kept elements is reduced in an order fixed by the number of reduced elements, whatever the batch size.
 */
function reduce<T extends BackendTensor>(
  b: TensorBackend<T>,
  op: ReduceOp,
  x: T,
  axes: readonly number[],
  keepDims: boolean,
  what: string,
): T {
  const plan = planReduce(x.shape, axes, keepDims, what)
  const moved = plan.perm === undefined ? undefined : b.transpose(x, plan.perm)
  const flat = b.view(moved ?? x, [plan.rows, plan.n])
  const rows = b.reduceRows(op, flat)
  const y = b.view(rows, plan.out)
  for (const t of moved === undefined ? [flat, rows] : [moved, flat, rows]) b.release(t)
  return y
}

/** Gather of a device tensor by host integer indices (uploaded by the backend). */
function gather<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  data: T,
  indices: HostConstant | undefined,
): T {
  if (indices?.dataType !== 'int')
    throw unsupported(node, 'indices must be an integer tensor on the host', { input: 1 })
  return b.gather(data, planGather(data.shape, indices.shape, indices.ints!, intAttr(node, 'axis', 0), node.opType))
}

/** Where with a host boolean condition, uploaded as a 0/1 float mask, choosing between device tensors. */
function where<T extends BackendTensor>(b: TensorBackend<T>, node: OnnxNode, run: RunValues<T>): T {
  const cond = run.host(node, 0)
  if (cond?.dataType !== 'bool')
    throw malformedNode(node, 'the condition must be a boolean tensor (kept on the host)', { input: 0 })
  const mask = run.transient(tensor(cond.shape, Float32Array.from(cond.ints!)))
  return b.where(mask, run.input(node, 1), run.input(node, 2))
}

/** Gemm: alpha A' B' + beta C, where C broadcasts one way onto the product (see {@link assertGemmBias}). */
function gemm<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  opset: number,
  a: T,
  w: T,
  c: T | undefined,
): T {
  if (a.shape.length !== 2 || w.shape.length !== 2)
    throw new GpuError('GPU__SHAPE_MISMATCH', 'Gemm needs 2-D A and B', { op: 'Gemm', a: a.shape, b: w.shape })
  const transA = intAttr(node, 'transA', 0) === 1
  const transB = intAttr(node, 'transB', 0) === 1
  if (c !== undefined) assertGemmBias(node, opset, c.shape, [a.shape[transA ? 1 : 0]!, w.shape[transB ? 0 : 1]!])
  const alpha = floatAttr(node, 'alpha', 1)
  const beta = floatAttr(node, 'beta', 1)
  const at = transA ? b.transpose(a, [1, 0]) : a
  const wt = transB ? b.transpose(w, [1, 0]) : w
  let y = b.matmul(at, wt)
  if (transA) b.release(at)
  if (transB) b.release(wt)
  if (alpha !== 1) {
    const scaled = b.unary('scale', y, alpha)
    b.release(y)
    y = scaled
  }
  if (c !== undefined && beta !== 0) {
    const cc = beta === 1 ? c : b.unary('scale', c, beta)
    const sum = b.binary('add', y, cc)
    if (cc !== c) b.release(cc)
    b.release(y)
    y = sum
  }
  return y
}

/** The opset from which Gemm's C broadcasts without its `broadcast` attribute. */
const GEMM_BROADCAST_OPSET = 7

/**
 * Gemm's C must broadcast onto the product's shape [M, N] without widening it (unidirectionally): of rank 2 or less,
 * each of its axes (aligned from the last) as long as the product's or 1. Before opset 7 C must be [M, N] unless
 * `broadcast` is 1.
 *
 * @throws GPU__SHAPE_MISMATCH otherwise
 */
function assertGemmBias(node: OnnxNode, opset: number, c: readonly number[], out: readonly [number, number]): void {
  const exact = opset < GEMM_BROADCAST_OPSET && intAttr(node, 'broadcast', 0) === 0
  const fits = exact
    ? c.length === 2 && c[0] === out[0] && c[1] === out[1]
    : c.length <= 2 && c.every((d, i) => d === 1 || d === out[out.length - c.length + i])
  if (fits) return
  throw new GpuError(
    'GPU__SHAPE_MISMATCH',
    `Gemm (${node.name}): C of shape ${JSON.stringify(c)} must ` +
      `${exact ? 'be' : 'broadcast one way to'} the product's ${JSON.stringify(out)}` +
      (exact ? ` before opset ${GEMM_BROADCAST_OPSET} without broadcast=1` : ''),
    { op: 'Gemm', node: node.name, c, out },
  )
}

function constantValue(node: OnnxNode): HostConstant {
  const a: Record<string, AttributeValue> = node.attributes
  const v = a.value
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as HostConstant
  if (typeof a.value_float === 'number') return { shape: [], dataType: 'float', floats: Float32Array.of(a.value_float) }
  if (Array.isArray(a.value_floats))
    return { shape: [a.value_floats.length], dataType: 'float', floats: Float32Array.from(a.value_floats as number[]) }
  if (typeof a.value_int === 'number') return { shape: [], dataType: 'int', ints: [a.value_int] }
  if (Array.isArray(a.value_ints))
    return { shape: [a.value_ints.length], dataType: 'int', ints: [...(a.value_ints as number[])] }
  throw unsupported(node, 'only value, value_float(s) and value_int(s) constants are supported')
}
