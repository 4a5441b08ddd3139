/**
 * Bounds on an OpenEXR file before three.js's EXRLoader decodes it: the header and every block are walked here as that
 * loader walks them, since it allocates what the header claims and decompresses each block with no cap on its output.
 */
import { MAX_ENVIRONMENT_TEXEL_BYTES } from '../constants.js'
import { GpuError } from '../errors.js'
import { inflatesWithin } from './inflate.js'

/** OpenEXR version flags (the version field's bits past its low byte) for tiles, deep data and several parts. */
const EXR_TILED = 0x200
const EXR_DEEP = 0x800
const EXR_MULTI_PART = 0x1000

/** The compression methods whose output is bounded here, by their code in the `compression` attribute. */
const EXR_COMPRESSIONS: ReadonlyMap<number, { name: string; lines: number }> = new Map([
  [0, { name: 'NONE', lines: 1 }],
  [1, { name: 'RLE', lines: 1 }],
  [2, { name: 'ZIPS', lines: 1 }],
  [3, { name: 'ZIP', lines: 16 }],
  [4, { name: 'PIZ', lines: 32 }],
])

/**
 * Bytes three's header reader takes for each attribute type it reads field by field, whatever size the file states:
 * a stated size that differs would put its reading and this walk at different places in the header.
 */
const EXR_FIXED_SIZES: ReadonlyMap<string, number> = new Map([
  ['box2i', 16],
  ['chromaticities', 32],
  ['compression', 1],
  ['envmap', 1],
  ['float', 4],
  ['int', 4],
  ['lineOrder', 1],
  ['rational', 8],
  ['tiledesc', 9],
  ['timecode', 8],
  ['v2f', 8],
  ['v3f', 12],
])

/** PIZ keeps a bitmap of the 16-bit values it holds: bytes at most, as three's BITMAP_SIZE. */
const PIZ_BITMAP_BYTES = 8192

/** What of an OpenEXR header sizes its image and its blocks. */
export interface ExrHeader {
  readonly width: number
  readonly height: number
  /** The data window's first line, which each block's line number counts from. */
  readonly yMin: number
  /** Bytes a texel takes in a block's raw data, as three counts them. */
  readonly texelBytes: number
  readonly compression: { readonly name: string; readonly lines: number }
  /** Where the offset table starts, just past the header. */
  readonly tableStart: number
}

/**
 * An OpenEXR file's header. It is a list of (name NUL, type NUL, int32 size, value) attributes ending in an empty name; the whole list
 * is walked and bounded here, since three's header reader scans for each NUL without an end and would never return
 * from a header cut off mid-name. A later attribute of the same name wins, as in three's reader. Single-part scanline
 * images only, compressed by one of {@link EXR_COMPRESSIONS}; {@link assertExrBlocks} checks the blocks after it.
 *
 * @throws GPU__MALFORMED_ENVIRONMENT for anything else
 */
