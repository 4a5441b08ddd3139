import { isTesseraError } from '@tessera/core'
import type { CliIo } from './io.js'

/** Exit code for a failed operation. */
export const EXIT_FAILURE = 1
/** Exit code for bad usage (commander's convention). */
export const EXIT_USAGE = 2

/**
 * Prints an error the way an operator wants to read it: the message and its code, never a stack trace (set
 * `TESSERA_DEBUG=1` to see one).
 */
export function reportError(e: unknown, io: CliIo): number {
  if (isTesseraError(e)) {
    // A code the node sent that this CLI does not know still tells the operator (and a bug report) what failed.
    const remote = typeof e.context.remoteCode === 'string' ? `, remote ${e.context.remoteCode}` : ''
    io.stderr(`error: ${e.message} (${e.code}${remote})\n`)
  } else if (e instanceof Error) {
    io.stderr(`error: ${e.message}\n`)
  } else {
    io.stderr(`error: ${String(e)}\n`)
  }
  if (process.env.TESSERA_DEBUG === '1' && e instanceof Error && e.stack !== undefined) io.stderr(`${e.stack}\n`)
  return EXIT_FAILURE
}
