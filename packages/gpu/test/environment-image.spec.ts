import { deflateSync } from 'node:zlib'
import { EXRLoader } from 'three/examples/jsm/loaders/EXRLoader.js'
import { HDRLoader } from 'three/examples/jsm/loaders/HDRLoader.js'
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

const latin1 = (text: string): number[] => [...text].map((c) => c.charCodeAt(0))

/** A Radiance file of `header` text, then a run-length encoded first scanline stating `width` and holding `literal`. */
function radiance(header: string, width: number, literal: number[]): Uint8Array {
  return Uint8Array.from([...latin1(header), 2, 2, width >> 8, width & 255, literal.length, ...literal])
}

describe('Radiance headers, read as three.js reads them', () => {
  it('should refuse a resolution line with a trailing space over the limit, not read a decoy later on', () => {
    const parse = vi.spyOn(HDRLoader.prototype, 'parse')
    // three reads "-Y 1 +X 16385 " as the size; the decoy "-Y 1 +X 8" lies in the first scanline's literal bytes.
    const bytes = radiance(
      `#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X ${MAX_ENVIRONMENT_SIDE + 1} \n`,
      MAX_ENVIRONMENT_SIDE + 1,
      latin1('\n\n-Y 1 +X 8\n'),
    )
    expect(() => decodeEnvironmentImage(bytes)).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_ENVIRONMENT', context: expect.objectContaining({ height: 1 }) }),
    )
    expect(parse).not.toHaveBeenCalled()
    vi.restoreAllMocks()
  })

  it('should read resolution lines with tabs and trailing spaces, and the size three reads', () => {
    const pixels = encodeRadiance(3, 2, RGB).subarray('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 3\n'.length)
    const header = '#?RADIANCE\n# a comment\nFORMAT=32-bit_rle_rgbe\n\n-Y\t2  +X 3 \t\n'
    const bytes = Uint8Array.from([...latin1(header), ...pixels])
    const image = decodeEnvironmentImage(bytes)
    expect([image.width, image.height]).toEqual([3, 2])
  })

  it("should refuse a first scanline whose width is not the header's before decoding", () => {
    const parse = vi.spyOn(HDRLoader.prototype, 'parse')
    const bytes = radiance('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 16\n', 17, [0])
    expect(() => decodeEnvironmentImage(bytes)).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_ENVIRONMENT', context: { width: 16, scanlineWidth: 17 } }),
    )
    expect(parse).not.toHaveBeenCalled()
    vi.restoreAllMocks()
  })
})

/** OpenEXR compression codes. */
const NONE = 0
const RLE = 1
const ZIP = 3
const DWAA = 8

/**
 * A single-part scanline OpenEXR file of B, G and R FLOAT channels (and `extra` channels, as name and pixel type):
 * its header, an offset table pointing at each block, then the blocks, each as (first line, stored bytes).
 */
function exr(
  width: number,
  height: number,
  compression: number,
  blocks: readonly (readonly [number, Uint8Array])[],
  extra: readonly (readonly [string, number])[] = [],
): Uint8Array {
  const out: number[] = [0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]
  const int32 = (v: number): number[] => [...new Uint8Array(Int32Array.of(v).buffer)]
  const attribute = (name: string, type: string, value: number[]): void => {
    out.push(...latin1(`${name}\0${type}\0`), ...int32(value.length), ...value)
  }
  attribute('channels', 'chlist', [
    ...[...['B', 'G', 'R'].map((c) => [c, 2] as const), ...extra].flatMap(([c, type]) => [
      ...latin1(`${c}\0`),
      ...int32(type),
      ...[0, 0, 0, 0],
      ...int32(1),
      ...int32(1),
    ]),
    0,
  ])
  attribute('compression', 'compression', [compression])
  attribute('dataWindow', 'box2i', [0, 0, width - 1, height - 1].flatMap(int32))
  attribute('lineOrder', 'lineOrder', [0])
  out.push(0)
  const table = new BigUint64Array(blocks.length)
  let at = out.length + 8 * blocks.length
  blocks.forEach(([, data], i) => {
    table[i] = BigInt(at)
    at += 8 + data.length
  })
  out.push(...new Uint8Array(table.buffer))
  for (const [line, data] of blocks) out.push(...int32(line), ...int32(data.length), ...data)
  return Uint8Array.from(out)
}

