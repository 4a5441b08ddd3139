import { createReadStream } from 'node:fs'
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { throwIfAborted } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import { BLOB_CHUNK_BYTES } from '../constants.js'
import { syncDirectory } from '../fs/durable-write.js'
import { blobNotFound, type Blobstore, type BlobStreamOptions } from './blobstore.js'

const DIR_MODE = 0o700
const FILE_MODE = 0o600

/**
 * A blobstore on disk: one file per blob, named by its CID (base32, safe on every file system), written to a
 * temporary file and renamed into place so a crash never leaves a partial blob under a CID.
 */
export class FsBlobstore implements Blobstore {
  readonly #dir: string
  #ready: Promise<unknown> | undefined
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
    try {
      return (await stat(this.#path(cid))).size
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async put(cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#ensureDir()
    const tmp = join(this.#dir, `.tmp-${process.pid}-${++this.#tmpCounter}`)
    const handle = await open(tmp, 'w', FILE_MODE)
    try {
      await handle.writeFile(bytes, { signal: options.signal })
      await handle.sync()
    } catch (e) {
      await handle.close()
      await rm(tmp, { force: true })
      // fs rejects an aborted write with its own AbortError, which carries no Tessera code.
      throwIfAborted(options.signal)
      throw e
    }
    await handle.close()
    await rename(tmp, this.#path(cid))
    // The rename is durable only once the directory is: a power cut could otherwise lose a blob a hold counts on.
    await syncDirectory(this.#dir)
  }

  async get(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal)
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
    await rm(this.#path(cid), { force: true })
  }

  #path(cid: CID): string {
    return join(this.#dir, cid.toString())
  }

  async #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: DIR_MODE })
    await this.#ready
  }
}
