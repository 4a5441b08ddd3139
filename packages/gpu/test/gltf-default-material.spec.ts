import { describe, expect, it } from 'vitest'
import { loadScene, renderTileCpu } from '../src/index.js'
import { quadGltf, type QuadJson } from './helpers/gltf.js'
import { meanRed, wholeTile } from './helpers/render.js'

/** The quad lit by a point light in front of it and seen by a camera behind that, with `material` or none. */
function litQuad(material: Record<string, unknown> | undefined): Uint8Array {
  return quadGltf((j: QuadJson) => {
    j.extensionsUsed = ['KHR_lights_punctual']
    j.extensions = { KHR_lights_punctual: { lights: [{ type: 'point', intensity: 3 }] } }
    j.cameras = [{ type: 'perspective', perspective: { yfov: 0.5, znear: 0.1 } }]
    j.nodes.push(
      { camera: 0, translation: [0, 0, 2] },
      { extensions: { KHR_lights_punctual: { light: 0 } }, translation: [0, 0, 1] },
    )
    j.scenes[0]!.nodes.push(1, 2)
    if (material !== undefined) {
      j.materials = [material]
      j.meshes[0]!.primitives[0]!.material = 0
    }
  })
}

describe('a primitive without a material (glTF 2.0 section 3.9.6)', () => {
  it('should take every default of a material, as one whose material is {} does', async () => {
    const none = await loadScene(litQuad(undefined))
    const empty = await loadScene(litQuad({}))
    expect(none.materialList[0]).toMatchObject({ baseColor: [1, 1, 1], metallic: 1, roughness: 1, emissive: [0, 0, 0] })
    expect({ ...none.materialList[0], name: '' }).toEqual({ ...empty.materialList[0], name: '' })
    const tile = (scene: typeof none) => renderTileCpu(wholeTile(scene, 16, { maxDepth: 1 })).pixels
    expect(meanRed(tile(none))).toBeGreaterThan(0)
    expect(tile(none)).toEqual(tile(empty))
  })
})
