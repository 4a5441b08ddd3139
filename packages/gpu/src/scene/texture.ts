import { convertIndexedToRgb, decode as decodePng } from 'fast-png'
import jpeg from 'jpeg-js'
import { concat } from 'uint8arrays/concat'
import {
  JPEG_DECODER_BYTES_PER_TEXEL,
  JPEG_DECODER_TABLE_BYTES,
  MAX_JPEG_SCANS,
  MAX_SCENE_TEXELS,
  MAX_TEXTURE_SIDE,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { inflatesWithin } from './inflate.js'
import type { Ktx2Decode } from './ktx2.js'
import type { WebpDecode } from './webp.js'

/** How texture coordinates outside [0, 1] map back in (glTF sampler wrapS / wrapT). */
export const WrapMode = { repeat: 0, clamp: 1, mirror: 2 } as const
export type WrapMode = (typeof WrapMode)[keyof typeof WrapMode]

/** How a material samples one of its textures. */
export interface TextureSampler {
  wrapS: WrapMode
  wrapT: WrapMode
  /** Bilinear between the four nearest texels (glTF LINEAR magnification, the default), else the nearest texel. */
  linear: boolean
}

/** A decoded texture: RGBA8 texels in sRGB, rows top to bottom (glTF's UV origin is the image's top-left). */
export interface Texture {
  width: number
  height: number
  rgba: Uint8Array
}

/**
 * sRGB-encoded 8-bit values to linear light, rounded to f32 once here: the shader reads this same table from the
 * scene buffer, so the CPU reference and every driver see identical texel colours (a `pow` in WGSL may differ by
 * an ulp between drivers).
 */
export const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
})

/**
 * 8-bit values to the [0, 1] floats they encode, for textures that hold data rather than colour (the
 * metallic-roughness texture): a table like {@link SRGB_TO_LINEAR}, so the shader needs no division to agree.
 */
export const UNORM_TO_FLOAT = Float32Array.from({ length: 256 }, (_, i) => i / 255)

/** Words of the two decoding tables in a textured scene's `aux`: sRGB first, then {@link UNORM_TO_FLOAT}. */
export const TEXTURE_TABLE_WORDS = 512

/** Bits of a material's sampler word: wrapS in bits 0-1, wrapT in 2-3, bilinear in 4, "has a texture" in 5. */
export function samplerBits(s: TextureSampler): number {
  return s.wrapS | (s.wrapT << 2) | ((s.linear ? 1 : 0) << 4) | (1 << 5)
}

/**
 * Decoders of texture formats that need a WebAssembly module, created (asynchronously) before a scene is flattened:
 * `loadScene` passes those its asset needs. PNG and JPEG need none.
 */
export interface TextureDecoders {
  /** For image/webp (EXT_texture_webp); see {@link webpDecoder}. */
  webp?: WebpDecode
  /** For image/ktx2 (KHR_texture_basisu); see {@link ktx2Decoder}. */
  ktx2?: Ktx2Decode
}

/** A texture's bytes to RGBA8 at `texels` texels (its checked header's size); throws when they do not decode. */
type Decode = (image: Uint8Array, texels: number, label: string) => Texture

/**
 * The decoder for a MIME type.
 *
 * @throws GPU__UNSUPPORTED_TEXTURE for a type the loader does not decode, or WebP without its decoder
 */
function decoderFor(mimeType: string, decoders: TextureDecoders, label: string): Decode {
  if (mimeType === 'image/png') return pngToRgba
  if (mimeType === 'image/jpeg') return jpegToRgba
  if (mimeType === 'image/webp' && decoders.webp !== undefined) return webpToRgba(decoders.webp)
  if (mimeType === 'image/ktx2' && decoders.ktx2 !== undefined) return ktx2ToRgba(decoders.ktx2)
  throw new GpuError(
    'GPU__UNSUPPORTED_TEXTURE',
    mimeType === 'image/webp' || mimeType === 'image/ktx2'
      ? `texture ${label} is ${mimeType} and no decoder for it was given (loadScene creates one for assets that need it)`
      : `texture ${label} is ${mimeType || 'of no stated type'}; the loader decodes image/png, image/jpeg, image/webp and image/ktx2`,
    { texture: label, mimeType },
  )
}

