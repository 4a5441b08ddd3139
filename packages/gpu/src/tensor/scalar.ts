/** Scalar definitions shared by the CPU reference and (as WGSL) by the GPU kernels. */

const f32 = Math.fround

/** erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): WGSL has no erf builtin. */
export function erf(x: number): number {
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
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
`

/** Unary functions as WGSL expressions of `x` (and `alpha`). */
export const UNARY_WGSL: Record<string, string> = {
  relu: 'max(x, 0.0)',
  leakyRelu: 'select(x * alpha, x, x >= 0.0)',
  gelu: '0.5 * x * (1.0 + erf(x * 0.7071067811865476))',
  geluTanh: '0.5 * x * (1.0 + tanh(clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0)))',
  tanh: 'tanh(clamp(x, -15.0, 15.0))',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  erf: 'erf(x)',
  exp: 'exp(x)',
  sqrt: 'sqrt(x)',
  neg: '-x',
  abs: 'abs(x)',
  identity: 'x',
  scale: 'x * alpha',
}

/** The same unary functions on the CPU, rounded to f32. */
export const UNARY_CPU: Record<string, (x: number, alpha: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  leakyRelu: (x, alpha) => f32(x >= 0 ? x : x * alpha),
  gelu: (x) => f32(0.5 * x * (1 + erf(f32(x * 0.7071067811865476)))),
  geluTanh: (x) =>
    f32(0.5 * x * (1 + Math.tanh(Math.max(-15, Math.min(15, 0.7978845608028654 * (x + 0.044715 * x * x * x)))))),
  tanh: (x) => f32(Math.tanh(x)),
  sigmoid: (x) => f32(1 / (1 + Math.exp(-x))),
  erf: (x) => erf(x),
  exp: (x) => f32(Math.exp(x)),
  sqrt: (x) => f32(Math.sqrt(x)),
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  identity: (x) => x,
  scale: (x, alpha) => f32(x * alpha),
}
