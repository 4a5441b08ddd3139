import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/ledger`. Codes are stable: never reused or renamed. */
export type LedgerErrorCode = 'LEDGER__INVALID_INPUT'

/** An error raised by `@tessera/ledger`. */
export class LedgerError extends TesseraError<LedgerErrorCode> {
  static override name = 'LedgerError'
}

/** Narrows `e` to a {@link LedgerError}, optionally with the given code. */
export function isLedgerError<C extends LedgerErrorCode>(e: unknown, code?: C): e is LedgerError & { code: C } {
  return e instanceof LedgerError && (code === undefined || e.code === code)
}
