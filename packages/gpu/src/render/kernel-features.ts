import type { Scene } from '../scene/scene.js'

/**
 * What a scene asks of the path-tracing kernel. Each feature is compiled in only where a scene needs it: on lavapipe
 * even code that never runs costs (a skipped branch in traversal cost 8% of the rays), and on a real GPU the state
 * the unused paths would keep live lowers how many invocations stay resident. A feature compiled in for a scene
 * that lacks it changes nothing in the image: its branches read parameters that are zero for that scene.
 */
export interface KernelFeatures {
  /** Some material is MASK or BLEND: traversal tests alpha at every candidate hit. */
  readonly alphaTested: boolean
  /** Some material lets light through (KHR_materials_transmission, volume). */
  readonly transmissive: boolean
  /** Some material has a clearcoat. */
  readonly coated: boolean
  /** Some material has a sheen. */
  readonly sheened: boolean
  /** Some material has a texture: shading reads texture coordinates and texels. */
  readonly textured: boolean
  /** Some primitive has vertex colours (glTF COLOR_0). */
  readonly vertexColored: boolean
  /** The scene has lights without area (KHR_lights_punctual). */
  readonly punctual: boolean
  /** A panorama lights the scene (`withEnvironment`). */
  readonly environment: boolean
}

/** The features `scene` needs. */
export function kernelFeatures(scene: Scene): KernelFeatures {
  return {
    alphaTested: scene.alphaTested,
    transmissive: scene.transmissive,
    coated: scene.coated,
    sheened: scene.sheened,
    textured: scene.uvOffset !== 0,
    vertexColored: scene.colorOffset !== 0,
    punctual: scene.punctualCount > 0,
    environment: scene.environment !== undefined,
  }
}

/** `features` with those of `extra` that are true turned on as well. */
export function withFeatures(features: KernelFeatures, extra: Partial<KernelFeatures>): KernelFeatures {
  const keys = Object.keys(features) as (keyof KernelFeatures)[]
  return Object.fromEntries(keys.map((k) => [k, features[k] || extra[k] === true])) as unknown as KernelFeatures
}

/** The pipeline cache key of a kernel with `features`, e.g. `pathtracer-textured-environment`. */
export function kernelVariant(features: KernelFeatures): string {
  const on = (Object.keys(features) as (keyof KernelFeatures)[]).filter((k) => features[k])
  return ['pathtracer', ...on].join('-')
}

/** No optional feature: the kernel of an untextured scene lit by emissive triangles alone. */
export const PLAIN_KERNEL: KernelFeatures = Object.freeze({
  alphaTested: false,
  transmissive: false,
  coated: false,
  sheened: false,
  textured: false,
  vertexColored: false,
  punctual: false,
  environment: false,
})
