import { encodeExr as encodeExrImage } from '../../src/index.js'

/**
 * A Radiance .hdr file of linear RGB floats (3 per texel, top row first), uncompressed: each texel a shared
 * exponent e and three 8-bit mantissas m, worth m * 2^(e - 136). Powers of two up to 255/256 of one survive exactly.
 */
export function encodeRadiance(width: number, height: number, rgb: Float32Array): Uint8Array {
  const header = new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y ${height} +X ${width}\n`)
  const out = new Uint8Array(header.length + width * height * 4)
  out.set(header)
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = [rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!]
    const v = Math.max(r, g, b)
    if (v < 1e-32) continue
    const e = Math.floor(Math.log2(v)) + 1
    const scale = 256 / 2 ** e
    out.set([r * scale, g * scale, b * scale, e + 128], header.length + i * 4)
  }
  return out
}

/** An OpenEXR file of the same floats (top row first), through the engine's own encoder. */
export async function encodeExr(width: number, height: number, rgb: Float32Array): Promise<Uint8Array> {
  const pixels = new Float32Array(width * height * 4)
  for (let i = 0; i < width * height; i++) pixels.set([rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!, 1], i * 4)
  return encodeExrImage({ width, height, pixels })
}
