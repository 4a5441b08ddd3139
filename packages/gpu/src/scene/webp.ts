import webpDecoderModule from '@jsquash/webp/codec/dec/webp_dec.js'
import { onceStarted } from './wasm-decoder.js'

/** Decodes WebP bytes to RGBA8, or returns null when they are not a WebP image libwebp can read. */
export type WebpDecode = (image: Uint8Array) => { width: number; height: number; data: Uint8ClampedArray } | null

/** Where the decoder's WebAssembly lies beside its glue code (the package has no `exports` map to go through). */
const WASM_SPECIFIER = '@jsquash/webp/codec/dec/webp_dec.wasm'

/**
 * Google's libwebp decoder (jSquash's WebAssembly build of it), created once per process and only when an asset
 * holds a WebP texture. Its `decode` is synchronous once the module exists, so the scene's other textures and
 * bounds checks keep their order. Node reads the `.wasm` from disk; elsewhere the glue code fetches it beside
 * itself, as bundlers arrange.
 */
export const webpDecoder: () => Promise<WebpDecode> = onceStarted('WebP', async () => {
  const wasmBinary = isNode() ? await readWasm() : undefined
  const module = await webpDecoderModule({ noInitialRun: true, ...(wasmBinary && { wasmBinary }) })
  return (image) => module.decode(image)
})

function isNode(): boolean {
  return typeof process === 'object' && typeof process.versions?.node === 'string'
}

async function readWasm(): Promise<ArrayBuffer> {
  const { createRequire } = await import('node:module')
  const { readFile } = await import('node:fs/promises')
  const bytes = await readFile(createRequire(import.meta.url).resolve(WASM_SPECIFIER))
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
}

/** libwebp's framing constants (src/webp/format_constants.h). */
const TAG_BYTES = 4
const CHUNK_HEADER_BYTES = 8
const RIFF_HEADER_BYTES = 12
const VP8X_CHUNK_BYTES = 10
const VP8_FRAME_HEADER_BYTES = 10
const VP8L_FRAME_HEADER_BYTES = 5
const VP8L_MAGIC_BYTE = 0x2f
const MAX_CHUNK_PAYLOAD = 2 ** 32 - 1 - CHUNK_HEADER_BYTES - 1
const MAX_IMAGE_AREA = 2 ** 32
const ANIMATION_FLAG = 0x02

/**
 * A WebP's size as libwebp reads it when it decodes, or null where libwebp would not decode it (an animation
 * included): its `WebPParseHeaders` (src/dec/webp_dec.c), `VP8GetInfo` and `VP8LGetInfo`, ported. The loader checks
 * this size before decoding, since glTF-Transform's reader disagrees with libwebp: it skips chunks it does not know
 * and reads the first VP8 or VP8L chunk after them, while libwebp, finding neither VP8X nor VP8 or VP8L after the RIFF
 * header, decodes what follows as a bare bitstream, so one file could state a 2x2 image to the check and a
 * 16384x16384 one to the decoder.
 */
