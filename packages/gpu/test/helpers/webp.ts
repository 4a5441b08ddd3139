import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import encode, { init } from '@jsquash/webp/encode.js'

let ready: Promise<unknown> | undefined

/**
 * Encodes RGBA8 texels as WebP with libwebp's encoder (jSquash's WebAssembly build, the decoder's sibling), for
 * fixtures: lossless keeps every texel, lossy with alpha writes the VP8X + ALPH + VP8 layout real exporters do.
 */
export async function encodeWebp(rgba: Uint8Array, width: number, height: number, lossless: boolean) {
  ready ??= (async () => {
    // Node has SIMD, so the encoder loads its SIMD build; its glue code would otherwise fetch the .wasm by URL.
    const path = createRequire(import.meta.url).resolve('@jsquash/webp/codec/enc/webp_enc_simd.wasm')
    const bytes = await readFile(path)
    await init({ wasmBinary: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) } as never)
  })()
  await ready
  const data = new Uint8ClampedArray(rgba.buffer.slice(rgba.byteOffset, rgba.byteOffset + rgba.byteLength))
  // The encoder reads only these fields of its ImageData (a DOM type Node's typings lack).
  const image = { data, width, height, colorSpace: 'srgb' } as unknown as Parameters<typeof encode>[0]
  return new Uint8Array(await encode(image, lossless ? { lossless: 1, exact: 1 } : { quality: 90 }))
}
