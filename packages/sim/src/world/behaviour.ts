import type { Rng } from '@tessera/core'
import { bernoulli } from '../engine/distributions.js'
import type { Role } from '../metrics/recorder.js'
import { ChunkKind } from '../models/output.js'
import type { Adversaries } from '../scenario/types.js'

/**
 * How a simulated worker behaves. The simulator decides what a worker commits to; the proof machines alone decide
 * whether that is caught.
 */
export interface Behaviour {
  role: Role
  /** Probability that a task's output is bad (wrong or lazy); 0 for honest workers. */
  badTaskRate: number
  /** Wrong workers: fraction of a bad task's chunks that are wrong (at least one; none when 0). */
  wrongChunkFraction: number
  /** Lazy workers: RMS noise of their renders (see `OutputModel.lazyNoise`); 0 otherwise. */
  lazyNoise: number
  /** Lazy workers: share of a full render's samples they take, and so of its GPU time; 1 otherwise. */
  sampleFraction: number
  /** Colluders pass each other's outputs when they verify them. */
  colluding: boolean
  /** Bid spammers bid on everything and never run what they win, nor heart-beat. */
  spamming: boolean
}

export const HONEST: Behaviour = Object.freeze({
  role: 'honest',
  badTaskRate: 0,
  wrongChunkFraction: 0,
  lazyNoise: 0,
  sampleFraction: 1,
  colluding: false,
  spamming: false,
})

/** How a worker renders one task: the kind of each chunk, whether any is bad, and the share of the samples taken. */
export interface TaskPlan {
  kinds: Uint8Array
  bad: boolean
  /** Share of a full render's samples, and so of its GPU time: below 1 for a lazy render. */
  samples: number
}

/**
 * Decides, for one task, which chunks the worker gets wrong, by its role: a lazy worker renders every chunk with
 * `sampleFraction` of the samples (in as much of the time), a cheater (colluder, Sybil) puts `wrongChunkFraction` of the chunks, at least one, at random places.
 * Settings that change nothing give an honest render: a lazy render without noise (`lazyNoise` 0: it equals the
 * reference) and a wrong chunk fraction of 0 (no chunk is wrong), so a sweep can start from the honest case.
 */
export function planTask(behaviour: Behaviour, chunks: number, rng: Rng): TaskPlan {
  const kinds = new Uint8Array(chunks)
  if (!bernoulli(rng, behaviour.badTaskRate)) return { kinds, bad: false, samples: 1 }
  switch (behaviour.role) {
    case 'lazy': {
      // Fewer samples take less time, whether or not the render comes out noisier.
      const samples = behaviour.sampleFraction
      if (behaviour.lazyNoise === 0) return { kinds, bad: false, samples }
      // Every chunk is rendered with fewer samples; the tolerance decides which of them fail.
      kinds.fill(ChunkKind.Lazy)
      return { kinds, bad: true, samples }
    }
    case 'cheater':
    case 'colluder':
    case 'sybil':
      return placeWrongChunks(kinds, behaviour.wrongChunkFraction, rng)
    case 'honest':
    case 'spammer':
      return { kinds, bad: false, samples: 1 }
  }
}

/** Makes `fraction` of the chunks wrong, at least one unless `fraction` is 0. */
function placeWrongChunks(kinds: Uint8Array, fraction: number, rng: Rng): TaskPlan {
  const chunks = kinds.length
  if (fraction === 0) return { kinds, bad: false, samples: 1 }
  const wrong = Math.max(1, Math.round(fraction * chunks))
  // The wrong chunks sit at random places: the challenge does not know where, and neither does the planner.
  let placed = 0
  while (placed < wrong) {
    const i = rng.nextU32() % chunks
    if (kinds[i] === ChunkKind.Honest) {
      kinds[i] = ChunkKind.Wrong
      placed++
    }
  }
  return { kinds, bad: true, samples: 1 }
}

/**
 * How many of the `workers` initial workers each adversary kind takes: colluders by count, cheaters and lazy workers
 * by their fraction, rounded. Validation refuses kinds that together take more than there are workers.
 */
export function adversaryCounts(
  workers: number,
  adversaries: Partial<Adversaries>,
): { colluder: number; cheater: number; lazy: number } {
  return {
    colluder: adversaries.colluders?.count ?? 0,
    cheater: Math.round((adversaries.cheaters?.fraction ?? 0) * workers),
    lazy: Math.round((adversaries.lazy?.fraction ?? 0) * workers),
  }
}
