import { GpuError } from '../errors.js'
import type { BackendTensor, TensorBackend } from '../tensor/ops.js'
import { isIntTensor, tensor } from '../tensor/tensor.js'
import type { IntTensor, Tensor } from '../tensor/tensor.js'
import { hostTags, shapedByBatch, shapeTags } from './batch-size.js'
import type { BatchSizeTags } from './batch-size.js'
import { HOST_OPS } from './host-ops.js'
import { hostInput } from './host-tensor.js'
import { outputsBatched } from './items.js'
import type { ItemsInputs } from './items.js'
import type { HostConstant, OnnxModel, OnnxNode } from './model.js'
import { unsupported } from './node-params.js'
import type { IntsInput } from './node-params.js'

/** Supplies an initializer as a backend tensor; the runtime caches weights on the device this way. */
export type WeightSource<T> = (name: string, value: HostConstant) => T

/**
 * The values of one model run. Float tensors live on the device (the backend); integer and boolean tensors, and
 * float constants and what host operators compute, live on the host. Float initializers are weights: they count as
 * device tensors (the engine caches them there), so a host operator never copies a weight. A host float that a
 * device operator reads is uploaded once per run.
 */
export interface RunValues<T extends BackendTensor> {
  /** The graph inputs: float tensors to the device, integer tensors to the host; all of them carry the batch. */
  feed(inputs: Readonly<Record<string, Tensor | IntTensor>>): void
  /** Input `index` of a node as a device tensor, uploading a host float. */
  input(node: OnnxNode, index: number): T
  /** Like `input`, or undefined for an omitted ('') input. */
  optional(node: OnnxNode, index: number): T | undefined
  /** A host integer input's values (a shape, axes): GPU__UNSUPPORTED_OP when it is not one. */
  constInts(node: OnnxNode, index: number): number[]
  /** A node's integer inputs as host operators read them. */
  ints(node: OnnxNode): IntsInput
  /** Input `index` of a node when it lives on the host, else undefined. */
  host(node: OnnxNode, index: number): HostConstant | undefined
  /** Every host value by name (initializers, constants, computed shape data). */
  readonly consts: ReadonlyMap<string, HostConstant>
  /** Uploads a tensor the run needs for a while (a Where mask); released when the run ends. */
  transient(t: Tensor): T
  /** The shape of input `index` of a node, wherever it lives. */
  shapeOf(node: OnnxNode, index: number): readonly number[]
  /** Whether a node computes on the host: a host operator (see `host-ops.ts`) whose every given input lives there. */
  computesOnHost(node: OnnxNode): boolean
  /** The node's inputs for a host operator ('' inputs as undefined). */
  hostInputs(node: OnnxNode): (HostConstant | undefined)[]
  /** What `assertKeepsItemsApart` reads about a node's inputs. */
  itemsInputs(node: OnnxNode): ItemsInputs
  /** How the elements of value `name` depend on the batch size (see `batch-size.ts`); undefined where none does. */
  batchSizeTags(name: string): BatchSizeTags | undefined
  /** Stores a node's results (one per output; fewer when only the first outputs are computed). */
  store(node: OnnxNode, results: readonly (T | HostConstant)[], where: 'device' | 'host'): void
  /** Frees what node `index` read for the last time. */
  releaseAfter(node: OnnxNode, index: number): void
  /** The graph outputs, read back as float tensors; an abort of `signal` stops the read-back. */
  outputs(signal?: AbortSignal): Promise<Record<string, Tensor>>
  /** Frees everything still held. */
  dispose(): void
}

