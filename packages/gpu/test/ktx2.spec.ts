import { WebIO } from '@gltf-transform/core'
import { KHRTextureBasisu } from '@gltf-transform/extensions'
import { beforeAll, describe, expect, it } from 'vitest'
import { generateSceneDocument, loadScene } from '../src/index.js'
import { ktx2Decoder, type Ktx2Decode } from '../src/scene/ktx2.js'
import { decodeTexture } from '../src/scene/texture.js'
import { errorCode, rejectionCode } from './helpers/errors.js'
import { reencodeTextures } from './helpers/gltf.js'
import { encodeKtx2 } from './helpers/ktx2.js'

/** A w x h image of 4x4 blocks, each one colour (alpha included): Basis encodes such blocks without loss. */
function blocks(w: number, h: number): Uint8Array {
  const rgba = new Uint8Array(w * h * 4)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const b = (y >> 2) * (w >> 2) + (x >> 2)
      rgba.set([(b * 53) & 255, (b * 101 + 40) & 255, (b * 29 + 200) & 255, 255 - ((b * 17) & 127)], (y * w + x) * 4)
    }
  }
  return rgba
}

/** The largest difference between two byte arrays of one length. */
function maxDifference(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

/** The procedural textured scene as GLB, its checkerboard re-encoded as KTX2 (`mode`) when set, cut to `keep` bytes. */
async function texturedGlb(ktx2?: { mode: 'uastc' | 'etc1s'; keep?: number }): Promise<Uint8Array> {
  const doc = generateSceneDocument({ texturedFloor: true })
  if (ktx2 !== undefined) {
    doc.createExtension(KHRTextureBasisu).setRequired(true)
    await reencodeTextures(doc, 'image/ktx2', (rgba, w, h) => encodeKtx2(rgba, w, h, ktx2.mode), ktx2.keep)
  }
  return new WebIO().registerExtensions([KHRTextureBasisu]).writeBinary(doc)
}

describe('KTX2 (Basis Universal) textures', () => {
  let decode: Ktx2Decode

  beforeAll(async () => {
    decode = await ktx2Decoder()
  })

  it('should decode UASTC and ETC1S to the texels encoded, alpha included', async () => {
    const rgba = blocks(16, 8)
    for (const mode of ['uastc', 'etc1s'] as const) {
      const bytes = await encodeKtx2(rgba, 16, 8, mode)
      const t = decodeTexture(bytes, 'image/ktx2', [16, 8], 128, mode, { ktx2: decode })
      expect([t.width, t.height]).toEqual([16, 8])
      // UASTC keeps one-colour blocks exactly; ETC1S quantizes colours, here by at most 3 levels.
      expect(maxDifference(t.rgba, rgba), mode).toBeLessThanOrEqual(mode === 'uastc' ? 0 : 4)
    }
  })

  it('should refuse KTX2 without a decoder, bytes that do not transcode and headers that lie, with coded errors', async () => {
    const bytes = await encodeKtx2(blocks(8, 8), 8, 8)
    const ktx2 = { ktx2: decode }
    expect(errorCode(() => decodeTexture(bytes, 'image/ktx2', [8, 8], 100, 'none'))).toBe('GPU__UNSUPPORTED_TEXTURE')
    expect(errorCode(() => decodeTexture(bytes.slice(0, 100), 'image/ktx2', [8, 8], 100, 'cut', ktx2))).toBe(
      'GPU__MALFORMED_SCENE',
    )
    const garbled = bytes.slice()
    garbled.fill(7, 200)
    expect(errorCode(() => decodeTexture(garbled, 'image/ktx2', [8, 8], 100, 'garbled', ktx2))).toBe(
      'GPU__MALFORMED_SCENE',
    )
    expect(errorCode(() => decodeTexture(bytes, 'image/ktx2', [8, 4], 100, 'lies', ktx2))).toBe('GPU__MALFORMED_SCENE')
    expect(errorCode(() => decodeTexture(bytes, 'image/ktx2', [9000, 1], 1e9, 'big', ktx2))).toBe(
      'GPU__SCENE_TOO_LARGE',
    )
    expect(errorCode(() => decodeTexture(bytes, 'image/ktx2', [8, 8], 63, 'budget', ktx2))).toBe('GPU__SCENE_TOO_LARGE')
  })

  it('should refuse a level index the transcoder would allocate for, before it sees the file', async () => {
    const bytes = await encodeKtx2(blocks(8, 8), 8, 8, 'uastc')
    const ktx2 = { ktx2: decode }
    // Level 0's entry in the level index: byte offset, byte length and uncompressed length, 64 bits each.
    const patched = (field: number, value: number): Uint8Array => {
      const out = bytes.slice()
      new DataView(out.buffer).setBigUint64(80 + field * 8, BigInt(value), true)
      return out
    }
    const refusal = (image: Uint8Array): unknown => {
      try {
        decodeTexture(image, 'image/ktx2', [8, 8], 100, 'patched', ktx2)
      } catch (e) {
        return e
      }
      return undefined
    }
    // Zstd-supercompressed UASTC: the transcoder zero-fills the length it claims before inflating into it (2 GB for a
    // 6 KB file). An 8x8 image of 4x4 blocks of 16 bytes holds 64.
    expect(refusal(patched(2, 256 * 2 ** 20))).toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      context: { level: 0, bytes: 256 * 2 ** 20, limit: 64 },
    })
    // A level running past the file's end, into bytes beyond it (a texture's bytes may be a view into a GLB).
    const inLargerBuffer = new Uint8Array(bytes.length * 2)
    inLargerBuffer.set(patched(1, bytes.length))
    expect(refusal(inLargerBuffer.subarray(0, bytes.length))).toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      context: { level: 0 },
    })
    // The level count is read before the parser makes an object for each level.
    const levels = bytes.slice()
    new DataView(levels.buffer).setUint32(40, 1e6, true)
    expect(refusal(levels)).toMatchObject({ code: 'GPU__MALFORMED_SCENE', context: { levels: 1e6 } })
  })

  it('should refuse a scene whose KTX2 texture claims gigabytes uncompressed without allocating them', async () => {
    const doc = generateSceneDocument({ texturedFloor: true })
    doc.createExtension(KHRTextureBasisu).setRequired(true)
    await reencodeTextures(doc, 'image/ktx2', async (rgba, w, h) => {
      const bytes = await encodeKtx2(rgba, w, h, 'uastc')
      new DataView(bytes.buffer).setBigUint64(96, 0x7ff00000n, true)
      return bytes
    })
    const glb = await new WebIO().registerExtensions([KHRTextureBasisu]).writeBinary(doc)
    await expect(loadScene(glb)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      context: { level: 0, bytes: 0x7ff00000 },
    })
  })

  it('should refuse a KTX2 cube map, which no material slot can sample, with a coded error', async () => {
    const cube = await encodeKtx2(blocks(8, 8), 8, 8, 'uastc', true)
    let error: unknown
    try {
      decodeTexture(cube, 'image/ktx2', [8, 8], 100, 'cube', { ktx2: decode })
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'GPU__UNSUPPORTED_TEXTURE', message: expect.stringMatching(/cube map/) })
  })

  it('should load an asset whose textures are KTX2 only (KHR_texture_basisu required) as the PNG original', async () => {
    const png = await loadScene(await texturedGlb())
    const uastc = await loadScene(await texturedGlb({ mode: 'uastc' }))
    expect(png.uvOffset).toBeGreaterThan(0)
    // The texels live in aux with the texture coordinates: the checkerboard's squares are whole blocks, kept exactly.
    expect(uastc.aux).toEqual(png.aux)
    expect(uastc.materials).toEqual(png.materials)
  })

  it('should refuse an asset with a KTX2 texture cut off in its data or its header, with a coded error', async () => {
    for (const keep of [-20, 40]) {
      const code = await rejectionCode(loadScene(await texturedGlb({ mode: 'uastc', keep })))
      expect(code, `keep ${keep}`).toBe('GPU__MALFORMED_SCENE')
    }
  })
})
