import { extname } from 'node:path'
import { readBoundedFile } from '@tessera/core'
import { packGlb } from '@tessera/gpu'
import { MAX_INPUT_BYTES } from '../constants.js'
import { isNotFound, NodeError } from '../errors.js'

/**
 * Reads a job input file, bounded to {@link MAX_INPUT_BYTES} and only a regular file (a link to /dev/zero or a named
 * pipe would never finish), with a clear error when it is missing or unreadable.
 */
export async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readBoundedFile(
      path,
      MAX_INPUT_BYTES,
      (why) => new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: ${why}`, { path }),
    )
  } catch (cause) {
    if (cause instanceof NodeError) throw cause
    const why = isNotFound(cause) ? 'no such file' : (cause as Error).message
    throw new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: ${why}`, { path }, { cause })
  }
}

/** How {@link readScene} reads a scene. */
export interface ReadSceneOptions {
  /**
   * The node's data directory: no buffer or image a .gltf names may be in it (its keys and wallet would be packed
   * into the scene uploaded to every worker).
   */
  dataDir?: string
}

/**
 * Reads a scene to upload for a render job. A .glb is sent as it is; a .gltf is packed with the buffers and images
 * it names beside it into one GLB (`packGlb`), since a job's workers receive only the one blob: only regular files
 * in its folder or below it, none hidden and none in `options.dataDir`, images only of formats the renderer decodes,
 * buffers only of the length they declare (else `GPU__MALFORMED_SCENE`, naming the URI).
 */
export async function readScene(path: string, options: ReadSceneOptions = {}): Promise<Uint8Array> {
  const file = await readInput(path)
  if (extname(path).toLowerCase() !== '.gltf') return file
  // The bytes just read are what is packed: the file is read once, and a file swapped meanwhile is not mixed in.
  const exclude = options.dataDir === undefined ? {} : { exclude: [options.dataDir] }
  const packed = await packGlb(path, { file, ...exclude })
  if (packed.byteLength > MAX_INPUT_BYTES) {
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `${path} with the files it names is ${packed.byteLength} bytes, more than ${MAX_INPUT_BYTES}`,
      { path },
    )
  }
  return packed
}
