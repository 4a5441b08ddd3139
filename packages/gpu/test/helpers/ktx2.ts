import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { startEmscriptenScript } from '../../src/scene/emscripten-script.js'

/** The Basis Universal encoder module (what these tests use of it). */
interface BasisEncoderModule {
  initializeBasis(): void
  basis_texture_type: { cBASISTexTypeCubemapArray: { value: number } }
  BasisEncoder: new () => {
    setCreateKTX2File(on: boolean): void
    setKTX2UASTCSupercompression(on: boolean): void
    setUASTC(on: boolean): void
    setSliceSourceImage(slice: number, rgba: Uint8Array, width: number, height: number, isPng: boolean): boolean
    setTexType(type: number): void
    setMipGen(on: boolean): void
    setQualityLevel(level: number): void
    setPerceptual(on: boolean): void
    encode(out: Uint8Array): number
    delete(): void
  }
}

let encoder: Promise<BasisEncoderModule> | undefined

/**
 * Binomial's Basis Universal encoder, as loaders.gl ships it (a classic script and its WebAssembly): tests encode
 * known images to KTX2 with it, so a decoded texture can be compared with what went in.
 */
function basisEncoder(): Promise<BasisEncoderModule> {
  encoder ??= (async () => {
    const require = createRequire(import.meta.url)
    // The package's exports name no libs: they lie beside its CommonJS entry.
    const script = join(dirname(require.resolve('@loaders.gl/textures')), 'libs', 'basis_encoder.js')
    const basis = await startEmscriptenScript<BasisEncoderModule>(script, 'BASIS', require)
    basis.initializeBasis()
    return basis
  })()
  return encoder
}

/**
 * RGBA8 texels (rows top to bottom) as a KTX2 file of Basis Universal data: UASTC (Zstd-supercompressed) or ETC1S;
 * with `cube`, a cube map of six such faces.
 */
export async function encodeKtx2(
  rgba: Uint8Array,
  width: number,
  height: number,
  mode: 'uastc' | 'etc1s' = 'uastc',
  cube = false,
): Promise<Uint8Array> {
  const basis = await basisEncoder()
  const e = new basis.BasisEncoder()
  try {
    e.setCreateKTX2File(true)
    e.setUASTC(mode === 'uastc')
    e.setKTX2UASTCSupercompression(mode === 'uastc')
    if (mode === 'etc1s') e.setQualityLevel(255)
    e.setMipGen(false)
    // Texels compared byte for byte, not by eye.
    e.setPerceptual(false)
    if (cube) e.setTexType(basis.basis_texture_type.cBASISTexTypeCubemapArray.value)
    for (let slice = 0; slice < (cube ? 6 : 1); slice++) {
      if (!e.setSliceSourceImage(slice, rgba, width, height, false)) throw new Error('the encoder refused the image')
    }
    const out = new Uint8Array(width * height * (cube ? 48 : 8) + 4096)
    const n = e.encode(out)
    if (n === 0) throw new Error('the encoder failed')
    return out.slice(0, n)
  } finally {
    e.delete()
  }
}
