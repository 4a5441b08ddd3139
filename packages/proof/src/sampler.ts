import type { Rng } from '@tessera/core'
import { DEFAULT_P_MIN, DEFAULT_P_NEW, DEFAULT_TRUST_HALF_STREAK, MAX_TRACKED_PEERS } from './constants.js'
import { ProofError } from './errors.js'
import { uniform } from './random.js'

/** Options of an {@link AdaptiveSampler}. */
export interface SamplerOptions {
  /**
   * Probability a new or recently failed worker is checked with.
   * @default 1
   */
  pNew?: number
  /**
   * The floor, applied forever (a plan's `p` when the verifier has one).
   * @default 0.05
   */
  pMin?: number
  /**
   * Valid-result streak at which the excess over the floor has halved.
   * @default 10
   */
  trustHalfStreak?: number
  /**
   * Workers remembered at most; the least recently checked are forgotten and start over as new.
   * @default 100000
   */
  maxTracked?: number
  /**
   * Called with a worker's streak each time a checked result changes it (0 when a failure resets it; not when the
   * worker is forgotten), e.g. to keep it on disk across restarts (see {@link AdaptiveSampler.restore}).
   */
  onUpdate?: (worker: string, streak: number) => void
}

/**
 * Per-worker adaptive sampling, after BOINC's adaptive replication: a worker's checking probability depends on its
 * streak `s` of consecutive valid checked results,
 *
 *   p(s) = pMin + (pNew - pMin) · h / (h + s)
 *
 * so a new worker (s = 0) is checked with `pNew`, each valid result lowers p, any failure resets the streak to 0,
 * and p never drops below `pMin`. Only checked results count: an unchecked result says nothing about honesty. A
 * cheater that waits to be trusted before cheating still meets the floor on every cheated task, which is why the
 * planner's guarantee is computed at `pMin`.
 *
 * State is one small integer per worker, so a simulator can hold 100,000 of these.
 */
export class AdaptiveSampler {
  readonly #streaks = new Map<string, number>()
  readonly #pNew: number
  readonly #pMin: number
  readonly #half: number
  readonly #maxTracked: number
  readonly #onUpdate: ((worker: string, streak: number) => void) | undefined

  constructor(options: SamplerOptions = {}) {
    this.#pNew = options.pNew ?? DEFAULT_P_NEW
    this.#pMin = options.pMin ?? DEFAULT_P_MIN
    this.#half = options.trustHalfStreak ?? DEFAULT_TRUST_HALF_STREAK
    this.#maxTracked = options.maxTracked ?? MAX_TRACKED_PEERS
    this.#onUpdate = options.onUpdate
    if (!(this.#pMin >= 0 && this.#pMin <= this.#pNew && this.#pNew <= 1)) {
      throw new ProofError('PROOF__INVALID_INPUT', `sampler needs 0 <= pMin <= pNew <= 1`, {
        pMin: this.#pMin,
        pNew: this.#pNew,
      })
    }
    if (!(this.#half > 0) || !(Number.isInteger(this.#maxTracked) && this.#maxTracked >= 1)) {
      throw new ProofError('PROOF__INVALID_INPUT', 'sampler needs trustHalfStreak > 0 and maxTracked >= 1', {
        trustHalfStreak: this.#half,
        maxTracked: this.#maxTracked,
      })
    }
  }

  /** Consecutive valid checked results of `worker` (0 for new or recently failed workers). */
  streak(worker: string): number {
    return this.#streaks.get(worker) ?? 0
  }

  /**
   * The probability `worker`'s next result is checked; `floor` (a job's plan p) raises the floor for one job, above
   * `pNew` too: the plan's detection guarantee is computed at its p, so no worker is checked less often than that.
   */
  probability(worker: string, floor = this.#pMin): number {
    const min = Math.max(this.#pMin, floor)
    const top = Math.max(this.#pNew, min)
    const s = this.streak(worker)
    return min + ((top - min) * this.#half) / (this.#half + s)
  }

  /** Draws whether to check `worker`'s next result (one float from `rng`, whatever the outcome). */
  shouldCheck(worker: string, rng: Rng, floor?: number): boolean {
    return uniform(rng) < this.probability(worker, floor)
  }

  /** A checked result was valid: trust grows. */
  recordValid(worker: string): void {
    const s = this.streak(worker) + 1
    this.#set(worker, s)
    this.#onUpdate?.(worker, s)
  }

  /**
   * A checked result failed or was not revealed: trust resets. Reported even for a worker without a streak: one
   * forgotten here may still have one kept on disk, which must not come back.
   */
  recordFailure(worker: string): void {
    this.#streaks.delete(worker)
    this.#onUpdate?.(worker, 0)
  }

  /**
   * Sets a worker's streak as kept from an earlier run (most recently changed last, so call it oldest first); does
   * not call `onUpdate`. A streak that is not a non-negative integer is refused (`PROOF__INVALID_INPUT`).
   */
  restore(worker: string, streak: number): void {
    if (!(Number.isSafeInteger(streak) && streak >= 0)) {
      throw new ProofError('PROOF__INVALID_INPUT', 'a streak is a non-negative integer', { worker, streak })
    }
    if (streak === 0) this.#streaks.delete(worker)
    else this.#set(worker, streak)
  }

  /** Sets a streak, most recently changed last, forgetting the least recently changed worker at `maxTracked`. */
  #set(worker: string, streak: number): void {
    this.#streaks.delete(worker)
    if (this.#streaks.size >= this.#maxTracked) {
      const oldest = this.#streaks.keys().next().value
      if (oldest !== undefined) this.#streaks.delete(oldest)
    }
    this.#streaks.set(worker, streak)
  }

  /** Workers with a streak (for metrics). */
  get tracked(): number {
    return this.#streaks.size
  }
}
