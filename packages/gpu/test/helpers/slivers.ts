import { packScene } from '../../src/index.js'
import type { Scene } from '../../src/index.js'

/**
 * `count` identical sliver triangles from the view's lower left corner to `top` (the y of their thin upper edge, in
 * [-1, 1]) on the right: every ray through the slivers' box enters every box of the BVH, so each costs a walk over
 * all of them (about 7,000 rays/s on lavapipe at 20,000 triangles; the image is mostly background). `top` 1 spans the
 * whole view; 0 its lower half, under rays that miss the root box and cost next to nothing.
 */
export function sliverScene(count: number, top = 1): Scene {
  const vertices = new Float32Array(count * 9)
  const normals = new Float32Array(count * 9)
  for (let i = 0; i < count; i++) {
    vertices.set([-1, -1, 0, 1, top, 0, 1, top + 0.001, 0], i * 9)
    normals.set([0, 0, 1, 0, 0, 1, 0, 0, 1], i * 9)
  }
  return packScene({
    vertices,
    normals,
    materialIndex: new Uint32Array(count),
    materials: [{ name: 'grey', baseColor: [0.8, 0.8, 0.8], metallic: 0, roughness: 1, emissive: [0, 0, 0] }],
    camera: { position: [0, 0, 2], forward: [0, 0, -1], up: [0, 1, 0], right: [1, 0, 0], yfov: 1.2 },
  })
}
