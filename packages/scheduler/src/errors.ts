import { TesseraError } from '@tessera/core'

/**
 * Codes raised by `@tessera/scheduler`. Codes are stable: never reused or renamed.
 *
 * The machines' `handle` throws these for every input they refuse, and a refused input changes nothing. Drivers
 * log them and may penalise the sender (`Inbound.from`) of a message that caused one.
 */
export type SchedulerErrorCode =
  /** A job spec given to the creator is out of bounds or inconsistent. */
  | 'SCHEDULER__INVALID_JOB_SPEC'
  /** A job would split into more tasks than a job may have. */
  | 'SCHEDULER__TASK_LIMIT_EXCEEDED'
  /** A job's render task would be more pixel-samples (tile pixels x samples) than one task may be. */
  | 'SCHEDULER__TASK_WORK_EXCEEDED'
  /** A job's render task would be a tile of more pixels than a worker's device may hold the output of. */
  | 'SCHEDULER__TILE_SIZE_EXCEEDED'
  /** The model an inference order names costs more FLOPs an item than the order declared (`checkDeclaredWork`). */
  | 'SCHEDULER__DECLARED_WORK_MISMATCH'
  /** A message names a job this machine does not know (or no longer remembers). */
  | 'SCHEDULER__ORDER_NOT_FOUND'
  /** A message names a task its job does not have. */
  | 'SCHEDULER__TASK_NOT_FOUND'
  /** The message's verified signer is not the peer the body speaks for (e.g. an award not signed by the creator). */
  | 'SCHEDULER__SIGNER_MISMATCH'
  /** A bid arrived while the job's bid window was closed. */
  | 'SCHEDULER__BID_WINDOW_CLOSED'
  /** The worker already bid in this window. */
  | 'SCHEDULER__DUPLICATE_BID'
  /** The bid asks more than the order's maximum price. */
  | 'SCHEDULER__BID_PRICE_EXCEEDED'
  /** The job already holds as many bids as a job may. */
  | 'SCHEDULER__BID_LIMIT_EXCEEDED'
  /** The worker does not meet the order's tier (allowlist, reputation or stake). */
  | 'SCHEDULER__WORKER_INELIGIBLE'
  /** The worker lost its lease on, or withdrew from, this job and may not take part again. */
  | 'SCHEDULER__WORKER_EXCLUDED'
  /** A result or withdrawal for a task that is not awarded to the sender. */
  | 'SCHEDULER__TASK_NOT_AWARDED'
  /** A heartbeat from a peer that holds no lease on the job. */
  | 'SCHEDULER__LEASE_NOT_FOUND'
  /** A second result for a task that already has one. */
  | 'SCHEDULER__DUPLICATE_RESULT'
  /** A message for a job that is completed, cancelled or expired. */
  | 'SCHEDULER__JOB_CLOSED'
  /** A verdict for a task that is not awaiting verification. */
  | 'SCHEDULER__VERDICT_UNEXPECTED'
  /** An award addressed to another worker. */
  | 'SCHEDULER__WORKER_MISMATCH'
  /** An award at a price below every bid the worker made on its job. */
  | 'SCHEDULER__PRICE_MISMATCH'
  /** An award for tasks the worker already holds. */
  | 'SCHEDULER__DUPLICATE_AWARD'
  /** A task report for a task the worker is not running. */
  | 'SCHEDULER__TASK_NOT_RUNNING'
  /** A message type this machine does not take. */
  | 'SCHEDULER__UNEXPECTED_MESSAGE'
  /** A task's output does not have the size its tile or batch range implies. */
  | 'SCHEDULER__OUTPUT_SIZE_MISMATCH'
  /**
   * A driver, machine or pricing strategy was configured out of range or inconsistently (a worker role without an
   * executor, a lease no longer than its heartbeat, a negative price); `context` names the option.
   */
  | 'SCHEDULER__INVALID_CONFIG'
  /** The job ended (cancelled or expired) before it completed. */
  | 'SCHEDULER__JOB_UNFINISHED'

/** An error raised by `@tessera/scheduler`. */
export class SchedulerError extends TesseraError<SchedulerErrorCode> {
  static override name = 'SchedulerError'
}

/** Narrows `e` to a {@link SchedulerError}, optionally with the given code. */
export function isSchedulerError<C extends SchedulerErrorCode>(
  e: unknown,
  code?: C,
): e is SchedulerError & { code: C } {
  return e instanceof SchedulerError && (code === undefined || e.code === code)
}

/**
 * Throws a {@link SchedulerError}: how the machines refuse an input (and change nothing). The error carries no
 * stack: a refusal is an expected answer to a peer's message, caught by the driver and told apart by its code, and
 * its stack is always the same few frames. Capturing it was 2% of the simulator's time (late bids are common).
 */
export function reject(code: SchedulerErrorCode, message: string, context: Record<string, unknown>): never {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    throw new SchedulerError(code, message, context)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** Refuses a message whose body speaks for `claimed` but whose envelope `from` signed it. */
export function checkSigner(from: string, claimed: string, type: string): void {
  if (from !== claimed) {
    reject('SCHEDULER__SIGNER_MISMATCH', `${type} speaks for ${claimed} but was signed by ${from}`, {
      type,
      from,
      claimed,
    })
  }
}
