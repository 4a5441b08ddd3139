import { WebIO } from '@gltf-transform/core'
import { EXTTextureWebP } from '@gltf-transform/extensions'
import { beforeAll, describe, expect, it } from 'vitest'
import { generateSceneDocument, loadScene } from '../src/index.js'
import { decodeTexture } from '../src/scene/texture.js'
import { webpDecoder, webpSize, type WebpDecode } from '../src/scene/webp.js'
import { errorCode, rejectionCode } from './helpers/errors.js'
import { reencodeTextures } from './helpers/gltf.js'
import { encodeWebp } from './helpers/webp.js'

/** A w x h RGBA gradient whose alpha runs through every value, so a dropped or premultiplied alpha shows. */
function gradient(w: number, h: number): Uint8Array {
  return Uint8Array.from({ length: w * h * 4 }, (_, i) => ((i >> 2) * 37 + (i & 3) * 91) & 255)
}

/**
 * The procedural textured scene as GLB, its checkerboard re-encoded as WebP when `webp` is set (only its first
 * `keep` bytes when that is set).
 */
async function texturedGlb(webp?: { lossless: boolean; keep?: number }): Promise<Uint8Array> {
  const doc = generateSceneDocument({ texturedFloor: true })
  if (webp !== undefined) {
    doc.createExtension(EXTTextureWebP).setRequired(true)
    await reencodeTextures(doc, 'image/webp', (rgba, w, h) => encodeWebp(rgba, w, h, webp.lossless), webp.keep)
  }
  return new WebIO().registerExtensions([EXTTextureWebP]).writeBinary(doc)
}

describe('WebP textures', () => {
  let decode: WebpDecode

  beforeAll(async () => {
    decode = await webpDecoder()
  })

  it('should decode lossless WebP texel for texel, alpha included', async () => {
    const rgba = gradient(7, 5)
    const bytes = await encodeWebp(rgba, 7, 5, true)
    const t = decodeTexture(bytes, 'image/webp', [7, 5], 100, 'w', { webp: decode })
    expect([t.width, t.height]).toEqual([7, 5])
    expect(Array.from(t.rgba)).toEqual(Array.from(rgba))
  })

  it('should decode lossy WebP with alpha (VP8X) near its source and keep each result apart', async () => {
    const rgba = new Uint8Array(16 * 16 * 4).fill(200)
    const lossy = await encodeWebp(rgba, 16, 16, false)
    expect(new TextDecoder().decode(lossy.slice(12, 16))).toBe('VP8X')
    const first = decodeTexture(lossy, 'image/webp', [16, 16], 1000, 'lossy', { webp: decode })
    // A second decode must not write into the first one's texels (they are copied out of the decoder's memory).
    decodeTexture(await encodeWebp(gradient(16, 16), 16, 16, true), 'image/webp', [16, 16], 1000, 'g', { webp: decode })
    expect(Math.max(...Array.from(first.rgba, (x) => Math.abs(x - 200)))).toBeLessThanOrEqual(3)
  })

  it('should refuse WebP without a decoder, bytes that do not decode and headers that lie, with coded errors', async () => {
    const bytes = await encodeWebp(gradient(2, 2), 2, 2, true)
    const webp = { webp: decode }
    expect(errorCode(() => decodeTexture(bytes, 'image/webp', [2, 2], 100, 'none'))).toBe('GPU__UNSUPPORTED_TEXTURE')
    expect(errorCode(() => decodeTexture(bytes.slice(0, 20), 'image/webp', [2, 2], 100, 'cut', webp))).toBe(
      'GPU__MALFORMED_SCENE',
    )
    expect(errorCode(() => decodeTexture(bytes, 'image/webp', [3, 2], 100, 'lies', webp))).toBe('GPU__MALFORMED_SCENE')
    expect(errorCode(() => decodeTexture(bytes, 'image/webp', [9000, 1], 1e9, 'big', webp))).toBe(
      'GPU__SCENE_TOO_LARGE',
    )
    expect(errorCode(() => decodeTexture(bytes, 'image/webp', [2, 2], 3, 'budget', webp))).toBe('GPU__SCENE_TOO_LARGE')
  })

  it('should load an asset whose textures are WebP only (EXT_texture_webp required) as the PNG original', async () => {
    const png = await loadScene(await texturedGlb())
    const webp = await loadScene(await texturedGlb({ lossless: true }))
    expect(png.uvOffset).toBeGreaterThan(0)
    // The texels live in aux with the texture coordinates: equal words, equal renders.
    expect(webp.aux).toEqual(png.aux)
    expect(webp.materials).toEqual(png.materials)
  })

  it('should refuse an asset with a WebP texture cut off in its bitstream or its header, with a coded error', async () => {
    // 16 bytes end inside the first chunk's header, where glTF-Transform's size reader throws a bare RangeError.
    for (const keep of [-20, 16]) {
      const code = await rejectionCode(loadScene(await texturedGlb({ lossless: true, keep })))
      expect(code, `keep ${keep}`).toBe('GPU__MALFORMED_SCENE')
    }
  })

  it("should read a WebP's size as libwebp does when it decodes", async () => {
    expect(webpSize(await encodeWebp(gradient(7, 5), 7, 5, true))).toEqual([7, 5])
    const lossy = await encodeWebp(new Uint8Array(16 * 9 * 4).fill(200), 16, 9, false)
    expect(webpSize(lossy)).toEqual([16, 9])
    // libwebp decodes no animation; a canvas that is not the image's size is not decoded either.
    const animated = lossy.slice()
    animated[20] = animated[20]! | 0x02
    expect(webpSize(animated)).toBeNull()
    const canvas = lossy.slice()
    canvas[24] = 31
    expect(webpSize(canvas)).toBeNull()
    expect(webpSize(lossy.slice(0, 28))).toBeNull()
  })

  it('should check the size libwebp decodes, not the chunk that glTF-Transform finds after one it skips', async () => {
    // After the RIFF header, a chunk of no known name whose first five bytes are a bare VP8L header stating 8193x1,
    // then a real 2x2 VP8L chunk. glTF-Transform's reader skips the first chunk and reads 2x2; libwebp, finding
    // neither VP8X nor VP8 or VP8L first, decodes from the first chunk's name on as a bare bitstream, as large as it
    // says (16384x16384 at most: 1 GiB of texels from a file of a few hundred bytes).
    const bare = [0x2f, 0x00, 0x20, 0x00, 0x00, 0x01, 0x00, 0x00]
    const stated = (bytes: Uint8Array): Uint8Array => {
      const chunks = [...bare, ...new Uint8Array(256), ...bytes.subarray(12)]
      const out = new Uint8Array(12 + chunks.length)
      out.set(new TextEncoder().encode('RIFF'), 0)
      new DataView(out.buffer).setUint32(4, 4 + chunks.length, true)
      out.set(new TextEncoder().encode('WEBP'), 8)
      out.set(chunks, 12)
      return out
    }
    expect(webpSize(stated(await encodeWebp(gradient(2, 2), 2, 2, true)))).toEqual([8193, 1])
    const doc = generateSceneDocument({ texturedFloor: true })
    doc.createExtension(EXTTextureWebP).setRequired(true)
    await reencodeTextures(doc, 'image/webp', async (rgba, w, h) => stated(await encodeWebp(rgba, w, h, true)))
    const glb = await new WebIO().registerExtensions([EXTTextureWebP]).writeBinary(doc)
    await expect(loadScene(glb)).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { width: 8193, height: 1 },
    })
  })
})
