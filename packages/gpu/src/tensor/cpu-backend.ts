import { forEachBroadcast } from './broadcast.js'
import { gatherInto } from './gather.js'
import type { GatherPlan } from './gather.js'
import { BINARY_CPU, F32_LOWEST, pairwiseSum, ROW_REDUCE_START, UNARY_CPU } from './scalar.js'
import type { BinaryOp, ReduceOp, TensorBackend, UnaryOp } from './ops.js'
import { broadcastShapes, planConcat, planGlobalPool, planMatMul, rowsOf } from './shapes.js'
import type { Conv2dPlan } from './shapes.js'
import { copyStrided, transposeView } from './strided.js'
import type { StridedView } from './strided.js'
import { sizeOf, stridesOf, tensor } from './tensor.js'
import type { Tensor } from './tensor.js'

const f32 = Math.fround

/**
 * The CPU reference of every kernel: plain loops in the GPU kernels' accumulation order, each step rounded to f32
 * (`Math.fround`), so it tracks the GPU to within a few ulps. Verifiers without a GPU run models on it.
 */
export class CpuBackend implements TensorBackend<Tensor> {
  readonly name = 'cpu'

  fromHost(t: Tensor): Tensor {
    return t
  }

  async toHost(t: Tensor): Promise<Tensor> {
    return t
  }

  release(): void {}

  view(t: Tensor, shape: readonly number[]): Tensor {
    return tensor(shape, t.data)
  }

  matmul(a: Tensor, b: Tensor): Tensor {
    const p = planMatMul(a.shape, b.shape)
    const out = new Float32Array(sizeOf(p.out))
    const batchStrides = stridesOf(p.batchShape)
    for (let batch = 0; batch < p.batch; batch++) {
      let ao = 0
      let bo = 0
      let rest = batch
      for (let d = 0; d < p.batchShape.length; d++) {
        const i = Math.floor(rest / batchStrides[d]!)
        rest -= i * batchStrides[d]!
        ao += i * p.aBatchStrides[d]!
        bo += i * p.bBatchStrides[d]!
      }
      const co = batch * p.m * p.n
      for (let i = 0; i < p.m; i++) {
        for (let j = 0; j < p.n; j++) {
          let acc = 0
          for (let k = 0; k < p.k; k++) acc = f32(acc + f32(a.data[ao + i * p.k + k]! * b.data[bo + k * p.n + j]!))
          out[co + i * p.n + j] = acc
        }
      }
    }
    return tensor(p.out, out)
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(a.shape, b.shape, op)
    const out = new Float32Array(sizeOf(shape))
    const x = a.data
    const y = b.data
    const f = BINARY_CPU[op]!
    forEachBroadcast(shape, [a.shape, b.shape], (o, at) => {
      out[o] = f(x[at[0]!]!, y[at[1]!]!)
    })
    return tensor(shape, out)
  }