/**
 * Decodes a PNG, JPEG, WebP or KTX2 texture to RGBA8 after checking its header's size against {@link MAX_TEXTURE_SIDE} and
 * the texel budget left (`texelsLeft`), so a small file that claims a huge image is refused before it is inflated.
 *
 * A PNG's image data is also inflated once with its output capped at what the header's rows hold, since fast-png
 * inflates without a cap and a few hundred kilobytes can inflate to gigabytes.
 *
 * @throws GPU__UNSUPPORTED_TEXTURE for other formats (and WebP without `decoders.webp`), GPU__SCENE_TOO_LARGE past the
 * bounds (a PNG's image data inflating past its header's size included), GPU__MALFORMED_SCENE when the image does not
 * decode (a PNG's chunks not framed as the specification lays them out included) or decodes to a size its header does
 * not state
 */
export function decodeTexture(
  image: Uint8Array,
  mimeType: string,
  size: readonly [number, number] | null,
  texelsLeft: number,
  label: string,
  decoders: TextureDecoders = {},
): Texture {
  const decode = decoderFor(mimeType, decoders, label)
  if (size === null) {
    throw new GpuError('GPU__MALFORMED_SCENE', `texture ${label} has no readable ${mimeType} header`, {
      texture: label,
    })
  }
  const [width, height] = size
  if (width > MAX_TEXTURE_SIDE || height > MAX_TEXTURE_SIDE || width * height > texelsLeft) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `texture ${label} is ${width}x${height}: over ${MAX_TEXTURE_SIDE} texels a side or the scene's ${MAX_SCENE_TEXELS} texels`,
      { texture: label, width, height, limit: MAX_SCENE_TEXELS },
    )
  }
  let texture: Texture
  try {
    texture = decode(image, width * height, label)
  } catch (cause) {
    if (cause instanceof GpuError) throw cause
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `texture ${label} does not decode as ${mimeType}: ${(cause as Error).message}`,
      { texture: label },
      { cause },
    )
  }
  if (texture.width !== width || texture.height !== height || texture.width === 0 || texture.height === 0) {
    throw new GpuError('GPU__MALFORMED_SCENE', `texture ${label} decodes to a size its header does not state`, {
      texture: label,
    })
  }
  return texture
}

/**
 * Decodes a JPEG of `texels` texels (its checked header's size), with jpeg-js's own bounds set to that size, once its
 * scans are counted: jpeg-js bounds the image but not how many times a progressive file passes over it.
 *
 * @throws GPU__SCENE_TOO_LARGE past {@link MAX_JPEG_SCANS} scans, or when jpeg-js would count more than
 * {@link JPEG_DECODER_BYTES_PER_TEXEL} bytes a texel (and {@link JPEG_DECODER_TABLE_BYTES}) to decode it
 */
function jpegToRgba(image: Uint8Array, texels: number, label: string): Texture {
  const scans = jpegScanMarkers(image)
  if (scans > MAX_JPEG_SCANS) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `texture ${label} is a JPEG with ${scans} start-of-scan markers; the loader decodes at most ${MAX_JPEG_SCANS} scans`,
      { texture: label, scans, limit: MAX_JPEG_SCANS },
    )
  }
  const bytes = texels * JPEG_DECODER_BYTES_PER_TEXEL + JPEG_DECODER_TABLE_BYTES
  try {
    const { width, height, data } = jpeg.decode(image, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: texels / 1e6,
      maxMemoryUsageInMB: bytes / 2 ** 20,
    })
    return { width, height, rgba: data }
  } catch (cause) {
    // jpeg-js says so in its message alone; anything else it throws is a file that does not decode.
    if (!/^maxMemoryUsageInMB limit exceeded/.test((cause as Error | undefined)?.message ?? '')) throw cause
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `texture ${label} is a JPEG that takes more than ${bytes} bytes to decode (${JPEG_DECODER_BYTES_PER_TEXEL} a texel)`,
      { texture: label, bytes, limit: bytes },
      { cause },
    )
  }
}

