import { blobCid, type Clock, systemClock } from '@tessera/core'
import { commitOutput, isProofError } from '@tessera/proof'
import { expectedCost } from '@tessera/scheduler'
import type { TaskExecutor } from '@tessera/scheduler/driver'
import { concat } from 'uint8arrays/concat'
import { type BlobHolds, taskHolder } from './blob-holds.js'
import type { ReceiptExchange } from './receipts.js'
import { chunkRunsOf } from './restored-commitment.js'
import type { Verification } from './verification.js'

/** What a worker's {@link workerExecutor} runs tasks with and records them in. */
export interface WorkerExecutorParts {
  /** Runs a task on the engine. */
  workload: TaskExecutor
  /** Commits to each output and answers challenges for it. */
  verification: Verification
  /** Remembers each committed result, to check its receipt. */
  receipts: ReceiptExchange
  /** Keeps each output on disk until it is paid for. */
  holds: BlobHolds
  /** How long an output no creator pays for stays on disk. */
  outputRetentionMs: number
  /** When outputs are held until and committed at. @default systemClock */
  clock?: Clock
}

/**
 * A worker's task executor: runs the task, holds its output blob until the creator pays (or for
 * `outputRetentionMs`), remembers its Merkle root and minimum pay (so the receipt can be checked after a restart
 * too), then commits to it for challenges, which sends the Result. The Merkle tree is built once for all of these.
 * The output goes on with its blob, CID and root (`TaskOutput.committed`), which the scheduler stores and reports
 * without hashing them again. An output the prover would refuse for its chunks is never held; a task that fails
 * after its output was held and remembered (the prover refuses its tolerance) lets both go, unless an earlier run's
 * Result for the task is out: no receipt will come for this one.
 */
export function workerExecutor(parts: WorkerExecutorParts): TaskExecutor {
  const { workload, verification, receipts, holds, outputRetentionMs } = parts
  const clock = parts.clock ?? systemClock
  // What each run remembered, by its execution: a failure forgets only that, never an earlier run's record.
  const written = new WeakMap<object, { root: Uint8Array; output: string }>()
  const committing = verification.wrapExecutor({
    execute: async (execution, options) => {
      const output = await workload.execute(execution, options)
      const { taskId } = execution.task
      // Before the hold, so an output whose chunks the prover would refuse (one too large) is never held.
      const commitment = commitOutput(output.chunks)
      const { root } = commitment
      const blob = concat([...output.chunks])
      const cid = blobCid(blob).toString()
      // Held before the scheduler stores it: until the creator pays, or gives up for long enough.
      await holds.hold(cid, taskHolder(taskId), clock.now() + outputRetentionMs, options)
      await receipts.committed(taskId, {
        jobId: execution.order.jobId,
        creator: execution.order.creator,
        root,
        minAmount: expectedCost(execution.minPrice, execution.order.benchHoursPerTask),
        output: cid,
        chunkRuns: chunkRunsOf(output.chunks),
        tolerance: output.tolerance,
        at: clock.now(),
      })
      written.set(execution, { root, output: cid })
      // The scheduler stores and reports these as they are, rather than hash the whole output again.
      return { ...output, committed: { blob, cid, root }, commitment }
    },
  })
  return {
    execute: async (execution, options) => {
      try {
        return await committing.execute(execution, options)
      } catch (e) {
        const wrote = written.get(execution)
        // A task committed already has a Result out (sent by the earlier run), which a receipt may still pay.
        if (wrote !== undefined && !isProofError(e, 'PROOF__DUPLICATE_TASK')) {
          const { taskId } = execution.task
          if (await receipts.forget(taskId, wrote.root).catch(() => false)) {
            await holds.release(wrote.output, taskHolder(taskId)).catch(() => {})
          }
        }
        throw e
      }
    },
  }
}
