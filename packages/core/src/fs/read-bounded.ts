import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { concat } from 'uint8arrays/concat'
import { throwIfAborted } from '../abort.js'
import type { AbortOptions } from '../bus.js'

/** How much more is read at a time from a file that grew after its size was taken. */
const GROWTH_CHUNK_BYTES = 64 * 1024

/**
 * Reads a file whole, refusing anything but a regular file of at most `maxBytes`: `refuse(why)` makes the error
 * thrown (each caller's own code). A `stat` before a plain `readFile` is not enough: a link to `/dev/zero` has size
 * 0 and never ends, a named pipe blocks forever, and a file can grow between the two calls. So the file is opened
 * without blocking, checked on its open handle, and read no further than one byte past the bound. Errors from the
 * file system itself (no such file, no permission) are thrown as they are. Rejects with `AbortError` when
 * `options.signal` aborts, checked before each read: a file handle's reads take no signal.
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  refuse: (why: string) => Error,
  options: AbortOptions = {},
): Promise<Uint8Array> {
  throwIfAborted(options.signal)
  // O_NONBLOCK: opening a named pipe for reading would otherwise wait for a writer that may never come.
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw refuse('it is not a regular file')
    if (info.size > maxBytes) throw refuse(`it is ${info.size} bytes, more than ${maxBytes}`)
    // Read until the end, never past one byte beyond the bound: the first read expects the size the stat gave (and
    // one byte more, to see whether the file grew since), later ones take what a growing file added.
    const chunks: Uint8Array[] = []
    let total = 0
    let want = info.size + 1
    for (;;) {
      const chunk = new Uint8Array(Math.min(want, maxBytes + 1 - total))
      let filled = 0
      while (filled < chunk.byteLength) {
        throwIfAborted(options.signal)
        const { bytesRead } = await handle.read(chunk, filled, chunk.byteLength - filled, null)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      chunks.push(chunk.subarray(0, filled))
      total += filled
      if (total > maxBytes) throw refuse(`it grew past ${maxBytes} bytes as it was read`)
      if (filled < chunk.byteLength) break
      want = GROWTH_CHUNK_BYTES
    }
    return chunks.length === 1 ? chunks[0]! : concat(chunks, total)
  } finally {
    await handle.close()
  }
}
