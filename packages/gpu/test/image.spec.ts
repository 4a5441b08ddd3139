import { decode } from 'fast-png'
import { describe, expect, it } from 'vitest'
import { compositeTiles, decodeEnvironmentImage, encodeExr, encodePng, MAX_EXPOSURE, toRgba8 } from '../src/index.js'
import type { LinearImage, RenderedTile } from '../src/index.js'
import { applyToneCurve } from '../src/render/tone-curves.js'
import { errorCode, rejectionCode } from './helpers/errors.js'

/** A full tile of a side x side frame, each pixel's red its tag and green its index in the tile. */
function taggedTile(tag: number, x: number, y: number, width: number, height: number, side = 4): RenderedTile {
  const pixels = new Float32Array(width * height * 4)
  for (let i = 0; i < width * height; i++) pixels.set([tag, i, 0, 1], i * 4)
  return {
    frame: 0,
    imageWidth: side,
    imageHeight: side,
    x,
    y,
    width,
    height,
    samples: 1,
    maxDepth: 8,
    background: [0, 0, 0],
    rays: 0,
    rows: Array.from({ length: height }, (_, i) => i),
    pixels,
  }
}

const image: LinearImage = { width: 2, height: 1, pixels: Float32Array.from([0, 0.5, 1, 1, 4, -1, Number.NaN, 1]) }

