import { MAX_PUNCTUAL_LIGHTS } from '../constants.js'
import { emissionWeight } from '../render/brdf.js'
import { GpuError } from '../errors.js'
import type { Vec3 } from './scene.js'

/** glTF KHR_lights_punctual's light types, in the order of their codes in {@link Scene.aux}. */
export const PUNCTUAL_TYPES = ['point', 'spot', 'directional'] as const
export type PunctualType = (typeof PUNCTUAL_TYPES)[number]

/**
 * A light with no area (glTF KHR_lights_punctual), in world space. Only next-event estimation can find it: no
 * bounce ever hits a point.
 */
export interface PunctualLight {
  readonly type: PunctualType
  /** Where a point or spot light sits (unused for directional lights). */
  readonly position: Vec3
  /** The unit direction a spot or directional light shines in (the node's -Z axis). */
  readonly direction: Vec3
  /** Linear RGB colour times intensity: candela for point and spot lights, lux for directional ones. */
  readonly intensity: Vec3
  /** Distance past which a point or spot light is dark (glTF `range`), or undefined for none. */
  readonly range?: number
  /** A spot's cone: full intensity inside `innerConeAngle`, none outside `outerConeAngle` (radians). */
  readonly innerConeAngle?: number
  readonly outerConeAngle?: number
}

/** Words per packed punctual light in {@link Scene.aux}. */
export const PUNCTUAL_WORDS = 16

/**
 * Packs punctual lights for the shader, 16 words each (f32 unless noted): (position, type as u32), (direction,
 * range or 0 for none), (intensity, cumulative pick probability), (spot angle scale, spot angle offset, pick
 * probability, 0). The angle terms give the spot attenuation (cos θ * scale + offset) clamped to [0, 1] and
 * squared, as the glTF extension's sample implementation does; a point or directional light has scale 0 and
 * offset 1.
 *
 * Next-event estimation picks a light in proportion to its power ({@link punctualPower}; the scene's bounding
 * radius `sceneRadius` sizes a directional light's), by binary search over the cumulative probabilities (the last
 * is exactly 1), and divides by the pick probability. A light of no power is never picked; when every light has
 * none they are picked uniformly.
 *
 * @throws GPU__MALFORMED_SCENE for a light with non-finite or negative values, a direction of no length, or cone
 * angles outside 0 <= inner < outer <= pi / 2; GPU__SCENE_TOO_LARGE past {@link MAX_PUNCTUAL_LIGHTS}
 */
export function packPunctualLights(lights: readonly PunctualLight[], sceneRadius = 1): Uint32Array {
  if (lights.length > MAX_PUNCTUAL_LIGHTS) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the scene has ${lights.length} punctual lights, more than ${MAX_PUNCTUAL_LIGHTS}`,
      {
        lights: lights.length,
        limit: MAX_PUNCTUAL_LIGHTS,
      },
    )
  }
  const words = new Uint32Array(lights.length * PUNCTUAL_WORDS)
  const floats = new Float32Array(words.buffer)
  lights.forEach((light, i) => {
    const bad = (why: string): GpuError =>
      new GpuError('GPU__MALFORMED_SCENE', `punctual light ${i} ${why}`, { light: i, type: light.type })
    const type = PUNCTUAL_TYPES.indexOf(light.type)
    if (type < 0) throw bad(`has type ${String(light.type)}, not one of ${PUNCTUAL_TYPES.join(', ')}`)
    const numbers = [...light.position, ...light.direction, ...light.intensity]
    if (!numbers.every(Number.isFinite)) throw bad('has a value that is not a finite number')
    if (!light.intensity.every((c) => c >= 0)) throw bad('has a negative intensity')
    const len = Math.hypot(...light.direction)
    if (type !== 0 && !(len > 0)) throw bad('points in no direction')
    const range = light.range ?? 0
    if (!(range >= 0 && Number.isFinite(range))) throw bad('has a range that is not a positive number')
    let scale = 0
    let offset = 1
    if (light.type === 'spot') {
      const inner = light.innerConeAngle ?? 0
      const outer = light.outerConeAngle ?? Math.PI / 4
      if (!(inner >= 0 && inner < outer && outer <= Math.PI / 2))
        throw bad('needs cone angles 0 <= inner < outer <= pi / 2')
      scale = 1 / Math.max(0.001, Math.cos(inner) - Math.cos(outer))
      offset = -Math.cos(outer) * scale
    }
    const o = i * PUNCTUAL_WORDS
    floats.set(light.position, o)
    words[o + 3] = type
    floats.set(len > 0 ? light.direction.map((c) => c / len) : [0, 0, -1], o + 4)
    floats[o + 7] = range
    floats.set(light.intensity, o + 8)
    floats.set([scale, offset], o + 12)
  })
  const powers = lights.map((light) => punctualPower(light, sceneRadius))
  const total = powers.reduce((sum, p) => sum + p, 0)
  const share = (i: number): number => (total > 0 && Number.isFinite(total) ? powers[i]! / total : 1 / lights.length)
  let cumulative = 0
  lights.forEach((_, i) => {
    const o = i * PUNCTUAL_WORDS
    cumulative += share(i)
    floats[o + 11] = i === lights.length - 1 ? 1 : cumulative
    // The probability as the search sees it: the step between neighbouring cumulative values, rounded to f32.
    floats[o + 14] = floats[o + 11]! - (i === 0 ? 0 : floats[o - PUNCTUAL_WORDS + 11]!)
  })
  return words
}

/**
 * A punctual light's power in watts-like units for picking lights (luminance of its intensity times the solid
 * angle it lights, as pbrt's power light sampler weighs lights): 4π for a point light, the cone's solid angle for
 * a spot (to halfway between its angles), and the scene's cross-section π r² for a directional light.
 */
export function punctualPower(light: PunctualLight, sceneRadius: number): number {
  const luminance = emissionWeight(...light.intensity)
  if (light.type === 'directional') return luminance * Math.PI * sceneRadius * sceneRadius
  if (light.type === 'point') return luminance * 4 * Math.PI
  const inner = light.innerConeAngle ?? 0
  const outer = light.outerConeAngle ?? Math.PI / 4
  return luminance * 2 * Math.PI * (1 - (Math.cos(inner) + Math.cos(outer)) / 2)
}
