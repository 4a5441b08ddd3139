import { readFile, stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { packGlb } from '@tessera/gpu'
import { MAX_INPUT_BYTES } from '../constants.js'
import { isNotFound, NodeError } from '../errors.js'

/** Reads a job input file, bounded, with a clear error when it is missing or unreadable. */
export async function readInput(path: string): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (cause) {
    const why = isNotFound(cause) ? 'no such file' : (cause as Error).message
    throw new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: ${why}`, { path }, { cause })
  }
  if (size > MAX_INPUT_BYTES) {
    throw new NodeError('NODE__FILE_UNREADABLE', `${path} is ${size} bytes, more than ${MAX_INPUT_BYTES}`, { path })
  }
  try {
    return await readFile(path)
  } catch (cause) {
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `cannot read ${path}: ${(cause as Error).message}`,
      { path },
      { cause },
    )
  }
}

/**
 * Reads a scene to upload for a render job. A .glb is sent as it is; a .gltf is packed with the buffers and images
 * it names beside it into one GLB (`packGlb`), since a job's workers receive only the one blob.
 */
export async function readScene(path: string): Promise<Uint8Array> {
  const file = await readInput(path)
  if (extname(path).toLowerCase() !== '.gltf') return file
  const packed = await packGlb(path)
  if (packed.byteLength > MAX_INPUT_BYTES) {
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `${path} with the files it names is ${packed.byteLength} bytes, more than ${MAX_INPUT_BYTES}`,
      { path },
    )
  }
  return packed
}
