import type { Scene } from '../scene/scene.js'

/**
 * The shares of next-event estimation's light samples that go to the punctual lights and to the environment; the
 * emissive triangles take the rest. Each kind the scene has gets an equal share, except that a scene without a
 * sampled environment keeps the split it always had (half to punctual lights when it also has emissive triangles),
 * so its renders do not change. Exact in f32, so the kernel and the CPU reference use the very same numbers.
 */
export function lightShares(scene: Scene): { punctual: number; environment: number } {
  const punctual = scene.punctualCount > 0
  const emissive = scene.lightCount > 0
  const environment = (scene.environment?.power ?? 0) > 0
  if (!environment) return { punctual: punctual ? (emissive ? 0.5 : 1) : 0, environment: 0 }
  const kinds = 1 + (punctual ? 1 : 0) + (emissive ? 1 : 0)
  return { punctual: punctual ? Math.fround(1 / kinds) : 0, environment: Math.fround(1 / kinds) }
}
