import { blobCid, systemClock } from '@tessera/core'
import { merkleRoot } from '@tessera/proof'
import { expectedCost } from '@tessera/scheduler'
import type { TaskExecutor } from '@tessera/scheduler/driver'
import { concat } from 'uint8arrays/concat'
import { type BlobHolds, taskHolder } from './blob-holds.js'
import type { ReceiptExchange } from './receipts.js'
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
}

/**
 * A worker's task executor: runs the task, holds its output blob until the creator pays (or for
 * `outputRetentionMs`), remembers its Merkle root and minimum pay (so the receipt can be checked after a restart
 * too), then commits to it for challenges, which sends the Result. A task that fails after its output was held and
 * remembered (the prover refuses the output) lets both go: no receipt will come for it.
 */
export function workerExecutor(parts: WorkerExecutorParts): TaskExecutor {
  const { workload, verification, receipts, holds, outputRetentionMs } = parts
  const committing = verification.wrapExecutor({
    execute: async (execution, options) => {
      const output = await workload.execute(execution, options)
      const { taskId } = execution.task
      const cid = blobCid(concat([...output.chunks])).toString()
      // Held before the scheduler stores it: until the creator pays, or gives up for long enough.
      await holds.hold(cid, taskHolder(taskId), systemClock.now() + outputRetentionMs, options)
      await receipts.committed(taskId, {
        jobId: execution.order.jobId,
        creator: execution.order.creator,
        root: merkleRoot(output.chunks),
        minAmount: expectedCost(execution.minPrice, execution.order.benchHoursPerTask),
        output: cid,
      })
      return output
    },
  })
  return {
    execute: async (execution, options) => {
      try {
        return await committing.execute(execution, options)
      } catch (e) {
        const forgotten = await receipts.forget(execution.task.taskId).catch(() => undefined)
        if (forgotten?.output !== undefined) {
          await holds.release(forgotten.output, taskHolder(execution.task.taskId)).catch(() => {})
        }
        throw e
      }
    },
  }
}
