import type { Scene } from '../../src/index.js'
import { TRIANGLE_FLOATS } from '../../src/index.js'

/**
 * A scene's triangles as a set: each one's packed floats and vertex normals in one row, the rows sorted. An animated
 * scene's frames keep the triangle order of the tree they refit, so a frame and a scene built afresh for its pose
 * hold the same triangles in different orders.
 */
export function triangleRows(scene: Pick<Scene, 'triangles' | 'normals' | 'triangleCount'>): string[] {
  const rows: string[] = []
  for (let t = 0; t < scene.triangleCount; t++) {
    const at = t * TRIANGLE_FLOATS
    const floats = [
      ...scene.triangles.subarray(at, at + TRIANGLE_FLOATS),
      ...scene.normals.subarray(at, at + TRIANGLE_FLOATS),
    ]
    rows.push(floats.join(' '))
  }
  return rows.sort()
}
