import {
  DEFAULT_ATOL_SCALE,
  DEFAULT_MIN_PSNR_DB,
  DEFAULT_PSNR_OUTLIER_FRACTION,
  DEFAULT_RTOL,
  MAX_PSNR_OUTLIER_FRACTION,
} from './constants.js'
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
 *
 * Both PSNR classes leave out the chunk's worst `outlierFraction` of pixels (see
 * {@link DEFAULT_PSNR_OUTLIER_FRACTION}): across drivers a path tracer's output differs by rare whole-pixel
 * outliers, not by noise spread over the image.
 */
export type ToleranceClass =
  | { kind: 'bitwise' }
  | { kind: 'relative'; rtol: number; atolScale: number }
  | { kind: 'psnr'; format: PixelFormat; minPsnrDb: number; outlierFraction: number }

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
  /**
   * Share of an image chunk's pixels left out of its PSNR, worst first, rounded down; at most
   * {@link MAX_PSNR_OUTLIER_FRACTION}.
   * @default 1/32
   */
  psnrOutlierFraction?: number
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

/**
 * Checks the verifier's thresholds, so a typo in a config fails at start-up rather than passing or failing every
 * chunk. Throws `PROOF__INVALID_INPUT` naming the option.
 */
export function validateToleranceOptions(options: ToleranceOptions): void {
  const check = (name: keyof ToleranceOptions, ok: (v: number) => boolean, range: string): void => {
    const v = options[name]
    if (v === undefined) return
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new ProofError('PROOF__INVALID_INPUT', `tolerance option ${name} is ${String(v)}, expected ${range}`, {
        option: name,
        value: v,
      })
    }
  }
  check('rtol', (v) => v >= 0, 'a number >= 0')
  check('atolScale', (v) => v >= 0, 'a number >= 0')
  check('minPsnrDb', (v) => v > 0, 'a number of dB > 0')
  check(
    'psnrOutlierFraction',
    (v) => v >= 0 && v <= MAX_PSNR_OUTLIER_FRACTION,
    `a share between 0 and ${MAX_PSNR_OUTLIER_FRACTION}`,
  )
}

const TOLERANCE_LABELS: ReadonlySet<string> = new Set(['bitwise', 'relative', 'psnr:rgba8', 'psnr:rgba32f'])

/** Whether `label` names a tolerance class: what {@link parseTolerance} accepts. */
export function isToleranceLabel(label: string): boolean {
  return TOLERANCE_LABELS.has(label)
}

/** Parses a Result's tolerance label into a class with the verifier's thresholds (checked as above). */
export function parseTolerance(label: string, options: ToleranceOptions = {}): ToleranceClass {
  validateToleranceOptions(options)
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
        outlierFraction: options.psnrOutlierFraction ?? DEFAULT_PSNR_OUTLIER_FRACTION,
      }
    default:
      throw new ProofError(
        'PROOF__UNKNOWN_TOLERANCE',
        `tolerance ${JSON.stringify(label)} is not one of ${[...TOLERANCE_LABELS].join(', ')}`,
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
      const db = psnr(revealed, reference, tolerance.format, tolerance.outlierFraction)
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
 * Peak signal-to-noise ratio of `a` against the reference `b`, in dB, over the R, G and B channels of every pixel
 * but the worst `floor(pixels * outlierFraction)` (by their squared error summed over R, G and B):
 * `10*log10(peak^2 / MSE)`. `rgba8` compares the stored 8-bit values (peak 255). `rgba32f` is linear radiance, as
 * `@tessera/gpu` renders it: each channel is clamped to [0, 1] and sRGB-encoded first (peak 1), so errors count as
 * they would show on screen and a bright highlight does not dwarf the rest; this is the metric and the 30 dB bar
 * the GPU package measured between its CPU reference and lavapipe. Alpha is not compared (renders are opaque).
 * Infinity when the kept pixels are identical; NaN when the lengths differ or are not whole pixels, or when a value
 * is not finite in one image only (a NaN where the reference has a number is never noise, nor an outlier).
 */
export function psnr(a: Uint8Array, b: Uint8Array, format: PixelFormat, outlierFraction = 0): number {
  const errors = pixelErrors(a, b, format)
  if (errors === undefined) return Number.NaN
  const outliers = Math.floor(errors.length * outlierFraction)
  // Ascending, so the kept pixels are the first ones; sorting only when some are left out keeps the plain metric's
  // summation order.
  if (outliers > 0) errors.sort()
  let sum = 0
  const kept = errors.length - outliers
  for (let p = 0; p < kept; p++) sum += errors[p] as number
  const peak = format === 'rgba8' ? 255 : 1
  return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((peak * peak) / (sum / (kept * 3)))
}

/** Each pixel's squared error summed over R, G and B; undefined where {@link psnr} is NaN. */
function pixelErrors(a: Uint8Array, b: Uint8Array, format: PixelFormat): Float64Array | undefined {
  const stride = PIXEL_BYTES[format]
  if (a.byteLength !== b.byteLength || a.byteLength === 0 || a.byteLength % stride !== 0) return undefined
  const errors = new Float64Array(a.byteLength / stride)
  if (format === 'rgba8') {
    for (let p = 0; p < errors.length; p++) {
      let e = 0
      for (let c = 0; c < 3; c++) {
        const d = (a[p * 4 + c] as number) - (b[p * 4 + c] as number)
        e += d * d
      }
      errors[p] = e
    }
    return errors
  }
  const x = new DataView(a.buffer, a.byteOffset, a.byteLength)
  const y = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let p = 0; p < errors.length; p++) {
    let e = 0
    for (let c = 0; c < 3; c++) {
      const u = x.getFloat32(p * 16 + c * 4, true)
      const v = y.getFloat32(p * 16 + c * 4, true)
      if (!Number.isFinite(u) || !Number.isFinite(v)) {
        if (Object.is(u, v)) continue
        return undefined
      }
      const d = srgbEncode(u) - srgbEncode(v)
      e += d * d
    }
    errors[p] = e
  }
  return errors
}

/** The sRGB transfer function of a linear value clamped to [0, 1]. */
function srgbEncode(linear: number): number {
  const c = linear <= 0 ? 0 : Math.min(1, linear)
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055
}
