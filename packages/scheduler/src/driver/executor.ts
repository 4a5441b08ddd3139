import type { AbortOptions, Order } from '@tessera/core'
import type { TaskDescriptor } from '../split.js'

/** A task to run and the order it belongs to (inputs, split, samples). */
export interface TaskExecution {
  readonly order: Order
  readonly task: TaskDescriptor
  /**
   * The least this task's receipt may pay per benchmark-hour (the lowest price the worker bid on the job): a
   * worker countersigns no receipt for less.
   */
  readonly minPrice: bigint
  /**
   * How long the order's benchmark-hours per task take at this worker's score, ms: the time the task is paid for, by
   * which an executor may bound how long it runs (a creator may understate its order's work).
   */
  readonly paidMs: number
}

/** What a task produced. */
export interface TaskOutput {
  /**
   * The output in chunks (tile rows, tensor slices): the Merkle leaves of the result's commitment. The output blob
   * is their concatenation.
   */
  readonly chunks: readonly Uint8Array[]
  /** Tolerance class the output is compared under (`bitwise`, `relative`, `psnr`). */
  readonly tolerance: string
  /** Compute time, ms; the driver measures it when absent. */
  readonly computeMs?: number
  /**
   * The output blob, its CID and the Merkle root over `chunks`, when the executor computed them already (a node's
   * worker holds the blob and records the root before the Result goes out): the driver stores and reports these
   * instead of hashing the output again. They must be what the driver computes otherwise: the chunks' concatenation,
   * its CID, and the driver's `commit` over the chunks.
   * @default computed by the driver
   */
  readonly committed?: CommittedOutput
}

/** A task output's blob as stored, with its CID and Merkle root (see {@link TaskOutput.committed}). */
export interface CommittedOutput {
  /** The chunks' concatenation. */
  readonly blob: Uint8Array
  /** The blob's CID, as its store names it. */
  readonly cid: string
  /** The Merkle root over the chunks: the Result's `root`. */
  readonly root: Uint8Array
}

/**
 * Runs tasks: the GPU engine plugs in here; {@link cpuWorkload} stands in until then. `execute` must reject
 * promptly once `options.signal` aborts (the creator cancelled, the job expired, the worker withdrew).
 */
export interface TaskExecutor {
  execute(execution: TaskExecution, options: Required<AbortOptions>): Promise<TaskOutput>
}
