import { SingleBar } from 'cli-progress'

/**
 * The commands' progress bar on `stream` (stderr), or none when `quiet`. Drawn on non-TTY streams too, so logs of
 * long runs show how far they got.
 */
export function progressBar(stream: NodeJS.WritableStream, quiet: boolean, format: string): SingleBar | undefined {
  return quiet ? undefined : new SingleBar({ stream, format, hideCursor: false, noTTYOutput: false })
}