/**
 * The 0xFF 0xDA (start of scan) byte pairs anywhere in a JPEG: at least the scans jpeg-js starts. Entropy-coded data
 * holds no such pair (an 0xFF there is followed by 0 or a restart marker), but a walk by segment lengths would not
 * bound jpeg-js, whose recovery from misplaced markers can step back or jump into what such a walk skips. Metadata
 * that is binary may hold a stray pair, about one in 64 KiB, which the bound's headroom covers.
 */
function jpegScanMarkers(image: Uint8Array): number {
  let scans = 0
  for (let at = image.indexOf(0xff); at >= 0 && at + 1 < image.length; at = image.indexOf(0xff, at + 1)) {
    if (image[at + 1] === 0xda) scans++
  }
  return scans
}

/** WebP through libwebp, which checks the whole bitstream; `null` from it means the bytes are not a WebP it reads. */
function ktx2ToRgba(decode: Ktx2Decode): Decode {
  return (image, texels) => {
    const { width, height, data } = decode(image, texels)
    return { width, height, rgba: data }
  }
}

function webpToRgba(decode: WebpDecode): Decode {
  return (image) => {
    const decoded = decode(image)
    if (decoded === null) throw new Error('libwebp could not decode it')
    const { width, height, data } = decoded
    return { width, height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
  }
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10]

/** Samples per texel of each PNG colour type; the types missing here do not exist. */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }

/** Adam7's seven passes, each as [first column, first row, column step, row step]. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const

/**
 * Inflated bytes allowed past the image's rows: fast-png ignores them, so a file that carries a few decodes as it did
 * before the cap, while a bomb still stops within a kilobyte of the image's size.
 */
const PNG_INFLATE_SLACK = 1024

/**
 * Checks a PNG's chunk framing and inflates its image data with the output capped at the bytes its IHDR's rows take,
 * then returns the bytes to hand fast-png, which inflates again (uncapped, but now known to stop in time). Any iCCP
 * chunk is cut out first: fast-png inflates its profile uncapped too, and textures are read as sRGB whatever it says.
 *
 * @throws GPU__SCENE_TOO_LARGE when the image data inflates past the cap; a plain Error for bad framing, which
 * {@link decodeTexture} reports as GPU__MALFORMED_SCENE
 */
function boundedPng(image: Uint8Array, texels: number, label: string): Uint8Array {
  if (image.length < 8 || PNG_SIGNATURE.some((b, i) => image[i] !== b)) throw new Error('wrong PNG signature')
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength)
  let width = -1
  let height = -1
  let bitsPerTexel = 0
  let interlaced = false
  const idat: Uint8Array[] = []
  const iccp: [number, number][] = []
  for (let at = 8; ;) {
    if (at + 8 > image.length) throw new Error('the file ends before its IEND chunk')
    const length = view.getUint32(at)
    const type = String.fromCharCode(...image.subarray(at + 4, at + 8))
    const end = at + 12 + length
    // Lengths past 2^31 - 1 are invalid whatever follows (PNG specification, 5.3).
    if (length > 0x7fffffff || end > image.length) {
      throw new Error(`chunk ${JSON.stringify(type)} runs past the end of the file`)
    }
    if (width < 0) {
      if (type !== 'IHDR' || length !== 13) throw new Error('the first chunk is not a 13-byte IHDR')
      width = view.getUint32(at + 8)
      height = view.getUint32(at + 12)
      const depth = image[at + 16]!
      const channels = PNG_CHANNELS[image[at + 17]!]
      if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) {
        throw new Error(`IHDR states colour type ${image[at + 17]} at ${depth} bits, which PNG does not define`)
      }
      bitsPerTexel = depth * channels
      if (image[at + 20]! > 1) throw new Error(`IHDR states interlace method ${image[at + 20]}`)
      interlaced = image[at + 20] === 1
    } else if (type === 'IHDR') {
      // fast-png would take the later one's size, which no cap here was computed for.
      throw new Error('it has a second IHDR chunk')
    } else if (type === 'IDAT') {
      idat.push(image.subarray(at + 8, at + 8 + length))
    } else if (type === 'iCCP') {
      iccp.push([at, end])
    } else if (type === 'IEND') {
      break
    }
    at = end
  }
  if (width * height !== texels) throw new Error(`its IHDR states ${width}x${height}, not the size checked`)
  if (idat.length === 0) throw new Error('it has no IDAT chunk')

  const rowBytes = (w: number): number => 1 + Math.ceil((w * bitsPerTexel) / 8)
  const expected = interlaced
    ? ADAM7.reduce((sum, [x0, y0, dx, dy]) => {
        const w = Math.ceil((width - x0) / dx)
        const h = Math.ceil((height - y0) / dy)
        // An empty pass has no rows, so not even their filter bytes.
        return w > 0 && h > 0 ? sum + h * rowBytes(w) : sum
      }, 0)
    : height * rowBytes(width)

  const limit = expected + PNG_INFLATE_SLACK
  if (!inflatesWithin(idat.length === 1 ? idat[0]! : concat(idat), limit)) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `texture ${label} is ${width}x${height}, and its PNG image data inflates past the ${expected} bytes that size takes`,
      { texture: label, width, height, limit },
    )
  }
  if (iccp.length === 0) return image
  const kept: Uint8Array[] = []
  let from = 0
  for (const [start, end] of iccp) {
    kept.push(image.subarray(from, start))
    from = end
  }
  kept.push(image.subarray(from))
  return concat(kept)
}

