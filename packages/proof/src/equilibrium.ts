import { ProofError } from './errors.js'

/**
 * The Proof-of-Sampling condition (Hyperbolic): checking with a small probability is enough when a caught cheater
 * loses more, in expectation, than cheating saves. A worker that skips the work of one task saves `C`; with
 * probability `p·d` the task is checked and a wrong chunk hit, and then it forfeits the task's payment `R` (a failed
 * check is not paid) and is slashed `S` (at most its stake). Honesty is the best response when
 *
 *   C < p·d·(S + R)        (or C < p·d·S when payment is released before checks)
 *
 * so the protocol needs `p >= C / (d·(S + R))` or `S >= C/(p·d) - R`.
 */
export interface EquilibriumInput {
  /** What the worker is paid for one task, token units. */
  price: bigint | number
  /** The worker's stake: the most that can be slashed. */
  stake: bigint | number
  /** The slash for a proven fraud, token units (capped at `stake`). */
  slash: bigint | number
  /** Probability a task is checked. */
  p: number
  /**
   * Probability a check of a cheated task hits a wrong chunk (the plan's `hitProbability`).
   * @default 1
   */
  hitProbability?: number
  /**
   * What cheating on one task saves the worker (its honest compute cost), token units.
   * @default price
   */
  costSaved?: bigint | number
  /**
   * Whether a caught task's payment is withheld (Tessera releases escrow after the check).
   * @default true
   */
  paymentAtRisk?: boolean
}

/** Whether honesty pays for one worker at one checking probability, and by how much: what `honestEquilibrium` returns. */
export interface Equilibrium {
  /** Cheating does not pay: `cheatingGain < expectedPenalty`. */
  honest: boolean
  /** What cheating saves on one task: `C`. */
  cheatingGain: number
  /** What it costs in expectation: `p·d·(S_eff + R)`. */
  expectedPenalty: number
  /** `expectedPenalty - cheatingGain`: how far inside (positive) or outside the honest region. */
  margin: number
  /** The slash actually enforceable: `min(slash, stake)`. */
  effectiveSlash: number
  /** Smallest checking probability for honesty at this slash (may exceed 1: then no p is enough). */
  minP: number
  /** Smallest slash for honesty at this p (compare with `stake`). */
  minSlash: number
  /** Whether the stake covers `minSlash`. */
  stakeSufficient: boolean
}

/** Evaluates the Proof-of-Sampling honest-equilibrium condition for one task. */
export function honestEquilibrium(input: EquilibriumInput): Equilibrium {
  const price = amount('price', input.price)
  const stake = amount('stake', input.stake)
  const slash = amount('slash', input.slash)
  const gain = input.costSaved === undefined ? price : amount('costSaved', input.costSaved)
  const d = input.hitProbability ?? 1
  if (!(input.p >= 0 && input.p <= 1)) invalid('p', input.p)
  if (!(d >= 0 && d <= 1)) invalid('hitProbability', d)
  const atRisk = input.paymentAtRisk === false ? 0 : price
  const effectiveSlash = Math.min(slash, stake)
  const expectedPenalty = input.p * d * (effectiveSlash + atRisk)
  const minSlash = Math.max(0, input.p * d > 0 ? gain / (input.p * d) - atRisk : Number.POSITIVE_INFINITY)
  return Object.freeze({
    honest: gain < expectedPenalty,
    cheatingGain: gain,
    expectedPenalty,
    margin: expectedPenalty - gain,
    effectiveSlash,
    minP: d * (effectiveSlash + atRisk) > 0 ? gain / (d * (effectiveSlash + atRisk)) : Number.POSITIVE_INFINITY,
    minSlash,
    stakeSufficient: minSlash <= stake,
  })
}

function amount(field: string, value: bigint | number): number {
  const n = typeof value === 'bigint' ? Number(value) : value
  if (!(n >= 0 && Number.isFinite(n))) invalid(field, value)
  return n
}

function invalid(field: string, value: unknown): never {
  throw new ProofError(
    'PROOF__INVALID_INPUT',
    `${field} must be a finite non-negative number (p in [0, 1]), not ${String(value)}`,
    {
      field,
      value: String(value),
    },
  )
}
