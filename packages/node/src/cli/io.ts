import { EXIT_FAILURE } from './errors.js'

/** Where a command writes: injectable so tests capture output without spawning. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** True when stdout is a terminal (progress bars only then). */
  isTty: boolean
}

/** Whether a write failed because its reader went away: `tessera job submit … | head -1` closed the pipe. */
function isClosedReader(e: Error): boolean {
  return (e as NodeJS.ErrnoException).code === 'EPIPE'
}

/**
 * Writes to `stream` until it fails, and then nothing more, where an unhandled 'error' event would end the process
 * with a stack trace. A reader that went away (EPIPE) is no failure of the command: the script read the line it
 * wanted, and the command's work (a job ordered, followed to its end) goes on to its own exit code. Any other error
 * (a full disk under `> file`) is handed to `onFailure`, once.
 */
export function guardedWriter(
  stream: NodeJS.WritableStream,
  onFailure: (e: Error) => void = () => {},
): (text: string) => void {
  let failed = false
  stream.on('error', (e: Error) => {
    if (failed) return
    failed = true
    if (!isClosedReader(e)) onFailure(e)
  })
  return (text) => {
    if (!failed) stream.write(text)
  }
}

const stderr = guardedWriter(process.stderr)

/**
 * The real process's stdout and stderr. Output lost other than to a closed pipe fails the process (exit 1), said on
 * stderr: a `tessera job list > file` that wrote half its file did not do what it was asked.
 */
export const processIo: CliIo = {
  stdout: guardedWriter(process.stdout, (e) => {
    stderr(`error: cannot write to stdout: ${e.message}\n`)
    process.exitCode = EXIT_FAILURE
  }),
  stderr,
  isTty: process.stdout.isTTY === true,
}