/** Any PNG (grey, grey+alpha, RGB, RGBA, indexed; 1 to 16 bits) as RGBA8. */
function pngToRgba(image: Uint8Array, texels: number, label: string): Texture {
  const png = decodePng(boundedPng(image, texels, label))
  const { width, height } = png
  const n = width * height
  const rgba = new Uint8Array(n * 4)
  if (png.palette !== undefined) {
    const rgb = convertIndexedToRgb(png)
    const channels = rgb.length / n
    for (let i = 0; i < n; i++) {
      rgba[i * 4] = rgb[i * channels]!
      rgba[i * 4 + 1] = rgb[i * channels + 1]!
      rgba[i * 4 + 2] = rgb[i * channels + 2]!
      rgba[i * 4 + 3] = channels === 4 ? rgb[i * channels + 3]! : 255
    }
    return { width, height, rgba }
  }
  const { channels, depth, data } = png
  if (depth < 8) {
    // Only grey comes in 1, 2 or 4 bits: packed most significant bits first, each row starting on a byte.
    const rowBytes = Math.ceil((width * depth) / 8)
    const max = 2 ** depth - 1
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth
        const g = Math.round(((data[y * rowBytes + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max) * (255 / max))
        rgba.set([g, g, g, 255], (y * width + x) * 4)
      }
    }
    return { width, height, rgba }
  }
  // 16-bit samples become 8-bit ones, rounded.
  const scale = depth === 16 ? 1 / 257 : 1
  const at = (i: number): number => Math.round(data[i]! * scale)
  for (let i = 0; i < n; i++) {
    const o = i * channels
    if (channels <= 2) {
      const g = at(o)
      rgba.set([g, g, g, channels === 2 ? at(o + 1) : 255], i * 4)
    } else {
      rgba.set([at(o), at(o + 1), at(o + 2), channels === 4 ? at(o + 3) : 255], i * 4)
    }
  }
  return { width, height, rgba }
}

/** A texture coordinate wrapped into [0, 1] (non-finite ones read as 0), as the shader's `wrapUnit`. */
function wrapUnit(x: number, mode: number): number {
  const c = Number.isFinite(x) && Math.abs(x) < 1e30 ? x : 0
  if (mode === WrapMode.clamp) return Math.min(1, Math.max(0, c))
  if (mode === WrapMode.mirror) {
    const t = f32(c - 2 * Math.floor(c * 0.5))
    return t > 1 ? f32(2 - t) : t
  }
  return f32(c - Math.floor(c))
}

/** A bilinear neighbour's index, i in [-1, n], as the shader's `wrapIndex`. */
function wrapIndex(i: number, n: number, mode: number): number {
  return mode === WrapMode.repeat ? (i + n) % n : Math.min(n - 1, Math.max(0, i))
}

