import { readFile, stat } from 'node:fs/promises'
import { MAX_INPUT_BYTES } from '../constants.js'
import { NodeError } from '../errors.js'

/** Reads a job input file, bounded, with a clear error when it is missing or unreadable. */
export async function readInput(path: string): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch {
    throw new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: no such file`, { path })
  }
  if (size > MAX_INPUT_BYTES) {
    throw new NodeError('NODE__FILE_UNREADABLE', `${path} is ${size} bytes, more than ${MAX_INPUT_BYTES}`, { path })
  }
  try {
    return await readFile(path)
  } catch (e) {
    throw new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, { path })
  }
}