  unary(op: UnaryOp, a: Tensor, alpha = 0, beta = 0): Tensor {
    const f = UNARY_CPU[op]!
    const out = new Float32Array(a.data.length)
    for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]!, alpha, beta)
    return tensor(a.shape, out)
  }

  softmax(a: Tensor, axis: number): Tensor {
    const len = a.shape[axis]!
    const inner = sizeOf(a.shape.slice(axis + 1))
    const outer = sizeOf(a.shape.slice(0, axis))
    const out = new Float32Array(a.data.length)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i
        let max = -Infinity
        for (let k = 0; k < len; k++) max = Math.max(max, a.data[base + k * inner]!)
        let sum = 0
        for (let k = 0; k < len; k++) sum = f32(sum + f32(Math.exp(f32(a.data[base + k * inner]! - max))))
        for (let k = 0; k < len; k++) out[base + k * inner] = f32(Math.exp(f32(a.data[base + k * inner]! - max))) / sum
      }
    }
    return tensor(a.shape, out)
  }

  layerNorm(x: Tensor, scale: Tensor, bias: Tensor | undefined, axis: number, epsilon: number): Tensor {
    const n = sizeOf(x.shape.slice(axis))
    const outer = sizeOf(x.shape.slice(0, axis))
    const out = new Float32Array(x.data.length)
    const eps = f32(epsilon)
    for (let o = 0; o < outer; o++) {
      const base = o * n
      const mean = f32(pairwiseSum(n, (j) => x.data[base + j]!) / n)
      const sq = pairwiseSum(n, (j) => {
        const d = f32(x.data[base + j]! - mean)
        return f32(d * d)
      })
      const inv = f32(1 / f32(Math.sqrt(f32(f32(sq / n) + eps))))
      for (let i = 0; i < n; i++) {
        const y = f32(f32(f32(x.data[base + i]! - mean) * inv) * scale.data[i]!)
        out[base + i] = bias === undefined ? y : y + bias.data[i]!
      }
    }
    return tensor(x.shape, out)
  }

  transpose(a: Tensor, perm: readonly number[]): Tensor {
    return this.copyStrided(a, transposeView(a.shape, perm))
  }

  conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, p: Conv2dPlan): Tensor {
    const out = new Float32Array(p.n * p.oc * p.oh * p.ow)
    const icg = p.c / p.group
    const ocg = p.oc / p.group
    for (let n = 0; n < p.n; n++) {
      for (let oc = 0; oc < p.oc; oc++) {
        const g = Math.floor(oc / ocg)
        for (let oy = 0; oy < p.oh; oy++) {
          const [y0, ky0, ky1] = windowTaps(p, oy, 0)
          for (let ox = 0; ox < p.ow; ox++) {
            const [x0, kx0, kx1] = windowTaps(p, ox, 1)
            let acc = 0
            for (let ic = 0; ic < icg; ic++) {
              const c = g * icg + ic
              for (let ky = ky0; ky < ky1; ky++) {
                const iy = y0 + ky * p.dilations[0]
                for (let kx = kx0; kx < kx1; kx++) {
                  const ix = x0 + kx * p.dilations[1]
                  const xv = x.data[((n * p.c + c) * p.h + iy) * p.w + ix]!
                  const wv = w.data[((oc * icg + ic) * p.kh + ky) * p.kw + kx]!
                  acc = f32(acc + f32(xv * wv))
                }
              }
            }
            out[((n * p.oc + oc) * p.oh + oy) * p.ow + ox] = bias === undefined ? acc : acc + bias.data[oc]!
          }
        }
      }
    }
    return tensor([p.n, p.oc, p.oh, p.ow], out)
  }

  maxPool2d(x: Tensor, p: Conv2dPlan): Tensor {
    let m = 0
    return pool2d(
      x,
      p,
      () => (m = F32_LOWEST),
      (v) => (m = Math.max(m, v)),
      () => m,
    )
  }

  averagePool2d(x: Tensor, p: Conv2dPlan, countIncludePad: boolean): Tensor {
    let sum = 0
    let count = 0
    return pool2d(
      x,
      p,
      () => (sum = count = 0),
      (v) => {
        sum = f32(sum + v)
        count++
      },
      // As the shader divides: by the count as an f32, 1 for a window wholly in the padding (whose sum is 0).
      () => sum / f32(countIncludePad ? p.kh * p.kw : Math.max(count, 1)),
    )
  }

  globalAveragePool(x: Tensor): Tensor {
    const p = planGlobalPool(x.shape)
    return tensor(p.out, reduceRows('mean', x.data, p.rows, p.n))
  }

  meanRows(a: Tensor): Tensor {
    return this.reduceRows('mean', a)
  }

  reduceRows(op: ReduceOp, a: Tensor): Tensor {
    const [rows, n] = rowsOf(a.shape, op)
    return tensor([rows], reduceRows(op, a.data, rows, n))
  }

  copyStrided(a: Tensor, view: StridedView): Tensor {
    return tensor(view.shape, copyStrided(a.data, view, new Float32Array(sizeOf(view.shape))))
  }

  gather(a: Tensor, plan: GatherPlan): Tensor {
    return tensor(plan.out, gatherInto(a.data, plan, new Float32Array(sizeOf(plan.out))))
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'Where'), b.shape, 'Where')
    const out = new Float32Array(sizeOf(shape))
    forEachBroadcast(shape, [cond.shape, a.shape, b.shape], (o, at) => {
      out[o] = cond.data[at[0]!] !== 0 ? a.data[at[1]!]! : b.data[at[2]!]!
    })
    return tensor(shape, out)
  }

  concat(inputs: readonly Tensor[], axis: number): Tensor {
    const p = planConcat(
      inputs.map((t) => t.shape),
      axis,
    )
    const out = new Float32Array(sizeOf(p.out))
    let offset = 0
    inputs.forEach((t, k) => {
      const block = p.blocks[k]!
      for (let o = 0; o < p.outer; o++) out.set(t.data.subarray(o * block, (o + 1) * block), o * p.outBlock + offset)
      offset += block
    })
    return tensor(p.out, out)
  }
}

