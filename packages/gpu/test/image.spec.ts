import { decode } from 'fast-png'
import { describe, expect, it } from 'vitest'
import { encodePng, toRgba8 } from '../src/index.js'
import type { LinearImage } from '../src/index.js'
import { errorCode } from './helpers/errors.js'

const image: LinearImage = { width: 2, height: 1, pixels: Float32Array.from([0, 0.5, 1, 1, 4, -1, Number.NaN, 1]) }

describe('image encoding', () => {
  it('should tone-map linear light to sRGB bytes, clamping what lies outside [0, 1]', () => {
    // 0.5 linear is 188 in sRGB; above 1 clamps to 255, below 0 and NaN to 0; alpha is always opaque.
    expect(Array.from(toRgba8(image))).toEqual([0, 188, 255, 255, 255, 0, 0, 255])
    expect(Array.from(toRgba8(image, { exposure: 2 })).slice(0, 3)).toEqual([0, 255, 255])
  })

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

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('should refuse an exposure of %s', (exposure) => {
    expect(errorCode(() => toRgba8(image, { exposure }))).toBe('GPU__INVALID_INPUT')
  })
})
