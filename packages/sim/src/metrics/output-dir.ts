import { access, constants, mkdir, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortError, type AbortOptions } from '@tessera/core'
import { SimError } from '../errors.js'

/** Writes a run's or a sweep's files into one directory, in order, and remembers their paths. */
export interface OutputDir {
  /** Writes `name` (relative to the directory); aborts before writing once the signal has fired. */
  put(name: string, data: string | Uint8Array): Promise<void>
  /**
   * Removes the files of `known` that were not written through this writer: what an earlier run into the same
   * directory left, which would otherwise sit beside this run's files as if it were one of them. Files of other
   * names are never touched.
   */
  removeStale(): Promise<void>
  /** Paths written so far, in order. */
  readonly written: string[]
}

/** Options of {@link outputDir}. */
export interface OutputDirOptions extends AbortOptions {
  /** Hears each path once it is written. */
  onWrite?: (path: string) => void
  /** Every name this kind of output may write, for {@link OutputDir.removeStale}. */
  known?: readonly string[]
}

/**
 * Creates `dir` (and its parents) and checks that files can be written there, so that a run or a sweep refuses an
 * unusable directory before it spends its time rather than after. Throws `SIM__INVALID_OUT_DIR` naming the directory
 * and the system's reason (a file in the way, no permission).
 */
export async function prepareOutputDir(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    // A file in the way fails here (EEXIST, or ENOTDIR for one among the parents).
    await access(dir, constants.W_OK)
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).name
    throw new SimError(
      'SIM__INVALID_OUT_DIR',
      `cannot write the ${what} to ${dir} (${reason}): name a directory that exists or can be created, and is writable`,
      { dir, reason },
      { cause },
    )
  }
}

/** Creates `dir` (see {@link prepareOutputDir}) and returns a writer into it. */
export async function outputDir(dir: string, what: string, options: OutputDirOptions = {}): Promise<OutputDir> {
  await prepareOutputDir(dir, what)
  const written: string[] = []
  const names = new Set<string>()
  return {
    written,
    async put(name, data) {
      if (options.signal?.aborted === true) throw new AbortError(`writing the ${what} was aborted`)
      const path = join(dir, name)
      await writeFile(path, data)
      written.push(path)
      names.add(name)
      options.onWrite?.(path)
    },
    async removeStale() {
      for (const name of options.known ?? []) {
        if (names.has(name)) continue
        try {
          await unlink(join(dir, name))
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
        }
      }
    },
  }
}
