import { DEFAULT_ATOL_SCALE, DEFAULT_MIN_PSNR_DB, DEFAULT_RTOL } from './constants.js'
import { ProofError } from './errors.js'

/**
 * Tolerance classes: how a revealed chunk is compared with the verifier's recomputation. Outputs of one driver are
 * bit-identical, but GPUs and drivers differ in rounding, fused multiply-add and transcendental functions, so a
 * bitwise check would fail honest workers on other hardware (Livepeer's sampled check fails across GPUs for this
 * reason). Each task type declares its class in the Result's `tolerance` label; the thresholds are the verifier's
 * policy, never the worker's.
 *
 * | label          | chunk bytes                                   | passes when                                      |
 * | -------------- | --------------------------------------------- | ------------------------------------------------ |
 * | `bitwise`      | anything                                      | the bytes are equal                              |
 * | `relative`     | float32 little-endian tensor elements         | every `|a-b| <= rtol*|b| + atolScale*max|b|`     |
 * | `psnr:rgba8`   | pixels as 4 x uint8 (R, G, B, A)              | PSNR over RGB, peak 255, >= minPsnrDb            |
 * | `psnr:rgba32f` | pixels as 4 x float32 LE, linear radiance     | PSNR over sRGB-encoded RGB, peak 1, >= minPsnrDb |
 */
export type ToleranceClass =
  | { kind: 'bitwise' }
  | { kind: 'relative'; rtol: number; atolScale: number }
  | { kind: 'psnr'; format: PixelFormat; minPsnrDb: number }

/** Pixel layouts an image chunk may have. */
export type PixelFormat = 'rgba8' | 'rgba32f'

/** The verifier's thresholds. */
export interface ToleranceOptions {
  /**
   * Relative error allowed per tensor element.
   * @default 1e-4
   */
  rtol?: number
  /**
   * Absolute error allowed per tensor element, as a fraction of the chunk's largest magnitude: elements near zero
   * after cancellation carry the rounding error of the large terms that cancelled.
   * @default 1e-4
   */
  atolScale?: number
  /**
   * Lowest PSNR (dB) an image chunk may have against the recomputation.
   * @default 30
   */
  minPsnrDb?: number
}

/** What a comparison found. `metric` is the worst element's error over its allowance (relative) or the PSNR in dB. */
export interface Comparison {
  ok: boolean
  metric: number
  /** Why it failed: sizes differ, a NaN or infinity, differing bytes, an element over its allowance, PSNR too low. */
  reason?: 'length' | 'nan' | 'bytes' | 'error' | 'psnr'
}

/** The smallest normal float32: GPUs flush subnormals to zero, CPUs do not, so differences below it are noise. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38
const PIXEL_BYTES: Readonly<Record<PixelFormat, number>> = { rgba8: 4, rgba32f: 16 }

/** Parses a Result's tolerance label into a class with the verifier's thresholds. */
export function parseTolerance(label: string, options: ToleranceOptions = {}): ToleranceClass {
  switch (label) {
    case 'bitwise':
      return { kind: 'bitwise' }
    case 'relative':
      return {
        kind: 'relative',
        rtol: options.rtol ?? DEFAULT_RTOL,
        atolScale: options.atolScale ?? DEFAULT_ATOL_SCALE,
      }
    case 'psnr:rgba8':
    case 'psnr:rgba32f':
      return {
        kind: 'psnr',
        format: label.slice('psnr:'.length) as PixelFormat,
        minPsnrDb: options.minPsnrDb ?? DEFAULT_MIN_PSNR_DB,
      }
    default:
      throw new ProofError(
        'PROOF__UNKNOWN_TOLERANCE',
        `tolerance ${JSON.stringify(label)} is not one of bitwise, relative, psnr:rgba8, psnr:rgba32f`,
        { label },
      )
  }
}

/** The label a class travels under in a Result. */
export function toleranceLabel(tolerance: ToleranceClass): string {
  return tolerance.kind === 'psnr' ? `psnr:${tolerance.format}` : tolerance.kind
}

/** Compares a revealed chunk with the verifier's recomputation of it. Never throws. */
export function compareChunks(tolerance: ToleranceClass, revealed: Uint8Array, reference: Uint8Array): Comparison {
  switch (tolerance.kind) {
    case 'bitwise':
      return compareBitwise(revealed, reference)
    case 'relative':
      return compareRelative(revealed, reference, tolerance.rtol, tolerance.atolScale)
    case 'psnr': {
      const db = psnr(revealed, reference, tolerance.format)
      if (Number.isNaN(db)) {
        const whole =
          revealed.byteLength === reference.byteLength && revealed.byteLength % PIXEL_BYTES[tolerance.format] === 0
        return { ok: false, metric: db, reason: whole && revealed.byteLength > 0 ? 'nan' : 'length' }
      }
      return db >= tolerance.minPsnrDb ? { ok: true, metric: db } : { ok: false, metric: db, reason: 'psnr' }
    }
  }
}

