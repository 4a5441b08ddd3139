import { WebIO } from '@gltf-transform/core'
import { encode as encodePng } from 'fast-png'
import { crc32, deflateSync, inflateSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { generateSceneDocument, isGpuError, loadScene, MAX_JPEG_SCANS } from '../src/index.js'
import { decodeTexture } from '../src/scene/texture.js'

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10)
const ascii = new TextEncoder()

interface Chunk {
  type: string
  data: Uint8Array
}

/** A PNG's chunks, for tests that take an honest file apart and put it back together changed. */
function chunksOf(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  const chunks: Chunk[] = []
  for (let at = 8; at < png.length;) {
    const length = view.getUint32(at)
    chunks.push({
      type: String.fromCharCode(...png.subarray(at + 4, at + 8)),
      data: png.slice(at + 8, at + 8 + length),
    })
    at += 12 + length
  }
  return chunks
}

function chunkBytes({ type, data }: Chunk): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  out.set(ascii.encode(type), 4)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

function pngOf(chunks: readonly Chunk[]): Uint8Array {
  return Buffer.concat([SIGNATURE, ...chunks.map(chunkBytes)])
}

function ihdr(width: number, height: number, depth: number, colourType: number, interlace = 0): Chunk {
  const data = new Uint8Array(13)
  const view = new DataView(data.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  data.set([depth, colourType, 0, 0, interlace], 8)
  return { type: 'IHDR', data }
}

const IEND: Chunk = { type: 'IEND', data: new Uint8Array(0) }

/** A 1x1 RGBA PNG whose one IDAT inflates to `bytes` zero bytes: rows of filter 0, then far more than the row. */
function bomb(bytes: number, interlace = 0): Uint8Array {
  return pngOf([ihdr(1, 1, 8, 6, interlace), { type: 'IDAT', data: deflateSync(new Uint8Array(bytes)) }, IEND])
}

/** The error code `f` throws, 'uncoded' for an error without one, or undefined when it returns. */
function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return isGpuError(e) ? e.code : 'uncoded'
  }
  return undefined
}

/** Deterministic bytes (a linear congruential generator), so a failure reproduces. */
function noise(n: number, seed: number): Uint8Array {
  let s = seed
  return Uint8Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s >>> 24
  })
}

const decode = (png: Uint8Array, width: number, height: number) =>
  decodeTexture(png, 'image/png', [width, height], 16 * 2 ** 20, 'test')

describe('PNG textures whose image data inflates past their header', () => {
  it('should refuse a 1x1 PNG whose IDAT inflates to 64 MiB with GPU__SCENE_TOO_LARGE, before inflating it', () => {
    const png = bomb(64 * 2 ** 20)
    expect(png.length).toBeLessThan(128 * 1024)
    const start = performance.now()
    let error: unknown
    try {
      decode(png, 1, 1)
    } catch (e) {
      error = e
    }
    const ms = performance.now() - start
    expect(isGpuError(error, 'GPU__SCENE_TOO_LARGE')).toBe(true)
    expect(error).toMatchObject({ context: { texture: 'test', width: 1, height: 1 } })
    // Unbounded, fast-png takes over a second and 250 MiB for this; the cap stops within a kilobyte of output.
    expect(ms).toBeLessThan(250)
  })

  it('should refuse the same bomb inside a glTF asset, through loadScene', async () => {
    const doc = generateSceneDocument({ texturedFloor: true })
    const floor = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'floor')!
    floor.getBaseColorTexture()!.setImage(bomb(64 * 2 ** 20))
    await expect(loadScene(await new WebIO().writeBinary(doc))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
    })
  })

  it('should cap exactly at the rows the header states, plus a kilobyte of slack', () => {
    // 1x1 RGBA: one row of a filter byte and 4 samples.
    expect(Array.from(decode(bomb(5), 1, 1).rgba)).toEqual([0, 0, 0, 0])
    expect(codeOf(() => decode(bomb(5 + 1024), 1, 1))).toBeUndefined()
    expect(codeOf(() => decode(bomb(5 + 1025), 1, 1))).toBe('GPU__SCENE_TOO_LARGE')
    // Adam7 at 1x1 has only its first pass, so the same 5 bytes.
    expect(codeOf(() => decode(bomb(5 + 1024, 1), 1, 1))).toBeUndefined()
    expect(codeOf(() => decode(bomb(5 + 1025, 1), 1, 1))).toBe('GPU__SCENE_TOO_LARGE')
  })

  it('should cap interlaced images at the sum of their Adam7 passes', () => {
    // 3x5 RGB at 8 bits: passes 1, 3, 4, 5, 6 and 7 hold 1x1, 1x1, 1x2, 2x1, 1x3 and 3x2 texels; pass 2 is empty.
    const expected = 1 * (1 + 3) + 1 * (1 + 3) + 2 * (1 + 3) + 1 * (1 + 6) + 3 * (1 + 3) + 2 * (1 + 9)
    const encoded = encodePng(
      { width: 3, height: 5, channels: 3, depth: 8, data: noise(45, 5) },
      { interlace: 'Adam7' },
    )
    const rows = Buffer.concat(chunksOf(encoded).flatMap((c) => (c.type === 'IDAT' ? [c.data] : [])))
    expect(inflateSync(rows).length).toBe(expected)
    const png = (bytes: number) =>
      pngOf([ihdr(3, 5, 8, 2, 1), { type: 'IDAT', data: deflateSync(new Uint8Array(bytes)) }, IEND])
    expect(codeOf(() => decode(png(expected + 1024), 3, 5))).toBeUndefined()
    expect(codeOf(() => decode(png(expected + 1025), 3, 5))).toBe('GPU__SCENE_TOO_LARGE')
  })
})

