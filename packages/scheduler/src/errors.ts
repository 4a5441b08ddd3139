import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/scheduler`. Codes are stable: never reused or renamed. */
export type SchedulerErrorCode = 'SCHEDULER__INVALID_INPUT'

/** An error raised by `@tessera/scheduler`. */
export class SchedulerError extends TesseraError<SchedulerErrorCode> {
  static override name = 'SchedulerError'
}

/** Narrows `e` to a {@link SchedulerError}, optionally with the given code. */
export function isSchedulerError<C extends SchedulerErrorCode>(e: unknown, code?: C): e is SchedulerError & { code: C } {
  return e instanceof SchedulerError && (code === undefined || e.code === code)
}
