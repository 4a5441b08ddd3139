import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CpuBackend,
  createEngine,
  loadOnnxModel,
  MAX_EMPTY_REDUCTION_ELEMENTS,
  MAX_HOST_TENSOR_ELEMENTS,
  planConv2d,
  planMatMul,
  planPool2d,
  relativeError,
  runModelCpu,
  tensor,
} from '../src/index.js'
import type { Conv2dPlan, Engine, GpuErrorCode, Tensor } from '../src/index.js'
import { F32_LOWEST } from '../src/tensor/scalar.js'
import type { Attr } from './helpers/onnx-builder.js'
import { errorCode, rejectionCode } from './helpers/errors.js'
import { floatTensor, GraphBuilder, int64Tensor, randomTensor } from './helpers/onnx-builder.js'

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

/** A seeded generator of floats in [0, 1) (a linear congruential one: these tests need variety, not quality). */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32
}

/**
 * A window op as the kernels computed it before they skipped the padding: every tap of every window visited in
 * ascending (ky, kx) order, those outside the input passed over, one output channel per input channel (a depthwise
 * Conv of weights `weigh`, or a pooling), folded in f32.
 */
function wholeWindow(
  x: Tensor,
  p: Conv2dPlan,
  weigh: (v: number, channel: number, ky: number, kx: number) => number,
  fold: 'sum' | 'max' | 'mean',
): Tensor {
  const out = new Float32Array(p.n * p.c * p.oh * p.ow)
  let o = 0
  for (let nc = 0; nc < p.n * p.c; nc++) {
    for (let oy = 0; oy < p.oh; oy++) {
      for (let ox = 0; ox < p.ow; ox++) {
        let acc = fold === 'max' ? F32_LOWEST : 0
        let count = 0
        for (let ky = 0; ky < p.kh; ky++) {
          const iy = oy * p.strides[0] - p.pads[0] + ky * p.dilations[0]
          if (iy < 0 || iy >= p.h) continue
          for (let kx = 0; kx < p.kw; kx++) {
            const ix = ox * p.strides[1] - p.pads[1] + kx * p.dilations[1]
            if (ix < 0 || ix >= p.w) continue
            const v = weigh(x.data[(nc * p.h + iy) * p.w + ix]!, nc % p.c, ky, kx)
            acc = fold === 'max' ? Math.max(acc, v) : Math.fround(acc + Math.fround(v))
            count++
          }
        }
        out[o++] = fold === 'mean' ? acc / Math.fround(count) : acc
      }
    }
  }
  return tensor([p.n, p.c, p.oh, p.ow], out)
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
      // Opset 19, from which AveragePool takes dilations.
      return g.node(op, op === 'Conv' ? ['x', 'w'] : ['x'], ['y'], attributes).build(19)
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
  describe('window work', () => {
    /**
     * A window node `op` over x [1, 1, 1, 1] whose kernel is `k` taps wide, padded so that it has `outputs` outputs,
     * each of whose windows holds x's one element among padding (a Conv's weight is Expanded from one 1).
     */
    function paddedWindow(op: string, k: number, outputs: number): Uint8Array {
      const pad = (outputs + k - 2) / 2
      const g = new GraphBuilder().input('x', [1, 1, 1, 1]).output('y', [1, 1, 1, outputs])
      const attributes: Record<string, Attr> = { pads: { ints: [0, pad, 0, pad] } }
      if (op !== 'Conv') return g.node(op, ['x'], ['y'], { ...attributes, kernel_shape: { ints: [1, k] } }).build(13)
      return g
        .node('Constant', [], ['one'], { value: { tensor: floatTensor([1], [1]) } })
        .ints('wshape', [1, 1, 1, k])
        .node('Expand', ['one', 'wshape'], ['w'])
        .node('Conv', ['x', 'w'], ['y'], attributes)
        .build(13)
    }

    for (const op of ['MaxPool', 'AveragePool', 'Conv']) {
      it(`should run ${op} at the cost of the taps that reach the input, not of its padding`, async () => {
        const outputs = 32_768
        const y = tensor([1, 1, 1, outputs], new Float32Array(outputs).fill(5))
        await expectRuns(paddedWindow(op, 2 ** 18, outputs), () => ({ x: tensor([1, 1, 1, 1], [5]) }), y)
      }, 20_000)
    }

    it('should refuse a pooling whose window reads more than the bound', async () => {
      const wide = 2 ** 19
      const bytes = new GraphBuilder()
        .input('x', [1, 1, 1, wide])
        .output('y', [1, 1, 1, wide / 2 + 1])
        .node('MaxPool', ['x'], ['y'], { kernel_shape: { ints: [1, wide / 2] } })
        .build(13)
      await expectRefused(bytes, () => ({ x: tensor([1, 1, 1, wide]) }), 'GPU__ALLOCATION_EXCEEDED')
    })

    it('should count the multiply-adds of a MatMul before it runs', () => {
      // 2^25 outputs of 2^12 each: 2^37, a batch of two at the largest square MatMul allowed.
      expect(errorCode(() => planMatMul([2, 4096, 4096], [4096, 4096]))).toBe('GPU__ALLOCATION_EXCEEDED')
      expect(planMatMul([4096, 4096], [4096, 4096]).k).toBe(4096)
    })

    it('should count the reads of a window op before it runs', () => {
      const wide = 2 ** 19
      expect(errorCode(() => planPool2d([1, 1, 1, wide], { kernelShape: [1, wide / 2] }))).toBe(
        'GPU__ALLOCATION_EXCEEDED',
      )
      // 2^27 outputs of 128 channels by 3x3 taps: 2^37.2 reads.
      expect(errorCode(() => planConv2d([4, 128, 512, 512], [128, 128, 3, 3], { pads: [1, 1, 1, 1] }))).toBe(
        'GPU__ALLOCATION_EXCEEDED',
      )
      // One image of it, 2^35.2, and taps in the padding or beyond a dilated input are not counted.
      expect(planConv2d([1, 128, 512, 512], [128, 128, 3, 3], { pads: [1, 1, 1, 1] }).oh).toBe(512)
      const k = 2 ** 29
      expect(planPool2d([1, 1, 1, 2], { kernelShape: [1, k], pads: [0, k - 1, 0, k - 1] }).ow).toBe(k + 1)
      expect(errorCode(() => planPool2d([1, 1, 1, 1], { kernelShape: [1, 3], pads: [0, 2, 0, 2] }))).toBe(undefined)
    })

    it('should refuse padding as wide as the window', async () => {
      const x = (): Feeds => ({ x: tensor([1, 1, 3, 3]) })
      const pooled = new GraphBuilder()
        .input('x', [1, 1, 3, 3])
        .output('y', [1, 1, 5, 3])
        .node('MaxPool', ['x'], ['y'], { kernel_shape: { ints: [2, 1] }, pads: { ints: [2, 0, 2, 0] } })
        .build(13)
      await expectRefused(pooled, x, 'GPU__SHAPE_MISMATCH')
      const convolved = new GraphBuilder()
        .input('x', [1, 1, 3, 3])
        .output('y', [1, 1, 5, 5])
        .weight('w', [1, 1, 1, 1], Float32Array.of(1))
        .node('Conv', ['x', 'w'], ['y'], { pads: { ints: [1, 1, 1, 1] } })
        .build(13)
      await expectRefused(convolved, x, 'GPU__UNSUPPORTED_OP')
      // A dilated kernel reaches further: pads below its extent stay.
      expect(planConv2d([1, 1, 3, 3], [1, 1, 2, 2], { dilations: [2, 2], pads: [2, 2, 2, 2] }).oh).toBe(5)
    })

    it('should refuse a Conv over no input channels into more than the bound on reductions over nothing', async () => {
      const past = MAX_EMPTY_REDUCTION_ELEMENTS + 1
      const bytes = new GraphBuilder()
        .input('x', [1, 1, 1, 1])
        .output('y', [1, past, 1, 1])
        .node('Constant', [], ['c'], { value: { tensor: floatTensor([1, 0, 1, 1], []) } })
        .node('Add', ['x', 'c'], ['e'])
        .weight('w', [past, 0, 1, 1], new Float32Array(0))
        .node('Conv', ['e', 'w'], ['y'])
        .build(13)
      await expectRefused(bytes, () => ({ x: tensor([1, 1, 1, 1], [1]) }), 'GPU__ALLOCATION_EXCEEDED')
    })

    it('should visit the taps a walk over the whole window finds, in its order', async () => {
      const next = seeded(11)
      const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1))
      const cpu = new CpuBackend()
      for (let trial = 0; trial < 40; trial++) {
        const [h, w, kh, kw] = [pick(1, 6), pick(1, 6), pick(1, 4), pick(1, 4)]
        const dilations = [pick(1, 3), pick(1, 3)]
        const extent = [dilations[0]! * (kh - 1) + 1, dilations[1]! * (kw - 1) + 1]
        const pads = [0, 1, 0, 1].map((axis) => pick(0, Math.min(kh, kw, extent[axis]!) - 1))
        const attrs = { strides: [pick(1, 3), pick(1, 3)], dilations, pads }
        const padded = [h + pads[0]! + pads[2]!, w + pads[1]! + pads[3]!]
        if (padded[0]! < extent[0]! || padded[1]! < extent[1]!) continue
        const x = randomTensor([2, 2, h, w], 100 + trial)
        const wt = randomTensor([2, 1, kh, kw], 200 + trial)
        const conv = planConv2d(x.shape, wt.shape, { ...attrs, group: 2 })
        const pool = planPool2d(x.shape, { ...attrs, kernelShape: [kh, kw] })
        const cases: [Tensor, Tensor][] = [
          [
            cpu.conv2d(x, wt, undefined, conv),
            wholeWindow(x, conv, (v, c, ky, kx) => v * wt.data[(c * kh + ky) * kw + kx]!, 'sum'),
          ],
          [cpu.maxPool2d(x, pool), wholeWindow(x, pool, (v) => v, 'max')],
          [cpu.averagePool2d(x, pool, false), wholeWindow(x, pool, (v) => v, 'mean')],
        ]
        for (const [actual, expected] of cases) expect([...actual.data]).toEqual([...expected.data])
        const gpu = engine.tensors
        const xs = gpu.fromHost(x)
        const ws = gpu.fromHost(wt)
        for (const [out, expected] of [
          [gpu.conv2d(xs, ws, undefined, conv), cases[0]![1]],
          [gpu.maxPool2d(xs, pool), cases[1]![1]],
          [gpu.averagePool2d(xs, pool, false), cases[2]![1]],
        ] as const) {
          expect(relativeError((await gpu.toHost(out)).data, expected.data)).toBeLessThanOrEqual(1e-5)
          gpu.release(out)
        }
        gpu.release(xs)
        gpu.release(ws)
      }
    })
  })
})
