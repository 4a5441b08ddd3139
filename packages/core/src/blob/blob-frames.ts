import { equals } from 'uint8arrays/equals'
import { z } from 'zod'
import { MAX_BLOB_CHUNK_BYTES, MAX_BLOB_HEADER_BYTES } from '../constants.js'
import { CoreError } from '../errors.js'
import { decodeCanonical, encodeCanonical } from '../wire/codec.js'
import { BlobHasher, parseBlobCid, type BlobCid } from './blob-cid.js'

/**
 * `/tessera/blob/1`, frame by frame (each length-prefixed): the requester sends one request frame and closes its
 * side; the provider answers with one header frame and, when the status is `ok`, the blob in data frames of at most
 * {@link MAX_BLOB_CHUNK_BYTES}, then closes. Request and header are DAG-CBOR; data frames are raw bytes.
 */
export const BLOB_FRAME_VERSION = 1

/**
 * A provider's answer to a blob request: the blob follows only for `ok`. `busy`: the provider serves as many
 * blobs as it will at once (to this peer, or to all); ask another, or later.
 */
export type BlobStatus = 'ok' | 'not-found' | 'denied' | 'too-large' | 'busy'

/** The requester's one frame: the blob it wants. */
export interface BlobRequest {
  cid: BlobCid
}

/** The provider's first frame: its answer and, when it has the blob, its length. */
export interface BlobResponseHeader {
  status: BlobStatus
  /** Length of the blob in bytes (for `ok` and `too-large`). */
  size?: number
}

const requestSchema = z.object({ v: z.literal(BLOB_FRAME_VERSION), cid: z.instanceof(Uint8Array) })
const headerSchema = z.object({
  v: z.literal(BLOB_FRAME_VERSION),
  status: z.enum(['ok', 'not-found', 'denied', 'too-large', 'busy']),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
})

function decodeFrame(bytes: Uint8Array, what: string): unknown {
  if (bytes.byteLength > MAX_BLOB_HEADER_BYTES) {
    throw new CoreError(
      'CORE__MESSAGE_TOO_LARGE',
      `${what} of ${bytes.byteLength} bytes exceeds ${MAX_BLOB_HEADER_BYTES}`,
      {
        bytes: bytes.byteLength,
      },
    )
  }
  try {
    return decodeCanonical(bytes, what)
  } catch (cause) {
    throw new CoreError('CORE__MALFORMED_BLOB_FRAME', `${what} is not valid DAG-CBOR`, { what }, { cause })
  }
}

/** Encodes a request frame (DAG-CBOR, versioned). */
export function encodeBlobRequest(request: BlobRequest): Uint8Array {
  return encodeCanonical({ v: BLOB_FRAME_VERSION, cid: request.cid.bytes })
}

/** Decodes a request frame. Arbitrary bytes yield a request or a `CoreError`. */
export function decodeBlobRequest(bytes: Uint8Array): BlobRequest {
  const parsed = requestSchema.safeParse(decodeFrame(bytes, 'blob request'))
  if (!parsed.success) throw new CoreError('CORE__MALFORMED_BLOB_FRAME', 'blob request is malformed', {})
  return { cid: parseBlobCid(parsed.data.cid) }
}

/** Encodes a response header frame (DAG-CBOR, versioned). */
export function encodeBlobResponseHeader(header: BlobResponseHeader): Uint8Array {
  return encodeCanonical({ v: BLOB_FRAME_VERSION, ...header })
}

/** Decodes a response header frame. Arbitrary bytes yield a header or a `CoreError`. */
export function decodeBlobResponseHeader(bytes: Uint8Array): BlobResponseHeader {
  const parsed = headerSchema.safeParse(decodeFrame(bytes, 'blob response header'))
  if (!parsed.success) throw new CoreError('CORE__MALFORMED_BLOB_FRAME', 'blob response header is malformed', {})
  const { status, size } = parsed.data
  if (status === 'ok' && size === undefined) {
    throw new CoreError('CORE__MALFORMED_BLOB_FRAME', 'an ok blob response must carry the size', {})
  }
  return size === undefined ? { status } : { status, size }
}

/** Throws unless `size` is a byte count of at most `maxBytes`: `CORE__MALFORMED_BLOB_FRAME` or `CORE__BLOB_TOO_LARGE`. */
export function assertBlobSize(cid: BlobCid, size: number, maxBytes: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new CoreError('CORE__MALFORMED_BLOB_FRAME', `blob size ${size} is not a byte count`, { size })
  }
  if (size > maxBytes) {
    throw new CoreError(
      'CORE__BLOB_TOO_LARGE',
      `blob ${cid.toString()} has ${size} bytes; at most ${maxBytes} are accepted`,
      {
        cid: cid.toString(),
        size,
        max: maxBytes,
      },
    )
  }
}

/**
 * Collects a blob's data frames and verifies them: never more than the announced size (nor `maxBytes`), never a
 * frame over {@link MAX_BLOB_CHUNK_BYTES}, and the SHA-256 of what arrived must be the CID's digest. Arbitrary
 * frames yield the blob or a `CoreError`.
 */
export class BlobAssembler {
  readonly #cid: BlobCid
  readonly #size: number
  readonly #hasher = new BlobHasher()
  readonly #buffer: Uint8Array
  #received = 0

  constructor(cid: BlobCid, size: number, maxBytes: number) {
    assertBlobSize(cid, size, maxBytes)
    this.#cid = cid
    this.#size = size
    // Allocated once: zero-filled pages cost memory only when written, and growing by copies cost a third of the
    // transfer's time in profiles. The size is already bounded by `maxBytes`.
    this.#buffer = new Uint8Array(size)
  }

  get received(): number {
    return this.#received
  }

  get size(): number {
    return this.#size
  }

  /** Appends one data frame. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength > MAX_BLOB_CHUNK_BYTES) {
      throw new CoreError('CORE__MALFORMED_BLOB_FRAME', `a blob frame of ${chunk.byteLength} bytes is too long`, {
        bytes: chunk.byteLength,
      })
    }
    const end = this.#received + chunk.byteLength
    if (end > this.#size) {
      throw new CoreError('CORE__BLOB_HASH_MISMATCH', `provider sent more than the ${this.#size} bytes it announced`, {
        cid: this.#cid.toString(),
        size: this.#size,
      })
    }
    this.#buffer.set(chunk, this.#received)
    this.#hasher.update(chunk)
    this.#received = end
  }

  /** The verified blob. Throws `CORE__BLOB_HASH_MISMATCH` when it is short or its hash is not the CID's. */
  finish(): Uint8Array {
    if (this.#received !== this.#size) {
      throw new CoreError('CORE__BLOB_HASH_MISMATCH', `blob ended after ${this.#received} of ${this.#size} bytes`, {
        cid: this.#cid.toString(),
        received: this.#received,
        size: this.#size,
      })
    }
    const digest = this.#hasher.digest()
    const expected = this.#cid.multihash.digest
    if (!equals(digest, expected)) {
      throw new CoreError('CORE__BLOB_HASH_MISMATCH', `bytes received for ${this.#cid.toString()} do not hash to it`, {
        cid: this.#cid.toString(),
      })
    }
    return this.#buffer
  }
}
