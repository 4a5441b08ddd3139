import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CpuBackend, createEngine, GpuBackend, planConv2d, planPool2d, relativeError, tensor } from '../src/index.js'
import { alignedTile, dispatchBlocks } from '../src/tensor/gpu-backend.js'
import { F32_LOWEST } from '../src/tensor/scalar.js'
import type { BackendTensor, Engine, Tensor, TensorBackend } from '../src/index.js'
import type { GpuContext } from '../src/device/context.js'
import { randomTensor } from './helpers/onnx-builder.js'

/** GPU and CPU agree to a few ulps (different fused-multiply-add choices and exp/erf precision). */
const KERNEL_TOLERANCE = 1e-5

const rand = randomTensor

/** `ctx` as a device that allows at most `limit` workgroups on each axis of a dispatch. */
function limitWorkgroups(ctx: GpuContext, limit: number): GpuContext {
  const device = { limits: { maxComputeWorkgroupsPerDimension: limit } }
  return new Proxy(ctx, {
    get: (target, key) => {
      if (key === 'device') return device
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

describe('tensor kernels', () => {
  let engine: Engine
  let gpu: GpuBackend
  const cpu = new CpuBackend()

  beforeAll(async () => {
    engine = await createEngine()
    gpu = engine.tensors
  })

  afterAll(() => {
    engine.destroy()
  })

  /** Runs `op` on both backends and checks shapes and values. */
  async function compare(
    op: <T extends BackendTensor>(b: TensorBackend<T>, inputs: T[]) => T,
    inputs: Tensor[],
    tolerance = KERNEL_TOLERANCE,
  ): Promise<Tensor> {
    return compareOn(gpu, op, inputs, tolerance)
  }

  /** {@link compare} on the GPU backend `backend`. */
  async function compareOn(
    backend: GpuBackend,
    op: <T extends BackendTensor>(b: TensorBackend<T>, inputs: T[]) => T,
    inputs: Tensor[],
    tolerance = KERNEL_TOLERANCE,
  ): Promise<Tensor> {
    const expected = op(cpu, inputs)
    const uploaded = inputs.map((t) => backend.fromHost(t))
    const out = op(backend, uploaded)
    const actual = await backend.toHost(out)
    backend.release(out)
    uploaded.forEach((t) => backend.release(t))
    backend.flush()
    expect(actual.shape).toEqual(expected.shape)
    expect(relativeError(actual.data, expected.data)).toBeLessThanOrEqual(tolerance)
    return actual
  }

  for (const [m, k, n] of [
    [64, 64, 64],
    [7, 13, 5],
    [33, 20, 17],
    [1, 128, 256],
  ] as const) {
    it(`should multiply ${m}x${k} by ${k}x${n} like the CPU reference with both matmul kernels`, async () => {
      const a = rand([m, k], m * 1000 + k)
      const b = rand([k, n], n)
      const blocked = await compare((be, [x, y]) => be.matmul(x!, y!), [a, b])
      const t = new GpuBackend(engine.context, 'tiled')
      const tiled = await t.toHost(t.matmul(t.fromHost(a), t.fromHost(b)))
      t.flush()
      expect(relativeError(tiled.data, blocked.data)).toBeLessThanOrEqual(KERNEL_TOLERANCE)
    })
  }

  it('should give aligned shapes the same bits from the aligned kernels as from the edge-tested one', async () => {
    // The rows of an aligned product equal those rows of a product one row taller, which takes the edge-tested
    // kernel: every kernel sums k in ascending order.
    const t = new GpuBackend(engine.context, 'tiled')
    for (const [m, k, n] of [
      [128, 64, 128], // the 64 tile
      [2048, 8, 2048], // the 128 tile: 256 workgroups
    ] as const) {
      expect(alignedTile(m, n, k, 1)).toBe(m === 128 ? 64 : 128)
      const a = rand([m + 1, k], m + k)
      const b = t.fromHost(rand([k, n], n))
      const taller = await t.toHost(t.matmul(t.fromHost(a), b))
      const aligned = await t.toHost(t.matmul(t.fromHost(tensor([m, k], a.data.subarray(0, m * k))), b))
      t.flush()
      expect(Buffer.from(aligned.data.buffer).equals(Buffer.from(taller.data.buffer, 0, m * n * 4))).toBe(true)
    }
    // Batched and broadcast, against the CPU reference.
    const a = rand([2, 64, 32], 7)
    const b = rand([32, 64], 8)
    const out = await t.toHost(t.matmul(t.fromHost(a), t.fromHost(b)))
    t.flush()
    expect(relativeError(out.data, cpu.matmul(a, b).data)).toBeLessThanOrEqual(KERNEL_TOLERANCE)
  })

  it('should take the aligned kernels only for shapes that fill whole tiles', () => {
    expect(alignedTile(1024, 1024, 1024, 1)).toBe(64) // 64 workgroups of 128: too few for the 128 tile
    expect(alignedTile(1024, 1024, 1024, 4)).toBe(128)
    expect(alignedTile(2048, 2048, 8, 1)).toBe(128)
    expect(alignedTile(2048, 2048, 4, 1)).toBeUndefined() // k fills no k-slice
    expect(alignedTile(130, 64, 16, 1)).toBeUndefined()
    expect(alignedTile(64, 64, 16, 1)).toBe(64)
  })

  it('should multiply batched and broadcast matrices (ONNX MatMul)', async () => {
    await compare((b, [x, y]) => b.matmul(x!, y!), [rand([2, 3, 5, 8], 1), rand([8, 4], 2)])
    await compare((b, [x, y]) => b.matmul(x!, y!), [rand([2, 1, 5, 8], 3), rand([3, 8, 4], 4)])
    await compare((b, [x, y]) => b.matmul(x!, y!), [rand([8], 5), rand([2, 8, 3], 6)])
  })

  it('should cut a grid into dispatches of at most the per-axis limit, each workgroup in one', () => {
    expect(dispatchBlocks([3, 2, 1], 65_535)).toEqual([{ origin: [0, 0, 0], workgroups: [3, 2, 1] }])
    expect(dispatchBlocks([1, 1, 65_537], 65_535)).toEqual([
      { origin: [0, 0, 0], workgroups: [1, 1, 65_535] },
      { origin: [0, 0, 65_535], workgroups: [1, 1, 2] },
    ])
    const blocks = dispatchBlocks([5, 3, 4], 2)
    expect(blocks).toHaveLength(3 * 2 * 2)
    const seen = new Set<string>()
    for (const { origin, workgroups } of blocks) {
      expect(Math.max(...workgroups)).toBeLessThanOrEqual(2)
      for (let z = 0; z < workgroups[2]; z++)
        for (let y = 0; y < workgroups[1]; y++)
          for (let x = 0; x < workgroups[0]; x++) seen.add(`${origin[0] + x},${origin[1] + y},${origin[2] + z}`)
    }
    expect(seen.size).toBe(5 * 3 * 4)
  })

  it('should multiply a batch longer than one dispatch holds (65,535 workgroups) like the CPU reference', async () => {
    const batch = 65_537
    const a = rand([batch, 1, 2], 13)
    const mm = <T extends BackendTensor>(b: TensorBackend<T>, [x, y]: T[]): T => b.matmul(x!, y!)
    expect((await compare(mm, [a, rand([2, 3], 14)])).shape).toEqual([batch, 1, 3])
    expect((await compare(mm, [a, rand([batch, 2, 3], 15)])).shape).toEqual([batch, 1, 3])
  })

  it('should multiply over grids cut into several dispatches on every axis with each matmul kernel', async () => {
    // Two workgroups per axis at most, so that small shapes (3 x 3 x 3 workgroups) take eight dispatches.
    const limited = limitWorkgroups(engine.context, 2)
    const mm = <T extends BackendTensor>(b: TensorBackend<T>, [x, y]: T[]): T => b.matmul(x!, y!)
    for (const [kernel, m, k, n] of [
      ['blocked', 70, 9, 66],
      ['tiled', 130, 20, 150],
      ['tiled', 192, 16, 192], // the aligned 64 kernel
    ] as const) {
      const backend = new GpuBackend(limited, kernel)
      await compareOn(backend, mm, [rand([3, m, k], m), rand([3, k, n], n)])
      backend.dispose()
    }
  })

  it('should compute each matmul row independently of the batch size, bit for bit', async () => {
    const a = rand([9, 40], 11)
    const w = gpu.fromHost(rand([40, 24], 12))
    const all = await gpu.toHost(gpu.matmul(gpu.fromHost(a), w))
    const row = await gpu.toHost(gpu.matmul(gpu.fromHost(tensor([1, 40], a.data.slice(6 * 40, 7 * 40))), w))
    gpu.flush()
    expect(row.data).toEqual(all.data.slice(6 * 24, 7 * 24))
  })

  for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min'] as const) {
    it(`should ${op} with broadcasting`, async () => {
      await compare((b, [x, y]) => b.binary(op, x!, y!), [rand([2, 3, 4], 21), tensor([4], [1.5, -2, 3, 0.5])])
      await compare((b, [x, y]) => b.binary(op, x!, y!), [rand([3, 1], 22), rand([1, 5], 23, 2)])
    })
  }

  for (const op of [
    'relu',
    'gelu',
    'geluTanh',
    'tanh',
    'sigmoid',
    'erf',
    'exp',
    'neg',
    'abs',
    'leakyRelu',
    'scale',
  ] as const) {
    it(`should apply ${op} elementwise`, async () => {
      await compare((b, [x]) => b.unary(op, x!, 0.3), [rand([1000], 30, 4)])
    })
  }

  it('should raise to powers, negative bases to integer powers, with broadcasting', async () => {
    const exponents = tensor([4], [2, 3, -1, 0])
    await compare((b, [x, e]) => b.binary('pow', x!, e!), [rand([2, 3, 4], 24, 3), exponents])
    const positive = tensor([3, 1], [0.5, 1.5, 2.25])
    await compare((b, [x, e]) => b.binary('pow', x!, e!), [positive, rand([1, 5], 25, 3)])
  })

  it("should raise signed zeros, NaN and infinite exponents to powers as C's pow does, on both backends", async () => {
    const I = Infinity
    // [base, exponent, C's pow]
    const cases: [number, number, number][] = [
      [-0, -1, -I],
      [-0, -3, -I],
      [-0, 3, -0],
      [-0, 1, -0],
      [-0, -2, I],
      [-0, 2, 0],
      [-0, -0.5, I],
      [-0, 0.5, 0],
      [-0, -I, I],
      [0, -1, I],
      [0, 3, 0],
      [0, NaN, NaN],
      [-0, NaN, NaN],
      [1, NaN, 1],
      [NaN, 0, 1],
      [NaN, 2, NaN],
      [1, I, 1],
      [-1, I, 1],
      [-1, -I, 1],
      [-0.5, I, 0],
      [-2, I, I],
      [-2, -I, 0],
      [-2, 3, -8],
      [-2, -1, -0.5],
      [-8, 0.5, NaN],
    ]
    const n = cases.length
    const x = tensor(
      [n],
      cases.map(([b]) => b),
    )
    const y = tensor(
      [n],
      cases.map(([, e]) => e),
    )
    /** Values as text, so that -0 differs from 0 and NaN meets NaN. */
    const show = (data: ArrayLike<number>): string[] => Array.from(data, (v) => (Object.is(v, -0) ? '-0' : String(v)))
    const expected = show(cases.map(([, , r]) => r))
    expect(show(cpu.binary('pow', x, y).data)).toEqual(expected)
    const inputs = [gpu.fromHost(x), gpu.fromHost(y)] as const
    const out = gpu.binary('pow', ...inputs)
    expect(show((await gpu.toHost(out)).data)).toEqual(expected)
    for (const t of [out, ...inputs]) gpu.release(t)
    gpu.flush()
  })

  it('should clip, hard-sigmoid and hard-swish elementwise', async () => {
    const x = rand([1000], 31, 8)
    const clipped = await compare((b, [v]) => b.unary('clip', v!, -0.5, 1.25), [x])
    expect(Math.min(...clipped.data)).toBe(-0.5)
    expect(Math.max(...clipped.data)).toBe(1.25)
    await compare((b, [v]) => b.unary('hardSigmoid', v!, 0.3, 0.4), [x])
    await compare((b, [v]) => b.unary('hardSwish', v!), [x])
  })

  describe('NaN, as ONNX and onnxruntime pass it on', () => {
    /** Each value as given, or made by the kernels: Sqrt of -4 where the value is NaN, of its square elsewhere. */
    const sources = {
      input: <T extends BackendTensor>(_b: TensorBackend<T>, x: T): T => x,
      'Sqrt of a negative': <T extends BackendTensor>(b: TensorBackend<T>, x: T): T => b.unary('sqrt', x),
    }
    const feed = (source: keyof typeof sources, shape: number[], values: number[]): Tensor =>
      tensor(shape, source === 'input' ? values : values.map((v) => (Number.isNaN(v) ? -4 : v * v)))
    /** Where `data` holds NaN. */
    const nanAt = (data: Float32Array): number[] => [...data.keys()].filter((i) => Number.isNaN(data[i]))

    for (const source of Object.keys(sources) as (keyof typeof sources)[]) {
      const from = sources[source]

      it(`should give NaN from max, min, relu, tanh, clip and the hard functions of a NaN (${source})`, async () => {
        const x = feed(source, [6], [NaN, 0.5, -2, 3, 20, -0.25])
        const other = feed(source, [6], [0, NaN, 0, 0, 0, 0])
        for (const op of ['max', 'min'] as const) {
          const ab = await compare((b, [u, v]) => b.binary(op, from(b, u!), from(b, v!)), [x, other])
          const ba = await compare((b, [u, v]) => b.binary(op, from(b, v!), from(b, u!)), [x, other])
          expect([nanAt(ab.data), nanAt(ba.data)]).toEqual([
            [0, 1],
            [0, 1],
          ])
        }
        for (const [op, alpha, beta] of [
          ['relu', 0, 0],
          ['tanh', 0, 0],
          ['geluTanh', 0, 0],
          ['clip', 0, 6],
          ['hardSigmoid', 0.2, 0.5],
          ['hardSwish', 0, 0],
          ['leakyRelu', 0.1, 0],
        ] as const) {
          const y = await compare((b, [v]) => b.unary(op, from(b, v!), alpha, beta), [x])
          expect(nanAt(y.data), op).toEqual([0])
        }
      })

      it(`should give NaN from ReduceMax and MaxPool over a NaN wherever it lies (${source})`, async () => {
        const rows = feed(source, [4, 3], [NaN, 1, 2, 1, NaN, 2, 1, 2, NaN, 1, 2, 3])
        const maxima = await compare((b, [v]) => b.reduceRows('max', from(b, v!)), [rows])
        expect(Array.from(maxima.data)).toEqual([NaN, NaN, NaN, 3])
        const planes = feed(source, [1, 5, 2, 2], [NaN, 1, 2, 3, 1, NaN, 2, 3, 1, 2, NaN, 3, 1, 2, 3, NaN, 1, 2, 3, 4])
        const plan = planPool2d(planes.shape, { kernelShape: [2, 2] })
        const pooled = await compare((b, [v]) => b.maxPool2d(from(b, v!), plan), [planes])
        expect(Array.from(pooled.data)).toEqual([NaN, NaN, NaN, NaN, 4])
      })
    }

    it('should bound nothing with a NaN Clip bound, as onnxruntime does', async () => {
      const x = tensor([4], [NaN, 0.5, -2, 3])
      const low = await compare((b, [v]) => b.unary('clip', v!, NaN, 1), [x])
      expect(Array.from(low.data)).toEqual([NaN, 0.5, -2, 1])
      const high = await compare((b, [v]) => b.unary('clip', v!, -1, NaN), [x])
      expect(Array.from(high.data)).toEqual([NaN, 0.5, -1, 3])
    })
  })

  it('should keep the digits of erf and tanh of tiny arguments on both backends', async () => {
    const x = tensor([4], [1e-8, -1e-6, 1e-5, 0.3])
    const erfs = await compare((b, [v]) => b.unary('erf', v!), [x])
    const tanhs = await compare((b, [v]) => b.unary('tanh', v!), [x])
    // In doubles, of the f32 inputs (erf by its Taylor series).
    const erfExpected = [1.1283791602378209e-8, -1.1283791642462529e-6, 1.1283791385526445e-5, 0.3286267717527155]
    const tanhExpected = [9.99999993922529e-9, -9.999999974749094e-7, 9.999999747045419e-6, 0.29131262336087355]
    for (const [actual, expected] of [
      [erfs, erfExpected],
      [tanhs, tanhExpected],
    ] as const) {
      for (let i = 0; i < 4; i++) {
        expect(Math.abs(actual.data[i]! - expected[i]!)).toBeLessThanOrEqual(2 ** -22 * Math.abs(expected[i]!))
      }
    }
  })

  it('should round Gelu(tanh) as f32 on both backends, where the cube overflows too', async () => {
    const x = tensor([5], [-Infinity, -1e20, -1e10, -30, 1])
    const y = await compare((b, [v]) => b.unary('geluTanh', v!), [x])
    expect(Buffer.from(y.data.buffer)).toEqual(Buffer.from(cpu.unary('geluTanh', x).data.buffer))
    expect(Array.from(y.data.subarray(0, 4))).toEqual([NaN, -0, -0, -0])
    expect(y.data[4]).toBeCloseTo(0.841192, 5)
  })

  it('should apply sqrt elementwise', async () => {
    await compare((b, [x]) => b.unary('sqrt', x!), [tensor([5], [0, 0.25, 2, 9, 1e6])])
  })

  it('should softmax along any axis', async () => {
    for (const axis of [0, 1, 2]) await compare((b, [x]) => b.softmax(x!, axis), [rand([3, 5, 7], 40 + axis, 5)])
  })

  it('should layer-normalize with and without bias', async () => {
    await compare(
      (b, [x, s, o]) => b.layerNorm(x!, s!, o, 2, 1e-5),
      [rand([2, 3, 16], 50, 3), rand([16], 51), rand([16], 52)],
    )
    await compare((b, [x, s]) => b.layerNorm(x!, s!, undefined, 1, 1e-3), [rand([4, 2, 8], 53, 3), rand([2, 8], 54)])
  })

  it('should transpose any permutation', async () => {
    await compare((b, [x]) => b.transpose(x!, [2, 0, 1]), [rand([2, 3, 4], 60)])
    await compare((b, [x]) => b.transpose(x!, [0, 2, 1, 3]), [rand([2, 3, 4, 5], 61)])
  })

  it('should convolve in 2-D with padding, stride, dilation and groups', async () => {
    const x = rand([2, 4, 9, 11], 70)
    const w = rand([6, 2, 3, 3], 71)
    const bias = rand([6], 72)
    const plan = planConv2d(x.shape, w.shape, { pads: [1, 2, 0, 1], strides: [2, 1], dilations: [1, 2], group: 2 })
    await compare((b, [xx, ww, bb]) => b.conv2d(xx!, ww!, bb, plan), [x, w, bias])
    const plain = planConv2d(x.shape, [3, 4, 1, 1], {})
    await compare((b, [xx, ww]) => b.conv2d(xx!, ww!, undefined, plain), [x, rand([3, 4, 1, 1], 73)])
  })

  it('should max-pool and global-average-pool', async () => {
    const x = rand([2, 3, 8, 7], 80)
    const plan = planPool2d(x.shape, { kernelShape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] })
    await compare((b, [xx]) => b.maxPool2d(xx!, plan), [x])
    await compare((b, [xx]) => b.globalAveragePool(xx!), [x])
  })

  it('should average-pool counting or skipping the padding', async () => {
    const x = rand([2, 3, 8, 7], 81)
    const plan = planPool2d(x.shape, { kernelShape: [3, 2], strides: [2, 1], pads: [1, 1, 1, 0], dilations: [1, 2] })
    const skipped = await compare((b, [xx]) => b.averagePool2d(xx!, plan, false), [x])
    const counted = await compare((b, [xx]) => b.averagePool2d(xx!, plan, true), [x])
    expect(counted.data).not.toEqual(skipped.data)
  })

  it('should average a dilated window wholly in the padding to 0, as onnxruntime', async () => {
    // Kernel [2, 1] dilated by 3 over 2 rows padded by 1: the first output's taps are rows -1 and 2, both padding.
    const x = tensor([1, 1, 2, 2], [1, 2, 3, 4])
    const plan = planPool2d(x.shape, { kernelShape: [2, 1], dilations: [3, 1], pads: [1, 0, 1, 0] })
    for (const countIncludePad of [false, true]) {
      const y = await compare((b, [xx]) => b.averagePool2d(xx!, plan, countIncludePad), [x])
      expect(Array.from(y.data)).toEqual([0, 0])
    }
  })

  it('should reduce a row of -inf or of nothing to -inf (ReduceMax) and max-pool -inf to the lowest f32', async () => {
    const rows = await compare(
      (b, [v]) => b.reduceRows('max', v!),
      [tensor([2, 3], [-Infinity, -Infinity, -Infinity, 1, -Infinity, 2])],
    )
    expect(Array.from(rows.data)).toEqual([-Infinity, 2])
    const empty = await compare((b, [v]) => b.reduceRows('max', v!), [tensor([2, 0], [])])
    expect(Array.from(empty.data)).toEqual([-Infinity, -Infinity])
    // onnxruntime pools a window without padding from the lowest finite f32, and so do both backends.
    const planes = tensor([1, 1, 2, 2], new Array<number>(4).fill(-Infinity))
    const pooled = await compare(
      (b, [v]) => b.maxPool2d(v!, planPool2d(planes.shape, { kernelShape: [2, 2] })),
      [planes],
    )
    expect(Array.from(pooled.data)).toEqual([F32_LOWEST])
  })

  it('should average rows in ascending order, whatever the number of rows', async () => {
    const a = rand([5, 37], 82)
    const all = await compare((b, [aa]) => b.meanRows(aa!), [a])
    const one = await compare((b, [aa]) => b.meanRows(aa!), [tensor([1, 37], a.data.slice(3 * 37, 4 * 37))])
    expect(one.data[0]).toBe(all.data[3])
    expect(() => cpu.meanRows(rand([2, 3, 4], 83))).toThrow(expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }))
  })

  describe('sums pairwise, in an order fixed by the row length', () => {
    /** `op` on both backends, which must agree bit for bit. */
    async function sameBits(
      op: <T extends BackendTensor>(b: TensorBackend<T>, inputs: T[]) => T,
      inputs: Tensor[],
    ): Promise<Tensor> {
      const actual = await compare(op, inputs)
      expect(Buffer.from(actual.data.buffer)).toEqual(Buffer.from(op(cpu, inputs).data.buffer))
      return actual
    }

    it('should keep a layer norm accurate where the mean dwarfs the spread, a row alone as in its batch', async () => {
      const n = 4096
      const x = rand([2, n], 88, 0.1).data.map((v) => 1000 + v)
      const scale = tensor([n], new Float32Array(n).fill(1))
      const y = await sameBits((b, [xx, s]) => b.layerNorm(xx!, s!, undefined, 1, 1e-5), [tensor([2, n], x), scale])
      const row = x.slice(0, n)
      const alone = await sameBits(
        (b, [xx, s]) => b.layerNorm(xx!, s!, undefined, 1, 1e-5),
        [tensor([1, n], row), scale],
      )
      expect(Buffer.from(alone.data.buffer)).toEqual(Buffer.from(y.data.slice(0, n).buffer))
      // The exact normalization of the f32 inputs, in doubles; an ordered f32 sum was 8.7e-3 off, onnxruntime 1.3e-5
      // (the f32 mean of values near 1000 alone may be 5e-4 off, relative to this spread).
      const mean = row.reduce((a, v) => a + v, 0) / n
      const sd = Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / n + 1e-5)
      const exact = Float32Array.from(row, (v) => (v - mean) / sd)
      expect(relativeError(alone.data, exact)).toBeLessThan(1e-3)
    })

    it('should average a large constant plane to its value (GlobalAveragePool, ReduceMean)', async () => {
      const side = 512
      const planes = tensor([1, 2, side, side], new Float32Array(2 * side * side).fill(0.1))
      const y = await sameBits((b, [xx]) => b.globalAveragePool(xx!), [planes])
      for (const v of y.data) expect(Math.abs(v - Math.fround(0.1))).toBeLessThan(1e-7)
      const rows = await sameBits((b, [xx]) => b.reduceRows('sum', xx!), [tensor([2, side * side], planes.data)])
      for (const v of rows.data) expect(Math.abs(v / (side * side) - 0.1)).toBeLessThan(1e-6)
    })

    it('should sum rows of any length alike on both backends', async () => {
      for (const n of [0, 1, 7, 8, 9, 24, 100, 1000]) {
        await sameBits((b, [xx]) => b.reduceRows('sum', xx!), [rand([3, n], 89 + n, 10)])
      }
    })
  })

  it('should concatenate along any axis, negative ones too', async () => {
    const a = rand([2, 3, 4], 84)
    for (const [axis, other] of [
      [0, rand([1, 3, 4], 85)],
      [1, rand([2, 5, 4], 86)],
      [-1, rand([2, 3, 2], 87)],
    ] as const) {
      await compare((b, xs) => b.concat(xs, axis), [a, other, a])
    }
    expect(() => cpu.concat([a, rand([2, 4, 4], 88)], 0)).toThrow(
      expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }),
    )
  })

  it('should reject mismatched shapes with a coded error', () => {
    const a = gpu.fromHost(rand([2, 3], 90))
    const b = gpu.fromHost(rand([4, 5], 91))
    expect(() => gpu.matmul(a, b)).toThrow(expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }))
    expect(() => gpu.binary('add', a, b)).toThrow(expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }))
    expect(() => cpu.matmul(rand([2, 3], 1), rand([4, 5], 2))).toThrow(
      expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }),
    )
    expect(() => tensor([2, 2], [1, 2, 3])).toThrow(expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }))
    const wrongOut = gpu.view(a, [3, 2])
    expect(() => gpu.matmulInto(a, wrongOut, a)).toThrow(expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }))
    gpu.release(wrongOut)
    gpu.release(a)
    gpu.release(b)
    gpu.flush()
  })
})
