import { AbortError } from '@tessera/core'
import type { AbortOptions } from '@tessera/core'
import { GpuError } from '../errors.js'
import type { BackendTensor, BinaryOp, TensorBackend, UnaryOp } from '../tensor/ops.js'
import { F32_LOWEST, F32_MAX } from '../tensor/scalar.js'
import { normalizeAxis, planConv2d, planPool2d, reshapeShape } from '../tensor/shapes.js'
import type { Conv2dPlan } from '../tensor/shapes.js'
import { assertShape, sizeOf, tensor } from '../tensor/tensor.js'
import type { Tensor } from '../tensor/tensor.js'
import type { AttributeValue, HostConstant, OnnxModel, OnnxNode } from './model.js'

/** Options of a model run. */
export interface RunModelOptions extends AbortOptions {
  /**
   * Batch items (indices along axis 0 of every input) to compute; outputs hold just these, in this order.
   * Verifiers recompute challenged items this way; each equals the same item of the full batch bit for bit on
   * one driver, because no kernel's reduction order depends on the batch size.
   * @default every item
   */
  items?: readonly number[]
}

/** Model inputs by graph input name. */
export type ModelInputs = Readonly<Record<string, Tensor>>
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

function unsupported(node: OnnxNode, reason: string, context: Record<string, unknown> = {}): GpuError {
  return new GpuError('GPU__UNSUPPORTED_OP', `${node.opType} (${node.name}): ${reason}`, {
    op: node.opType,
    node: node.name,
    ...context,
  })
}

function intAttr(node: OnnxNode, name: string, fallback: number): number {
  const v = node.attributes[name]
  if (v === undefined) return fallback
  if (typeof v !== 'number') throw unsupported(node, `attribute ${name} must be a number`)
  return v
}

function intsAttr(node: OnnxNode, name: string): readonly number[] | undefined {
  const v = node.attributes[name]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw unsupported(node, `attribute ${name} must be a list of integers`)
  return v as readonly number[]
}

function stringAttr(node: OnnxNode, name: string, fallback: string): string {
  const v = node.attributes[name]
  return typeof v === 'string' ? v : fallback
}

/** Checks the supplied inputs against the graph's declared inputs. */
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
    if (!(t.data instanceof Float32Array))
      throw new GpuError('GPU__INVALID_MODEL_INPUT', `input ${info.name} must hold a Float32Array`, { name: info.name })
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

