import { read as readKtx2Container, type KTX2Container } from 'ktx-parse'
import { GpuError } from '../errors.js'
import { startEmscriptenScript } from './emscripten-script.js'
import { onceStarted } from './wasm-decoder.js'

/**
 * Decodes KTX2 bytes holding Basis Universal texture data (ETC1S or UASTC, as KHR_texture_basisu requires) to RGBA8:
 * the base level's texels, rows top to bottom. Throws a plain Error when the bytes do not transcode,
 * GPU__MALFORMED_SCENE for a header or level index the transcoder must not be given (see {@link readKtx2}), and
 * GPU__UNSUPPORTED_TEXTURE for KTX2 that is valid but not a plain 2D LDR image (HDR, cube maps, arrays, 3D, video).
 */
export type Ktx2Decode = (image: Uint8Array, texels: number) => { width: number; height: number; data: Uint8Array }

/** The transcoder as the Basis Universal WebAssembly module exposes it (what this file uses of it). */
interface BasisModule {
  initializeBasis(): void
  KTX2File: new (bytes: Uint8Array) => Ktx2File
  transcoder_texture_format: { cTFRGBA32: { value: number } }
}

interface Ktx2File {
  isValid(): boolean
  getWidth(): number
  getHeight(): number
  getFaces(): number
  getLayers(): number
  isHDR(): boolean
  isVideo(): boolean
  startTranscoding(): boolean
  getImageTranscodedSizeInBytes(level: number, layer: number, face: number, format: number): number
  transcodeImage(
    dst: Uint8Array,
    level: number,
    layer: number,
    face: number,
    format: number,
    getAlphaForOpaqueFormats: number,
    channel0: number,
    channel1: number,
  ): number
  close(): void
  delete(): void
}

/**
 * Binomial's Basis Universal transcoder, as three.js ships it (the one its KTX2Loader runs): a classic script and
 * its WebAssembly, beside each other.
 */
const TRANSCODER_SPECIFIER = 'three/examples/jsm/libs/basis/basis_transcoder.js'

/**
 * The KTX2 decoder, created once per process and only when an asset holds a KTX2 texture. Decoding is synchronous
 * once the module exists, so the scene's other textures and bounds keep their order. Node only: the transcoder is a
 * classic script, which Node evaluates from its file; elsewhere this rejects with GPU__UNSUPPORTED_TEXTURE.
 */
export const ktx2Decoder: () => Promise<Ktx2Decode> = onceStarted('KTX2', async () => {
  const basis = await loadTranscoder()
  basis.initializeBasis()
  const rgba32 = basis.transcoder_texture_format.cTFRGBA32.value
  return (image, texels) => transcode(basis, rgba32, image, texels)
})

function transcode(
  basis: BasisModule,
  rgba32: number,
  image: Uint8Array,
  texels: number,
): { width: number; height: number; data: Uint8Array } {
  // Its kind and levels checked from the header before the transcoder allocates anything for it.
  const container = readKtx2(image)
  const kind =
    container.faceCount !== 1
      ? 'a cube map'
      : container.layerCount > 1
        ? 'an array'
        : container.pixelDepth > 1
          ? 'a 3D texture'
          : undefined
  if (kind !== undefined) throw unsupported(kind)
  assertLevelsWithin(image, container)
  const file = new basis.KTX2File(image)
  try {
    if (!file.isValid()) throw new Error('it is not a KTX2 file of Basis Universal data')
    const width = file.getWidth()
    const height = file.getHeight()
    if (file.isHDR()) throw unsupported('HDR')
    if (file.isVideo()) throw unsupported('a video')
    // The caller checked the header's size against the scene's bounds: the transcoder must agree with it.
    if (width * height !== texels) throw new Error(`it is ${width}x${height}, not the size its header states`)
    const bytes = file.getImageTranscodedSizeInBytes(0, 0, 0, rgba32)
    if (bytes !== texels * 4 || !file.startTranscoding()) throw new Error('the transcoder cannot start on it')
    const data = new Uint8Array(bytes)
    if (!file.transcodeImage(data, 0, 0, 0, rgba32, 0, -1, -1)) throw new Error('its base level does not transcode')
    return { width, height, data }
  } finally {
    file.close()
    file.delete()
  }
}

