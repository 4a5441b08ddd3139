/** Scalar definitions shared by the CPU reference and (as WGSL) by the GPU kernels. */

import type { ReduceOp } from './ops.js'

const f32 = Math.fround

/**
 * Below this |x| erf is Cephes' odd polynomial x * P(x^2) (relative error under 2e-7, so erf(1e-8) keeps its
 * digits); from it up, Abramowitz & Stegun 7.1.26, whose absolute error (below 1.5e-7) is relatively small there.
 */
const ERF_POLYNOMIAL_BELOW = 1
/** Coefficients of the polynomial P in z = x^2, highest power first. */
const ERF_SMALL = [
  7.853861353153693e-5, -8.010193625184903e-4, 5.188327685732524e-3, -2.685381193529856e-2, 1.128358514861418e-1,
  -3.7612625824233e-1, 1.12837916572671,
]
/** Below this |x| tanh is Cephes' odd polynomial x + x^3 * P(x^2); from it up, 1 - 2 / (exp(2|x|) + 1). */
const TANH_POLYNOMIAL_BELOW = 0.625
/** Coefficients of tanh's P, highest power first. */
const TANH_SMALL = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]
/** |x| beyond which tanh is ±1 in f32; ONNX Tanh's argument is clamped to it so exp(2|x|) stays finite. */
const TANH_SATURATION = 15

/** Horner's rule of `coefficients` (highest power first) at `z`, as the WGSL literal expression of it. */
function hornerWgsl(coefficients: readonly number[], z: string): string {
  return coefficients.slice(1).reduce((acc, c) => `(${acc} * ${z} + ${c})`, `${coefficients[0]}`)
}

/** Horner's rule at `z` in f32, each step rounded as the WGSL of {@link hornerWgsl} is. */
function hornerF32(coefficients: readonly number[], z: number): number {
  return coefficients.slice(1).reduce((acc, c) => f32(f32(acc * z) + f32(c)), f32(coefficients[0]!))
}

/** erf: WGSL has no erf builtin (see {@link ERF_POLYNOMIAL_BELOW}); the twin of {@link ERF_WGSL}'s. */
export function erf(x: number): number {
  if (Math.abs(x) < ERF_POLYNOMIAL_BELOW) return f32(x * hornerF32(ERF_SMALL, f32(x * x)))
  const s = x < 0 ? -1 : 1
  const a = Math.abs(x)
  const t = 1 / (1 + 0.3275911 * a)
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a)
  return f32(s * y)
}

/** The WGSL twin of {@link erf}. */
export const ERF_WGSL = /* wgsl */ `
fn erf(x: f32) -> f32 {
  let a = abs(x);
  if (a < ${ERF_POLYNOMIAL_BELOW}.0) { let z = x * x; return x * ${hornerWgsl(ERF_SMALL, 'z')}; }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
`

/** HardSwish's fixed HardSigmoid slope and offset (ONNX HardSwish). */
export const HARD_SWISH_ALPHA = 1 / 6
export const HARD_SWISH_BETA = 0.5

/** The most negative and the largest finite f32: ONNX Clip's bounds when min or max is omitted. */
export const F32_LOWEST = -3.4028234663852886e38
export const F32_MAX = 3.4028234663852886e38

/**
 * The value each row reduction's fold starts from, which an empty row gets: ONNX ReduceMax of nothing is -inf
 * (opset 18, as onnxruntime computes), so a row of -inf stays -inf. The shaders read it from their parameters:
 * WGSL has no infinity literal.
 */
export const ROW_REDUCE_START: Readonly<Record<ReduceOp, number>> = Object.freeze({ sum: 0, mean: 0, max: -Infinity })

/**
 * Elements each leaf of a {@link pairwiseSum} adds one after another. Longer leaves cost fewer merges; the error
 * grows with the leaf and with the logarithm of the row, not with the row (a sequential f32 sum of a million 0.1s is
 * 1.2 % off; this one, 2e-7).
 */
export const PAIRWISE_SUM_LEAF = 8

/** Depth of the pairwise sums' stack of partial sums: one per level, enough for any row of 2^31 elements. */
const PAIRWISE_SUM_LEVELS = 32

/**
 * The f32 sum of `value(j)` for j in [0, n), in a fixed order that depends on `n` alone: leaves of
 * {@link PAIRWISE_SUM_LEAF} consecutive terms summed in order, merged pairwise like a binary counter (two partial
 * sums of equal level become one of the next), and what remains added from the smallest up. The twin of
 * {@link pairwiseSumWgsl}, bit for bit: each addition is one f32 addition.
 */