/** The given batch items (axis 0) of every input, in order. */
export function selectItems(inputs: ModelInputs, items: readonly number[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {}
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
  if (items.length === 0 || items.some((i) => !Number.isInteger(i) || i < 0 || i >= (batch ?? 0))) {
    throw new GpuError('GPU__INVALID_MODEL_INPUT', `items must be indices in [0, ${batch ?? 0})`, {
      items: [...items.slice(0, 16)],
      batch,
    })
  }
  for (const [name, t] of Object.entries(inputs)) {
    const itemSize = sizeOf(t.shape.slice(1))
    const data = new Float32Array(items.length * itemSize)
    items.forEach((item, k) => data.set(t.data.subarray(item * itemSize, (item + 1) * itemSize), k * itemSize))
    out[name] = tensor([items.length, ...t.shape.slice(1)], data)
  }
  return out
}

/** Supplies an initializer as a backend tensor; the runtime caches weights on the device this way. */
export type WeightSource<T> = (name: string, value: HostConstant) => T

/**
 * Runs a model on a backend: validates inputs, optionally selects batch items, executes nodes in topological
 * order, frees each intermediate after its last use, and reads the graph outputs back.
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
  const values = new Map<string, T>()
  const consts = new Map<string, HostConstant>(model.initializers)
  const lastUse = new Map<string, number>()
  model.nodes.forEach((n, i) => n.inputs.forEach((v) => lastUse.set(v, i)))
  const outputs = new Set(model.outputs.map((o) => o.name))
  const held: T[] = []

  const upload = (name: string, c: HostConstant, node?: OnnxNode): T => {
    if (c.dataType !== 'float' || c.floats === undefined) {
      throw new GpuError(
        'GPU__UNSUPPORTED_OP',
        `value ${name} is an integer tensor; the runtime computes in float32 only`,
        { op: node?.opType ?? 'input', value: name },
      )
    }
    if (weight !== undefined && model.initializers.has(name)) return weight(name, c)
    const t = backend.fromHost(tensor(c.shape, c.floats))
    held.push(t)
    return t
  }
  const input = (node: OnnxNode, index: number): T => {
    const name = node.inputs[index]
    if (name === undefined || name === '')
      throw new GpuError('GPU__MALFORMED_MODEL', `${node.opType} (${node.name}) lacks input ${index}`, {
        op: node.opType,
        node: node.name,
      })
    const v = values.get(name)
    if (v !== undefined) return v
    const c = consts.get(name)
    if (c !== undefined) return upload(name, c, node)
    throw new GpuError('GPU__MALFORMED_MODEL', `value ${name} is not available`, { value: name })
  }
  const optional = (node: OnnxNode, index: number): T | undefined =>
    (node.inputs[index] ?? '') === '' ? undefined : input(node, index)
  const constInts = (node: OnnxNode, index: number): number[] => {
    const c = consts.get(node.inputs[index] ?? '')
    if (c?.dataType !== 'int' || c.ints === undefined)
      throw unsupported(node, `input ${index} must be a constant integer tensor`)
    return [...c.ints]
  }

  try {
    for (const [name, t] of Object.entries(feed)) values.set(name, backend.fromHost(t))
    for (let i = 0; i < model.nodes.length; i++) {
      if (options.signal?.aborted === true) throw new AbortError()
      const node = model.nodes[i]!
      const result = execute(backend, node, model.opset, input, optional, constInts, consts)
      if (result !== undefined) {
        const out = node.outputs[0]
        if (out === undefined || out === '')
          throw new GpuError('GPU__MALFORMED_MODEL', `node ${node.name} has no output`, { node: node.name })
        const extra = node.outputs.slice(1).find((o) => o !== '' && (lastUse.has(o) || outputs.has(o)))
        if (extra !== undefined) throw unsupported(node, `only the first output is computed, but ${extra} is used`)
        values.set(out, result)
      }
      for (const name of new Set(node.inputs)) {
        if (lastUse.get(name) === i && !outputs.has(name)) {
          const v = values.get(name)
          if (v !== undefined) {
            backend.release(v)
            values.delete(name)
          }
        }
      }
    }
    const result: ModelOutputs = {}
    for (const o of model.outputs) {
      const v = values.get(o.name)
      if (v !== undefined) result[o.name] = await backend.toHost(v)
      else {
        const c = consts.get(o.name)
        if (c?.floats === undefined)
          throw new GpuError('GPU__MALFORMED_MODEL', `graph output ${o.name} is not a float tensor`, { value: o.name })
        result[o.name] = tensor(c.shape, c.floats.slice())
      }
    }
    return result
  } finally {
    for (const v of values.values()) backend.release(v)
    for (const v of held) backend.release(v)
  }
}

/** Executes one node; returns its first output, or undefined when it only defined a constant. */
function execute<T extends BackendTensor>(
  b: TensorBackend<T>,
  node: OnnxNode,
  opset: number,
  input: (node: OnnxNode, index: number) => T,
  optional: (node: OnnxNode, index: number) => T | undefined,
  constInts: (node: OnnxNode, index: number) => number[],
  consts: Map<string, HostConstant>,
): T | undefined {
  const op = node.opType
  const binary = BINARY[op]
  if (binary !== undefined) return b.binary(binary, input(node, 0), input(node, 1))
  const unary = UNARY[op]
  if (unary !== undefined) return b.unary(unary, input(node, 0))
  const variadic = VARIADIC[op]
  if (variadic !== undefined) return fold(b, variadic, inputsOf(node, input))
  switch (op) {
    case 'MatMul':
      return b.matmul(input(node, 0), input(node, 1))
    case 'Gemm':
      return gemm(b, node, input(node, 0), input(node, 1), optional(node, 2))
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
      const plan = poolPlan(node, x.shape)
      // As onnxruntime refuses: a window wholly in the padding would have no elements to average.
      if (Math.max(plan.pads[0], plan.pads[2]) >= plan.kh || Math.max(plan.pads[1], plan.pads[3]) >= plan.kw)
        throw new GpuError('GPU__SHAPE_MISMATCH', 'AveragePool pads must be smaller than kernel_shape', {
          op,
          pads: plan.pads,
          kernelShape: [plan.kh, plan.kw],
        })
      return b.averagePool2d(x, plan, countIncludePad === 1)
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
    case 'ReduceMean': {
      const x = input(node, 0)
      if (opset >= 18 && node.attributes.axes !== undefined)
        throw new GpuError('GPU__MALFORMED_MODEL', `ReduceMean (${node.name}) takes axes as an input from opset 18`, {
          op,
          node: node.name,
          attribute: 'axes',
        })
      const axes =
        opset >= 18 ? ((node.inputs[1] ?? '') === '' ? [] : constInts(node, 1)) : (intsAttr(node, 'axes') ?? [])
      if (axes.length === 0 && intAttr(node, 'noop_with_empty_axes', 0) !== 0) return b.view(x, x.shape)
      return reduceMean(b, x, axes.length === 0 ? x.shape.map((_, i) => i) : axes, intAttr(node, 'keepdims', 1) !== 0)
    }
    case 'Gelu': {
      const approximate = stringAttr(node, 'approximate', 'none')
      if (approximate !== 'none' && approximate !== 'tanh')
        throw unsupported(node, `approximate=${approximate} is not supported`)
      return b.unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', input(node, 0))
    }
    case 'Identity':
    case 'Dropout': {
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
      const scale = input(node, 1)
      const bias = optional(node, 2)
      const n = sizeOf(x.shape.slice(axis))
      for (const p of bias === undefined ? [scale] : [scale, bias]) {
        if (sizeOf(p.shape) !== n)
          throw new GpuError('GPU__SHAPE_MISMATCH', `LayerNormalization scale and bias need ${n} elements`, {
            op,
            x: x.shape,
            param: p.shape,
          })
      }
      return b.layerNorm(x, scale, bias, axis, floatAttr(node, 'epsilon', 1e-5))
    }
    case 'Reshape': {
      const x = input(node, 0)
      return b.view(x, reshapeShape(x.shape, constInts(node, 1), intAttr(node, 'allowzero', 0) === 1))
    }
    case 'Flatten': {
      const x = input(node, 0)
      const axis = intAttr(node, 'axis', 1)
      const a = axis < 0 ? axis + x.shape.length : axis
      if (a < 0 || a > x.shape.length)
        throw new GpuError('GPU__SHAPE_MISMATCH', `Flatten axis ${axis} is out of range`, { op, axis })
      return b.view(x, [sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))])
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
    case 'Constant': {
      consts.set(node.outputs[0] ?? '', constantValue(node))
      return undefined
    }
    default:
      throw unsupported(node, 'operator outside the supported subset')
  }
}

