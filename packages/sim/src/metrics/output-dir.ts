import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortError, type AbortOptions } from '@tessera/core'

/** Writes a run's or a sweep's files into one directory, in order, and remembers their paths. */
export interface OutputDir {
  /** Writes `name` (relative to the directory); aborts before writing once the signal has fired. */
  put(name: string, data: string | Uint8Array): Promise<void>
  /** Paths written so far, in order. */
  readonly written: string[]
}

/** Creates `dir` (and its parents) and returns a writer into it; `onWrite` hears each path once it is written. */
export async function outputDir(
  dir: string,
  what: string,
  options: AbortOptions & { onWrite?: (path: string) => void } = {},
): Promise<OutputDir> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  return {
    written,
    async put(name, data) {
      if (options.signal?.aborted === true) throw new AbortError(`writing the ${what} was aborted`)
      const path = join(dir, name)
      await writeFile(path, data)
      written.push(path)
      options.onWrite?.(path)
    },
  }
}
