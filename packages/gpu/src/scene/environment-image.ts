/**
 * Decoding environment images: equirectangular HDR panoramas in Radiance RGBE (.hdr) or OpenEXR (.exr), through
 * three.js's loaders (their `parse` is plain JavaScript and needs no DOM). Each format's size header is read and
 * bounded here first, since the loaders allocate whatever a header claims.
 */
import { EXRLoader } from 'three/examples/jsm/loaders/EXRLoader.js'
import { HDRLoader } from 'three/examples/jsm/loaders/HDRLoader.js'
import { FloatType } from 'three'
import { MAX_ENVIRONMENT_BYTES, MAX_ENVIRONMENT_DECODED_TEXELS, MAX_ENVIRONMENT_SIDE } from '../constants.js'
import { GpuError } from '../errors.js'
import { assertExrBlocks, readExrHeader } from './exr-layout.js'

/**
 * An equirectangular environment: linear RGB radiance, three floats per texel, row by row from the top (the +y
 * pole) down. Column u (0 to 1, left to right) faces the direction at angle 2π(u - 0.5) from +x towards +z, as
 * three.js maps panoramas: the image's centre lies along +x, its left and right edges along -x.
 */
export interface EnvironmentImage {
  readonly width: number
  readonly height: number
  readonly radiance: Float32Array
}

/** The formats {@link decodeEnvironmentImage} reads. */
export type EnvironmentFormat = 'hdr' | 'exr'

const EXR_MAGIC = 0x01312f76

/** Which format `bytes` are by their first bytes, or undefined. */
export function environmentFormat(bytes: Uint8Array): EnvironmentFormat | undefined {
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === EXR_MAGIC)
    return 'exr'
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 10))
  if (head.startsWith('#?RADIANCE') || head.startsWith('#?RGBE')) return 'hdr'
  return undefined
}

/**
 * Decodes a Radiance .hdr or OpenEXR .exr panorama to linear RGB floats. Anything else, a file whose size header is
 * missing or beyond {@link MAX_ENVIRONMENT_SIDE}, or one the decoder cannot read gives GPU__MALFORMED_ENVIRONMENT.
 */
export function decodeEnvironmentImage(bytes: Uint8Array): EnvironmentImage {
  if (!(bytes instanceof Uint8Array)) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', 'an environment image must be bytes (a Uint8Array)', {
      type: typeof bytes,
    })
  }
  if (bytes.length > MAX_ENVIRONMENT_BYTES) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `an environment image is limited to ${MAX_ENVIRONMENT_BYTES} bytes`,
      {
        bytes: bytes.length,
      },
    )
  }
  const format = environmentFormat(bytes)
  if (format === undefined) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', 'an environment image must be a Radiance .hdr or OpenEXR file', {
      bytes: bytes.length,
    })
  }
  const header = format === 'hdr' ? readRadianceHeader(bytes) : readExrHeader(bytes)
  assertSide(format, header.width, header.height)
  // The pixels are checked against a size known to be bounded, as that size bounds what they may decode to.
  if ('pixels' in header) assertRadiancePixels(bytes, header)
  else assertExrBlocks(bytes, header)
  // The loaders take an ArrayBuffer of the file alone: the bytes' own where they fill it, else a copy.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
  const buffer = (
    whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  ) as ArrayBuffer
  let parsed: { width: number; height: number; data: ArrayLike<number>; flipY?: boolean }
  try {
    const loader = format === 'hdr' ? new HDRLoader() : new EXRLoader()
    loader.setDataType(FloatType)
    parsed = loader.parse(buffer) as typeof parsed
  } catch (e) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', `the ${format} decoder could not read the environment image`, {
      format,
      reason: String((e as Error)?.message ?? e).slice(0, 200),
    })
  }
  const { width, height, data } = parsed
  if (width !== header.width || height !== header.height || !(data instanceof Float32Array)) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `the ${format} decoder returned another image than its header names`,
      {
        format,
        width,
        height,
      },
    )
  }
  const channels = data.length / (width * height)
  if (channels !== 4 && channels !== 3) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', `the ${format} image has ${channels} channels`, { format })
  }
  // Radiance files are stored top row first and decode that way; three's EXR decoder writes rows bottom-up (for
  // WebGL's texture origin), so its rows are turned back here.
  const flip = format === 'exr'
  const radiance = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const from = (flip ? height - 1 - y : y) * width
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = data[(from + x) * channels + c]!
        // Negative and non-finite radiance has no meaning as light: NaN and -Inf read as 0, +Inf as the largest f32.
        radiance[(y * width + x) * 3 + c] = v > 0 ? Math.min(v, 3.4e38) : 0
      }
    }
  }
  return { width, height, radiance }
}

