import {
  DEFAULT_CHECK_SETUP_CHUNKS,
  DEFAULT_CHUNKS_PER_TASK,
  DEFAULT_MIN_BAD_FRACTION,
  MAX_CHALLENGE_CHUNKS,
} from './constants.js'
import { ProofError } from './errors.js'

/**
 * The verification planner: turns a job's verification budget into a sampling probability `p` and a challenge size
 * `c`. README.md derives the formulas; in short, for outputs of `n` chunks of which a cheated task gets at least
 * `b` wrong, a check of `c` distinct random chunks hits a wrong one with
 *
 *   d(c) = 1 - C(n-b, c) / C(n, c)
 *
 * A cheater wrong on a fraction `f` of its tasks, each checked with probability `p`, is caught on a given task with
 * `q = f·p·d`, and within `N` tasks with `1 - (1-q)^N`. Meeting a target `D` needs `q >= q* = 1 - (1-D)^(1/N)`,
 * and each check recomputes `c` chunks (plus a fixed set-up) of the task's `n`, so the overhead is `p·(c+s)/n`. The
 * planner tries every `c` and keeps the cheapest `(p, c)` that meets the target.
 */

/** A job's verification budget (the `verification` field of an Order). */
export interface VerificationBudget {
  /** Target probability that a cheater is caught within `withinTasks` of its tasks. */
  detect: number
  /** Horizon, in tasks of one worker. */
  withinTasks: number
  /** Assumed fraction of a cheater's tasks that are wrong (the hardest cheater the job guards against). */
  cheatRate: number
  /** Most verification compute allowed, as a fraction of the useful compute. */
  maxOverhead: number
}

/** A job's verification budget and the shape of its tasks: what `planVerification` sizes a plan for. */
export interface PlanOptions extends VerificationBudget {
  /**
   * Chunks per task (Merkle leaves).
   * @default 64
   */
  chunks?: number
  /**
   * Smallest fraction of a cheated task's chunks that are wrong; `b = ceil(minBadFraction·n)`.
   * @default 0.1
   */
  minBadFraction?: number
  /**
   * Fixed cost of one check beside the chunks it recomputes, in chunk units.
   * @default 0
   */
  setupChunks?: number
  /**
   * Largest challenge considered, at most 256 (core's MAX_CHALLENGE_CHUNKS): no challenge on the wire names more, so
   * a plan needing more could not be carried out.
   * @default 256
   */
  maxChallengeChunks?: number
}

/** A plan: check each task with probability `p` (the floor of adaptive sampling), `challengeChunks` chunks at a time. */
export interface VerificationPlan {
  /** Probability a task is checked, at least (the adaptive sampler never goes below it). */
  p: number
  /** Chunks named by each challenge. */
  challengeChunks: number
  /** Verification compute over useful compute when every worker is trusted: `p·(c+s)/n`. */
  expectedOverhead: number
  /** Probability of catching a `cheatRate` cheater within `withinTasks`: `1 - (1 - f·p·d)^N`. */
  detectionProbability: number
  /** Probability of catching it on one of its tasks: `f·p·d`. */
  perTaskCatch: number
  /** Probability that one check of a cheated task hits a wrong chunk: `d`. */
  hitProbability: number
  /** The `n` and `b` the plan was sized for. */
  chunks: number
  badChunks: number
  budget: VerificationBudget
}

/**
 * `d = 1 - C(n-b, c)/C(n, c)`: the probability that `c` distinct chunks drawn uniformly from `n` include at least
 * one of `b` bad ones (hypergeometric), computed as a product so it stays exact for large `n`.
 */
export function hitProbability(chunks: number, badChunks: number, challenged: number): number {
  assertInteger('chunks', chunks, 1)
  assertInteger('badChunks', badChunks, 0, chunks)
  assertInteger('challenged', challenged, 0, chunks)
  if (challenged > chunks - badChunks) return 1
  let miss = 1
  for (let i = 0; i < challenged; i++) miss *= (chunks - badChunks - i) / (chunks - i)
  return 1 - miss
}

/** `1 - (1 - q)^tasks`: the probability of at least one catch in `tasks` independent tries of probability `q`. */
export function detectionWithin(perTaskCatch: number, tasks: number): number {
  return -Math.expm1(tasks * Math.log1p(-perTaskCatch))
}

/** `q* = 1 - (1 - D)^(1/N)`: the per-task catch probability that reaches `D` within `N` tasks. */
export function requiredPerTaskCatch(detect: number, withinTasks: number): number {
  return -Math.expm1(Math.log1p(-detect) / withinTasks)
}

/**
 * Maps a verification budget to the cheapest sampling probability and challenge size that meet it.
 *
 * @throws ProofError `PROOF__INVALID_BUDGET` for out-of-range values (a `maxChallengeChunks` over
 * `MAX_CHALLENGE_CHUNKS` among them); `PROOF__BUDGET_INFEASIBLE` when even `p = 1`
 * cannot reach the target, or when reaching it costs more than `maxOverhead` (context has the cheapest overhead).
 *
 * @example
 * ```ts
 * const plan = planVerification({ detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 })
 * // plan.p ≈ 0.897, plan.challengeChunks = 4, plan.expectedOverhead ≈ 0.056 for 64 chunks, 10% of them bad
 * ```
 */