export function readExrHeader(bytes: Uint8Array): ExrHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 8) throw malformedExr('it is shorter than its magic number and version')
  const flags = view.getUint32(4, true)
  if ((flags & (EXR_TILED | EXR_DEEP | EXR_MULTI_PART)) !== 0) {
    throw new GpuError('GPU__MALFORMED_ENVIRONMENT', 'tiled, deep and multi-part OpenEXR files are not read', { flags })
  }
  const text = (from: number): { value: string; next: number } => {
    const end = bytes.indexOf(0, from)
    if (end < 0 || end - from > 255) throw malformedExr('a name runs on past 255 bytes or the end of the file')
    return { value: new TextDecoder('latin1').decode(bytes.subarray(from, end)), next: end + 1 }
  }
  let window: { yMin: number; width: number; height: number } | undefined
  let texelBytes: number | undefined
  let compression: number | undefined
  let at = 8
  for (;;) {
    const name = text(at)
    if (name.value === '') break
    const type = text(name.next)
    if (type.next + 4 > bytes.length) throw malformedExr('an attribute runs past the end of the file')
    const length = view.getInt32(type.next, true)
    const value = type.next + 4
    if (length < 0 || value + length > bytes.length) throw malformedExr('an attribute runs past the end of the file')
    const fixed = EXR_FIXED_SIZES.get(type.value)
    if (fixed !== undefined && length !== fixed) {
      throw malformedExr(`a ${type.value} attribute states ${length} bytes, not ${fixed}`)
    }
    if (name.value === 'dataWindow') {
      if (type.value !== 'box2i') throw malformedExr('its dataWindow is not a box2i')
      const [xMin, yMin, xMax, yMax] = [0, 4, 8, 12].map((o) => view.getInt32(value + o, true)) as [
        number,
        number,
        number,
        number,
      ]
      window = { yMin, width: xMax - xMin + 1, height: yMax - yMin + 1 }
    }
    if (name.value === 'channels') {
      if (type.value !== 'chlist') throw malformedExr('its channels are not a chlist')
      texelBytes = exrTexelBytes(bytes, view, value, value + length)
    }
    if (name.value === 'compression') {
      if (type.value !== 'compression') throw malformedExr('its compression is not of type compression')
      compression = bytes[value]!
    }
    at = value + length
  }
  if (window === undefined || texelBytes === undefined || compression === undefined) {
    throw malformedExr('its header lacks a dataWindow, channels or compression')
  }
  const method = EXR_COMPRESSIONS.get(compression)
  if (method === undefined) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `an OpenEXR environment must be uncompressed or ${[...EXR_COMPRESSIONS.values()]
        .slice(1)
        .map((m) => m.name)
        .join(', ')} compressed`,
      { compression },
    )
  }
  return { ...window, texelBytes, compression: method, tableStart: at + 1 }
}

/**
 * The channel list: (name NUL, int32 pixel type, pLinear byte, 3 reserved bytes, int32 x and y sampling) per channel,
 * then a NUL. three's decoder steps through pixels by each type's size and loops for ever on one it does not know, so
 * only HALF and FLOAT channels sampled at every pixel pass. UINT channels (object ids, which no panorama needs) do not
 * either: three counts them as no bytes in a block's raw size, yet its PIZ decoder allocates for every channel, so a
 * file of a hundred thousand UINT channels passed the texel bound and asked three for 52 GB. Returns the bytes a texel
 * takes as three counts them, two per unit of pixel type, which its raw block sizes use.
 */
function exrTexelBytes(bytes: Uint8Array, view: DataView, from: number, end: number): number {
  let at = from
  let texelBytes = 0
  while (at < end && bytes[at] !== 0) {
    const nul = bytes.indexOf(0, at)
    if (nul < 0 || nul + 17 > end) throw malformedExr('a channel runs past its list')
    const type = view.getInt32(nul + 1, true)
    if (type < 1 || type > 2 || view.getInt32(nul + 9, true) !== 1 || view.getInt32(nul + 13, true) !== 1) {
      throw new GpuError(
        'GPU__MALFORMED_ENVIRONMENT',
        'an OpenEXR environment channel must be HALF or FLOAT at every pixel',
        {
          pixelType: type,
        },
      )
    }
    texelBytes += type * 2
    at = nul + 17
  }
  if (at !== end - 1) throw malformedExr('its channel list does not end where its size says')
  if (texelBytes > MAX_ENVIRONMENT_TEXEL_BYTES) {
    throw new GpuError(
      'GPU__MALFORMED_ENVIRONMENT',
      `an OpenEXR environment may store at most ${MAX_ENVIRONMENT_TEXEL_BYTES} bytes a texel in all its channels`,
      { texelBytes },
    )
  }
  return texelBytes
}

/**
 * Checks the offset table (a uint64 per block, each inside the file) and the blocks after it, one per
 * `compression.lines` lines from the top, each an int32 first line, a uint32 size and the stored bytes. three reads
 * the blocks one after the other from the table's end (it skips the table), so they are walked here in that order:
 * each block's stored size must be at most its lines' raw bytes (OpenEXR stores a block raw when compression would
 * not make it smaller), and a compressed block must decompress to at most those bytes. Call it once the header's size
 * is known to be within bounds, as the raw bytes cap what a block may inflate to.
 *
 * @throws GPU__MALFORMED_ENVIRONMENT for a block out of place or decompressing past its raw bytes
 */
