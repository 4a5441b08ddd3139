import {
  MAX_CHUNK_BYTES,
  MAX_DIRECT_ENVELOPE_BYTES,
  MAX_MERKLE_DEPTH,
  type Order,
  type Split,
  TILE_BYTES_PER_PIXEL,
  type VerificationBudget,
} from '@tessera/core'
import { lengthenHorizon, planFor, planVerification } from '@tessera/proof'
import { DEFAULT_VERIFICATION, taskChunkCounts } from '@tessera/scheduler'
import type { JobStatus } from '../api/contract.js'
import { NodeError } from '../errors.js'

/** A job request's verification terms: any left out take the default budget's. */
export type VerificationTerms = Partial<VerificationBudget>

/** The budget `terms` ask for: the default budget with the terms given in place of its own. */
export function verificationBudgetOf(terms: VerificationTerms): VerificationBudget {
  return { ...DEFAULT_VERIFICATION, ...terms }
}

/** Room a reveal's envelope leaves beside its chunks: the signature, ids, root, and the encoding's framing. */
const REVEAL_ENVELOPE_SLACK_BYTES = 64 * 1024
/** Room each revealed chunk takes beside its bytes: its Merkle path and its framing. */
const REVEAL_CHUNK_SLACK_BYTES = MAX_MERKLE_DEPTH * 32 + 1024

/**
 * The most bytes one output chunk of a task of `split` has: a render tile row is `tileWidth` RGBA float32 pixels; an
 * inference batch item is as large as its model makes it, so up to what a chunk may be (core's `MAX_CHUNK_BYTES`).
 */
export function chunkBytesOf(split: Split): number {
  if (split.kind === 'inference') return MAX_CHUNK_BYTES
  return Math.min(split.tileWidth, split.width) * TILE_BYTES_PER_PIXEL
}

/** The most chunks of `chunkBytes` bytes one reveal carries within a direct message (core's `MAX_DIRECT_ENVELOPE_BYTES`). */
export function revealableChunks(chunkBytes: number): number {
  return Math.floor((MAX_DIRECT_ENVELOPE_BYTES - REVEAL_ENVELOPE_SLACK_BYTES) / (chunkBytes + REVEAL_CHUNK_SLACK_BYTES))
}

/**
 * Refuses, before anything is ordered, a verification budget no sampling plan meets for the job's tasks: ordered, it
 * would be checked by a plan other than the one asked for (verifiers meet it over a longer horizon), and the creator
 * would believe in a detection rate nobody delivers. The error names the shortest horizon that would be met. A budget
 * whose plan challenges more chunks than one reveal can carry (chunks of `chunkBytesOf(split)` bytes) is refused too:
 * no worker could answer its challenges, so honest workers would go unpaid and marked down as refusing.
 *
 * @throws NodeError `NODE__VERIFICATION_INFEASIBLE`, with the planner's reason and `shortestWithinTasks`, or with
 *   reason `NODE__REVEAL_TOO_LARGE` and `maxChallengeChunks`
 */
export function checkJobVerification(split: Split, budget: VerificationBudget): void {
  const counts = taskChunkCounts(split)
  const chunkBytes = chunkBytesOf(split)
  const revealable = revealableChunks(chunkBytes)
  for (const chunks of counts) {
    try {
      const { challengeChunks } = planVerification({ ...budget, chunks })
      if (Math.min(challengeChunks, chunks) > revealable) {
        throw new NodeError(
          'NODE__VERIFICATION_INFEASIBLE',
          `the verification budget challenges ${challengeChunks} chunks of tasks of ${chunks} ${unitOf(split)}, ` +
            `of up to ${chunkBytes} bytes each; a worker's reveal carries at most ${revealable} of them in one ` +
            'message: ask for a lower verification.detect or cheatRate, or a longer withinTasks',
          { budget, chunks, reason: 'NODE__REVEAL_TOO_LARGE', challengeChunks, maxChallengeChunks: revealable },
        )
      }
    } catch (e) {
      const { message, code, context } = e as { message: string; code?: string; context?: Record<string, unknown> }
      if (code !== 'PROOF__BUDGET_INFEASIBLE' && code !== 'PROOF__INVALID_BUDGET') throw e
      const unit = unitOf(split)
      let shortest: number | undefined
      try {
        shortest = lengthenHorizon(budget, counts).withinTasks
      } catch {
        // A budget no horizon meets (or one the planner refuses): the planner's reason says what to change.
      }
      const hint = shortest === undefined ? '' : `; it is met within ${shortest} tasks (verification.withinTasks)`
      throw new NodeError(
        'NODE__VERIFICATION_INFEASIBLE',
        `the verification budget cannot be met for tasks of ${chunks} ${unit}: ${message}${hint}`,
        {
          budget,
          chunks,
          reason: code,
          ...(context?.['cheapestOverhead'] === undefined ? {} : { cheapestOverhead: context['cheapestOverhead'] }),
          ...(shortest === undefined ? {} : { shortestWithinTasks: shortest }),
        },
      )
    }
  }
}

/** What a task's chunks are, in an error message. */
function unitOf(split: Split): string {
  return split.kind === 'render' ? 'tile rows' : 'batch items'
}

/**
 * How a job's tasks are checked, for its status: the order's budget and, per task size, the plan its verifiers
 * sample by (`planFor`'s plan in force: over a longer horizon, `withinTasks`, when an order from elsewhere asked a
 * budget no plan meets). Undefined for an order whose budget is not one (a record an older version wrote in part).
 */
export function verificationView(
  order: Pick<Order, 'split' | 'verification'>,
): NonNullable<JobStatus['verification']> | undefined {
  const budget = order.verification as Partial<VerificationBudget> | undefined
  const terms = [budget?.detect, budget?.withinTasks, budget?.cheatRate, budget?.maxOverhead]
  if (!terms.every((t) => typeof t === 'number' && Number.isFinite(t))) return undefined
  let counts: number[]
  try {
    counts = taskChunkCounts(order.split)
  } catch {
    return undefined
  }
  // A split no task has (a record damaged in part): its status shows no plan rather than a plan for no task.
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 1)) return undefined
  return {
    budget: { ...order.verification },
    plans: counts.map((chunks) => {
      const { inForce } = planFor(order.verification, chunks)
      return {
        chunks,
        p: inForce.p,
        challengeChunks: inForce.challengeChunks,
        overhead: inForce.expectedOverhead,
        withinTasks: inForce.budget.withinTasks,
      }
    }),
  }
}
