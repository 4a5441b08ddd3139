import { isTesseraError, type TesseraError } from '@tessera/core'
import type { CliIo } from './io.js'

/** Exit code for a failed operation. */
export const EXIT_FAILURE = 1
/** Exit code for bad usage (commander's convention). */
export const EXIT_USAGE = 2

/**
 * A coded error the command line itself caused (flags that do not go together, or that the config refuses): printed
 * as that error, and exits {@link EXIT_USAGE} as commander's own usage errors do.
 */
export class UsageError extends Error {
  static override name = 'UsageError'
  readonly error: TesseraError

  constructor(error: TesseraError) {
    super(error.message, { cause: error })
    this.error = error
  }
}

/** Runs `check` over a command's flags: a coded error it throws is a {@link UsageError}. */
export function checkFlags<T>(check: () => T): T {
  try {
    return check()
  } catch (e) {
    if (isTesseraError(e)) throw new UsageError(e)
    throw e
  }
}

/**
 * The first line of an error's message: one a library threw (libp2p's listen failure) can run on over lines of
 * addresses and stack frames, which `TESSERA_DEBUG=1` prints in full with the stack.
 */
function firstLine(message: string): string {
  return message.trimStart().split('\n', 1)[0]?.trimEnd() ?? ''
}

/**
 * Prints an error the way an operator wants to read it, on one line: the message and its code, or the first line
 * of an uncoded error's message; never a stack trace (set `TESSERA_DEBUG=1` to see one). Resolves to the exit
 * code: {@link EXIT_USAGE} for a {@link UsageError}, else {@link EXIT_FAILURE}.
 */
export function reportError(failure: unknown, io: CliIo): number {
  const e = failure instanceof UsageError ? failure.error : failure
  if (isTesseraError(e)) {
    // A code the node sent that this CLI does not know still tells the operator (and a bug report) what failed.
    const remote = typeof e.context.remoteCode === 'string' ? `, remote ${e.context.remoteCode}` : ''
    io.stderr(`error: ${e.message} (${e.code}${remote})\n`)
  } else if (e instanceof Error) {
    io.stderr(`error: ${firstLine(e.message)}\n`)
  } else {
    io.stderr(`error: ${firstLine(String(e))}\n`)
  }
  if (process.env.TESSERA_DEBUG === '1' && e instanceof Error && e.stack !== undefined) io.stderr(`${e.stack}\n`)
  return failure instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE
}
