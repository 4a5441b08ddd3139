import { GpuError } from './errors.js'
import { srgbEncode } from './render/image.js'

/** How two outputs of one task are compared. */
export type ToleranceClass =
  | { readonly kind: 'bitwise' }
  | { readonly kind: 'relative'; readonly maxRelativeError: number }
  | { readonly kind: 'psnr'; readonly minDb: number }

/**
 * The tolerance class each task type declares, as data for the proof package and verifiers.
 *
 * - `render`: images from different drivers differ where float rounding sends a path elsewhere, so they compare
 *   by PSNR over the sRGB-encoded RGB channels (exposure 1, clamped to [0, 1], peak 1). 30 dB is the bar set by the
 *   CPU reference against lavapipe; see README for measured values. Verifiers apply it per chunk (a tile row) and
 *   leave out each row's worst 1/32 of pixels (`@tessera/proof`'s `psnrOutlierFraction`): at 1 spp one sample
 *   sent elsewhere takes a row under the bar on every pair of drivers measured.
 * - `inference`: tensors compare by normwise relative error, max|a - b| / max|b| (b = the verifier's output).
 * - `sameDriver`: one driver reproduces its own output bit for bit (tested), so a verifier with the same adapter
 *   can demand equality.
 */
export const TOLERANCE = Object.freeze({
  render: Object.freeze({ kind: 'psnr', minDb: 30 }),
  inference: Object.freeze({ kind: 'relative', maxRelativeError: 1e-4 }),
  sameDriver: Object.freeze({ kind: 'bitwise' }),
} as const satisfies Record<string, ToleranceClass>)

/** Task types with a declared tolerance class. */
export type TaskKind = 'render' | 'inference'

/** PSNR in dB between two linear RGBA float images of equal size (Infinity when identical after encoding). */
export function psnr(a: Float32Array, b: Float32Array): number {
  assertSameLength(a, b)
  let sum = 0
  let n = 0
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = srgbEncode(a[i + c]!) - srgbEncode(b[i + c]!)
      sum += d * d
      n++
    }
  }
  const mse = n === 0 ? 0 : sum / n
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse)
}

/** Normwise relative error max|actual - expected| / max|expected| (0 when both are all zero). */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  assertSameLength(actual, expected)
  let diff = 0
  let scale = 0
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity
    diff = Math.max(diff, Math.abs(a - e) || 0)
    scale = Math.max(scale, Math.abs(e) || 0)
  }
  if (diff === 0) return 0
  return scale === 0 ? Infinity : diff / scale
}

/** True when two byte views hold the same bytes. */
export function bitwiseEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

/** The outcome of comparing a claimed output with a recomputed one. */
export interface Comparison {
  ok: boolean
  /** The measured figure: dB for PSNR, the error for relative, 0/1 mismatch for bitwise. */
  value: number
}

/**
 * Compares a worker's output with a verifier's recomputation under a tolerance class. Render outputs are RGBA
 * float32 rows; inference outputs are float32 tensors.
 */
export function compareOutputs(tolerance: ToleranceClass, claimed: Float32Array, recomputed: Float32Array): Comparison {
  switch (tolerance.kind) {
    case 'bitwise': {
      const ok = bitwiseEqual(claimed, recomputed)
      return { ok, value: ok ? 0 : 1 }
    }
    case 'relative': {
      const value = relativeError(claimed, recomputed)
      return { ok: value <= tolerance.maxRelativeError, value }
    }
    case 'psnr': {
      const value = psnr(claimed, recomputed)
      return { ok: value >= tolerance.minDb, value }
    }
  }
}

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length)
    throw new GpuError('GPU__SHAPE_MISMATCH', 'outputs of different sizes cannot be compared', {
      a: a.length,
      b: b.length,
    })
}