const f32 = Math.fround

/** The texels a sample reads and their bilinear weights (see {@link footprint}); one scratch object, reused. */
const foot = { xa: 0, xb: 0, ya: 0, yb: 0, ax: 0, ay: 0, bilinear: false }

/**
 * Where a sample at (u, v) of a w x h texture with sampler `bits` reads, as the shader's `footprint`: the nearest
 * texel (xa, ya), or the four texels around it and the weights between them.
 */
function footprint(w: number, h: number, bits: number, u: number, v: number): typeof foot {
  const su = f32(wrapUnit(u, bits & 3) * w)
  const sv = f32(wrapUnit(v, (bits >> 2) & 3) * h)
  foot.bilinear = (bits & 16) !== 0
  if (!foot.bilinear) {
    foot.xa = Math.min(Math.trunc(su), w - 1)
    foot.ya = Math.min(Math.trunc(sv), h - 1)
    return foot
  }
  const fx = f32(su - 0.5)
  const fy = f32(sv - 0.5)
  const x0 = Math.floor(fx)
  const y0 = Math.floor(fy)
  foot.ax = f32(fx - x0)
  foot.ay = f32(fy - y0)
  foot.xa = wrapIndex(x0, w, bits & 3)
  foot.xb = wrapIndex(x0 + 1, w, bits & 3)
  foot.ya = wrapIndex(y0, h, (bits >> 2) & 3)
  foot.yb = wrapIndex(y0 + 1, h, (bits >> 2) & 3)
  return foot
}

/**
 * The CPU mirror of the shader's `textureColor`: the RGB of a material's texture at (u, v), decoded through
 * `table`, written to `out`. `aux` is a packed scene's; `words[row..row + 3]` its material's texture row (first
 * texel, width, height, sampler bits; see `Scene.materials`). `table` is {@link SRGB_TO_LINEAR} for colour (linear
 * light out) or {@link UNORM_TO_FLOAT} for data, the tables the scene carries for the shader. Allocates nothing:
 * the CPU reference calls it at every textured hit.
 */
export function sampleTexture(
  aux: Uint32Array,
  words: Uint32Array,
  row: number,
  u: number,
  v: number,
  out: Float64Array | number[],
  table: Float32Array = SRGB_TO_LINEAR,
): void {
  const first = words[row]!
  const w = words[row + 1]!
  const f = footprint(w, words[row + 2]!, words[row + 3]!, u, v)
  if (!f.bilinear) {
    const c = aux[first + f.ya * w + f.xa]!
    for (let k = 0; k < 3; k++) out[k] = table[(c >>> (8 * k)) & 255]!
    return
  }
  for (let k = 0; k < 3; k++) out[k] = blend(aux, first, w, f, 8 * k, table)
}

/** The CPU mirror of the shader's `textureAlpha`: a texture's alpha at (u, v), as a [0, 1] float (see above). */
export function sampleTextureAlpha(aux: Uint32Array, words: Uint32Array, row: number, u: number, v: number): number {
  const first = words[row]!
  const w = words[row + 1]!
  const f = footprint(w, words[row + 2]!, words[row + 3]!, u, v)
  if (!f.bilinear) return UNORM_TO_FLOAT[aux[first + f.ya * w + f.xa]! >>> 24]!
  return blend(aux, first, w, f, 24, UNORM_TO_FLOAT)
}

/** One channel (the byte at `shift`) of the four texels of a bilinear footprint, decoded and weighted. */
function blend(aux: Uint32Array, first: number, w: number, f: typeof foot, shift: number, table: Float32Array): number {
  const a = first + f.ya * w
  const b = first + f.yb * w
  const top = f32(
    table[(aux[a + f.xa]! >>> shift) & 255]! * (1 - f.ax) + table[(aux[a + f.xb]! >>> shift) & 255]! * f.ax,
  )
  const bottom = f32(
    table[(aux[b + f.xa]! >>> shift) & 255]! * (1 - f.ax) + table[(aux[b + f.xb]! >>> shift) & 255]! * f.ax,
  )
  return f32(top * (1 - f.ay) + bottom * f.ay)
}
