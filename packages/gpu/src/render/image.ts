import { encode } from 'fast-png'
import { DEFAULT_EXPOSURE, MAX_EXPOSURE, MAX_IMAGE_SIDE } from '../constants.js'
import { GpuError } from '../errors.js'
import type { RenderedTile } from './tile.js'
import { applyToneCurve, TONE_CURVES, type ToneCurve } from './tone-curves.js'

/** A whole frame: linear-light RGBA float32, row-major. */
export interface Frame {
  frame: number
  width: number
  height: number
  pixels: Float32Array
}

/**
 * Assembles full tiles of one frame into the frame. The tiles must agree on frame and image size (at most
 * `MAX_IMAGE_SIDE` a side), lie inside it, not overlap and cover it exactly; otherwise GPU__INVALID_TILE. All of
 * that but the overlaps is checked before the frame is allocated, so tiles that claim a huge image cost nothing.
 */
export function compositeTiles(tiles: readonly RenderedTile[]): Frame {
  const first = tiles[0]
  if (first === undefined) throw new GpuError('GPU__INVALID_TILE', 'compositing needs at least one tile', {})
  const { imageWidth: width, imageHeight: height, frame } = first
  if (![width, height].every((side) => Number.isInteger(side) && side >= 1 && side <= MAX_IMAGE_SIDE)) {
    throw new GpuError('GPU__INVALID_TILE', `a frame's sides must be integers in 1..${MAX_IMAGE_SIDE}`, {
      imageWidth: width,
      imageHeight: height,
    })
  }
  let area = 0
  for (const t of tiles) {
    assertTileOfFrame(t, frame, width, height)
    area += t.width * t.height
  }
  if (area !== width * height) {
    throw new GpuError('GPU__INVALID_TILE', 'the tiles must cover the frame exactly, each pixel once', {
      tilePixels: area,
      framePixels: width * height,
    })
  }
  const pixels = new Float32Array(width * height * 4)
  const covered = new Uint8Array(width * height)
  for (const t of tiles) {
    for (let r = 0; r < t.height; r++) {
      const row = (t.y + r) * width + t.x
      for (let i = 0; i < t.width; i++) {
        if (covered[row + i] !== 0) throw new GpuError('GPU__INVALID_TILE', 'tiles overlap', { x: t.x + i, y: t.y + r })
        covered[row + i] = 1
      }
      pixels.set(t.pixels.subarray(r * t.width * 4, (r + 1) * t.width * 4), row * 4)
    }
  }
  return { frame, width, height, pixels }
}

/** Throws GPU__INVALID_TILE unless `t` is a complete tile of frame `frame`, lying inside its width x height image. */
function assertTileOfFrame(t: RenderedTile, frame: number, width: number, height: number): void {
  if (t.imageWidth !== width || t.imageHeight !== height || t.frame !== frame) {
    throw new GpuError('GPU__INVALID_TILE', 'tiles of one frame must agree on frame number and image size', {
      x: t.x,
      y: t.y,
    })
  }
  if (
    ![t.x, t.y, t.width, t.height].every(Number.isSafeInteger) ||
    t.x < 0 ||
    t.y < 0 ||
    t.width < 1 ||
    t.height < 1 ||
    t.x + t.width > width ||
    t.y + t.height > height ||
    !Array.isArray(t.rows) ||
    t.rows.length !== t.height ||
    !(t.pixels instanceof Float32Array) ||
    t.pixels.length !== t.width * t.height * 4
  ) {
    throw new GpuError('GPU__INVALID_TILE', 'only complete tiles inside the image can be composited', {
      x: t.x,
      y: t.y,
      width: t.width,
      height: t.height,
    })
  }
}

/** Something with linear RGBA float pixels: a {@link Frame}, or a full {@link RenderedTile} (its width and height). */
export interface LinearImage {
  width: number
  height: number
  pixels: Float32Array
}

/** Tone-mapping options. */
export interface ToneMapOptions {
  /**
   * Linear scale applied before the tone curve and sRGB encoding, above 0 and at most `MAX_EXPOSURE`.
   * @default 1
   */
  exposure?: number
  /**
   * How radiance above 1 is brought into range (see `TONE_CURVES`): cut per channel, Khronos PBR Neutral, or ACES.
   * @default 'clamp'
   */
  toneCurve?: ToneCurve
}

/** The sRGB transfer function of a linear value, clamped to [0, 1]. */
export function srgbEncode(linear: number): number {
  const c = linear <= 0 || !Number.isFinite(linear) ? 0 : Math.min(1, linear)
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055
}

/** Tone-maps linear RGBA float pixels to 8-bit sRGB RGBA (exposure, tone curve, sRGB curve; alpha 255). */
export function toRgba8(image: LinearImage, options: ToneMapOptions = {}): Uint8Array {
  const exposure = options.exposure ?? DEFAULT_EXPOSURE
  assertImage(image)
  if (!(exposure > 0 && exposure <= MAX_EXPOSURE))
    throw new GpuError('GPU__INVALID_INPUT', `exposure must be a number above 0, at most ${MAX_EXPOSURE}`, { exposure })
  const curve = options.toneCurve ?? 'clamp'
  if (!TONE_CURVES.includes(curve)) {
    throw new GpuError('GPU__INVALID_INPUT', `toneCurve must be one of ${TONE_CURVES.join(', ')}`, { toneCurve: curve })
  }
  const out = new Uint8Array(image.width * image.height * 4)
  const rgb = new Float64Array(3)
  for (let i = 0; i < out.length; i += 4) {
    // Non-finite and negative radiance reads as black before any curve sees it (as srgbEncode and psnr read it).
    for (let c = 0; c < 3; c++) {
      const v = image.pixels[i + c]! * exposure
      rgb[c] = v > 0 && Number.isFinite(v) ? v : 0
    }
    applyToneCurve(curve, rgb)
    for (let c = 0; c < 3; c++) out[i + c] = Math.round(srgbEncode(rgb[c]!) * 255)
    out[i + 3] = 255
  }
  return out
}

/** Encodes a linear image as an 8-bit sRGB RGBA PNG with fast-png. */
export function encodePng(image: LinearImage, options: ToneMapOptions = {}): Uint8Array {
  const data = toRgba8(image, options) // validates the image before its fields are read here
  return encode({ width: image.width, height: image.height, data, channels: 4, depth: 8 })
}

/** Checks that `image` is a whole linear RGBA image, else GPU__INVALID_INPUT. */
export function assertImage(image: LinearImage): void {
  // Checked field by field, since callers from JavaScript (or a tile's pixels passed bare) may hand anything.
  if (
    typeof image !== 'object' ||
    image === null ||
    !(image.pixels instanceof Float32Array) ||
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width < 1 ||
    image.height < 1 ||
    image.pixels.length !== image.width * image.height * 4
  ) {
    throw new GpuError('GPU__INVALID_INPUT', 'an image needs width * height * 4 float pixels', {
      width: image?.width,
      height: image?.height,
      floats: image?.pixels instanceof Float32Array ? image.pixels.length : typeof image?.pixels,
    })
  }
}
