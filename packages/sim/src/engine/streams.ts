import { seededRng, type Rng } from '@tessera/core'

/**
 * Independent random streams per component, derived from the run's seed and the component's name. A component
 * that draws more or fewer numbers (a new adversary, a changed latency model) then shifts no other component's
 * stream, so a change in one model does not reshuffle the whole run.
 */

/** FNV-1a over the label's UTF-16 code units, folded with the seed and finished with a murmur3 mix. */
export function streamSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** A seeded generator for one named component of a run. */
export function rngStream(seed: number, label: string): Rng {
  return seededRng(streamSeed(seed, label))
}
