import { describe, expect, it } from 'vitest'
import { assertObjectsWithin, MAX_GLTF_OBJECTS, SceneTimeline } from '../src/index.js'

/** glTF JSON of `nodes` empty nodes and one mesh of `primitives` primitives: only its counts matter. */
function listing(nodes: number, primitives = 0): Record<string, unknown> {
  return {
    asset: { version: '2.0' },
    nodes: Array.from({ length: nodes }, () => ({})),
    meshes: [{ primitives: Array.from({ length: primitives }, () => ({ attributes: {} })) }],
  }
}

describe('glTF object bound', () => {
  it('should count every listed object, a mesh and its primitives each, up to the bound', () => {
    expect(() => assertObjectsWithin(listing(MAX_GLTF_OBJECTS - 11, 10))).not.toThrow()
    expect(() => assertObjectsWithin(listing(MAX_GLTF_OBJECTS - 10, 10))).toThrow(
      expect.objectContaining({
        code: 'GPU__SCENE_TOO_LARGE',
        context: { objects: MAX_GLTF_OBJECTS + 1, limit: MAX_GLTF_OBJECTS },
      }),
    )
    // Morph targets and punctual lights are properties too.
    const targets = listing(MAX_GLTF_OBJECTS - 2, 1)
    ;(targets.meshes as { primitives: Record<string, unknown>[] }[])[0]!.primitives[0]!.targets = [{}]
    expect(() => assertObjectsWithin(targets)).toThrow(expect.objectContaining({ code: 'GPU__SCENE_TOO_LARGE' }))
    const lights = { ...listing(MAX_GLTF_OBJECTS - 1), extensions: { KHR_lights_punctual: { lights: [{}] } } }
    expect(() => assertObjectsWithin(lights)).toThrow(expect.objectContaining({ code: 'GPU__SCENE_TOO_LARGE' }))
    // A list that is not one is the parser's to refuse, not counted here.
    expect(() => assertObjectsWithin({ nodes: 'many', meshes: [null, { primitives: 7 }] })).not.toThrow()
  })

  it(`should refuse an asset listing more than ${MAX_GLTF_OBJECTS} objects before it is parsed`, async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(listing(MAX_GLTF_OBJECTS)))
    await expect(SceneTimeline.load(bytes)).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { objects: MAX_GLTF_OBJECTS + 1 },
    })
  })
})