/**
 * Each of `rows` consecutive runs of `n` values reduced as the shader's `rowReduceKernel` does: f32 sums in the
 * order of `pairwiseSum` (over `n` for the mean), or maxima in ascending order from `ROW_REDUCE_START.max`.
 */
export function reduceRows(op: ReduceOp, data: ArrayLike<number>, rows: number, n: number): Float32Array {
  const out = new Float32Array(rows)
  for (let i = 0; i < rows; i++) {
    if (op === 'max') {
      let acc = ROW_REDUCE_START.max
      for (let j = 0; j < n; j++) acc = Math.max(acc, data[i * n + j]!)
      out[i] = acc
    } else {
      const sum = pairwiseSum(n, (j) => data[i * n + j]!)
      out[i] = op === 'mean' ? sum / n : sum
    }
  }
  return out
}

/**
 * Where the window of output position `o` along `axis` (0 rows, 1 columns) starts in the input (negative in the
 * padding), and its taps that lie inside the input, `[begin, end)`: the shaders' `windowTapsBegin` and
 * `windowTapsEnd`, so taps in the padding cost nothing.
 */
function windowTaps(p: Conv2dPlan, o: number, axis: 0 | 1): [origin: number, begin: number, end: number] {
  const origin = o * p.strides[axis] - p.pads[axis]
  const d = p.dilations[axis]
  const size = axis === 0 ? p.h : p.w
  const k = axis === 0 ? p.kh : p.kw
  const begin = origin >= 0 ? 0 : Math.ceil(-origin / d)
  const end = origin >= size ? 0 : Math.min(k, Math.floor((size - 1 - origin) / d) + 1)
  return [origin, begin, end]
}

/**
 * 2-D pooling as the shader's `poolKernel`: for each output element, `start`, then `visit` with each window element
 * inside the input in ascending (ky, kx) order, then `result`.
 */
function pool2d(x: Tensor, p: Conv2dPlan, start: () => void, visit: (v: number) => void, result: () => number): Tensor {
  const out = new Float32Array(p.n * p.c * p.oh * p.ow)
  for (let nc = 0; nc < p.n * p.c; nc++) {
    for (let oy = 0; oy < p.oh; oy++) {
      const [y0, ky0, ky1] = windowTaps(p, oy, 0)
      for (let ox = 0; ox < p.ow; ox++) {
        const [x0, kx0, kx1] = windowTaps(p, ox, 1)
        start()
        for (let ky = ky0; ky < ky1; ky++) {
          const iy = y0 + ky * p.dilations[0]
          for (let kx = kx0; kx < kx1; kx++) {
            const ix = x0 + kx * p.dilations[1]
            visit(x.data[(nc * p.h + iy) * p.w + ix]!)
          }
        }
        out[(nc * p.oh + oy) * p.ow + ox] = result()
      }
    }
  }
  return tensor([p.n, p.c, p.oh, p.ow], out)
}
