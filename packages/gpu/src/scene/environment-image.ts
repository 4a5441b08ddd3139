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
  const size = format === 'hdr' ? radianceSize(bytes) : exrSize(bytes)
  assertSide(format, size.width, size.height)
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
  if (width !== size.width || height !== size.height || !(data instanceof Float32Array)) {
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

/** A Radiance file's size from its resolution line ("-Y height +X width", the orientation every writer uses). */
function radianceSize(bytes: Uint8Array): { width: number; height: number } {
  // The header is short text lines ending in an empty line, then the resolution line.
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 4096))
  const match = /\n\n-Y (\d{1,9}) \+X (\d{1,9})\n/.exec(head)
  if (match === null) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      'a Radiance .hdr file needs a "-Y height +X width" resolution line after its header',
      {},
    )
  }
  return { width: Number(match[2]), height: Number(match[1]) }
}

/** OpenEXR version flags (the version field's bits past its low byte) for deep data and for several parts. */
const EXR_DEEP = 0x800
const EXR_MULTI_PART = 0x1000

/**
 * An OpenEXR file's data window, from the header's `dataWindow` attribute (a box2i: xMin, yMin, xMax, yMax). The
 * header is a list of (name NUL, type NUL, int32 size, value) attributes ending in an empty name; the whole list is
 * walked and bounded here, since three's header reader scans for each NUL without an end and would never return
 * from a header cut off mid-name. Single-part images only.
 */
function exrSize(bytes: Uint8Array): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 8) throw malformedExr()
  const flags = view.getUint32(4, true)
  if ((flags & (EXR_DEEP | EXR_MULTI_PART)) !== 0) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', 'deep and multi-part OpenEXR files are not read', { flags })
  }
  const text = (from: number): { value: string; next: number } => {
    const end = bytes.indexOf(0, from)
    if (end < 0 || end - from > 255) throw malformedExr()
    return { value: new TextDecoder('latin1').decode(bytes.subarray(from, end)), next: end + 1 }
  }
  let size: { width: number; height: number } | undefined
  let at = 8
  for (;;) {
    const name = text(at)
    if (name.value === '') break
    const type = text(name.next)
    if (type.next + 4 > bytes.length) throw malformedExr()
    const length = view.getInt32(type.next, true)
    const value = type.next + 4
    if (length < 0 || value + length > bytes.length) throw malformedExr()
    if (name.value === 'dataWindow') {
      if (type.value !== 'box2i' || length !== 16) throw malformedExr()
      const [xMin, yMin, xMax, yMax] = [0, 4, 8, 12].map((o) => view.getInt32(value + o, true)) as [
        number,
        number,
        number,
        number,
      ]
      size = { width: xMax - xMin + 1, height: yMax - yMin + 1 }
    }
    if (name.value === 'channels') assertExrChannels(bytes, view, value, value + length)
    at = value + length
  }
  if (size === undefined) throw malformedExr()
  return size
}

/**
 * The channel list: (name NUL, int32 pixel type, pLinear byte, 3 reserved bytes, int32 x and y sampling) per channel,
 * then a NUL. three's decoder steps through pixels by each type's size and loops for ever on one it does not know, so
 * only UINT, HALF and FLOAT channels sampled at every pixel pass.
 */
function assertExrChannels(bytes: Uint8Array, view: DataView, from: number, end: number): void {
  let at = from
  while (at < end && bytes[at] !== 0) {
    const nul = bytes.indexOf(0, at)
    if (nul < 0 || nul + 17 > end) throw malformedExr()
    const type = view.getInt32(nul + 1, true)
    if (type < 0 || type > 2 || view.getInt32(nul + 9, true) !== 1 || view.getInt32(nul + 13, true) !== 1) {
      throw new GpuError(
        'GPU__MALFORMED_ENVIRONMENT',
        'an OpenEXR channel must be UINT, HALF or FLOAT at every pixel',
        {
          pixelType: type,
        },
      )
    }
    at = nul + 17
  }
  if (at !== end - 1) throw malformedExr()
}

function malformedExr(): GpuError {
  return new GpuError('GPU__MALFORMED_ENVIRONMENT', 'an OpenEXR file needs a readable header with a dataWindow', {})
}