export function planVerification(options: PlanOptions): VerificationPlan {
  const budget = validateBudget(options)
  const chunks = options.chunks ?? DEFAULT_CHUNKS_PER_TASK
  const minBadFraction = options.minBadFraction ?? DEFAULT_MIN_BAD_FRACTION
  const setupChunks = options.setupChunks ?? DEFAULT_CHECK_SETUP_CHUNKS
  const maxChallengeChunks = options.maxChallengeChunks ?? MAX_CHALLENGE_CHUNKS
  assertInteger('chunks', chunks, 1, 2 ** 32)
  if (!(Number.isInteger(maxChallengeChunks) && maxChallengeChunks >= 1 && maxChallengeChunks <= MAX_CHALLENGE_CHUNKS))
    invalid('maxChallengeChunks', maxChallengeChunks, `an integer in [1, ${MAX_CHALLENGE_CHUNKS}]`)
  const maxChallenge = Math.min(maxChallengeChunks, chunks)
  if (!(minBadFraction > 0 && minBadFraction <= 1)) invalid('minBadFraction', minBadFraction, 'in (0, 1]')
  if (!(setupChunks >= 0 && Number.isFinite(setupChunks))) invalid('setupChunks', setupChunks, 'a finite number >= 0')

  const badChunks = Math.min(chunks, Math.max(1, Math.ceil(minBadFraction * chunks - 1e-9)))
  const needed = requiredPerTaskCatch(budget.detect, budget.withinTasks) / budget.cheatRate
  if (needed > 1) {
    throw new ProofError(
      'PROOF__BUDGET_INFEASIBLE',
      `catching a cheater wrong on ${budget.cheatRate} of its tasks with probability ${budget.detect} within ` +
        `${budget.withinTasks} tasks is impossible even checking every chunk of every task; lengthen the horizon`,
      { ...budget, reason: 'detection', neededPerCheck: needed },
    )
  }
  let best: { p: number; c: number; d: number; overhead: number } | undefined
  for (let c = 1; c <= maxChallenge; c++) {
    const d = hitProbability(chunks, badChunks, c)
    if (d < needed) continue
    const p = Math.min(1, needed / d)
    const overhead = (p * (c + setupChunks)) / chunks
    if (best === undefined || overhead < best.overhead) best = { p, c, d, overhead }
    if (d === 1) break
  }
  if (best === undefined) {
    throw new ProofError(
      'PROOF__BUDGET_INFEASIBLE',
      `no challenge of up to ${maxChallenge} chunks reaches the detection target; split outputs into fewer chunks ` +
        `per task (each wrong chunk is then a larger share) or lengthen the horizon`,
      { ...budget, reason: 'detection', neededPerCheck: needed, maxChallenge },
    )
  }
  if (best.overhead > budget.maxOverhead) {
    throw new ProofError(
      'PROOF__BUDGET_INFEASIBLE',
      `meeting the detection target costs at least ${best.overhead.toFixed(4)} of the useful compute, over the ` +
        `budget's ${budget.maxOverhead}; raise maxOverhead, lengthen the horizon or split outputs into more chunks`,
      { ...budget, reason: 'overhead', cheapestOverhead: best.overhead, p: best.p, challengeChunks: best.c },
    )
  }
  const perTaskCatch = budget.cheatRate * best.p * best.d
  return Object.freeze({
    p: best.p,
    challengeChunks: best.c,
    expectedOverhead: best.overhead,
    detectionProbability: detectionWithin(perTaskCatch, budget.withinTasks),
    perTaskCatch,
    hitProbability: best.d,
    chunks,
    badChunks,
    budget: Object.freeze(budget),
  })
}

function validateBudget(b: VerificationBudget): VerificationBudget {
  if (!(b.detect > 0 && b.detect < 1)) invalid('detect', b.detect, 'in (0, 1)')
  if (!(Number.isInteger(b.withinTasks) && b.withinTasks >= 1)) invalid('withinTasks', b.withinTasks, 'an integer >= 1')
  if (!(b.cheatRate > 0 && b.cheatRate <= 1)) invalid('cheatRate', b.cheatRate, 'in (0, 1]')
  if (!(b.maxOverhead > 0 && Number.isFinite(b.maxOverhead)))
    invalid('maxOverhead', b.maxOverhead, 'a finite number > 0')
  return { detect: b.detect, withinTasks: b.withinTasks, cheatRate: b.cheatRate, maxOverhead: b.maxOverhead }
}

function invalid(field: string, value: unknown, expected: string): never {
  throw new ProofError('PROOF__INVALID_BUDGET', `${field} must be ${expected}, not ${String(value)}`, { field, value })
}

function assertInteger(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ProofError('PROOF__INVALID_INPUT', `${field} must be an integer in [${min}, ${max}], not ${value}`, {
      field,
      value,
    })
  }
}