export function pairwiseSum(n: number, value: (j: number) => number): number {
  const stack: number[] = []
  let leaves = 0
  for (let start = 0; start < n; start += PAIRWISE_SUM_LEAF) {
    let s = 0
    const end = Math.min(start + PAIRWISE_SUM_LEAF, n)
    for (let j = start; j < end; j++) s = f32(s + value(j))
    stack.push(s)
    leaves++
    for (let c = leaves; (c & 1) === 0; c >>>= 1) {
      const top = stack.pop()!
      stack.push(f32(stack.pop()! + top))
    }
  }
  let total = stack.pop() ?? 0
  while (stack.length > 0) total = f32(stack.pop()! + total)
  return total
}

/**
 * A WGSL function `name(base: u32, n: u32, shift: f32) -> f32` summing `term` (a WGSL expression of `j`, the index in
 * [0, n), and of `base` and `shift`) as {@link pairwiseSum} does.
 */
export function pairwiseSumWgsl(name: string, term: string): string {
  return /* wgsl */ `
fn ${name}(base: u32, n: u32, shift: f32) -> f32 {
  var stack: array<f32, ${PAIRWISE_SUM_LEVELS}>;
  var top = 0u;
  var leaves = 0u;
  for (var start = 0u; start < n; start += ${PAIRWISE_SUM_LEAF}u) {
    var s = 0.0;
    let end = min(start + ${PAIRWISE_SUM_LEAF}u, n);
    for (var j = start; j < end; j++) { s = s + ${term}; }
    stack[top] = s;
    top++;
    leaves++;
    for (var c = leaves; (c & 1u) == 0u; c = c >> 1u) {
      top--;
      stack[top - 1u] = stack[top - 1u] + stack[top];
    }
  }
  if (top == 0u) { return 0.0; }
  var total = stack[top - 1u];
  for (var k = top - 1u; k > 0u; k--) { total = stack[k - 1u] + total; }
  return total;
}
`
}

/**
 * The NaN rule both backends follow, as ONNX and onnxruntime do: a NaN operand of a maximum, minimum or clamp makes
 * the result NaN. WGSL's `max`, `min` and `clamp` return the other operand instead, and WGSL lets a driver assume
 * no NaN reaches them (so it may fold `x != x` to false): NaN is told by its bits, which no driver may assume away.
 * `maxNan` and `minNan` are the twins of JavaScript's `Math.max` and `Math.min`.
 */
export const NAN_WGSL = /* wgsl */ `
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isInf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn maxNan(x: f32, y: f32) -> f32 { return select(select(max(x, y), y, isNan(y)), x, isNan(x)); }
fn minNan(x: f32, y: f32) -> f32 { return select(select(min(x, y), y, isNan(y)), x, isNan(x)); }
fn tanhOnnx(x: f32) -> f32 {
  if (isNan(x)) { return x; }
  let a = abs(x);
  if (a < ${TANH_POLYNOMIAL_BELOW}) { let z = x * x; return ${hornerWgsl(TANH_SMALL, 'z')} * z * x + x; }
  let t = 1.0 - 2.0 / (exp(2.0 * min(a, ${TANH_SATURATION}.0)) + 1.0);
  return select(-t, t, x > 0.0);
}
fn clipOnnx(x: f32, lo: f32, hi: f32) -> f32 {
  if (isNan(x)) { return x; }
  let above = select(max(x, lo), x, isNan(lo));
  return select(min(above, hi), above, isNan(hi));
}
`

/**
 * ONNX Clip as onnxruntime computes it: a NaN input stays NaN, and a NaN bound bounds nothing (the twin of the
 * WGSL `clipOnnx`).
 */
export function clipOnnx(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x)) return x
  const above = Number.isNaN(lo) ? x : Math.max(x, lo)
  return Number.isNaN(hi) ? above : Math.min(above, hi)
}

/**
 * ONNX Pow, which is C's `pow`, in WGSL, whose `pow` is undefined for negative bases and zero: negative bases take
 * an integer exponent's sign (x^3 in exported tanh-Gelu), a square is an exact product (decomposed LayerNorm), and
 * a zero base keeps its sign for odd exponents (pow(-0, -1) = -inf). As in C, x^0 and 1^y are 1 even for a NaN
 * other operand, (-1)^±inf is 1, an infinite exponent counts as even, and any other NaN operand gives NaN.
 * Non-integer powers of negative bases are NaN, computed at run time because WGSL has no NaN literal.
 */
