import { ProofError } from './errors.js'

/**
 * The Proof-of-Sampling condition (Hyperbolic), with the cheater's best response. A worker that skips the work of
 * one task saves `C`; with probability `p·d` the task is checked and a wrong chunk hit. The worker computes the
 * challenged indices from the root and the nonce before it answers, so it knows when that happens, and then chooses
 * the cheaper of two answers: reveal (the wrong chunk becomes a fraud proof: it forfeits the task's payment `R`
 * and is slashed `S`, at most its stake) or stay silent (the check ends `refused`: it forfeits `R` and whatever a
 * refusal costs it beyond, `L`). A refusal proves nothing to a third party, so nobody is slashed for one, and a
 * caught cheater loses `R + min(S, L)`. Honesty is the best response when
 *
 *   C < p·d·(R + min(S, L))      (C < p·d·(R + S) were refusals slashable; drop R if payment preceded checks)
 *
 * With `L = 0`, the protocol's default, the slash deters nothing and only the withheld payment does: honesty needs
 * `p·d·R > C`, a price above `C/(p·d)`.
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
  /**
   * What refusing a challenge costs the worker beyond the task's payment, token units: say the business it loses
   * to the lower reputation and closer checking that follow. The protocol takes nothing else for a refusal.
   * @default 0
   */
  refusalCost?: bigint | number
  /**
   * Whether a refusal is slashed as a fraud proof is (a protocol in which a third party can witness one). Tessera's
   * is not: it slashes only on a fraud proof, which the worker's silence withholds.
   * @default false
   */
  refusalSlashable?: boolean
}

/** Whether honesty pays for one worker at one checking probability, and by how much: what `honestEquilibrium` returns. */
export interface Equilibrium {
  /** Cheating does not pay: `cheatingGain < expectedPenalty`. */
  honest: boolean
  /** What cheating saves on one task: `C`. */
  cheatingGain: number
  /** What a caught cheater loses at its best response: `R + min(S_eff, L)` (`R + S_eff` if refusals are slashable). */
  catchPenalty: number
  /** What cheating costs in expectation: `p·d·catchPenalty`. */
  expectedPenalty: number
  /** `expectedPenalty - cheatingGain`: how far inside (positive) or outside the honest region. */
  margin: number
  /** The slash actually enforceable: `min(slash, stake)`. */
  effectiveSlash: number
  /** Smallest checking probability for honesty (may exceed 1: then no p is enough). */
  minP: number
  /**
   * Smallest slash for honesty at this p; infinite when no slash is enough, because a cheater refuses rather than
   * reveal once the slash exceeds what a refusal costs it (compare with `stake`).
   */
  minSlash: number
  /**
   * Smallest price for honesty at this p and slash, with the cost saved held as given (pass `costSaved`: by default
   * it is the price itself); infinite when the payment is not at risk.
   */
  minPrice: number
  /** Whether the stake covers `minSlash`. */
  stakeSufficient: boolean
}

/** Evaluates the Proof-of-Sampling honest-equilibrium condition for one task, at the cheater's best response. */
export function honestEquilibrium(input: EquilibriumInput): Equilibrium {
  const price = amount('price', input.price)
  const stake = amount('stake', input.stake)
  const slash = amount('slash', input.slash)
  const gain = input.costSaved === undefined ? price : amount('costSaved', input.costSaved)
  const refusalCost = input.refusalCost === undefined ? 0 : amount('refusalCost', input.refusalCost)
  const d = input.hitProbability ?? 1
  if (!(input.p >= 0 && input.p <= 1)) invalid('p', input.p)
  if (!(d >= 0 && d <= 1)) invalid('hitProbability', d)
  const slashable = input.refusalSlashable === true
  const atRisk = input.paymentAtRisk === false ? 0 : price
  const effectiveSlash = Math.min(slash, stake)
  // Caught, the cheater reveals (slashed) or stays silent (not slashed), whichever costs it less.
  const catchPenalty = atRisk + (slashable ? effectiveSlash : Math.min(effectiveSlash, refusalCost))
  const pd = input.p * d
  const expectedPenalty = pd * catchPenalty
  // What a catch must cost for honesty at this p.
  const needed = pd > 0 ? gain / pd : Number.POSITIVE_INFINITY
  const slashNeeded = Math.max(0, needed - atRisk)
  return Object.freeze({
    honest: gain < expectedPenalty,
    cheatingGain: gain,
    catchPenalty,
    expectedPenalty,
    margin: expectedPenalty - gain,
    effectiveSlash,
    minP: d * catchPenalty > 0 ? gain / (d * catchPenalty) : Number.POSITIVE_INFINITY,
    minSlash: slashable || slashNeeded <= refusalCost ? slashNeeded : Number.POSITIVE_INFINITY,
    minPrice: atRisk > 0 ? Math.max(0, needed - (catchPenalty - atRisk)) : Number.POSITIVE_INFINITY,
    stakeSufficient: (slashable || slashNeeded <= refusalCost) && slashNeeded <= stake,
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
