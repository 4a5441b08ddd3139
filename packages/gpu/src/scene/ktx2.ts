import { GpuError } from '../errors.js'
import { startEmscriptenScript } from './emscripten-script.js'
import { onceStarted } from './wasm-decoder.js'

/**
 * Decodes KTX2 bytes holding Basis Universal texture data (ETC1S or UASTC, as KHR_texture_basisu requires) to RGBA8:
 * the base level's texels, rows top to bottom. Throws a plain Error when the bytes do not transcode, and
 * GPU__UNSUPPORTED_TEXTURE for KTX2 that is valid but not a plain 2D LDR image (HDR, cube maps, arrays, video).
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
  const file = new basis.KTX2File(image)
  try {
    if (!file.isValid()) throw new Error('it is not a KTX2 file of Basis Universal data')
    const width = file.getWidth()
    const height = file.getHeight()
    const unsupported = file.isHDR()
      ? 'HDR'
      : file.getFaces() !== 1
        ? 'a cube map'
        : file.getLayers() > 1
          ? 'an array'
          : file.isVideo()
            ? 'a video'
            : undefined
    if (unsupported !== undefined) {
      throw new GpuError(
        'GPU__UNSUPPORTED_TEXTURE',
        `a KTX2 texture is ${unsupported}; the loader reads 2D LDR images`,
        {
          mimeType: 'image/ktx2',
        },
      )
    }
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
