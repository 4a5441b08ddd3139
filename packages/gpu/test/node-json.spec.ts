import { Document } from '@gltf-transform/core'
import { describe, expect, it } from 'vitest'
import { loadScene } from '../src/index.js'
import { rejectionCode } from './helpers/errors.js'
import { addTriangle, editedGltf } from './helpers/gltf.js'

/** One triangle under one node, as .gltf bytes with `edit` applied to its JSON. */
async function triangleWith(edit: (json: Record<string, unknown>) => void): Promise<Uint8Array> {
  const doc = new Document()
  addTriangle(doc, doc.createMaterial('white'))
  return editedGltf(doc, (json) => edit(json as unknown as Record<string, unknown>))
}

type Json = Record<string, unknown>
const nodeOf = (json: Json): Json => (json.nodes as Json[])[0]!
const meshOf = (json: Json): Json => (json.meshes as Json[])[0]!

describe('node transforms in the JSON', () => {
  it('should load the triangle as written', async () => {
    expect(await rejectionCode(loadScene(await triangleWith(() => {})))).toBeUndefined()
  })

  it('should refuse a node transform or weights that are not finite numbers of the right length, with a code', async () => {
    const bad: [string, unknown][] = [
      ['translation', null],
      ['rotation', null],
      ['scale', null],
      ['matrix', null],
      ['weights', null],
      ['translation', [0, 0]],
      ['rotation', 'abc'],
      ['scale', {}],
      ['matrix', [1, 2]],
      ['translation', [0, 0, '1']],
      ['weights', [0.5, null]],
    ]
    for (const [property, value] of bad) {
      const gltf = await triangleWith((json) => (nodeOf(json)[property] = value))
      expect(await rejectionCode(loadScene(gltf)), `${property}: ${JSON.stringify(value)}`).toBe('GPU__MALFORMED_SCENE')
    }
    // JSON reads 1e999 as Infinity, which would spread NaN through every world matrix below the node.
    const infinite = new TextEncoder().encode(
      new TextDecoder()
        .decode(await triangleWith((json) => (nodeOf(json).translation = [0, 0, 7])))
        .replace('[0,0,7]', '[0,0,1e999]'),
    )
    expect(await rejectionCode(loadScene(infinite))).toBe('GPU__MALFORMED_SCENE')
    const meshWeights = await triangleWith((json) => (meshOf(json).weights = null))
    expect(await rejectionCode(loadScene(meshWeights))).toBe('GPU__MALFORMED_SCENE')
  })

  it('should refuse a rotation that is not a unit quaternion, and keep one a little off from rounding', async () => {
    for (const rotation of [
      [0, 0, 0, 0],
      [0, 0, 0, 2],
      [0.5, 0.5, 0.5, 0.6],
    ]) {
      const gltf = await triangleWith((json) => (nodeOf(json).rotation = rotation))
      expect(await rejectionCode(loadScene(gltf)), JSON.stringify(rotation)).toBe('GPU__MALFORMED_SCENE')
    }
    // sin and cos of 45 degrees rounded to 6 digits, as exporters write them.
    const rounded = await triangleWith((json) => (nodeOf(json).rotation = [0, 0.382683, 0, 0.92388]))
    expect(await rejectionCode(loadScene(rounded))).toBeUndefined()
  })

  it('should code whatever glTF-Transform throws while the document is flattened', async () => {
    // A base colour of null is kept as it is by the reader, and only reading it fails: no check names it.
    const gltf = await triangleWith((json) => {
      const material = (json.materials as Json[])[0]!
      material.pbrMetallicRoughness = { baseColorFactor: null }
    })
    await expect(loadScene(gltf)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      cause: expect.any(TypeError),
    })
  })
})
