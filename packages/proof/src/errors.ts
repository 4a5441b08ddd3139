import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/proof`. Codes are stable: never reused or renamed. */
export type ProofErrorCode = 'PROOF__INVALID_INPUT'

/** An error raised by `@tessera/proof`. */
export class ProofError extends TesseraError<ProofErrorCode> {
  static override name = 'ProofError'
}

/** Narrows `e` to a {@link ProofError}, optionally with the given code. */
export function isProofError<C extends ProofErrorCode>(e: unknown, code?: C): e is ProofError & { code: C } {
  return e instanceof ProofError && (code === undefined || e.code === code)
}