function assertSide(format: EnvironmentFormat, width: number, height: number): void {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    width > MAX_ENVIRONMENT_SIDE ||
    height > MAX_ENVIRONMENT_SIDE ||
    width * height > MAX_ENVIRONMENT_DECODED_TEXELS
  ) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `an environment image must be 1 to ${MAX_ENVIRONMENT_SIDE} texels on each side and ${MAX_ENVIRONMENT_DECODED_TEXELS} in all`,
      { format, width, height },
    )
  }
}

/** three's header reader looks for a line's end in at most nine 128-byte chunks from its start (HDRLoader's fgets). */
const RADIANCE_LINE_LIMIT = 9 * 128

/**
 * Widths three's HDRLoader reads run-length encoded; it reads others, and files whose first scanline does not start
 * as an encoded one, flat: four bytes a texel, as many as follow the header.
 */
const RADIANCE_RLE_WIDTHS = { min: 8, max: 0x7fff } as const

/** What of a Radiance header sizes its image, and where its pixels start. */
interface RadianceHeader {
  readonly width: number
  readonly height: number
  readonly pixels: number
}

/**
 * A Radiance file's header, read as three's HDRLoader reads it, since its size is what that loader allocates: line by
 * line (each found as its `fgets` finds it), with its regular expressions, the first line the magic one, comment lines
 * skipped, until a FORMAT line and a resolution line have both been read (a later resolution line before the FORMAT
 * line winning), or the lines run out.
 */
function readRadianceHeader(bytes: Uint8Array): RadianceHeader {
  let at = 0
  const nextLine = (): string | undefined => {
    const end = bytes.subarray(at, at + RADIANCE_LINE_LIMIT).indexOf(0x0a)
    if (end < 0) return undefined
    const line = String.fromCharCode(...bytes.subarray(at, at + end))
    at += end + 1
    return line
  }
  const magic = nextLine()
  if (magic === undefined || !/^#\?(\S+)/.test(magic)) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', 'a Radiance .hdr file must start with a "#?" line', {})
  }
  let format = false
  let size: { width: number; height: number } | undefined
  while (!format || size === undefined) {
    const line = nextLine()
    if (line === undefined) break
    if (line.startsWith('#')) continue
    if (/^\s*FORMAT=(\S+)\s*$/.test(line)) format = true
    const match = /^\s*-Y\s+(\d+)\s+\+X\s+(\d+)\s*$/.exec(line)
    if (match !== null) size = { width: Number.parseInt(match[2]!, 10), height: Number.parseInt(match[1]!, 10) }
  }
  if (!format || size === undefined) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      'a Radiance .hdr file needs a FORMAT line and a "-Y height +X width" resolution line in its header',
      { format },
    )
  }
  return { ...size, pixels: at }
}

/**
 * That a Radiance file's pixels are as three's loader will read them at the header's size: a run-length encoded first
 * scanline must state the header's width (three would refuse it only after allocating the image), and flat pixels
 * must be at most four bytes a texel, as three allocates by what follows the header when they are flat.
 */
function assertRadiancePixels(bytes: Uint8Array, { width, height, pixels }: RadianceHeader): void {
  const [a, b, c = 0, d = 0] = bytes.subarray(pixels, pixels + 4)
  const encoded =
    width >= RADIANCE_RLE_WIDTHS.min && width <= RADIANCE_RLE_WIDTHS.max && a === 2 && b === 2 && (c & 0x80) === 0
  if (encoded && ((c << 8) | d) !== width) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `a Radiance .hdr file's first scanline states a width of ${(c << 8) | d}, not its header's ${width}`,
      { width, scanlineWidth: (c << 8) | d },
    )
  }
  if (!encoded && bytes.length - pixels > 4 * width * height) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `a flat Radiance .hdr file holds more than four bytes for each of its ${width}x${height} texels`,
      { width, height, bytes: bytes.length - pixels },
    )
  }
}
