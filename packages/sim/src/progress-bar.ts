import { SingleBar } from 'cli-progress'

/** How often the bar is redrawn, as a new line, on a stream that is not a terminal (a log file, CI), ms. */
export const NON_TTY_REDRAW_MS = 10_000

/**
 * The commands' progress bar on `stream` (stderr), or none when `quiet`. Drawn on non-TTY streams too, so logs of
 * long runs show how far they got: a line when it starts, one every {@link NON_TTY_REDRAW_MS} and one when it stops.
 */
export function progressBar(stream: NodeJS.WritableStream, quiet: boolean, format: string): SingleBar | undefined {
  return quiet
    ? undefined
    : new SingleBar({ stream, format, hideCursor: false, noTTYOutput: true, notTTYSchedule: NON_TTY_REDRAW_MS })
}
