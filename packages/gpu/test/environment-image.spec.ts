import { describe, expect, it, vi } from 'vitest'
import { decodeEnvironmentImage, environmentFormat, MAX_ENVIRONMENT_SIDE } from '../src/index.js'
import { errorCode } from './helpers/errors.js'
import { encodeExr, encodeRadiance } from './helpers/hdr.js'

/** Three texels a row, two rows: the top row bright, the bottom dim, every channel its own value. */
const RGB = Float32Array.from([1, 0.5, 0.25, 2, 4, 8, 0, 0, 0, 0.125, 0.0625, 1, 16, 0, 0, 0.5, 0.5, 0.5])

/** A seeded generator of bytes, for damaging files the same way on every run. */
function damaged(bytes: Uint8Array, seed: number): Uint8Array {
  let s = seed
  const next = (): number => (s = (s * 1664525 + 1013904223) >>> 0)
  const out = bytes.slice(0, next() % 3 === 0 ? next() % bytes.length : bytes.length)
  for (let k = next() % 6; k >= 0; k--) if (out.length > 0) out[next() % out.length] = next() & 0xff
  return out
}

describe('environment images', () => {
  it('should decode a Radiance .hdr file top row first, to within its 8-bit mantissas', () => {
    const image = decodeEnvironmentImage(encodeRadiance(3, 2, RGB))
    expect([image.width, image.height]).toEqual([3, 2])
    // RGBE keeps 8 bits under a shared exponent; the decoder reads each mantissa at the middle of its step.
    image.radiance.forEach((v, i) => {
      const t = Math.floor(i / 3) * 3
      expect(Math.abs(v - RGB[i]!)).toBeLessThanOrEqual(Math.max(RGB[t]!, RGB[t + 1]!, RGB[t + 2]!) / 128)
    })
    expect(image.radiance[12]!).toBeGreaterThan(15)
  })

  it('should decode an OpenEXR file top row first, exactly', async () => {
    const image = decodeEnvironmentImage(await encodeExr(3, 2, RGB))
    expect([image.width, image.height]).toEqual([3, 2])
    expect(Array.from(image.radiance)).toEqual(Array.from(RGB))
  })

  it('should tell the formats by their first bytes', async () => {
    expect(environmentFormat(encodeRadiance(1, 1, RGB))).toBe('hdr')
    expect(environmentFormat(await encodeExr(1, 1, RGB))).toBe('exr')
    expect(environmentFormat(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBeUndefined()
  })

  it('should read negative or non-finite radiance as none', async () => {
    const bad = Float32Array.from([-1, Number.NaN, Number.NEGATIVE_INFINITY, 2, 2, 2])
    expect(Array.from(decodeEnvironmentImage(await encodeExr(2, 1, bad)).radiance)).toEqual([0, 0, 0, 2, 2, 2])
  })

  it.each([
    ['bytes of no known format', new TextEncoder().encode('P6\n2 2\n255\n')],
    [
      'a Radiance header without its resolution line',
      new TextEncoder().encode('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n'),
    ],
    [
      'a Radiance file larger than the limit on a side',
      new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X ${MAX_ENVIRONMENT_SIDE + 1}\n`),
    ],
    [
      'a Radiance file of more texels than the limit in all',
      new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8192 +X 8192\n`),
    ],
    ['a Radiance file cut short', encodeRadiance(3, 2, RGB).subarray(0, 60)],
    ['an EXR magic number alone', Uint8Array.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0])],
  ])('should refuse %s with GPU__MALFORMED_ENVIRONMENT', (_name, bytes) => {
    expect(errorCode(() => decodeEnvironmentImage(bytes))).toBe('GPU__MALFORMED_ENVIRONMENT')
  })

  it('should refuse an EXR whose data window is beyond the limit before decoding it', async () => {
    const exr = await encodeExr(3, 2, RGB)
    const at = Buffer.from(exr).indexOf('dataWindow\0box2i\0')
    expect(at).toBeGreaterThan(0)
    // xMax of the box2i after the name, the type and the int32 size.
    new DataView(exr.buffer, exr.byteOffset).setInt32(at + 'dataWindow\0box2i\0'.length + 4 + 8, 1 << 30, true)
    expect(errorCode(() => decodeEnvironmentImage(exr))).toBe('GPU__MALFORMED_ENVIRONMENT')
  })

  it('should decode or refuse with a coded error every damaged file, never crash', async () => {
    const files = [encodeRadiance(3, 2, RGB), await encodeExr(3, 2, RGB)]
    // three's EXR reader warns of each attribute type it does not know, and damage makes many.
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const codes = new Set<string | undefined>()
    for (let seed = 1; seed <= 1000; seed++) {
      codes.add(errorCode(() => decodeEnvironmentImage(damaged(files[seed % 2]!, seed))))
    }
    expect([...codes].filter((c) => c !== undefined && c !== 'GPU__MALFORMED_ENVIRONMENT')).toEqual([])
    vi.restoreAllMocks()
    expect(codes.has('GPU__MALFORMED_ENVIRONMENT')).toBe(true)
  })
})