/** Equal bytes. `metric` is the number of differing bytes. */
export function compareBitwise(a: Uint8Array, b: Uint8Array): Comparison {
  if (a.byteLength !== b.byteLength) return { ok: false, metric: Number.POSITIVE_INFINITY, reason: 'length' }
  let differing = 0
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) differing++
  return differing === 0 ? { ok: true, metric: 0 } : { ok: false, metric: differing, reason: 'bytes' }
}

/**
 * float32 tensors: each element must satisfy `|a - b| <= rtol*|b| + atolScale*S` with S the largest finite
 * magnitude in the reference chunk (and never less than the smallest normal float32). NaN must meet NaN and an
 * infinity the same infinity. `metric` is the worst `|a - b|` over its allowance: at most 1 passes.
 */
export function compareRelative(a: Uint8Array, b: Uint8Array, rtol: number, atolScale: number): Comparison {
  if (a.byteLength !== b.byteLength || a.byteLength % 4 !== 0) {
    return { ok: false, metric: Number.POSITIVE_INFINITY, reason: 'length' }
  }
  const x = new DataView(a.buffer, a.byteOffset, a.byteLength)
  const y = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let scale = 0
  for (let i = 0; i < b.byteLength; i += 4) {
    const v = Math.abs(y.getFloat32(i, true))
    if (Number.isFinite(v) && v > scale) scale = v
  }
  const floor = Math.max(atolScale * scale, FLOAT32_MIN_NORMAL)
  let worst = 0
  for (let i = 0; i < a.byteLength; i += 4) {
    const u = x.getFloat32(i, true)
    const v = y.getFloat32(i, true)
    if (u === v) continue
    if (Number.isNaN(u) || Number.isNaN(v)) {
      if (Number.isNaN(u) && Number.isNaN(v)) continue
      return { ok: false, metric: Number.POSITIVE_INFINITY, reason: 'nan' }
    }
    if (!Number.isFinite(u) || !Number.isFinite(v))
      return { ok: false, metric: Number.POSITIVE_INFINITY, reason: 'error' }
    const ratio = Math.abs(u - v) / (rtol * Math.abs(v) + floor)
    if (ratio > worst) worst = ratio
  }
  return worst <= 1 ? { ok: true, metric: worst } : { ok: false, metric: worst, reason: 'error' }
}

/**
 * Peak signal-to-noise ratio of `a` against the reference `b`, in dB, over the R, G and B channels of every pixel:
 * `10*log10(peak^2 / MSE)`. `rgba8` compares the stored 8-bit values (peak 255). `rgba32f` is linear radiance, as
 * `@tessera/gpu` renders it: each channel is clamped to [0, 1] and sRGB-encoded first (peak 1), so errors count as
 * they would show on screen and a bright highlight does not dwarf the rest; this is the metric and the 30 dB bar
 * the GPU package measured between its CPU reference and lavapipe. Alpha is not compared (renders are opaque).
 * Infinity when identical; NaN when the lengths differ or are not whole pixels, or when a value is not finite in one
 * image only (a NaN where the reference has a number is never noise).
 */
export function psnr(a: Uint8Array, b: Uint8Array, format: PixelFormat): number {
  if (a.byteLength !== b.byteLength || a.byteLength === 0 || a.byteLength % PIXEL_BYTES[format] !== 0) return Number.NaN
  let sum = 0
  let n = 0
  if (format === 'rgba8') {
    for (let i = 0; i < a.byteLength; i++) {
      if (i % 4 === 3) continue
      const d = (a[i] as number) - (b[i] as number)
      sum += d * d
      n++
    }
    return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / (sum / n))
  }
  const x = new DataView(a.buffer, a.byteOffset, a.byteLength)
  const y = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < a.byteLength; i += 4) {
    if (i % 16 === 12) continue
    const u = x.getFloat32(i, true)
    const v = y.getFloat32(i, true)
    n++
    if (!Number.isFinite(u) || !Number.isFinite(v)) {
      if (Object.is(u, v)) continue
      return Number.NaN
    }
    const d = srgbEncode(u) - srgbEncode(v)
    sum += d * d
  }
  return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(1 / (sum / n))
}

/** The sRGB transfer function of a linear value clamped to [0, 1]. */
function srgbEncode(linear: number): number {
  const c = linear <= 0 ? 0 : Math.min(1, linear)
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055
}
