import { constants } from 'node:fs'
import { access, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { isNotFound, NodeError } from '../errors.js'

/** A file system error as a coded one naming the path: the message says why, the cause keeps the rest. */
function unwritable(path: string, cause: unknown): NodeError {
  const why = isNotFound(cause) ? 'its folder does not exist' : (cause as Error).message
  return new NodeError('NODE__FILE_UNWRITABLE', `cannot write ${path}: ${why}`, { path }, { cause })
}

/**
 * Checks, before long work, that a file can be written at `path`: its folder exists and may be written, and what is
 * there already is a file that may be written over, not a folder. A render that ran for minutes should not end on
 * "no such directory" or EISDIR.
 */
export async function assertWritable(path: string): Promise<void> {
  try {
    await access(dirname(path), constants.W_OK)
    const existing = await stat(path).catch((e: unknown) => {
      if (isNotFound(e)) return undefined
      throw e
    })
    if (existing?.isDirectory() === true) {
      throw new NodeError('NODE__FILE_UNWRITABLE', `cannot write ${path}: it is a folder; name a file in it`, { path })
    }
    if (existing !== undefined) await access(path, constants.W_OK)
  } catch (cause) {
    if (cause instanceof NodeError) throw cause
    throw unwritable(path, cause)
  }
}

/** Writes an output file, with `NODE__FILE_UNWRITABLE` when it cannot be. */
export async function writeOutput(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes)
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
