import { onnx } from '../../src/onnx/proto.js'
import type { OnnxTypes } from '../../src/onnx/proto.js'
import { tensor, type Tensor } from '../../src/index.js'

/** A tagged attribute value: the tag picks the ONNX attribute type. */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { tensor: OnnxTypes.ITensorProto }

/** Element types a test graph declares for its inputs. */
export type ElemType = 'float' | 'int64' | 'int32' | 'bool'

const ELEM_TYPES: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
}

/** An int64 TensorProto (Constant and ConstantOfShape values, initializers); `dims` [] for a scalar. */
export function int64Tensor(dims: number[], values: (number | bigint)[]): OnnxTypes.ITensorProto {
  const raw = BigInt64Array.from(values, (v) => BigInt(v))
  return { dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(raw.buffer) }
}

/** A float TensorProto; `dims` [] for a scalar. */
export function floatTensor(dims: number[], values: number[]): OnnxTypes.ITensorProto {
  return { dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values }
}

/** A bool TensorProto (one byte per value). */
export function boolTensor(dims: number[], values: boolean[]): OnnxTypes.ITensorProto {
  return { dims, dataType: onnx.TensorProto.DataType.BOOL, rawData: Uint8Array.from(values, (v) => (v ? 1 : 0)) }
}

/** Builds ONNX ModelProto bytes with the protobuf definition, for tests. */
export class GraphBuilder {
  readonly #nodes: OnnxTypes.INodeProto[] = []
  readonly #initializers: OnnxTypes.ITensorProto[] = []
  readonly #inputs: OnnxTypes.IValueInfoProto[] = []
  readonly #outputs: OnnxTypes.IValueInfoProto[] = []

  input(name: string, dims: (number | string)[], type: ElemType = 'float'): this {
    this.#inputs.push(valueInfo(name, dims, type))
    return this
  }

  output(name: string, dims: (number | string)[]): this {
    this.#outputs.push(valueInfo(name, dims))
    return this
  }

  weight(name: string, dims: number[], data: Float32Array): this {
    this.#initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    })
    return this
  }

  ints(name: string, values: number[]): this {
    this.#initializers.push({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: values,
    })
    return this
  }

  /** An initializer of any type (see {@link int64Tensor}, {@link floatTensor}, {@link boolTensor}). */
  initializer(name: string, t: OnnxTypes.ITensorProto): this {
    this.#initializers.push({ ...t, name })
    return this
  }

  node(opType: string, input: string[], output: string[], attributes: Record<string, Attr> = {}): this {
    this.#nodes.push({
      opType,
      input,
      output,
      name: `${opType}_${this.#nodes.length}`,
      attribute: Object.entries(attributes).map(([name, a]) => attribute(name, a)),
    })
    return this
  }

  build(opset = 20): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      producerName: 'tessera-tests',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: 'g',
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    }).finish()
  }
}

function valueInfo(name: string, dims: (number | string)[], type: ElemType = 'float'): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

function attribute(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType
  if ('int' in a) return { name, type: T.INT, i: a.int }
  if ('float' in a) return { name, type: T.FLOAT, f: a.float }
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints }
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats }
  if ('tensor' in a) return { name, type: T.TENSOR, t: a.tensor }
  return { name, type: T.STRING, s: new TextEncoder().encode(a.string) }
}

/** Deterministic uniform floats in [-scale, scale) (mulberry32). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale
  }
  return out
}

/** A tensor of `shape` filled with {@link randomFloats}. */
export function randomTensor(shape: number[], seed: number, scale = 1): Tensor {
  return tensor(
    shape,
    randomFloats(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  )
}