describe('OpenEXR blocks, bounded before three.js decompresses them', () => {
  // 16 x 16 texels of 12 bytes: one ZIP block of 3,072 raw bytes.
  const raw = 16 * 16 * 12

  it('should refuse a ZIP block that inflates past its raw bytes, before decoding', () => {
    const parse = vi.spyOn(EXRLoader.prototype, 'parse')
    const bomb = exr(16, 16, ZIP, [[0, deflateSync(new Uint8Array(1 << 20))]])
    expect(bomb.length).toBeLessThan(2048)
    expect(() => decodeEnvironmentImage(bomb)).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_ENVIRONMENT', context: { block: 0, compression: 'ZIP', raw } }),
    )
    expect(parse).not.toHaveBeenCalled()
    vi.restoreAllMocks()
  })

  it('should decode a ZIP block that inflates to exactly its raw bytes', () => {
    const image = decodeEnvironmentImage(exr(16, 16, ZIP, [[0, deflateSync(new Uint8Array(raw))]]))
    expect([image.width, image.height]).toEqual([16, 16])
  })

  it('should refuse RLE runs past a line, and decode runs that fill it', () => {
    // 16 texels of 12 bytes: 192 raw bytes a line. A run byte n >= 0 repeats the next byte n + 1 times.
    const runs = (...counts: number[]): Uint8Array => Uint8Array.from(counts.flatMap((n) => [n - 1, 0]))
    expect(errorCode(() => decodeEnvironmentImage(exr(16, 1, RLE, [[0, runs(128, 64)]])))).toBeUndefined()
    expect(() => decodeEnvironmentImage(exr(16, 1, RLE, [[0, runs(128, 65)]]))).toThrow(
      expect.objectContaining({ context: { block: 0, compression: 'RLE', raw: 192 } }),
    )
  })

  it.each([
    ['a compression whose output is not bounded (DWAA)', exr(1, 1, DWAA, [[0, new Uint8Array(12)]])],
    ['a block stored larger than its raw bytes', exr(1, 1, NONE, [[0, new Uint8Array(13)]])],
    ['a block at a line outside the image', exr(1, 1, NONE, [[1, new Uint8Array(12)]])],
    ['a block cut short', exr(1, 1, NONE, [[0, new Uint8Array(12)]]).subarray(0, -1)],
  ])('should refuse %s', (_name, bytes) => {
    expect(errorCode(() => decodeEnvironmentImage(bytes))).toBe('GPU__MALFORMED_ENVIRONMENT')
  })

  it('should refuse a UINT channel, which three sizes no raw block by yet its PIZ decoder allocates for', () => {
    const parse = vi.spyOn(EXRLoader.prototype, 'parse')
    expect(() => decodeEnvironmentImage(exr(1, 1, NONE, [[0, new Uint8Array(12)]], [['ID', 0]]))).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_ENVIRONMENT', context: { pixelType: 0 } }),
    )
    expect(parse).not.toHaveBeenCalled()
    vi.restoreAllMocks()
    // A HALF channel beside them is read (its two bytes a texel in the raw block).
    expect(errorCode(() => decodeEnvironmentImage(exr(1, 1, NONE, [[0, new Uint8Array(14)]], [['A', 1]])))).toBe(
      undefined,
    )
  })

  it('should refuse an offset outside the file, and an attribute whose stated size three would not read', () => {
    const file = exr(1, 1, NONE, [[0, new Uint8Array(12)]])
    expect(errorCode(() => decodeEnvironmentImage(file))).toBeUndefined()
    const table = file.length - 8 - 12 - 8
    const offset = file.slice()
    new DataView(offset.buffer).setBigUint64(table, BigInt(file.length), true)
    expect(errorCode(() => decodeEnvironmentImage(offset))).toBe('GPU__MALFORMED_ENVIRONMENT')
    const size = file.slice()
    const at = Buffer.from(size).indexOf('compression\0compression\0') + 'compression\0compression\0'.length
    new DataView(size.buffer).setInt32(at, 2, true)
    expect(errorCode(() => decodeEnvironmentImage(size))).toBe('GPU__MALFORMED_ENVIRONMENT')
  })
})
