import protobuf from 'protobufjs/minimal.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  assertModelWithinBounds,
  DEFAULT_MODEL_BOUNDS,
  isGpuError,
  loadOnnxModel,
  MAX_HOST_TENSOR_ELEMENTS,
  MAX_MODEL_LISTED_INTEGERS,
} from '../src/index.js'
import type { ModelBounds } from '../src/index.js'
import { onnx } from '../src/onnx/proto.js'
import type { OnnxTypes } from '../src/onnx/proto.js'
import { boolTensor, GraphBuilder } from './helpers/onnx-builder.js'

/** The error `f` throws (undefined when it throws nothing). */
function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  return undefined
}

/** Expects `f` to throw a GpuError with `code` whose context names the bound `what`. */
function expectRefused(f: () => unknown, code: string, what?: keyof ModelBounds): void {
  const e = thrown(f)
  expect(isGpuError(e) ? e.code : e).toBe(code)
  if (what !== undefined) expect((e as { context: { what: string } }).context.what).toBe(what)
}

/** A one-node model (y = Identity(x)) whose graph also holds `graph`'s fields. */
function model(graph: OnnxTypes.IGraphProto = {}): OnnxTypes.IModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      ...graph,
    },
  }
}

const encode = (m: OnnxTypes.IModelProto): Uint8Array => onnx.ModelProto.encode(m).finish()

/** `message` with a length-delimited field appended, as raw wire bytes. */
function withField(message: Uint8Array, field: number, value: Uint8Array, wireType = 2): Uint8Array {
  const w = protobuf.Writer.create()
  w.uint32((field << 3) | wireType)
  if (wireType === 2) w.bytes(value)
  else w.uint32(value.length)
  const tail = w.finish()
  const out = new Uint8Array(message.length + tail.length)
  out.set(message)
  out.set(tail, message.length)
  return out
}

/** A model whose graph holds `tensor` (raw wire bytes of a TensorProto) as an initializer. */
function modelWithTensorBytes(tensor: Uint8Array): Uint8Array {
  const { graph, ...rest } = model()
  const graphBytes = withField(onnx.GraphProto.encode(graph!).finish(), 5, tensor)
  return withField(encode(rest), 7, graphBytes)
}

