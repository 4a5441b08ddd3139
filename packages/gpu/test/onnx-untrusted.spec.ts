import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  loadOnnxModel,
  MAX_EMPTY_REDUCTION_ELEMENTS,
  MAX_HOST_TENSOR_ELEMENTS,
  planConv2d,
  planPool2d,
  runModelCpu,
  tensor,
} from '../src/index.js'
import type { Engine, GpuErrorCode, Tensor } from '../src/index.js'
import type { Attr } from './helpers/onnx-builder.js'
import { errorCode, rejectionCode } from './helpers/errors.js'
import { floatTensor, GraphBuilder, int64Tensor } from './helpers/onnx-builder.js'

type Feeds = Record<string, Tensor>

/** x [1, 1] plus a Constant `c` of no elements and `dims`, so that `c`'s dimensions reach the device as x's. */
function emptyOnDevice(g: GraphBuilder, dims: number[]): GraphBuilder {
  return g
    .input('x', [1, 1])
    .node('Constant', [], ['c'], { value: { tensor: floatTensor(dims, []) } })
    .node('Add', ['x', 'c'], ['e'])
}

/** A model that reduces an empty tensor of `dims` (an int64 initializer, or a float Constant) on the host. */
function hostReduction(kind: 'int' | 'float', dims: number[]): Uint8Array {
  const g = new GraphBuilder().input('x', [1, 1]).output('y', [1, 1])
  if (kind === 'int') g.initializer('e', int64Tensor(dims, []))
  else g.node('Constant', [], ['e'], { value: { tensor: floatTensor(dims, []) } })
  return g
    .ints('axes', [0])
    .node('ReduceSum', ['e', 'axes'], ['r'], { keepdims: { int: 1 } })
    .node('Shape', ['r'], ['s'])
    .node('Identity', ['x'], ['y'])
    .build(13)
}

const x11: () => Feeds = () => ({ x: tensor([1, 1], [1]) })

