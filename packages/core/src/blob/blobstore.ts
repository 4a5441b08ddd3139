import type { CID } from 'multiformats/cid'
import { throwIfAborted } from '../abort.js'
import type { AbortOptions } from '../bus.js'
import { BLOB_CHUNK_BYTES } from '../constants.js'
import { CoreError } from '../errors.js'

/** Options of {@link Blobstore.stream}. */
export interface BlobStreamOptions extends AbortOptions {
  /**
   * Largest chunk yielded.
   * @default BLOB_CHUNK_BYTES (256 KiB)
   */
  chunkBytes?: number
}

/**
 * Where a node keeps blobs, by CID. The store trusts its caller to pass the right CID for the bytes: the blob
 * service hashes what it stores and verifies what it fetches.
 */
export interface Blobstore {
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  /** The blob's length in bytes, or undefined when it is not held. */
  size(cid: CID, options?: AbortOptions): Promise<number | undefined>
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  /** The whole blob; `CORE__BLOB_NOT_FOUND` when it is not held. */
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  /** The blob in chunks of at most `chunkBytes`; `CORE__BLOB_NOT_FOUND` when it is not held. */
  stream(cid: CID, options?: BlobStreamOptions): AsyncIterable<Uint8Array>
  delete(cid: CID, options?: AbortOptions): Promise<void>
}

/** The `CORE__BLOB_NOT_FOUND` error every blobstore raises for a blob it does not hold. */
export function blobNotFound(cid: CID): CoreError {
  return new CoreError('CORE__BLOB_NOT_FOUND', `blob ${cid.toString()} is not held here`, { cid: cid.toString() })
}

/** A blobstore in memory: the default for embedded and ephemeral nodes. */
export class MemoryBlobstore implements Blobstore {
  readonly #blobs = new Map<string, Uint8Array>()

  async has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    return this.#blobs.has(cid.toString())
  }

  async size(cid: CID, options: AbortOptions = {}): Promise<number | undefined> {
    throwIfAborted(options.signal)
    return this.#blobs.get(cid.toString())?.byteLength
  }

  async put(cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    // A private copy: the caller may reuse its buffer.
    this.#blobs.set(cid.toString(), bytes.slice())
  }

  async get(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal)
    const bytes = this.#blobs.get(cid.toString())
    if (bytes === undefined) throw blobNotFound(cid)
    return bytes.slice()
  }

  async *stream(cid: CID, options: BlobStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const bytes = this.#blobs.get(cid.toString())
    if (bytes === undefined) throw blobNotFound(cid)
    const chunk = options.chunkBytes ?? BLOB_CHUNK_BYTES
    for (let offset = 0; offset < bytes.byteLength; offset += chunk) {
      throwIfAborted(options.signal)
      // Views, not copies: stored blobs are never mutated in place.
      yield bytes.subarray(offset, Math.min(offset + chunk, bytes.byteLength))
    }
  }

  async delete(cid: CID, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    this.#blobs.delete(cid.toString())
  }

  get count(): number {
    return this.#blobs.size
  }
}
