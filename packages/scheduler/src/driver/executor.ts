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
}

/**
 * Runs tasks: the GPU engine plugs in here; {@link cpuWorkload} stands in until then. `execute` must reject
 * promptly once `options.signal` aborts (the creator cancelled, the job expired, the worker withdrew).
 */
export interface TaskExecutor {
  execute(execution: TaskExecution, options: Required<AbortOptions>): Promise<TaskOutput>
}
