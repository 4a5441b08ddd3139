import {
  MAX_FIRST_FRAME,
  MAX_FPS,
  MAX_FRAMES_PER_JOB,
  MAX_IMAGE_SIDE,
  MAX_INFERENCE_ITEMS,
  MAX_SAMPLES_PER_PIXEL,
  MIN_FPS,
} from '@tessera/core'
import { MAX_JOB_TIMEOUT_MS } from '@tessera/scheduler'
import { InvalidArgumentError } from 'commander'
import { MAX_FRAME_NUMBER } from '../constants.js'

/** Parses a positive integer flag, with a message commander prints on failure. */
export function parsePositiveInt(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer')
  return n
}

/** Parses an image side or tile side flag: 1 to {@link MAX_IMAGE_SIDE} pixels, what a render order may ask. */
export function parseImageSide(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_IMAGE_SIDE) throw new InvalidArgumentError(`expected 1 to ${MAX_IMAGE_SIDE} pixels`)
  return n
}

/** Parses a samples-per-pixel flag: 1 to {@link MAX_SAMPLES_PER_PIXEL}, what a render order may ask. */
export function parseSamples(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_SAMPLES_PER_PIXEL) throw new InvalidArgumentError(`expected 1 to ${MAX_SAMPLES_PER_PIXEL} samples`)
  return n
}

/** Parses a job's frame count flag: 1 to {@link MAX_FRAMES_PER_JOB}, what a render order may ask. */
export function parseFrameCount(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_FRAMES_PER_JOB) throw new InvalidArgumentError(`expected 1 to ${MAX_FRAMES_PER_JOB} frames`)
  return n
}

/** Parses an inference job's item count flag: 1 to {@link MAX_INFERENCE_ITEMS}, what an inference order may ask. */
export function parseItemCount(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_INFERENCE_ITEMS) throw new InvalidArgumentError(`expected 1 to ${MAX_INFERENCE_ITEMS} items`)
  return n
}

/** Parses a job's first frame flag: 0 to {@link MAX_FIRST_FRAME}, so its last frame's number still fits a task id. */
export function parseFirstFrame(value: string): number {
  const n = parseNonNegativeInt(value)
  if (n > MAX_FIRST_FRAME) throw new InvalidArgumentError(`expected 0 to ${MAX_FIRST_FRAME}`)
  return n
}

/** Parses a frame number flag: 0 to {@link MAX_FRAME_NUMBER}, a frame some render job may have. */
export function parseFrameNumber(value: string): number {
  const n = parseNonNegativeInt(value)
  if (n > MAX_FRAME_NUMBER) throw new InvalidArgumentError(`expected 0 to ${MAX_FRAME_NUMBER}`)
  return n
}

/** Parses a job deadline flag in seconds: at most {@link MAX_JOB_TIMEOUT_MS}, checked before anything is uploaded. */
export function parseDeadline(value: string): number {
  const n = parsePositiveInt(value)
  if (n * 1000 > MAX_JOB_TIMEOUT_MS) {
    throw new InvalidArgumentError(`expected at most ${MAX_JOB_TIMEOUT_MS / 1000} seconds (30 days)`)
  }
  return n
}

/** Parses a non-negative integer flag. */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number')
  return n
}

/** Parses a positive finite number flag (decimals allowed). */
export function parsePositiveNumber(value: string): number {
  const n = Number(value)
  if (!/^\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value) || !(n > 0) || !Number.isFinite(n)) {
    throw new InvalidArgumentError('expected a positive number')
  }
  return n
}

/** Parses a finite number flag of either sign (decimals allowed). */
export function parseFiniteNumber(value: string): number {
  const n = Number(value)
  if (!/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value) || !Number.isFinite(n)) {
    throw new InvalidArgumentError('expected a number')
  }
  return n
}

/** Parses a token amount flag (decimal integer, u64). */
export function parseAmount(value: string): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > 0xffff_ffff_ffff_ffffn) {
    throw new InvalidArgumentError('expected a whole number of token units')
  }
  return BigInt(value)
}

/** Parses a frame rate flag: a number from {@link MIN_FPS} to {@link MAX_FPS}. */
export function parseFps(value: string): number {
  const fps = parsePositiveNumber(value)
  if (fps < MIN_FPS || fps > MAX_FPS)
    throw new InvalidArgumentError(`expected ${MIN_FPS} to ${MAX_FPS} frames per second`)
  return fps
}
