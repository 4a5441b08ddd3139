import { isTesseraError } from '@tessera/core'

/** An error as a log line's fields: what it says and, for a coded Tessera error, its code to search logs by. */
export function errorFields(e: unknown): { err: string; code?: string } {
  return isTesseraError(e) ? { err: String(e), code: e.code } : { err: String(e) }
}
