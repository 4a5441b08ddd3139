import type { Order, Result } from '@tessera/core'

/** Why a lease ended before its tasks were done. */
export type LeaseLossReason = 'heartbeat' | 'withdrawn'

/** Why a worker stopped a task it held. */
export type AbortReason = 'cancelled' | 'expired' | 'withdrawn'

/** A verifier's judgement of a result: `refused` when the worker never answered the challenge. */
export type VerdictOutcome = 'pass' | 'fail' | 'refused'

/**
 * Events the creator machine emits (`noun:verb`, each stamped with the machine time `at`).
 *
 * - `job:ordered`: the order was published.
 * - `bid:received`: a valid bid was recorded.
 * - `auction:closed`: the bid window closed, by `deadline` or once `count` (minBids) bids arrived.
 * - `order:unmatched`: the window closed with fewer bids than asked for. The why-no-bid breakdown is
 *   `creator.diagnose(jobId)`, on demand: it scans every capacity record, which a simulated creator seeing 100,000
 *   workers cannot afford on every short window.
 * - `order:reopened`: tasks were left with nobody to take them; the order was published again with a new window.
 * - `lease:granted`: tasks were awarded to a worker (one award message per 4,096 tasks).
 * - `job:assigned`: every task of the job has been awarded (emitted once, the first time).
 * - `lease:lost`: a worker missed its heartbeats; its unfinished tasks went back to the auction.
 * - `award:lost`: tasks awarded to a worker never reached it (its heartbeats left them out a lease period after, or it
 *   went quiet holding only them after it was heard from since); they went back to the auction, and the worker stays
 *   in the job.
 * - `task:withdrawn`: a worker gave tasks back unfinished.
 * - `task:reassigned`: a task that another worker held was awarded to a new one.
 * - `task:completed`: a worker's result arrived (and went to verification, unless verification is off).
 * - `task:verified`: verification passed; the task is accepted and settled. `overturned`: the worker's result had
 *   failed its check and arbitration cleared it; `displaced` names the worker that held the task then (a later
 *   award, or its result under check), which is not paid for it.
 * - `task:rejected`: verification failed; the task goes back to the auction without that worker.
 * - `job:completed`: every task is accepted; carries the accepted results in task order, for assembly.
 * - `job:cancelled`, `job:expired`: the job ended unfinished; accepted tasks stay accepted (and paid). A job expires at
 *   its deadline, or once its re-openings are used up with nobody to take its tasks.
 */
export type CreatorEvent =
  | { type: 'job:ordered'; at: number; jobId: string; tasks: number; order: Order }
  | { type: 'bid:received'; at: number; jobId: string; worker: string; price: bigint; etaMs: number }
  | { type: 'auction:closed'; at: number; jobId: string; bids: number; reason: 'deadline' | 'count' }
  | { type: 'order:unmatched'; at: number; jobId: string; bids: number; needed: number }
  | { type: 'order:reopened'; at: number; jobId: string; bidDeadline: number; reopens: number }
  | { type: 'lease:granted'; at: number; jobId: string; worker: string; taskIds: readonly string[]; price: bigint }
  | { type: 'job:assigned'; at: number; jobId: string; tasks: number; workers: number }
  | {
      type: 'lease:lost'
      at: number
      jobId: string
      worker: string
      taskIds: readonly string[]
      reason: LeaseLossReason
    }
  | { type: 'award:lost'; at: number; jobId: string; worker: string; taskIds: readonly string[] }
  | { type: 'task:withdrawn'; at: number; jobId: string; worker: string; taskIds: readonly string[] }
  | { type: 'task:reassigned'; at: number; jobId: string; taskId: string; from: string; to: string }
  | { type: 'task:completed'; at: number; jobId: string; taskId: string; worker: string }
  | {
      type: 'task:verified'
      at: number
      jobId: string
      taskId: string
      worker: string
      overturned?: true
      displaced?: string
    }
  /** `fail`: a check judged the output wrong; `refused`: the worker never answered the challenge. */
  | {
      type: 'task:rejected'
      at: number
      jobId: string
      taskId: string
      worker: string
      outcome: Exclude<VerdictOutcome, 'pass'>
    }
  | { type: 'job:completed'; at: number; jobId: string; results: readonly Result[] }
  /** `results`: the tasks accepted before the job ended, in task order. */
  | { type: 'job:cancelled'; at: number; jobId: string; accepted: number; total: number; results: readonly Result[] }
  /**
   * `reason`: `deadline` when its deadline passed; `unmatched` when it ended before, its re-openings used up with
   * nobody to take its tasks (`creator.diagnose(jobId)` tells why no bid came).
   */
  | {
      type: 'job:expired'
      at: number
      jobId: string
      accepted: number
      total: number
      results: readonly Result[]
      reason: 'deadline' | 'unmatched'
    }

/**
 * Events the worker machine emits.
 *
 * - `bid:sent`, `bid:skipped` (with the first reason the worker could not bid);
 * - `award:received`: the creator granted tasks;
 * - `award:declined`: tasks of an award given back at once, no slot being free for them (bids on several orders may
 *   all win); the creator awards them to a worker with room, or back to this one, which then queues them;
 * - `task:started`: a `run` output was issued for the task;
 * - `result:sent`: the task's result went to the creator;
 * - `task:aborted`: the worker stopped a task (job cancelled, expired, or withdrawn);
 * - `job:withdrawn`: the worker gave back every task of a job (the operator withdrew, or a task's failure condemned
 *   its order).
 */
export type WorkerEvent =
  | { type: 'bid:sent'; at: number; jobId: string; price: bigint; etaMs: number; maxTasks: number }
  | { type: 'bid:skipped'; at: number; jobId: string; reason: SkipReason }
  | { type: 'award:received'; at: number; jobId: string; taskIds: readonly string[]; price: bigint }
  | { type: 'award:declined'; at: number; jobId: string; taskIds: readonly string[] }
  | { type: 'task:started'; at: number; jobId: string; taskId: string }
  | { type: 'result:sent'; at: number; jobId: string; taskId: string }
  | { type: 'task:aborted'; at: number; jobId: string; taskId: string; reason: AbortReason }
  | {
      type: 'job:withdrawn'
      at: number
      jobId: string
      taskIds: readonly string[]
      /** Set when a task failed with this code, which condemns the order (`ORDER_REFUSAL_CODES`), not the operator. */
      code?: string
    }

/**
 * Why a worker did not bid on an order; `tooLarge`: a render task's tile has more pixels than the worker's
 * `maxTilePixels` (its device would not hold the tile's output); `underpriced`: a task's work, estimated from the
 * order, would take the worker more than its `workTolerance` times the time the order's `benchHoursPerTask` pays for;
 * `refused`: a task of the order failed here with a code that condemns it (`ORDER_REFUSAL_CODES`); `tooLong`: its
 * deadline is further ahead than any job runs (`MAX_DEADLINE_AHEAD_MS`).
 */
export type SkipReason =
  'tier' | 'features' | 'memory' | 'tooLarge' | 'underpriced' | 'price' | 'busy' | 'expired' | 'tooLong' | 'refused'

/** Every event either scheduler machine emits. */
export type SchedulerEvent = CreatorEvent | WorkerEvent