export const POW_WGSL = /* wgsl */ `
fn powOnnx(x: f32, y: f32) -> f32 {
  let xNan = isNan(x);
  let yNan = isNan(y);
  if ((!yNan && y == 0.0) || (!xNan && x == 1.0)) { return 1.0; }
  if (xNan) { return x; }
  if (yNan) { return y; }
  if (y == 2.0) { return x * x; }
  let ax = abs(x);
  let yInf = isInf(y);
  let yOdd = !yInf && fract(y * 0.5) == 0.5;
  if (ax == 0.0) {
    let r = select(1.0 / ax, 0.0, y > 0.0);
    return select(r, -r, yOdd && (bitcast<u32>(x) & 0x80000000u) != 0u);
  }
  if (yInf && ax == 1.0) { return 1.0; }
  if (x < 0.0 && !yInf && fract(y) != 0.0) { return sqrt(x); }
  let r = pow(ax, y);
  return select(r, -r, x < 0.0 && yOdd);
}
`

/** ONNX Pow (C's `pow`) on the CPU, rounded to f32: JavaScript's `Math.pow` differs only in 1^y and (-1)^±inf. */
export function powOnnx(x: number, y: number): number {
  if (x === 1 || (x === -1 && Math.abs(y) === Infinity)) return 1
  return f32(Math.pow(x, y))
}

/** Binary functions as WGSL expressions of `x` and `y`. */
export const BINARY_WGSL: Record<string, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  max: 'maxNan(x, y)',
  min: 'minNan(x, y)',
  pow: 'powOnnx(x, y)',
}

/** The same binary functions on the CPU (stored into f32, which rounds each once); `Math.max` passes NaN on. */
export const BINARY_CPU: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  max: (x, y) => Math.max(x, y),
  min: (x, y) => Math.min(x, y),
  pow: powOnnx,
}

/** Unary functions as WGSL expressions of `x` (and `alpha`, `beta`). */
export const UNARY_WGSL: Record<string, string> = {
  relu: 'maxNan(x, 0.0)',
  leakyRelu: 'select(x * alpha, x, x >= 0.0)',
  gelu: '0.5 * x * (1.0 + erf(x * 0.7071067811865476))',
  geluTanh: '0.5 * x * (1.0 + tanhOnnx(0.7978845608028654 * (x + 0.044715 * x * x * x)))',
  tanh: 'tanhOnnx(x)',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  erf: 'erf(x)',
  exp: 'exp(x)',
  sqrt: 'sqrt(x)',
  neg: '-x',
  abs: 'abs(x)',
  identity: 'x',
  scale: 'x * alpha',
  clip: 'clipOnnx(x, alpha, beta)',
  hardSigmoid: 'maxNan(0.0, minNan(1.0, alpha * x + beta))',
  hardSwish: `x * maxNan(0.0, minNan(1.0, x * ${HARD_SWISH_ALPHA} + ${HARD_SWISH_BETA}))`,
}

/** The same unary functions on the CPU, rounded to f32. */
export const UNARY_CPU: Record<string, (x: number, alpha: number, beta: number) => number> = {
  relu: (x) => Math.max(x, 0),
  leakyRelu: (x, alpha) => f32(x >= 0 ? x : x * alpha),
  gelu: (x) => f32(f32(0.5 * x) * f32(1 + erf(f32(x * SQRT_HALF)))),
  geluTanh: geluTanh,
  tanh: (x) => f32(Math.tanh(x)),
  sigmoid: (x) => f32(1 / (1 + Math.exp(-x))),
  erf: (x) => erf(x),
  exp: (x) => f32(Math.exp(x)),
  sqrt: (x) => f32(Math.sqrt(x)),
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  identity: (x) => x,
  scale: (x, alpha) => f32(x * alpha),
  clip: (x, alpha, beta) => clipOnnx(x, f32(alpha), f32(beta)),
  hardSigmoid: (x, alpha, beta) => hardSigmoid(x, f32(alpha), f32(beta)),
  hardSwish: (x) => f32(x * hardSigmoid(x, f32(HARD_SWISH_ALPHA), HARD_SWISH_BETA)),
}

/** Gelu's constants, f32 as the WGSL literals become. */
const SQRT_HALF = f32(0.7071067811865476)
const SQRT_2_OVER_PI = f32(0.7978845608028654)
const GELU_CUBIC = f32(0.044715)

/**
 * Gelu(tanh) with every step rounded to f32 as the shader's is, so that the backends agree where rounding decides:
 * at x = -1e20 the cube overflows to -inf and tanh is -1, giving -0 (not -9.4e6), and at -inf, NaN.
 */
function geluTanh(x: number): number {
  const cube = f32(f32(f32(GELU_CUBIC * x) * x) * x)
  const inner = f32(SQRT_2_OVER_PI * f32(x + cube))
  const t = f32(Math.tanh(Math.max(-TANH_SATURATION, Math.min(TANH_SATURATION, inner))))
  return f32(f32(0.5 * x) * f32(1 + t))
}

function hardSigmoid(x: number, alpha: number, beta: number): number {
  return Math.max(0, Math.min(1, f32(f32(alpha * x) + beta)))
}
