import { WebIO } from '@gltf-transform/core'
import type { Document, Material as GltfMaterial, Primitive } from '@gltf-transform/core'
import { KHRTextureTransform } from '@gltf-transform/extensions'
import { encode as encodePng } from 'fast-png'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, generateSceneDocument, loadScene, psnr, renderTileCpu, TOLERANCE } from '../src/index.js'
import type { Engine, RenderTileOptions, Scene } from '../src/index.js'
import { TEXTURE_ROWS, TEXTURE_SLOTS, MATERIAL_FLOATS } from '../src/scene/scene.js'
import { rejectionCode } from './helpers/errors.js'

/**
 * The procedural room with its checkered floor, edited by `edit` (which gets the floor's material and primitive),
 * loaded with KHR_texture_transform known.
 */
async function room(edit: (doc: Document, floor: GltfMaterial, prim: Primitive) => void): Promise<Scene> {
  const doc = generateSceneDocument({ texturedFloor: true, spheres: 1, subdivisions: 1 })
  const floor = doc
    .getRoot()
    .listMaterials()
    .find((m) => m.getName() === 'floor')!
  const prim = doc
    .getRoot()
    .listMeshes()
    .flatMap((m) => m.listPrimitives())
    .find((p) => p.getMaterial() === floor)!
  edit(doc, floor, prim)
  return loadScene(await new WebIO().registerExtensions([KHRTextureTransform]).writeBinary(doc))
}

/** The primitive's TEXCOORD_0 mapped by (u, v) to (2u + 0.5, 2v), into `semantic`. */
function scaledCoordinates(doc: Document, prim: Primitive, semantic: string): void {
  const uv = prim.getAttribute('TEXCOORD_0')!.getArray() as Float32Array
  const scaled = Float32Array.from(uv, (x, i) => (i % 2 === 0 ? 2 * x + 0.5 : 2 * x))
  prim.setAttribute(
    semantic,
    doc.createAccessor().setType('VEC2').setArray(scaled).setBuffer(doc.getRoot().listBuffers()[0]!),
  )
}

const tile = (scene: Scene): RenderTileOptions => ({
  scene,
  frame: 1,
  imageWidth: 48,
  imageHeight: 48,
  x: 0,
  y: 0,
  width: 48,
  height: 48,
  samples: 4,
})

describe('texture coordinates: KHR_texture_transform per texture, TEXCOORD_1', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should sample a texture through its transform as at coordinates transformed beforehand', async () => {
    const transformed = await room((doc, floor) => {
      const transform = doc.createExtension(KHRTextureTransform).createTransform().setScale([2, 2]).setOffset([0.5, 0])
      floor.getBaseColorTextureInfo()!.setExtension('KHR_texture_transform', transform)
    })
    const floor = transformed.materialList.find((m) => m.name === 'floor')!
    expect(floor.baseColorTexture?.transform?.map((x) => x + 0)).toEqual([2, 0, 0.5, 0, 2, 0])
    const moved = await room((doc, _, prim) => scaledCoordinates(doc, prim, 'TEXCOORD_0'))
    const cpu = renderTileCpu(tile(transformed)).pixels
    // The same coordinates up to f32 rounding in a different order: the same texels but at a few borders.
    expect(psnr(cpu, renderTileCpu(tile(moved)).pixels)).toBeGreaterThan(50)
    expect(psnr(cpu, (await engine.renderTile(tile(transformed))).pixels)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should sample a texture at TEXCOORD_1 when its texture info names that set', async () => {
    const second = await room((doc, floor, prim) => {
      scaledCoordinates(doc, prim, 'TEXCOORD_1')
      floor.getBaseColorTextureInfo()!.setTexCoord(1)
    })
    expect(second.uv1Offset).toBeGreaterThan(0)
    const moved = await room((doc, _, prim) => scaledCoordinates(doc, prim, 'TEXCOORD_0'))
    const cpu = renderTileCpu(tile(second)).pixels
    // The very coordinates, from the other set: the same bits.
    expect(Array.from(cpu)).toEqual(Array.from(renderTileCpu(tile(moved)).pixels))
    expect(psnr(cpu, (await engine.renderTile(tile(second))).pixels)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should give each texture of a material its own set and transform', async () => {
    const png = encodePng({ width: 2, height: 2, data: new Uint8Array(16).fill(200), channels: 4 })
    const scene = await room((doc, floor, prim) => {
      scaledCoordinates(doc, prim, 'TEXCOORD_1')
      const ext = doc.createExtension(KHRTextureTransform)
      floor.getBaseColorTextureInfo()!.setExtension('KHR_texture_transform', ext.createTransform().setScale([3, 3]))
      floor.setEmissiveFactor([1, 1, 1]).setEmissiveTexture(doc.createTexture().setImage(png).setMimeType('image/png'))
      floor.getEmissiveTextureInfo()!.setTexCoord(1)
      floor.setMetallicRoughnessTexture(doc.createTexture().setImage(png).setMimeType('image/png'))
      floor
        .getMetallicRoughnessTextureInfo()!
        .setExtension('KHR_texture_transform', ext.createTransform().setRotation(1))
    })
    const index = scene.materialList.findIndex((m) => m.name === 'floor')
    const words = new Uint32Array(scene.materials.buffer)
    const sampler = (slot: (typeof TEXTURE_SLOTS)[number]): number =>
      words[index * MATERIAL_FLOATS + TEXTURE_ROWS[TEXTURE_SLOTS.indexOf(slot)]! * 4 + 3]!
    // Bit 6 names the set; bits 8 and up a transform: two distinct ones, and none for the emissive texture.
    const [base, emissive, mr] = ['baseColorTexture', 'emissiveTexture', 'metallicRoughnessTexture'].map((s) =>
      sampler(s as (typeof TEXTURE_SLOTS)[number]),
    )
    expect([(base! >>> 6) & 1, (emissive! >>> 6) & 1, (mr! >>> 6) & 1]).toEqual([0, 1, 0])
    expect(base! >>> 8).toBeGreaterThan(0)
    expect(mr! >>> 8).toBeGreaterThan(0)
    expect(base! >>> 8).not.toBe(mr! >>> 8)
    expect(emissive! >>> 8).toBe(0)
    const cpu = renderTileCpu(tile(scene)).pixels
    expect(psnr(cpu, (await engine.renderTile(tile(scene))).pixels)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should refuse TEXCOORD_2 and a named set the primitive lacks, with coded errors', async () => {
    const third = room((_, floor) => void floor.getBaseColorTextureInfo()!.setTexCoord(2))
    expect(await rejectionCode(third)).toBe('GPU__UNSUPPORTED_TEXTURE')
    const missing = room((_, floor) => void floor.getBaseColorTextureInfo()!.setTexCoord(1))
    expect(await rejectionCode(missing)).toBe('GPU__MALFORMED_SCENE')
  })
})