/** Where the level index starts: after the 12-byte identifier and the 68-byte header. */
const LEVEL_INDEX_OFFSET = 80
/** Where the header holds `levelCount`. */
const LEVEL_COUNT_OFFSET = 40
/**
 * Most mip levels a KTX2 file may list: its sides are 32-bit, and a full chain halves them down to 1. The count is
 * checked before the parser reads the level index, which makes an object for each level listed.
 */
const MAX_KTX2_LEVELS = 32
/**
 * Bytes a level of Basis Universal data may take uncompressed, per 4x4 block of texels: UASTC's blocks are 16 bytes,
 * and its other formats' blocks are no smaller in texels nor larger in bytes.
 */
const BASIS_BLOCK_BYTES = 16

/**
 * A KTX2 file's header and level index, read with ktx-parse once its level count is bounded: what the loader reads a
 * KTX2 texture's size from (glTF-Transform's reader would parse any number of levels).
 *
 * @throws GPU__MALFORMED_SCENE for bytes that are not a KTX2 header, or list more than {@link MAX_KTX2_LEVELS} levels
 */
export function readKtx2(image: Uint8Array): KTX2Container {
  if (image.byteLength < LEVEL_INDEX_OFFSET) throw malformed('it is shorter than its header')
  const levels = new DataView(image.buffer, image.byteOffset, image.byteLength).getUint32(LEVEL_COUNT_OFFSET, true)
  if (levels > MAX_KTX2_LEVELS) throw malformed(`it lists ${levels} mip levels`, { levels })
  try {
    return readKtx2Container(image)
  } catch (cause) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `a KTX2 texture's header does not read: ${String((cause as Error)?.message ?? cause)}`,
      { mimeType: 'image/ktx2' },
      { cause },
    )
  }
}

/**
 * Refuses, before the transcoder sees the file, a level of a 2D KTX2 image whose bytes lie outside the file or whose
 * `uncompressedByteLength` is more than its size of Basis data can hold: the transcoder allocates and zero-fills that
 * length before it inflates the level, so a 6 KB texture claiming 2 GB at level 0 took 2 GB.
 *
 * @throws GPU__MALFORMED_SCENE naming the level
 */
function assertLevelsWithin(image: Uint8Array, container: KTX2Container): void {
  container.levels.forEach((level, index) => {
    const offset = level.levelData.byteOffset - image.byteOffset
    if (offset < 0 || offset + level.levelData.byteLength > image.byteLength) {
      throw malformed(`level ${index}'s bytes lie outside the file`, { level: index })
    }
    const width = Math.max(1, Math.floor(container.pixelWidth / 2 ** index))
    const height = Math.max(1, Math.floor(container.pixelHeight / 2 ** index))
    const limit = Math.ceil(width / 4) * Math.ceil(height / 4) * BASIS_BLOCK_BYTES
    if (level.uncompressedByteLength > limit) {
      throw malformed(
        `level ${index} claims ${level.uncompressedByteLength} bytes uncompressed, more than ${limit} at ${width}x${height}`,
        { level: index, bytes: level.uncompressedByteLength, limit },
      )
    }
  })
}

const unsupported = (kind: string): GpuError =>
  new GpuError('GPU__UNSUPPORTED_TEXTURE', `a KTX2 texture is ${kind}; the loader reads 2D LDR images`, {
    mimeType: 'image/ktx2',
  })

const malformed = (why: string, context: Record<string, unknown> = {}): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `a KTX2 texture is malformed: ${why}`, { mimeType: 'image/ktx2', ...context })

async function loadTranscoder(): Promise<BasisModule> {
  if (!(typeof process === 'object' && typeof process.versions?.node === 'string')) {
    throw new GpuError('GPU__UNSUPPORTED_TEXTURE', 'KTX2 textures are decoded under Node only', {
      mimeType: 'image/ktx2',
    })
  }
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  return startEmscriptenScript<BasisModule>(require.resolve(TRANSCODER_SPECIFIER), 'BASIS', require)
}
