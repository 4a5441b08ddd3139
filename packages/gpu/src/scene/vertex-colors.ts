import { GpuError } from '../errors.js'
import { COLOR_WORDS } from './scene.js'

/** Floats per triangle of vertex colours in a triangle soup: linear RGBA of v0, v1, v2. */
export const SOUP_COLOR_FLOATS = 12

/** The largest 16-bit channel value: a channel c in [0, 1] is stored as round(c * 65535). */
const UNORM16 = 65535

/**
 * Packs the soup's vertex colours (glTF COLOR_0: linear RGBA in [0, 1], 12 floats per triangle) in BVH `order` as
 * 16-bit channels, two words a vertex: (R | G << 16), (B | A << 16). Sixteen bits keep dark gradients free of
 * banding at half the size of floats; channels outside [0, 1] are clamped, non-finite ones read as 1 (no tint).
 *
 * @throws GPU__MALFORMED_SCENE when the soup does not hold 12 floats per triangle
 */
export function packVertexColors(colors: Float32Array, order: Uint32Array): Uint32Array {
  const triangleCount = order.length
  if (colors.length !== triangleCount * SOUP_COLOR_FLOATS) {
    throw new GpuError('GPU__MALFORMED_SCENE', 'vertex colours need 12 numbers (RGBA of 3 vertices) per triangle', {
      expected: triangleCount * SOUP_COLOR_FLOATS,
      got: colors.length,
    })
  }
  const unorm = (x: number): number =>
    Number.isFinite(x) ? Math.round(Math.min(1, Math.max(0, x)) * UNORM16) : UNORM16
  const words = new Uint32Array(triangleCount * COLOR_WORDS)
  for (let i = 0; i < triangleCount; i++) {
    const from = order[i]! * SOUP_COLOR_FLOATS
    for (let k = 0; k < 6; k++) {
      words[i * COLOR_WORDS + k] = (unorm(colors[from + 2 * k]!) | (unorm(colors[from + 2 * k + 1]!) << 16)) >>> 0
    }
  }
  return words
}

/** One 16-bit channel of a packed vertex colour as the shader reads it: f32(c) * f32(1 / 65535), rounded to f32. */
export function unorm16(c: number): number {
  return Math.fround(c * INVERSE_UNORM16)
}

const INVERSE_UNORM16 = Math.fround(1 / UNORM16)