function floatAttr(node: OnnxNode, name: string, fallback: number): number {
  const v = node.attributes[name]
  if (v === undefined) return fallback
  if (typeof v !== 'number') throw unsupported(node, `attribute ${name} must be a number`)
  return v
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
 * ReduceMean: the reduced axes are transposed last (when they are not already) and each row of the kept elements
 * is averaged in ascending order of the reduced elements, whatever the batch size.
 */
function reduceMean<T extends BackendTensor>(b: TensorBackend<T>, x: T, axes: readonly number[], keepDims: boolean): T {
  const rank = x.shape.length
  const reduced = new Set(axes.map((a) => normalizeAxis(a, rank, 'ReduceMean')))
  if (reduced.size !== axes.length)
    throw new GpuError('GPU__SHAPE_MISMATCH', `ReduceMean axes ${JSON.stringify(axes)} name an axis twice`, {
      op: 'ReduceMean',
      axes,
    })
  const all = x.shape.map((_, i) => i)
  const kept = all.filter((i) => !reduced.has(i))
  const dropped = all.filter((i) => reduced.has(i))
  const perm = [...kept, ...dropped]
  const moved = perm.every((p, i) => p === i) ? undefined : b.transpose(x, perm)
  const flat = b.view(moved ?? x, [sizeOf(kept.map((i) => x.shape[i]!)), sizeOf(dropped.map((i) => x.shape[i]!))])
  const means = b.meanRows(flat)
  const y = b.view(means, keepDims ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d)) : kept.map((i) => x.shape[i]!))
  for (const t of moved === undefined ? [flat, means] : [moved, flat, means]) b.release(t)
  return y
}

function gemm<T extends BackendTensor>(b: TensorBackend<T>, node: OnnxNode, a: T, w: T, c: T | undefined): T {
  if (a.shape.length !== 2 || w.shape.length !== 2)
    throw new GpuError('GPU__SHAPE_MISMATCH', 'Gemm needs 2-D A and B', { op: 'Gemm', a: a.shape, b: w.shape })
  const transA = intAttr(node, 'transA', 0) === 1
  const transB = intAttr(node, 'transB', 0) === 1
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

function squeezeShape(shape: readonly number[], axes: readonly number[] | undefined): number[] {
  if (axes === undefined) return shape.filter((d) => d !== 1)
  const drop = new Set(axes.map((a) => normalizeAxis(a, shape.length, 'Squeeze')))
  for (const a of drop)
    if (shape[a] !== 1)
      throw new GpuError('GPU__SHAPE_MISMATCH', `Squeeze axis ${a} has size ${shape[a]}, not 1`, {
        op: 'Squeeze',
        shape,
      })
  return shape.filter((_, i) => !drop.has(i))
}

function unsqueezeShape(shape: readonly number[], axes: readonly number[]): number[] {
  const rank = shape.length + axes.length
  const add = new Set(axes.map((a) => normalizeAxis(a, rank, 'Unsqueeze')))
  const out: number[] = []
  let j = 0
  for (let i = 0; i < rank; i++) out.push(add.has(i) ? 1 : shape[j++]!)
  return out
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