describe('PNG textures that are honest', () => {
  it('should decode PNGs of every colour type to the pixels they were encoded from', () => {
    const [w, h] = [37, 23]
    const rgba = noise(w * h * 4, 1)
    const cases = [
      { channels: 4, depth: 8, data: rgba, want: rgba },
      {
        channels: 3,
        depth: 8,
        data: rgba.filter((_, i) => i % 4 !== 3),
        want: rgba.map((v, i) => (i % 4 === 3 ? 255 : v)),
      },
      {
        channels: 1,
        depth: 16,
        data: Uint16Array.from({ length: w * h }, (_, i) => rgba[i * 4]! * 257),
        want: Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rgba[(i >> 2) * 4]!)),
      },
    ] as const
    for (const { channels, depth, data, want } of cases) {
      const png = encodePng({ width: w, height: h, channels, depth, data })
      expect(decode(png, w, h).rgba).toEqual(want)
    }
  })

  it('should decode an Adam7-interlaced PNG to the same pixels as a plain one', () => {
    for (const [w, h] of [
      [1, 1],
      [3, 5],
      [37, 23],
    ] as const) {
      const data = noise(w * h * 4, w * h)
      const plain = encodePng({ width: w, height: h, channels: 4, depth: 8, data })
      const interlaced = encodePng({ width: w, height: h, channels: 4, depth: 8, data }, { interlace: 'Adam7' })
      expect(chunksOf(interlaced)[0]!.data[12]).toBe(1)
      expect(decode(interlaced, w, h).rgba).toEqual(decode(plain, w, h).rgba)
      expect(decode(plain, w, h).rgba).toEqual(data)
    }
  })

  it('should decode image data split over several IDAT chunks, and one whose Adler-32 is wrong', () => {
    const data = noise(8 * 8 * 4, 7)
    const chunks = chunksOf(encodePng({ width: 8, height: 8, channels: 4, depth: 8, data }))
    const stream = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data))
    const others = chunks.filter((c) => c.type !== 'IDAT' && c.type !== 'IEND')
    const split = [1, 7, 50].map((at, i, all) => ({ type: 'IDAT', data: stream.subarray(at, all[i + 1]) }))
    const pieces = [{ type: 'IDAT', data: stream.subarray(0, 1) }, ...split]
    expect(decode(pngOf([...others, ...pieces, IEND]), 8, 8).rgba).toEqual(data)
    const badAdler = Uint8Array.from(stream)
    badAdler[badAdler.length - 1]! ^= 0xff
    expect(decode(pngOf([...others, { type: 'IDAT', data: badAdler }, IEND]), 8, 8).rgba).toEqual(data)
  })

  it('should never inflate an iCCP profile: a corrupt one, or a bomb, does not stop the texture', () => {
    const data = noise(2 * 2 * 4, 3)
    const [head, ...rest] = chunksOf(encodePng({ width: 2, height: 2, channels: 4, depth: 8, data }))
    const iccp = (profile: Uint8Array): Chunk => ({
      type: 'iCCP',
      data: Buffer.concat([ascii.encode('icc'), Uint8Array.of(0, 0), profile]),
    })
    // A zlib header, then a block of type 3, which does not exist, then an Adler-32.
    const corrupt = iccp(Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
    expect(decode(pngOf([head!, corrupt, ...rest]), 2, 2).rgba).toEqual(data)
    const bombed = pngOf([head!, iccp(deflateSync(new Uint8Array(64 * 2 ** 20))), ...rest])
    const start = performance.now()
    expect(decode(bombed, 2, 2).rgba).toEqual(data)
    expect(performance.now() - start).toBeLessThan(250)
  })
})