describe('untrusted ONNX models', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** A good model's run after a refusal: the engine still computes. */
  async function expectStillRuns(): Promise<void> {
    expect(engine.usable).toBe(true)
    const bytes = new GraphBuilder().input('x', [1, 2]).output('y', [1, 2]).node('Relu', ['x'], ['y']).build()
    const y = (await engine.runModel(loadOnnxModel(bytes), { x: tensor([1, 2], [-1, 2]) })).y!
    expect([...y.data]).toEqual([0, 2])
  }

  /** Expects the GPU engine and the CPU reference to refuse `bytes` with `code`, and the engine to run on after. */
  async function expectRefused(bytes: Uint8Array, feeds: () => Feeds, code: GpuErrorCode): Promise<void> {
    const model = loadOnnxModel(bytes)
    // Codes alone: a model that runs instead has outputs too large to print.
    expect(await rejectionCode(engine.runModel(model, feeds()))).toBe(code)
    expect(await rejectionCode(runModelCpu(model, feeds()))).toBe(code)
    await expectStillRuns()
  }

  /** Runs `bytes` on the GPU engine and the CPU reference; both must give y = `expected`. */
  async function expectRuns(bytes: Uint8Array, feeds: () => Feeds, expected: Tensor): Promise<void> {
    const model = loadOnnxModel(bytes)
    for (const y of [(await engine.runModel(model, feeds())).y!, (await runModelCpu(model, feeds())).y!]) {
      expect(y.shape).toEqual(expected.shape)
      expect([...y.data]).toEqual([...expected.data])
    }
  }

  describe('tensors of no elements', () => {
    it('should refuse a dimension above the element bound even where another is 0', () => {
      expect(errorCode(() => tensor([0, 2 ** 40]))).toBe('GPU__ALLOCATION_EXCEEDED')
      expect(errorCode(() => tensor([0, 2 ** 31]))).toBe('GPU__ALLOCATION_EXCEEDED')
      expect(tensor([0, 2 ** 31 - 1]).data.length).toBe(0)
      for (const kind of ['int', 'float'] as const)
        expect(errorCode(() => loadOnnxModel(hostReduction(kind, [0, 2 ** 40])))).toBe('GPU__MALFORMED_MODEL')
    })

    for (const kind of ['int', 'float'] as const) {
      it(`should hold a host reduction of an empty ${kind} tensor to the host tensor bound`, async () => {
        await expectRefused(hostReduction(kind, [0, 2 * MAX_HOST_TENSOR_ELEMENTS]), x11, 'GPU__ALLOCATION_EXCEEDED')
      })
    }

    const past = MAX_EMPTY_REDUCTION_ELEMENTS + 1
    const overNothing: { name: string; model: () => Uint8Array; feeds: () => Feeds }[] = [
      {
        name: 'ReduceSum over an empty axis',
        model: () =>
          emptyOnDevice(new GraphBuilder(), [0, past])
            .output('y', [1, past])
            .ints('axes', [0])
            .node('ReduceSum', ['e', 'axes'], ['y'], { keepdims: { int: 1 } })
            .build(13),
        feeds: x11,
      },
      {
        name: 'GlobalAveragePool of empty planes',
        model: () =>
          new GraphBuilder()
            .input('x', [1, 1, 1, 1])
            .output('y', [1, past, 1, 1])
            .node('Constant', [], ['c'], { value: { tensor: floatTensor([1, past, 0, 1], []) } })
            .node('Add', ['x', 'c'], ['e'])
            .node('GlobalAveragePool', ['e'], ['y'])
            .build(13),
        feeds: () => ({ x: tensor([1, 1, 1, 1], [1]) }),
      },
      {
        name: 'MatMul with K of 0',
        model: () =>
          emptyOnDevice(new GraphBuilder(), [past, 0])
            .output('y', [past, 1])
            .node('Constant', [], ['k'], { value: { tensor: floatTensor([0, 1], []) } })
            .node('MatMul', ['e', 'k'], ['y'])
            .build(13),
        feeds: x11,
      },
    ]
    for (const c of overNothing) {
      it(`should refuse ${c.name} into more than the bound on reductions over nothing`, async () => {
        await expectRefused(c.model(), c.feeds, 'GPU__ALLOCATION_EXCEEDED')
      })
    }

    it('should still reduce over an empty axis within the bound', async () => {
      const bytes = emptyOnDevice(new GraphBuilder(), [0, 3])
        .output('y', [1, 3])
        .ints('axes', [0])
        .node('ReduceSum', ['e', 'axes'], ['y'], { keepdims: { int: 1 } })
        .build(13)
      await expectRuns(bytes, x11, tensor([1, 3], [0, 0, 0]))
    })
  })

  describe('window attributes', () => {
    const wide = 2 ** 32 + 1
    /** One window node over x [1, 1, 1, 4] = [4, 3, 2, 1] with `attributes`, writing y [1, 1, 1, 4]. */
    function windowModel(op: string, attributes: Record<string, Attr>): Uint8Array {
      const g = new GraphBuilder().input('x', [1, 1, 1, 4]).output('y', [1, 1, 1, 4])
      if (op === 'Conv') g.weight('w', [1, 1, 1, 2], Float32Array.of(1, 1))
      return g.node(op, op === 'Conv' ? ['x', 'w'] : ['x'], ['y'], attributes).build(13)
    }
    const x = (): Feeds => ({ x: tensor([1, 1, 1, 4], [4, 3, 2, 1]) })

    for (const op of ['MaxPool', 'AveragePool', 'Conv']) {
      it(`should refuse ${op} dilations and pads that would wrap in the shader's parameters`, async () => {
        const bytes = windowModel(op, {
          ...(op === 'Conv' ? {} : { kernel_shape: { ints: [1, 2] } }),
          dilations: { ints: [1, wide] },
          pads: { ints: [0, wide, 0, 0] },
        })
        await expectRefused(bytes, x, 'GPU__UNSUPPORTED_OP')
      })
    }

    it('should refuse strides, dilations, padded extents and kernels beyond 32-bit parameters when planning', () => {
      expect(errorCode(() => planConv2d([1, 1, 1, 4], [1, 1, 1, 1], { strides: [1, 2 ** 31] }))).toBe(
        'GPU__UNSUPPORTED_OP',
      )
      expect(errorCode(() => planConv2d([1, 1, 1, 4], [1, 1, 1, 1], { dilations: [2 ** 31, 1] }))).toBe(
        'GPU__UNSUPPORTED_OP',
      )
      expect(errorCode(() => planPool2d([1, 1, 1, 4], { kernelShape: [1, 2], pads: [0, 2 ** 31 - 4, 0, 1] }))).toBe(
        'GPU__UNSUPPORTED_OP',
      )
      // 2^32 taps, which AveragePool with count_include_pad divides by.
      const half = 2 ** 15
      expect(
        errorCode(() => planPool2d([1, 1, 1, 1], { kernelShape: [2 ** 16, 2 ** 16], pads: [half, half, half, half] })),
      ).toBe('GPU__UNSUPPORTED_OP')
      expect(planPool2d([1, 1, 1, 4], { kernelShape: [1, 2], strides: [1, 2 ** 31 - 1] }).ow).toBe(1)
    })
  })
})