/** The values of one run of `model` on `backend`. */
export function createRunValues<T extends BackendTensor>(
  backend: TensorBackend<T>,
  model: OnnxModel,
  weight?: WeightSource<T>,
): RunValues<T> {
  const device = new Map<string, T>()
  const consts = new Map<string, HostConstant>(model.initializers)
  const uploads = new Map<string, T>()
  const held: T[] = []
  const batched = new Set<string>()
  /** The host values some element of which depends on the batch size (see `batch-size.ts`). */
  const batchSized = new Map<string, BatchSizeTags>()
  const lastUse = new Map<string, number>()
  model.nodes.forEach((n, i) => n.inputs.forEach((v) => lastUse.set(v, i)))
  const graphOutputs = new Set(model.outputs.map((o) => o.name))

  const nameOf = (node: OnnxNode, index: number): string => {
    const name = node.inputs[index]
    if (name === undefined || name === '')
      throw new GpuError('GPU__MALFORMED_MODEL', `${node.opType} (${node.name}) lacks input ${index}`, {
        op: node.opType,
        node: node.name,
      })
    return name
  }
  const isWeight = (name: string, c: HostConstant): boolean => c.dataType === 'float' && model.initializers.has(name)
  const onHost = (name: string): boolean => {
    const c = consts.get(name)
    return c !== undefined && !isWeight(name, c)
  }
  const upload = (name: string, c: HostConstant, node: OnnxNode): T => {
    if (c.dataType !== 'float' || c.floats === undefined) {
      throw new GpuError(
        'GPU__UNSUPPORTED_OP',
        `value ${name} is an ${c.dataType === 'bool' ? 'boolean' : 'integer'} tensor, which ${node.opType} cannot ` +
          'read: integer and boolean tensors stay on the host and only feed shapes, indices, masks and host operators',
        { op: node.opType, node: node.name, value: name },
      )
    }
    if (weight !== undefined && model.initializers.has(name)) return weight(name, c)
    let t = uploads.get(name)
    if (t === undefined) {
      t = backend.fromHost(tensor(c.shape, c.floats))
      uploads.set(name, t)
    }
    return t
  }
  const input = (node: OnnxNode, index: number): T => {
    const name = nameOf(node, index)
    const v = device.get(name)
    if (v !== undefined) return v
    const c = consts.get(name)
    if (c !== undefined) return upload(name, c, node)
    throw new GpuError('GPU__MALFORMED_MODEL', `value ${name} is not available`, { value: name })
  }
  const ints =
    (node: OnnxNode): IntsInput =>
    (index) => {
      const name = node.inputs[index] ?? ''
      if (name === '') return undefined
      const c = consts.get(name)
      if (c?.dataType !== 'int' || c.ints === undefined)
        throw unsupported(node, `input ${index} must be a constant integer tensor`, { input: index })
      return c.ints
    }
  const shapeOf = (node: OnnxNode, index: number): readonly number[] => {
    const name = nameOf(node, index)
    const v = device.get(name) ?? consts.get(name)
    if (v === undefined) throw new GpuError('GPU__MALFORMED_MODEL', `value ${name} is not available`, { value: name })
    return v.shape
  }

  const computesOnHost = (node: OnnxNode): boolean =>
    HOST_OPS.has(node.opType) && node.inputs.every((name) => name === '' || onHost(name))
  const hostInputs = (node: OnnxNode): (HostConstant | undefined)[] =>
    node.inputs.map((name) => (name === '' ? undefined : consts.get(name)))
  /** How the host results of a node depend on the batch size, from how its inputs do. */
  const resultTags = (
    node: OnnxNode,
    results: readonly HostConstant[],
    tagsOf: (index: number) => BatchSizeTags | undefined,
  ): (BatchSizeTags | undefined)[] => {
    if (node.opType === 'Shape') {
      return [shapeTags(node, shapeOf(node, 0).length, batched.has(node.inputs[0] ?? ''))]
    }
    return hostTags(
      node,
      model.opset,
      hostInputs(node),
      node.inputs.map((_, i) => tagsOf(i)),
      results,
    )
  }

  return {
    consts,
    feed(inputs) {
      for (const [name, t] of Object.entries(inputs)) {
        if (isIntTensor(t)) consts.set(name, hostInput(name, t))
        else device.set(name, backend.fromHost(t))
        batched.add(name)
      }
    },
    input,
    optional: (node, index) => ((node.inputs[index] ?? '') === '' ? undefined : input(node, index)),
    constInts: (node, index) => {
      const v = ints(node)(index)
      if (v === undefined) throw unsupported(node, `input ${index} must be a constant integer tensor`, { input: index })
      return [...v]
    },
    ints,
    host: (node, index) => {
      const name = node.inputs[index] ?? ''
      return onHost(name) ? consts.get(name) : undefined
    },
    transient(t) {
      const uploaded = backend.fromHost(t)
      held.push(uploaded)
      return uploaded
    },
    shapeOf,
    computesOnHost,
    hostInputs,
    itemsInputs: (node) => ({
      batched: (index) => batched.has(node.inputs[index] ?? ''),
      shape: (index) => shapeOf(node, index),
      ints: ints(node),
      batchSize: (index) => batchSized.get(node.inputs[index] ?? ''),
      onHost: computesOnHost(node),
    }),
    batchSizeTags: (name) => batchSized.get(name),
    store(node, results, where) {
      const first = node.outputs[0]
      if (first === undefined || first === '')
        throw new GpuError('GPU__MALFORMED_MODEL', `node ${node.name} has no output`, { node: node.name })
      const tagsOf = (index: number): BatchSizeTags | undefined => batchSized.get(node.inputs[index] ?? '')
      const carriesBatch = outputsBatched(
        node,
        node.inputs.some((name) => batched.has(name)) || shapedByBatch(node, tagsOf),
      )
      const tags = where === 'device' ? [] : resultTags(node, results as HostConstant[], tagsOf)
      node.outputs.forEach((name, k) => {
        if (name === '') return
        const result = results[k]
        if (result === undefined) {
          if (lastUse.has(name) || graphOutputs.has(name))
            throw unsupported(node, `only the first output is computed, but ${name} is used`)
          return
        }
        if (where === 'device') device.set(name, result as T)
        else consts.set(name, result as HostConstant)
        if (carriesBatch) batched.add(name)
        const t = tags[k]
        if (t !== undefined) batchSized.set(name, t)
      })
    },
    releaseAfter(node, index) {
      for (const name of new Set(node.inputs)) {
        if (lastUse.get(name) !== index || graphOutputs.has(name)) continue
        for (const map of [device, uploads]) {
          const v = map.get(name)
          if (v !== undefined) {
            backend.release(v)
            map.delete(name)
          }
        }
        if (!model.initializers.has(name)) consts.delete(name)
        batchSized.delete(name)
      }
    },
    async outputs(signal) {
      const result: Record<string, Tensor> = {}
      for (const o of model.outputs) {
        const v = device.get(o.name)
        if (v !== undefined) result[o.name] = await backend.toHost(v, signal)
        else {
          const c = consts.get(o.name)
          if (c?.floats === undefined)
            throw new GpuError('GPU__MALFORMED_MODEL', `graph output ${o.name} is not a float tensor`, {
              value: o.name,
            })
          result[o.name] = tensor(c.shape, c.floats.slice())
        }
      }
      return result
    },
    dispose() {
      for (const v of device.values()) backend.release(v)
      for (const v of uploads.values()) backend.release(v)
      for (const v of held) backend.release(v)
    },
  }
}