describe('PNG textures with malformed chunk framing', () => {
  const honest = encodePng({ width: 2, height: 2, channels: 4, depth: 8, data: noise(16, 9) })
  const chunks = chunksOf(honest)
  const idat = chunks.find((c) => c.type === 'IDAT')!

  it('should refuse each with GPU__MALFORMED_SCENE', () => {
    const malformed = (png: Uint8Array, w = 2, h = 2) => codeOf(() => decode(png, w, h))
    // A chunk whose length runs past the end, then one whose length is past 2^31 - 1.
    const long = Uint8Array.from(honest)
    new DataView(long.buffer).setUint32(8 + 25, 0xffff)
    expect(malformed(long)).toBe('GPU__MALFORMED_SCENE')
    new DataView(long.buffer).setUint32(8 + 25, 0x80000000)
    expect(malformed(long)).toBe('GPU__MALFORMED_SCENE')
    expect(malformed(honest.subarray(0, honest.length - 12))).toBe('GPU__MALFORMED_SCENE') // no IEND
    expect(malformed(pngOf([{ type: 'tEXt', data: ascii.encode('a\0b') }, ...chunks]))).toBe('GPU__MALFORMED_SCENE')
    expect(malformed(pngOf([chunks[0]!, ihdr(64, 64, 8, 6), ...chunks.slice(1)]))).toBe('GPU__MALFORMED_SCENE')
    expect(malformed(pngOf([chunks[0]!, IEND]))).toBe('GPU__MALFORMED_SCENE') // no IDAT
    expect(malformed(pngOf([ihdr(2, 2, 8, 5), idat, IEND]))).toBe('GPU__MALFORMED_SCENE') // colour type 5
    expect(malformed(pngOf([ihdr(2, 2, 3, 6), idat, IEND]))).toBe('GPU__MALFORMED_SCENE') // 3 bits
    expect(malformed(pngOf([ihdr(2, 2, 8, 6, 2), idat, IEND]))).toBe('GPU__MALFORMED_SCENE') // interlace 2
    expect(malformed(pngOf([ihdr(8, 1, 8, 6), idat, IEND]))).toBe('GPU__MALFORMED_SCENE') // IHDR 8x1, checked 2x2
    const preset = Uint8Array.from(idat.data)
    // FDICT set, with FCHECK redone so that only the preset dictionary is wrong.
    preset[1] = (preset[1]! & 0xc0) | 32
    preset[1] |= (31 - (((preset[0]! << 8) | preset[1]) % 31)) % 31
    expect(malformed(pngOf([chunks[0]!, { type: 'IDAT', data: preset }, IEND]))).toBe('GPU__MALFORMED_SCENE')
    expect(malformed(pngOf([chunks[0]!, { type: 'IDAT', data: idat.data.subarray(0, 6) }, IEND]))).toBe(
      'GPU__MALFORMED_SCENE',
    )
  })
})

/**
 * An 8x8 grey progressive JPEG of `scans` AC scans, each a single end-of-block: jpeg-js passes over the image once a
 * scan, so a file of many scans costs their count times its blocks.
 */
function progressiveJpeg(scans: number): Uint8Array {
  const bytes = [0xff, 0xd8, 0xff, 0xdb, 0, 67, 0, ...new Array<number>(64).fill(1)]
  bytes.push(0xff, 0xc2, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0)
  // DC and AC tables 0, each of one 1-bit code: DC difference 0, AC end of block.
  bytes.push(0xff, 0xc4, 0, 20, 0x00, 1, ...new Array<number>(15).fill(0), 0)
  bytes.push(0xff, 0xc4, 0, 20, 0x10, 1, ...new Array<number>(15).fill(0), 0)
  // Coefficients 1 to 63 of component 1, then the end-of-block code (0) padded with ones.
  for (let k = 0; k < scans; k++) bytes.push(0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0x00, 0x7f)
  bytes.push(0xff, 0xd9)
  return Uint8Array.from(bytes)
}

describe('JPEG textures of many scans', () => {
  const decodeJpeg = (jpeg: Uint8Array) => decodeTexture(jpeg, 'image/jpeg', [8, 8], 64, 'test')

  it(`should decode ${MAX_JPEG_SCANS} scans, and refuse one more with GPU__SCENE_TOO_LARGE before decoding`, () => {
    expect(decodeJpeg(progressiveJpeg(MAX_JPEG_SCANS)).rgba.length).toBe(8 * 8 * 4)
    let error: unknown
    try {
      decodeJpeg(progressiveJpeg(MAX_JPEG_SCANS + 1))
    } catch (e) {
      error = e
    }
    expect(isGpuError(error, 'GPU__SCENE_TOO_LARGE')).toBe(true)
    expect(error).toMatchObject({ context: { texture: 'test', scans: MAX_JPEG_SCANS + 1, limit: MAX_JPEG_SCANS } })
  })
})
