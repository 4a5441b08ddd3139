import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsUnlit } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene } from '../src/index.js'
import type { Engine, Material, RenderTileOptions, Scene } from '../src/index.js'
import { addTriangle } from './helpers/gltf.js'
import { bothRenderers, cameraOnZ, channelMean, pane, partsScene, wholeTile } from './helpers/render.js'

const SKY: Material = {
  name: 'sky',
  baseColor: [0.2, 0.5, 0.8],
  metallic: 0,
  roughness: 1,
  emissive: [0, 0, 0],
  unlit: true,
}
const SIDE = 8

/** Panes, each with its material, seen from (0, 0, 3) through a view `halfWidth` tall either side of the centre. */
const scene = (parts: Array<{ corners: number[]; material: Material }>, halfWidth = 0.5): Scene =>
  partsScene(parts, cameraOnZ(3, halfWidth))

const tile = (s: Scene): RenderTileOptions => wholeTile(s, SIDE, { samples: 16 })

describe('unlit materials (KHR_materials_unlit)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const renders = bothRenderers(() => engine, tile)

  it('should show its base colour as it is, with no light in the scene, where a lit material shows black', async () => {
    for (const [name, render] of renders) {
      const unlit = await render(scene([{ corners: pane(0, 2), material: SKY }]))
      SKY.baseColor.forEach((c, k) => expect(channelMean(unlit, k), `${name} channel ${k}`).toBeCloseTo(c, 5))
      const lit = await render(scene([{ corners: pane(0, 2), material: { ...SKY, unlit: false } }]))
      expect(channelMean(lit, 2), name).toBe(0)
    }
  })

  it('should light what it faces, by the rays that meet it, without being a light that samples aim at', async () => {
    // A white diffuse pane facing the camera, and behind the camera a large unlit pane facing it back: the only
    // light in the scene, which only bounces off the white pane can find.
    const white: Material = { name: 'white', baseColor: [1, 1, 1], metallic: 0, roughness: 1, emissive: [0, 0, 0] }
    // The unlit pane at z = 4 (behind the camera at z = 3) faces -z, towards the white pane at z = 0.
    const behind = pane(4, 50)
    const facingBack: number[] = []
    for (let t = 0; t < behind.length; t += 9) {
      facingBack.push(...behind.slice(t, t + 3), ...behind.slice(t + 6, t + 9), ...behind.slice(t + 3, t + 6))
    }
    const s = scene([
      { corners: pane(0, 2), material: white },
      { corners: facingBack, material: { ...SKY, baseColor: [1, 1, 1] } },
    ])
    expect(s.lightCount).toBe(0)
    for (const [name, render] of renders) {
      // A white Lambertian surface under a uniform hemisphere of radiance 1 reflects radiance 1; the unlit pane
      // fills most of that hemisphere.
      const seen = channelMean(await render(s), 0)
      expect(seen, name).toBeGreaterThan(0.8)
      expect(seen, name).toBeLessThanOrEqual(1.0001)
    }
  })

  it('should read KHR_materials_unlit', async () => {
    const doc = new Document()
    const unlit = doc.createExtension(KHRMaterialsUnlit).createUnlit()
    addTriangle(doc, doc.createMaterial('scan').setExtension('KHR_materials_unlit', unlit))
    const loaded = await loadScene(await new WebIO().registerExtensions([KHRMaterialsUnlit]).writeBinary(doc))
    expect(loaded.materialList[0]!.unlit).toBe(true)
    expect(loaded.unlit).toBe(true)
  })
})
