import { constants } from 'node:fs'
import { access, lstat, mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { replaceFile, writeNewFile } from '@tessera/core'
import { isNotFound, NodeError } from '../errors.js'

/** Mode an output file is created with (before the umask), as `writeFile`'s default: the operator's own file. */
const OUTPUT_FILE_MODE = 0o666

/** How an output may treat a file already at its path. */
export interface OutputOptions {
  /**
   * Replace a file (or a symbolic link, itself, never what it points to) already at the path.
   *
   * @default false: such a file is refused with `NODE__FILE_EXISTS`
   */
  force?: boolean
}

/** A file system error as a coded one naming the path: the message says why, the cause keeps the rest. */
function unwritable(path: string, cause: unknown): NodeError {
  const why = isNotFound(cause) ? 'its folder does not exist' : (cause as Error).message
  return new NodeError('NODE__FILE_UNWRITABLE', `cannot write ${path}: ${why}`, { path }, { cause })
}

/** The refusal of a file that is already there, with what to do about it. */
function exists(path: string, why = 'it exists'): NodeError {
  return new NodeError('NODE__FILE_EXISTS', `will not replace ${path}: ${why}; pass --force to replace it`, { path })
}

/** What is at `path` itself (a link, not what it points to), or undefined where nothing is. */
async function entryAt(path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  return lstat(path).catch((e: unknown) => {
    if (isNotFound(e)) return undefined
    throw e
  })
}

/**
 * Checks, before long work, that a file can be written at `path`: its folder exists and may be written, nothing is
 * there (or, with `force`, a file or link is, which will be replaced), and not a folder. A render that ran for minutes
 * should not end on "no such directory", EISDIR or a file it will not replace.
 */
export async function assertWritable(path: string, options: OutputOptions = {}): Promise<void> {
  try {
    await access(dirname(path), constants.W_OK)
    const existing = await entryAt(path)
    if (existing?.isDirectory() === true) {
      throw new NodeError('NODE__FILE_UNWRITABLE', `cannot write ${path}: it is a folder; name a file in it`, { path })
    }
    if (existing !== undefined && options.force !== true) throw exists(path)
  } catch (cause) {
    if (cause instanceof NodeError) throw cause
    throw unwritable(path, cause)
  }
}

/**
 * Writes an output file whole or not at all: to a temporary file beside it, then linked (or, with `force`, renamed)
 * into place, so a write that fails midway (a full disk, a file size limit) leaves no half file under the name, nor
 * spoils the one there before, and a symbolic link at the name is never written through. Refuses a file already at
 * `path` with `NODE__FILE_EXISTS` unless `force`; `NODE__FILE_UNWRITABLE` when it cannot be written.
 */
export async function writeOutput(path: string, bytes: Uint8Array, options: OutputOptions = {}): Promise<void> {
  let written = true
  try {
    if (options.force === true) await replaceFile(path, bytes, OUTPUT_FILE_MODE)
    else written = await writeNewFile(path, bytes, OUTPUT_FILE_MODE)
  } catch (cause) {
    throw unwritable(path, cause)
  }
  if (!written) throw exists(path)
}

/**
 * Clears the way for an output that has no file at `path` where an earlier one left one (a partial fetch's list of
 * what was missing, which would misdescribe a complete output): refused with `NODE__FILE_EXISTS` unless `force`,
 * which deletes it. Nothing at `path` passes.
 */
export async function removeStale(path: string, why: string, options: OutputOptions = {}): Promise<void> {
  let existing
  try {
    existing = await entryAt(path)
  } catch (cause) {
    throw unwritable(path, cause)
  }
  if (existing === undefined) return
  if (options.force !== true) throw exists(path, why)
  try {
    await rm(path)
  } catch (cause) {
    throw unwritable(path, cause)
  }
}

/** Makes an output folder (and its parents), with `NODE__FILE_UNWRITABLE` when it cannot be made. */
export async function makeOutputDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true })
  } catch (cause) {
    throw unwritable(path, cause)
  }
}
