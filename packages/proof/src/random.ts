import type { Rng } from '@tessera/core'

/**
 * Draws from the injected {@link Rng}. Core has the same helpers, but this package may import only core's types at
 * run time (the sans-IO rule), so the three it needs live here. They consume the generator exactly as core's do,
 * so a seed replays the same run either way.
 */

/** A float in [0, 1) with 53 bits of randomness. */
export function uniform(rng: Rng): number {
  const hi = rng.nextU32() >>> 5
  const lo = rng.nextU32() >>> 6
  return (hi * 67108864 + lo) / 9007199254740992
}

/** `length` random bytes (verifier nonces). */
export function randomBytes(rng: Rng, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i += 4) {
    const x = rng.nextU32()
    for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (x >>> (8 * j)) & 0xff
  }
  return out
}

/**
 * Picks an index among the first `length` weights with probability proportional to its weight; undefined when no
 * weight is positive. One float is drawn whatever the weights, so the generator's position does not depend on them.
 */
export function pickWeighted(
  rng: Rng,
  weights: ArrayLike<number>,
  length: number = weights.length,
): number | undefined {
  let total = 0
  for (let i = 0; i < length; i++) {
    const w = weights[i] as number
    if (w > 0 && Number.isFinite(w)) total += w
  }
  const u = uniform(rng)
  if (total <= 0) return undefined
  let target = u * total
  let last: number | undefined
  for (let i = 0; i < length; i++) {
    const w = weights[i] as number
    if (!(w > 0 && Number.isFinite(w))) continue
    last = i
    if (target < w) return i
    target -= w
  }
  return last
}
