import { nextFloat, nextInt, type Rng } from '@tessera/core'

/**
 * Samplers over core's seeded {@link Rng}. Each consumes a fixed number of draws per call (no cached second normal
 * deviate), so the number of draws depends only on how often it is called.
 */

/** Uniform in [min, max). */
export function uniform(rng: Rng, min: number, max: number): number {
  return min + (max - min) * nextFloat(rng)
}

/** True with probability `p`. */
export function bernoulli(rng: Rng, p: number): boolean {
  if (p <= 0) return false
  if (p >= 1) return true
  return nextFloat(rng) < p
}

/** Exponential with the given mean (the gap between events of a Poisson process with rate 1/mean). */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - nextFloat(rng))
}

/** Standard normal deviate (Box–Muller, one of the pair). */
export function standardNormal(rng: Rng): number {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const u = 1 - nextFloat(rng)
  const v = nextFloat(rng)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Lognormal given its median and the standard deviation of its logarithm. */
export function lognormal(rng: Rng, median: number, sigma: number): number {
  if (sigma === 0) return median
  return median * Math.exp(sigma * standardNormal(rng))
}

/** An index into `weights`, chosen in proportion to them. */
export function pickWeighted(rng: Rng, weights: readonly number[]): number {
  let total = 0
  for (const w of weights) total += w
  let x = nextFloat(rng) * total
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i] as number
    if (x < 0) return i
  }
  return weights.length - 1
}

/** `k` distinct indices from [0, n), in draw order. */
export function sampleDistinct(rng: Rng, n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i)
  if (2 * k > n) {
    // Dense: a partial Fisher–Yates shuffle.
    const all = Array.from({ length: n }, (_, i) => i)
    for (let i = 0; i < k; i++) {
      const j = i + nextInt(rng, n - i)
      const t = all[i] as number
      all[i] = all[j] as number
      all[j] = t
    }
    return all.slice(0, k)
  }
  // Sparse: rejection, cheap while k is much smaller than n.
  const chosen = new Set<number>()
  const out: number[] = []
  while (out.length < k) {
    const i = nextInt(rng, n)
    if (!chosen.has(i)) {
      chosen.add(i)
      out.push(i)
    }
  }
  return out
}
