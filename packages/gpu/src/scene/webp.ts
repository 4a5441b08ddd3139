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
