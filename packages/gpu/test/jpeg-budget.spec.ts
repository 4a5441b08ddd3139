import jpeg from 'jpeg-js'
import { describe, expect, it } from 'vitest'
import { decodeTexture, isGpuError, JPEG_DECODER_BYTES_PER_TEXEL, JPEG_DECODER_TABLE_BYTES } from '../src/index.js'

/**
 * A 1x1 JPEG of `frames` start-of-frame segments, each of 255 components sampled 15x15: jpeg-js allocates each
 * frame's blocks as it reads it (225 a component, 14.7 MB a frame) and never gives them back, whatever the image's
 * size.
 */
function frameBomb(frames: number): Uint8Array {
  const components = Array.from({ length: 255 }, (_, id) => [id, 0xff, 0])
  const length = 8 + 3 * 255
  const segment = [0xff, 0xc0, length >> 8, length & 0xff, 8, 0, 1, 0, 1, 255, ...components.flat()]
  return Uint8Array.from([0xff, 0xd8, ...Array.from({ length: frames }, () => segment).flat(), 0xff, 0xd9])
}

describe('JPEG textures within the decoder budget', () => {
  it('should decode a 2048x2048 JPEG, which jpeg-js needs about 22 bytes a texel for', () => {
    const side = 2048
    const data = new Uint8Array(side * side * 4)
    for (let i = 0; i < side * side; i++) data.set([(i % side) >> 3, (i / side) >> 3, 128, 255], i * 4)
    const bytes = new Uint8Array(jpeg.encode({ width: side, height: side, data }, 90).data)
    const texture = decodeTexture(bytes, 'image/jpeg', [side, side], side * side, 'large')
    expect([texture.width, texture.height]).toEqual([side, side])
    const at = (x: number, y: number) => Array.from(texture.rgba.subarray((y * side + x) * 4, (y * side + x) * 4 + 4))
    for (const [x, y] of [
      [100, 300],
      [2000, 1000],
    ] as const) {
      const [r, g, b, a] = at(x, y)
      expect(Math.abs(r! - (x >> 3))).toBeLessThanOrEqual(4)
      expect(Math.abs(g! - (y >> 3))).toBeLessThanOrEqual(4)
      expect(Math.abs(b! - 128)).toBeLessThanOrEqual(4)
      expect(a).toBe(255)
    }
  })

  it('should refuse a JPEG that jpeg-js would take more than its budget to decode with GPU__SCENE_TOO_LARGE', () => {
    const bytes = 1 * JPEG_DECODER_BYTES_PER_TEXEL + JPEG_DECODER_TABLE_BYTES
    // One frame fits in the budget of one texel (and then has no scan to decode); the second does not.
    expect(() => decodeTexture(frameBomb(1), 'image/jpeg', [1, 1], 1, 'bomb')).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }),
    )
    let error: unknown
    try {
      decodeTexture(frameBomb(2), 'image/jpeg', [1, 1], 1, 'bomb')
    } catch (e) {
      error = e
    }
    expect(isGpuError(error, 'GPU__SCENE_TOO_LARGE')).toBe(true)
    expect(error).toMatchObject({ context: { texture: 'bomb', bytes, limit: bytes } })
  })
})