describe('ONNX model bounds', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('should refuse a model listing more packed int64 values than the default bound, before decoding it', () => {
    const decode = vi.spyOn(onnx.ModelProto, 'decode')
    const bytes = encode(
      model({
        initializer: [
          {
            name: 'w',
            dataType: 7,
            dims: [MAX_MODEL_LISTED_INTEGERS + 1],
            int64Data: new Array(MAX_MODEL_LISTED_INTEGERS + 1).fill(0),
          },
        ],
      }),
    )
    expectRefused(() => loadOnnxModel(bytes), 'GPU__MALFORMED_MODEL', 'listedIntegers')
    expect(decode).not.toHaveBeenCalled()
  })

  it('should count unpacked integers as packed ones', () => {
    const header = onnx.TensorProto.encode({ name: 'w', dataType: 7, dims: [11] }).finish()
    // int64_data (field 7) as eleven varint fields of one zero byte each: tag 0x38, value 0x00
    const tensor = new Uint8Array(header.length + 22)
    tensor.set(header)
    for (let i = 0; i < 11; i++) tensor.set([0x38, 0x00], header.length + 2 * i)
    const bytes = modelWithTensorBytes(tensor)
    const bounds = { ...DEFAULT_MODEL_BOUNDS, listedIntegers: 11 }
    expectRefused(() => loadOnnxModel(bytes, { bounds }), 'GPU__MALFORMED_MODEL', 'listedIntegers')
    // dims (1) and int64_data (11) fill twelve
    expect(
      loadOnnxModel(bytes, { bounds: { ...bounds, listedIntegers: 12 } }).initializers.get('w')?.ints,
    ).toHaveLength(11)
  })

  it('should refuse floats listed past the bound', () => {
    const bytes = encode(
      model({ initializer: [{ name: 'w', dataType: 1, dims: [9], floatData: new Array(9).fill(1) }] }),
    )
    const bounds = { ...DEFAULT_MODEL_BOUNDS, listedFloats: 8 }
    expectRefused(() => loadOnnxModel(bytes, { bounds }), 'GPU__MALFORMED_MODEL', 'listedFloats')
    expect(loadOnnxModel(bytes, { bounds: { ...bounds, listedFloats: 9 } }).initializers.get('w')?.floats).toHaveLength(
      9,
    )
  })

  /** Each bound, and a model holding one more of what it counts than `limit`. */
  const cases: { what: keyof ModelBounds; limit: number; graph: OnnxTypes.IGraphProto }[] = [
    {
      what: 'nodes',
      limit: 3,
      graph: {
        node: ['x', 'a', 'b', 'c'].map((v, i, all) => ({
          opType: 'Identity',
          input: [v],
          output: [all[i + 1] ?? 'y'],
        })),
      },
    },
    {
      what: 'initializers',
      limit: 4,
      graph: {
        initializer: [0, 1, 2, 3, 4].map((i) => ({
          name: `w${i}`,
          dataType: 1,
          dims: [1],
          rawData: new Uint8Array(4),
        })),
      },
    },
    {
      what: 'attributes',
      limit: 5,
      graph: {
        node: [
          {
            opType: 'Identity',
            input: ['x'],
            output: ['y'],
            attribute: [0, 1, 2, 3, 4, 5].map((i) => ({ name: `a${i}`, type: 2, i: 1 })),
          },
        ],
      },
    },
    {
      what: 'entries',
      // the node's six inputs and one output, the opset import, the graph's input (with its one dim) and output
      limit: 10,
      graph: { node: [{ opType: 'Max', input: ['x', 'x', 'x', 'x', 'x', 'x'], output: ['y'] }] },
    },
  ]

  it.each(cases)(
    'should refuse a model with more $what than its bound, and load one at it',
    ({ what, limit, graph }) => {
      const bytes = encode(model(graph))
      const counted = (n: number): ModelBounds => ({ ...DEFAULT_MODEL_BOUNDS, entries: 100, [what]: n })
      expectRefused(() => loadOnnxModel(bytes, { bounds: counted(limit) }), 'GPU__MALFORMED_MODEL', what)
      expect(thrown(() => loadOnnxModel(bytes, { bounds: counted(limit + 1) }))).toBeUndefined()
    },
  )

  it('should count singular nested messages, not only repeated ones', () => {
    // An attribute whose tensor, graph and type each hold empty messages: none repeated, each one an object decoded.
    const attribute: OnnxTypes.IAttributeProto = {
      name: 'a',
      t: { segment: {} },
      g: {},
      tp: { tensorType: { shape: {} }, sequenceType: { elemType: {} } },
    }
    const bytes = encode(model({ node: [{ opType: 'Identity', input: ['x'], output: ['y'], attribute: [attribute] }] }))
    // The graph, its opset import and node; the attribute and its eight; the input, its type, tensor type, shape and
    // dimension; the output, its type and tensor type: 20 in all.
    const bounds = (messages: number) => ({ ...DEFAULT_MODEL_BOUNDS, messages })
    expect(thrown(() => assertModelWithinBounds(bytes, bounds(20)))).toBeUndefined()
    expectRefused(() => assertModelWithinBounds(bytes, bounds(19)), 'GPU__MALFORMED_MODEL', 'messages')
  })

  it('should refuse types nested deeper than the bound', () => {
    let type: OnnxTypes.ITypeProto = { tensorType: { elemType: 1 } }
    for (let i = 0; i < DEFAULT_MODEL_BOUNDS.nesting; i++) type = { sequenceType: { elemType: type } }
    const bytes = encode(model({ valueInfo: [{ name: 'deep', type }] }))
    expectRefused(() => loadOnnxModel(bytes), 'GPU__MALFORMED_MODEL', 'nesting')
  })

  it('should refuse a known field written with a wire type the decoder would misread', () => {
    // graph (field 7) as a varint: the decoder would take the varint for a length and read a graph out of what follows
    const bytes = withField(encode({ irVersion: 8 }), 7, new Uint8Array(0), 0)
    expectRefused(() => loadOnnxModel(bytes), 'GPU__MALFORMED_MODEL')
  })

  it('should refuse a nested message that runs past its parent', () => {
    const node = onnx.NodeProto.encode({ opType: 'Identity', input: ['x'], output: ['y'] }).finish()
    const graph = withField(new Uint8Array(0), 1, node)
    graph[1] = node.length + 5 // the node claims five bytes more than the graph holds
    const bytes = withField(encode({ irVersion: 8 }), 7, graph)
    expectRefused(() => loadOnnxModel(bytes), 'GPU__MALFORMED_MODEL')
  })

  it('should hold integer and boolean initializers and Constants to the host tensor bound', () => {
    const values = new Array<boolean>(MAX_HOST_TENSOR_ELEMENTS + 1).fill(true)
    const initializer = new GraphBuilder()
      .input('x', [1])
      .output('y', [1])
      .initializer('m', boolTensor([values.length], values))
      .node('Identity', ['x'], ['y'])
      .build()
    expectRefused(() => loadOnnxModel(initializer), 'GPU__ALLOCATION_EXCEEDED')
    const constant = new GraphBuilder()
      .input('x', [1])
      .output('y', [1])
      .node('Constant', [], ['m'], { value: { tensor: boolTensor([values.length], values) } })
      .node('Identity', ['x'], ['y'])
      .build()
    expectRefused(() => loadOnnxModel(constant), 'GPU__ALLOCATION_EXCEEDED')
  })
})