export function assertExrBlocks(bytes: Uint8Array, header: ExrHeader): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const { tableStart, texelBytes, compression: method } = header
  const window = header
  const blocks = Math.ceil(window.height / method.lines)
  const tableEnd = tableStart + 8 * blocks
  if (tableEnd > bytes.length) throw malformedExr('its offset table runs past the end of the file')
  for (let i = 0; i < blocks; i++) {
    const offset = view.getBigUint64(tableStart + 8 * i, true)
    if (offset < BigInt(tableEnd) || offset + 8n > BigInt(bytes.length)) {
      throw malformedExr(`block ${i}'s offset ${offset} lies outside the file's blocks`)
    }
  }
  let at = tableEnd
  for (let i = 0; i < blocks; i++) {
    if (at + 8 > bytes.length) throw malformedExr(`the file ends before block ${i}`)
    const line = view.getInt32(at, true) - window.yMin
    const size = view.getUint32(at + 4, true)
    const data = at + 8
    if (line < 0 || line >= window.height || line % method.lines !== 0 || data + size > bytes.length) {
      throw malformedExr(`block ${i} starts at no block's line, or runs past the end of the file`)
    }
    const raw = Math.min(method.lines, window.height - line) * window.width * texelBytes
    if (size > raw) throw malformedExr(`block ${i} stores ${size} bytes, more than its ${raw} raw bytes`)
    // three decompresses only a block smaller than its raw bytes, as OpenEXR writers store the others raw.
    if (size < raw) assertBlockOutput(bytes.subarray(data, data + size), raw, method.name, i)
    at = data + size
  }
}

/**
 * That a compressed block decompresses to at most `raw` bytes, read without decompressing it where the method allows:
 * three's decoders would allocate whatever it decompresses to (RLE, ZIP), or read on past it (PIZ's Huffman data).
 */
function assertBlockOutput(block: Uint8Array, raw: number, method: string, index: number): void {
  const past = (what: string): GpuError =>
    new GpuError('GPU__MALFORMED_ENVIRONMENT', `OpenEXR block ${index} (${method}) ${what} past its ${raw} raw bytes`, {
      block: index,
      compression: method,
      raw,
    })
  if (method === 'NONE') throw malformedExr(`block ${index} is uncompressed and smaller than its lines`)
  if (method === 'RLE') {
    // Runs as three's decodeRunLength reads them: a negative count n before -n literal bytes, else n + 1 copies.
    let output = 0
    let at = 0
    while (at < block.length) {
      const count = (block[at]! << 24) >> 24
      output += count < 0 ? -count : count + 1
      at += count < 0 ? 1 - count : 2
    }
    if (at > block.length) throw malformedExr(`block ${index}'s last run is cut short`)
    if (output > raw) throw past('runs on')
    return
  }
  if (method === 'ZIP' || method === 'ZIPS') {
    let within: boolean
    try {
      within = inflatesWithin(block, raw)
    } catch (cause) {
      throw malformedExr(`block ${index} does not inflate: ${(cause as Error).message}`)
    }
    if (!within) throw past('inflates')
    return
  }
  // PIZ: uint16 first and last bitmap byte, the bitmap bytes between, then a uint32 length of Huffman data.
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
  if (block.length < 4) throw malformedExr(`block ${index} has no room for its bitmap`)
  const first = view.getUint16(0, true)
  const last = view.getUint16(2, true)
  if (last >= PIZ_BITMAP_BYTES) throw malformedExr(`block ${index}'s bitmap runs past ${PIZ_BITMAP_BYTES} bytes`)
  const lengthAt = 4 + (first <= last ? last - first + 1 : 0)
  if (lengthAt + 4 > block.length || lengthAt + 4 + view.getUint32(lengthAt, true) > block.length) {
    throw malformedExr(`block ${index}'s Huffman data runs past the block`)
  }
}

function malformedExr(reason: string): GpuError {
  return new GpuError('GPU__MALFORMED_ENVIRONMENT', `an OpenEXR file could not be read: ${reason}`, { reason })
}
