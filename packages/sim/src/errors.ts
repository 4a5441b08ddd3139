import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/sim`. Codes are stable: never reused or renamed. */
export type SimErrorCode = 'SIM__INVALID_INPUT'

/** An error raised by `@tessera/sim`. */
export class SimError extends TesseraError<SimErrorCode> {
  static override name = 'SimError'
}

/** Narrows `e` to a {@link SimError}, optionally with the given code. */
export function isSimError<C extends SimErrorCode>(e: unknown, code?: C): e is SimError & { code: C } {
  return e instanceof SimError && (code === undefined || e.code === code)
}