export function webpSize(image: Uint8Array): [number, number] | null {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength)
  const tagAt = (at: number): string => String.fromCharCode(...image.subarray(at, at + TAG_BYTES))
  const u32 = (at: number): number => view.getUint32(at, true)
  const u24 = (at: number): number => view.getUint16(at, true) | (view.getUint8(at + 2) << 16)
  if (image.byteLength < RIFF_HEADER_BYTES) return null
  let at = 0
  let riffSize = 0
  if (tagAt(0) === 'RIFF') {
    if (tagAt(8) !== 'WEBP') return null
    riffSize = u32(4)
    const truncated = riffSize > image.byteLength - CHUNK_HEADER_BYTES
    if (riffSize < TAG_BYTES + CHUNK_HEADER_BYTES || riffSize > MAX_CHUNK_PAYLOAD || truncated) return null
    at = RIFF_HEADER_BYTES
  }
  const left = (): number => image.byteLength - at
  if (left() < CHUNK_HEADER_BYTES) return null
  let canvas: [number, number] | undefined
  if (tagAt(at) === 'VP8X') {
    if (u32(at + 4) !== VP8X_CHUNK_BYTES || left() < CHUNK_HEADER_BYTES + VP8X_CHUNK_BYTES) return null
    // libwebp decodes no animation (WebPParseHeaders: VP8_STATUS_UNSUPPORTED_FEATURE).
    if ((u32(at + 8) & ANIMATION_FLAG) !== 0) return null
    canvas = [1 + u24(at + 12), 1 + u24(at + 15)]
    if (canvas[0] * canvas[1] >= MAX_IMAGE_AREA) return null
    at += CHUNK_HEADER_BYTES + VP8X_CHUNK_BYTES
  }
  if ((riffSize === 0 && canvas !== undefined) || left() < TAG_BYTES) return null
  if ((riffSize > 0 && canvas !== undefined) || (riffSize === 0 && tagAt(at) === 'ALPH')) {
    // Optional chunks (ICCP, ALPH, EXIF, XMP) up to the first VP8 or VP8L chunk, each within the RIFF size.
    let total = TAG_BYTES + CHUNK_HEADER_BYTES + VP8X_CHUNK_BYTES
    for (;;) {
      if (left() < CHUNK_HEADER_BYTES) return null
      const payload = u32(at + 4)
      if (payload > MAX_CHUNK_PAYLOAD) return null
      const onDisk = CHUNK_HEADER_BYTES + payload + (payload & 1)
      total += onDisk
      if (riffSize > 0 && total > riffSize) return null
      if (tagAt(at) === 'VP8 ' || tagAt(at) === 'VP8L') break
      if (left() < onDisk) return null
      at += onDisk
    }
  }
  if (left() < CHUNK_HEADER_BYTES) return null
  let lossless: boolean
  let chunkSize: number
  const tag = tagAt(at)
  if (tag === 'VP8 ' || tag === 'VP8L') {
    chunkSize = u32(at + 4)
    const minimal = TAG_BYTES + CHUNK_HEADER_BYTES
    if ((riffSize >= minimal && chunkSize > riffSize - minimal) || chunkSize > left() - CHUNK_HEADER_BYTES) return null
    at += CHUNK_HEADER_BYTES
    lossless = tag === 'VP8L'
  } else {
    // A bare bitstream, with no chunk header: what libwebp reads after a RIFF header that names no VP8X.
    lossless = isVp8l(image.subarray(at))
    chunkSize = left()
  }
  const size = lossless ? vp8lSize(image.subarray(at)) : vp8Size(image.subarray(at), chunkSize)
  if (size === null) return null
  if (canvas !== undefined && (canvas[0] !== size[0] || canvas[1] !== size[1])) return null
  return size
}

/** libwebp's `VP8LCheckSignature`: the magic byte, and version 0 in the top bits of the fifth byte. */
function isVp8l(data: Uint8Array): boolean {
  return data.length >= VP8L_FRAME_HEADER_BYTES && data[0] === VP8L_MAGIC_BYTE && data[4]! >> 5 === 0
}

/** libwebp's `VP8LGetInfo`: 14 bits of width less 1, then of height less 1, after the magic byte. */
function vp8lSize(data: Uint8Array): [number, number] | null {
  if (!isVp8l(data)) return null
  const bits = (data[1]! | (data[2]! << 8) | (data[3]! << 16) | (data[4]! << 24)) >>> 0
  return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1]
}

/** libwebp's `VP8GetInfo`: a visible key frame of a known profile whose first partition fits its chunk. */
function vp8Size(data: Uint8Array, chunkSize: number): [number, number] | null {
  if (data.length < VP8_FRAME_HEADER_BYTES || data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) return null
  const bits = data[0]! | (data[1]! << 8) | (data[2]! << 16)
  const keyFrame = (bits & 1) === 0
  const knownProfile = ((bits >> 1) & 7) <= 3
  const shown = ((bits >> 4) & 1) === 1
  if (!keyFrame || !knownProfile || !shown || bits >> 5 >= chunkSize) return null
  const width = ((data[7]! << 8) | data[6]!) & 0x3fff
  const height = ((data[9]! << 8) | data[8]!) & 0x3fff
  return width === 0 || height === 0 ? null : [width, height]
}
