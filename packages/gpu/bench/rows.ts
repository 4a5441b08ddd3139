/**
 * The verifier's view of two renders of one tile: a verifier compares challenged chunks (tile rows) under the
 * proof package's `psnr:rgba32f` class, so the determinism profile reports the worst row under the plain PSNR and
 * under that check (which leaves out each row's worst 1/32 of pixels), and how many rows the check fails.
 */
import { DEFAULT_MIN_PSNR_DB, DEFAULT_PSNR_OUTLIER_FRACTION, psnr } from '@tessera/proof'
import { float32Bytes } from '../src/index.js'

export interface RowCheck {
  /** The lowest PSNR of a row, every pixel counted (dB). */
  readonly worstRowDb: number
  /** The lowest PSNR of a row as the verifier's check counts it (dB). */
  readonly worstRowCheckedDb: number
  /** Rows the verifier's check fails: an honest worker on the other driver would be accused this often. */
  readonly failingRows: number
}

/** Compares `a` with the reference `b`, both `width`-pixel rows of linear RGBA float32, row by row. */
export function rowCheck(a: Float32Array, b: Float32Array, width: number): RowCheck {
  const rowFloats = width * 4
  let worstRowDb = Infinity
  let worstRowCheckedDb = Infinity
  let failingRows = 0
  for (let start = 0; start < b.length; start += rowFloats) {
    const x = float32Bytes(a.subarray(start, start + rowFloats))
    const y = float32Bytes(b.subarray(start, start + rowFloats))
    worstRowDb = Math.min(worstRowDb, psnr(x, y, 'rgba32f'))
    const checked = psnr(x, y, 'rgba32f', DEFAULT_PSNR_OUTLIER_FRACTION)
    worstRowCheckedDb = Math.min(worstRowCheckedDb, checked)
    // The verifier's pass: at least the bar (NaN, a value that is not finite in one image only, fails).
    if (!(checked >= DEFAULT_MIN_PSNR_DB)) failingRows++
  }
  return { worstRowDb, worstRowCheckedDb, failingRows }
}
