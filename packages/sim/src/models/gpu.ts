import type { Rng } from '@tessera/core'
import { MAX_WORKER_AMOUNT } from '../constants.js'
import { lognormal, pickWeighted } from '../engine/distributions.js'
import type { Lognormal } from '../scenario/types.js'

/** What a simulated worker brings: drawn once when it joins. */
export interface WorkerProfile {
  /** Capacity benchmark score, benchmark units (as Render's OctaneBench). */
  score: number
  memoryMb: number
  /** Asking price per benchmark-hour, token units. */
  price: number
  stake: number
  bandwidthMbps: number
  /** Index into the scenario's regions. */
  region: number
}

/** The distributions a {@link WorkerProfile} is drawn from. */
export interface ProfileDistributions {
  score: Lognormal
  memoryMb: Lognormal
  price: Lognormal
  stake: Lognormal
  bandwidthMbps: Lognormal
  regionWeights: readonly number[]
}

/** A whole number of token units in [min, {@link MAX_WORKER_AMOUNT}]: a price or stake the machines take. */
export function workerAmount(x: number, min: number): number {
  return Math.min(MAX_WORKER_AMOUNT, Math.max(min, Math.round(x)))
}

/**
 * Draws a worker: a lognormal benchmark score (GPU speeds span orders of magnitude), memory, price, stake, link.
 * Prices (at least 1) and stakes are cut to {@link MAX_WORKER_AMOUNT}: a lognormal tail has no end.
 */
export function drawProfile(rng: Rng, d: ProfileDistributions): WorkerProfile {
  return {
    score: lognormal(rng, d.score.median, d.score.sigma),
    memoryMb: Math.round(lognormal(rng, d.memoryMb.median, d.memoryMb.sigma)),
    price: workerAmount(lognormal(rng, d.price.median, d.price.sigma), 1),
    stake: workerAmount(lognormal(rng, d.stake.median, d.stake.sigma), 0),
    bandwidthMbps: lognormal(rng, d.bandwidthMbps.median, d.bandwidthMbps.sigma),
    region: pickWeighted(rng, d.regionWeights),
  }
}

/**
 * How long a task runs: `benchHours / score` hours (a benchmark-hour is an hour of a score-1 GPU, so a score-S GPU
 * does S of them an hour), times a lognormal factor for run-to-run variation, in whole milliseconds. `Math.trunc`, not
 * `| 0`: the 32-bit conversion wrapped runs past 2^31 ms (25 days) to negative times, which finished at once. Below
 * that the two agree, so every shorter run keeps its time to the millisecond (rounding up instead moved most tasks by
 * a millisecond and every run's event order after them).
 */
export function taskRunMs(rng: Rng, benchHours: number, score: number, variability: number): number {
  return Math.trunc((benchHours / score) * 3_600_000 * lognormal(rng, 1, variability))
}
