import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { throwIfAborted } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import { BLOB_CHUNK_BYTES } from '../constants.js'
import { processAlive, removeOrphans, syncDirectory } from '../fs/durable-write.js'
import { blobNotFound, type Blobstore, type BlobStreamOptions } from './blobstore.js'

const DIR_MODE = 0o700
const FILE_MODE = 0o600

/**
 * Tells this process's temporary files from those of an earlier one that had the same pid, as a node that is always
 * pid 1 in its container does: the pid alone would keep those for good.
 */
const RUN = randomBytes(6).toString('hex')

/** A temporary file of {@link FsBlobstore.put}: `.tmp-<pid>-<run>-<n>`, or `.tmp-<pid>-<n>` as earlier versions had it. */
const TEMPORARY = /^\.tmp-(\d+)-(?:([0-9a-f]{12})-)?\d+$/

/** Whether `name` is a temporary file whose writer is gone: its process died, or is an earlier run with our pid. */
function orphaned(name: string): boolean {
  const match = TEMPORARY.exec(name)
  if (match === null) return false
  const pid = Number(match[1])
  if (pid === process.pid) return match[2] !== RUN
  return !(Number.isSafeInteger(pid) && pid > 0 && processAlive(pid))
}

/**
 * A blobstore on disk: one file per blob, named by its CID (base32, safe on every file system), written to a
 * temporary file and renamed into place so a crash never leaves a partial blob under a CID. The temporary files a
 * crash leaves (up to a whole blob each) are deleted when the store is first used.
 */
export class FsBlobstore implements Blobstore {
  readonly #dir: string
  #opened: Promise<void> | undefined
  #tmpCounter = 0

  constructor(dir: string) {
    this.#dir = dir
  }

  get dir(): string {
    return this.#dir
  }

  async has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return (await this.size(cid, options)) !== undefined
  }

  async size(cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
    throwIfAborted(options.signal)
    await this.#open()
    try {
      return (await stat(this.#path(cid))).size
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async put(cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#open()
    const tmp = join(this.#dir, `.tmp-${process.pid}-${RUN}-${++this.#tmpCounter}`)
    const handle = await open(tmp, 'w', FILE_MODE)
    try {
      try {
        await handle.writeFile(bytes, { signal: options.signal })
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(tmp, this.#path(cid))
    } catch (e) {
      // Whatever failed, write, close or rename, the temporary file would otherwise stay: up to a whole blob.
      await rm(tmp, { force: true })
      // fs rejects an aborted write with its own AbortError, which carries no Tessera code.
      throwIfAborted(options.signal)
      throw e
    }
    // The rename is durable only once the directory is: a power cut could otherwise lose a blob a hold counts on.
    await syncDirectory(this.#dir)
  }

  async get(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal)
    await this.#open()
    try {
      return new Uint8Array(await readFile(this.#path(cid), { signal: options.signal }))
    } catch (e) {
      throwIfAborted(options.signal)
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(cid)
      throw e
    }
  }

  async *stream(cid: CID, options: BlobStreamOptions = {}): AsyncGenerator<Uint8Array> {
    throwIfAborted(options.signal)
    if ((await this.size(cid, options)) === undefined) throw blobNotFound(cid)
    const file = createReadStream(this.#path(cid), {
      highWaterMark: options.chunkBytes ?? BLOB_CHUNK_BYTES,
      signal: options.signal,
    })
    try {
      for await (const chunk of file) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    } catch (e) {
      throwIfAborted(options.signal)
      throw e
    }
  }

  async delete(cid: CID, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#open()
    await rm(this.#path(cid), { force: true })
  }

  #path(cid: CID): string {
    return join(this.#dir, cid.toString())
  }

  /** Creates the directory and deletes the temporary files a crash left, once; tried again after a failure. */
  async #open(): Promise<void> {
    this.#opened ??= (async () => {
      await mkdir(this.#dir, { recursive: true, mode: DIR_MODE })
      await removeOrphans(this.#dir, orphaned)
    })()
    try {
      await this.#opened
    } catch (e) {
      this.#opened = undefined
      throw e
    }
  }
}
