import {
  MAX_ENVIRONMENT_INTENSITY,
  MAX_ENVIRONMENT_ROTATION,
  MAX_FIRST_FRAME,
  MAX_FLOPS_PER_TASK,
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

/**
 * `parse`, then at most `max`: an integer flag bounded as an order bounds it, the message naming the range (`min`
 * to `max`, in `unit` when given).
 */
function bounded(parse: (value: string) => number, min: number, max: number, unit = ''): (value: string) => number {
  return (value) => {
    const n = parse(value)
    if (n > max) throw new InvalidArgumentError(`expected ${min} to ${max}${unit === '' ? '' : ` ${unit}`}`)
    return n
  }
}

/** Parses an image side or tile side flag: 1 to {@link MAX_IMAGE_SIDE} pixels, what a render order may ask. */
export const parseImageSide = bounded(parsePositiveInt, 1, MAX_IMAGE_SIDE, 'pixels')

/** Parses a samples-per-pixel flag: 1 to {@link MAX_SAMPLES_PER_PIXEL}, what a render order may ask. */
export const parseSamples = bounded(parsePositiveInt, 1, MAX_SAMPLES_PER_PIXEL, 'samples')

/** Parses a job's frame count flag: 1 to {@link MAX_FRAMES_PER_JOB}, what a render order may ask. */
export const parseFrameCount = bounded(parsePositiveInt, 1, MAX_FRAMES_PER_JOB, 'frames')

/** Parses an inference job's item count flag: 1 to {@link MAX_INFERENCE_ITEMS}, what an inference order may ask. */
export const parseItemCount = bounded(parsePositiveInt, 1, MAX_INFERENCE_ITEMS, 'items')

/** Parses an inference job's FLOPs-per-item flag: 1 to {@link MAX_FLOPS_PER_TASK}, what an inference order declares. */
export const parseFlopsPerItem = bounded(parsePositiveInt, 1, MAX_FLOPS_PER_TASK, 'FLOPs')

/** Most measured runs `bench` may ask for: what `@tessera/gpu`'s `runCapacityBenchmark` takes. */
export const MAX_BENCH_RUNS = 100

/** Parses `bench`'s runs flag: 1 to {@link MAX_BENCH_RUNS}, checked before the device is opened. */
export const parseBenchRuns = bounded(parsePositiveInt, 1, MAX_BENCH_RUNS, 'runs')

/** Parses a job's first frame flag: 0 to {@link MAX_FIRST_FRAME}, so its last frame's number still fits a task id. */
export const parseFirstFrame = bounded(parseNonNegativeInt, 0, MAX_FIRST_FRAME)

/** Parses a frame number flag: 0 to {@link MAX_FRAME_NUMBER}, a frame some render job may have. */
export const parseFrameNumber = bounded(parseNonNegativeInt, 0, MAX_FRAME_NUMBER)

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

/**
 * Parses a probability flag: a decimal number above 0 and below 1, or up to 1 with `closed` (a verification budget's
 * `detect`, `cheatRate` and `maxOverhead`).
 */
export function parseFraction(closed: boolean): (value: string) => number {
  return (value) => {
    let n = Number.NaN
    try {
      n = parsePositiveNumber(value)
    } catch {
      // Refused below with the range this flag takes, not the bare "positive number".
    }
    if (!(closed ? n <= 1 : n < 1)) {
      throw new InvalidArgumentError(
        closed ? 'expected a number above 0, at most 1' : 'expected a number between 0 and 1',
      )
    }
    return n
  }
}

/** Parses a token amount flag (decimal integer, u64). */
export function parseAmount(value: string): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > 0xffff_ffff_ffff_ffffn) {
    throw new InvalidArgumentError('expected a whole number of token units')
  }
  return BigInt(value)
}

/**
 * Parses a token amount of at least one unit: an airdrop of none would pay a fee to mint nothing, and a job of no
 * maximum price has no budget to fund.
 */
export function parsePositiveAmount(value: string): bigint {
  const amount = parseAmount(value)
  if (amount === 0n) throw new InvalidArgumentError('expected at least 1 token unit')
  return amount
}

/** Parses a frame rate flag: a number from {@link MIN_FPS} to {@link MAX_FPS}. */
export function parseFps(value: string): number {
  const fps = parsePositiveNumber(value)
  if (fps < MIN_FPS || fps > MAX_FPS)
    throw new InvalidArgumentError(`expected ${MIN_FPS} to ${MAX_FPS} frames per second`)
  return fps
}

/** Parses an environment panorama's intensity flag: a positive number up to what an order may ask. */
export function parseEnvironmentIntensity(value: string): number {
  const intensity = parsePositiveNumber(value)
  if (intensity > MAX_ENVIRONMENT_INTENSITY) {
    throw new InvalidArgumentError(`expected a positive number up to ${MAX_ENVIRONMENT_INTENSITY}`)
  }
  return intensity
}

/**
 * Most degrees an environment panorama's rotation flag may turn either way: an order's bound
 * ({@link MAX_ENVIRONMENT_ROTATION} radians), in the degrees the flag takes.
 */
export const MAX_ENVIRONMENT_ROTATION_DEGREES = Math.floor((MAX_ENVIRONMENT_ROTATION * 180) / Math.PI)

/** Parses an environment panorama's rotation flag, in degrees, within {@link MAX_ENVIRONMENT_ROTATION_DEGREES}. */
export function parseEnvironmentRotation(value: string): number {
  const degrees = parseFiniteNumber(value)
  if (Math.abs(degrees) > MAX_ENVIRONMENT_ROTATION_DEGREES) {
    throw new InvalidArgumentError(
      `expected -${MAX_ENVIRONMENT_ROTATION_DEGREES} to ${MAX_ENVIRONMENT_ROTATION_DEGREES} degrees`,
    )
  }
  return degrees
}