describe('image encoding', () => {
  it('should tone-map linear light to sRGB bytes, clamping what lies outside [0, 1]', () => {
    // 0.5 linear is 188 in sRGB; above 1 clamps to 255, below 0 and NaN to 0; alpha is always opaque.
    expect(Array.from(toRgba8(image))).toEqual([0, 188, 255, 255, 255, 0, 0, 255])
    expect(Array.from(toRgba8(image, { exposure: 2 })).slice(0, 3)).toEqual([0, 255, 255])
  })

  it('should roll highlights off with the Khronos PBR Neutral and ACES curves', () => {
    const grey = (v: number): LinearImage => ({ width: 1, height: 1, pixels: Float32Array.from([v, v, v, 1]) })
    const red = (rgb: LinearImage, curve: 'clamp' | 'neutral' | 'aces'): number =>
      toRgba8(rgb, { toneCurve: curve })[0]!
    // Neutral: below its knee only the small black offset (0.5 - 0.04 linear is 181 in sRGB); far above, just under 1.
    expect(red(grey(0.5), 'neutral')).toBe(181)
    expect(red(grey(10), 'neutral')).toBe(254)
    // ACES (Narkowicz's fit): 1 maps to 0.804 linear, 232 in sRGB; brighter keeps rising towards 255.
    expect(red(grey(1), 'aces')).toBe(232)
    expect(red(grey(4), 'aces')).toBeGreaterThan(red(grey(2), 'aces'))
    expect(red(grey(4), 'clamp')).toBe(255)
    // A saturated highlight keeps its hue's order but stays under white, where clamping cuts red and green to 255.
    const hot = toRgba8({ width: 1, height: 1, pixels: Float32Array.from([8, 1, 0.5, 1]) }, { toneCurve: 'neutral' })
    expect(hot[0]!).toBeLessThan(255)
    expect(hot[0]!).toBeGreaterThan(hot[1]!)
    expect(hot[1]!).toBeGreaterThan(hot[2]!)
    expect(errorCode(() => toRgba8(grey(1), { toneCurve: 'filmic' as 'aces' }))).toBe('GPU__INVALID_INPUT')
  })

  it('should saturate the ACES curve to white for huge and infinite input, not NaN (black)', () => {
    // Past about 1.3e154 x squared overflowed, and the fit read infinity over infinity.
    const rgb = Float64Array.from([1e155, 1e300, Number.POSITIVE_INFINITY])
    applyToneCurve('aces', rgb)
    expect(Array.from(rgb)).toEqual([1, 1, 1])
    // Below the cut the fit is as before, and it meets the cut at 1.
    for (const [x, expected] of [
      [1, 0.8037974683544302],
      [7.9, 1],
    ]) {
      const one = Float64Array.from([x!, x!, x!])
      applyToneCurve('aces', one)
      expect(one[0]).toBeCloseTo(expected!, 12)
    }
  })

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_EXPOSURE * 2])(
    'should refuse an exposure of %s with a coded error',
    (exposure) => {
      expect(errorCode(() => toRgba8(image, { exposure }))).toBe('GPU__INVALID_INPUT')
    },
  )

  it('should write a PNG that decodes to the tone-mapped bytes', () => {
    const decoded = decode(encodePng(image))
    expect([decoded.width, decoded.height, decoded.channels, decoded.depth]).toEqual([2, 1, 4, 8])
    expect(Array.from(decoded.data)).toEqual(Array.from(toRgba8(image)))
  })

  it.each([
    ['pixels passed bare', Float32Array.from([0, 0, 0, 1])],
    ['no pixels', { width: 1, height: 1 }],
    ['pixels of another type', { width: 1, height: 1, pixels: [0, 0, 0, 1] }],
    ['too few pixels', { width: 2, height: 2, pixels: new Float32Array(12) }],
    ['a fractional width', { width: 1.5, height: 2, pixels: new Float32Array(12) }],
    ['no rows', { width: 4, height: 0, pixels: new Float32Array(0) }],
    ['null', null],
  ])('should refuse %s with a coded error', (_name, bad) => {
    expect(errorCode(() => encodePng(bad as unknown as LinearImage))).toBe('GPU__INVALID_INPUT')
  })

  it('should composite tiles where they lie in the frame', () => {
    const frame = compositeTiles([taggedTile(1, 0, 0, 4, 1), taggedTile(2, 0, 1, 3, 3), taggedTile(3, 3, 1, 1, 3)])
    const tags = Array.from({ length: 16 }, (_, i) => frame.pixels[i * 4]!)
    expect(tags).toEqual([1, 1, 1, 1, 2, 2, 2, 3, 2, 2, 2, 3, 2, 2, 2, 3])
  })

  it.each([
    // A tile at x = -1 used to land its first pixel on the row above, and these frames to throw an uncoded RangeError
    // while allocating before any check.
    [
      'a tile left of the frame',
      [taggedTile(1, 0, 0, 4, 1), taggedTile(2, 0, 1, 3, 1), taggedTile(3, -1, 2, 4, 2), taggedTile(4, 3, 3, 1, 1)],
    ],
    ['a tile above the frame', [taggedTile(1, 0, -1, 4, 1), taggedTile(2, 0, 0, 4, 4)]],
    ['a frame 100,000 pixels a side', [{ ...taggedTile(1, 0, 0, 1, 1), imageWidth: 100_000, imageHeight: 100_000 }]],
    ['a frame of negative width', [{ ...taggedTile(1, 0, 0, 1, 1), imageWidth: -1, imageHeight: 1 }]],
    ['a frame of fractional height', [{ ...taggedTile(1, 0, 0, 1, 1), imageWidth: 1, imageHeight: 1.5 }]],
    ['a fractional tile', [taggedTile(1, 0, 0, 4, 3), { ...taggedTile(2, 0, 3, 4, 1), x: 0.5 }]],
    ['tiles of two image sizes', [taggedTile(1, 0, 0, 4, 4), taggedTile(2, 0, 0, 1, 1, 8)]],
    ['overlapping tiles', [taggedTile(1, 0, 0, 4, 3), taggedTile(2, 0, 2, 4, 1), taggedTile(3, 0, 3, 2, 1)]],
    ['a gap', [taggedTile(1, 0, 0, 4, 3), taggedTile(2, 0, 3, 3, 1)]],
    ['no tiles', []],
  ])('should refuse to composite %s with GPU__INVALID_TILE', (_name, tiles) => {
    expect(errorCode(() => compositeTiles(tiles as RenderedTile[]))).toBe('GPU__INVALID_TILE')
  })

  it('should write an OpenEXR file that reads back as the same floats, top row first', async () => {
    const hdr: LinearImage = {
      width: 2,
      height: 2,
      pixels: Float32Array.from([0.1, 2, 300, 1, 4, 5, 6, 1, 7, 8, 9e4, 1, 0, 0, 0, 1]),
    }
    const back = decodeEnvironmentImage(await encodeExr(hdr))
    expect(Array.from(back.radiance)).toEqual(Array.from(hdr.pixels.filter((_, i) => i % 4 !== 3)))
    expect(await rejectionCode(encodeExr({ width: 3, height: 1, pixels: new Float32Array(4) }))).toBe(
      'GPU__INVALID_INPUT',
    )
  })

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('should refuse an exposure of %s', (exposure) => {
    expect(errorCode(() => toRgba8(image, { exposure }))).toBe('GPU__INVALID_INPUT')
  })
})
