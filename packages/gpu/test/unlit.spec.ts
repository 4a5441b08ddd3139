import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsUnlit } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, renderTileCpu } from '../src/index.js'
import type { Engine, Material, RenderTileOptions, Scene } from '../src/index.js'
import { pane } from './helpers/render.js'

const SKY: Material = {
  name: 'sky',
  baseColor: [0.2, 0.5, 0.8],
  metallic: 0,
  roughness: 1,
  emissive: [0, 0, 0],
  unlit: true,
}
const SIDE = 8

/** Panes facing +z, each with its material, seen head-on from (0, 0, 3) through a field of view `halfWidth` wide. */
function scene(parts: Array<{ corners: number[]; material: Material }>, halfWidth = 0.5): Scene {
  const vertices = Float32Array.from(parts.flatMap((p) => p.corners))
  return packScene({
    vertices,
    normals: new Float32Array(vertices.length),
    materialIndex: Uint32Array.from(parts.flatMap((p, i) => Array<number>(p.corners.length / 9).fill(i))),
    materials: parts.map((p) => p.material),
    camera: {
      position: [0, 0, 3],
      forward: [0, 0, -1],
      right: [1, 0, 0],
      up: [0, 1, 0],
      yfov: 2 * Math.atan(halfWidth / 3),
    },
  })
}

function tile(s: Scene): RenderTileOptions {
  return { scene: s, frame: 0, imageWidth: SIDE, imageHeight: SIDE, x: 0, y: 0, width: SIDE, height: SIDE, samples: 16 }
}

function mean(pixels: Float32Array, c: number): number {
  let sum = 0
  for (let i = c; i < pixels.length; i += 4) sum += pixels[i]!
  return sum / (pixels.length / 4)
}

describe('unlit materials (KHR_materials_unlit)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const renders = [
    ['cpu', async (s: Scene) => renderTileCpu(tile(s)).pixels],
    ['gpu', async (s: Scene) => (await engine.renderTile(tile(s))).pixels],
  ] as const

  it('should show its base colour as it is, with no light in the scene, where a lit material shows black', async () => {
    for (const [name, render] of renders) {
      const unlit = await render(scene([{ corners: pane(0, 2), material: SKY }]))
      SKY.baseColor.forEach((c, k) => expect(mean(unlit, k), `${name} channel ${k}`).toBeCloseTo(c, 5))
      const lit = await render(scene([{ corners: pane(0, 2), material: { ...SKY, unlit: false } }]))
      expect(mean(lit, 2), name).toBe(0)
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
      const seen = mean(await render(s), 0)
      expect(seen, name).toBeGreaterThan(0.8)
      expect(seen, name).toBeLessThanOrEqual(1.0001)
    }
  })

  it('should read KHR_materials_unlit', async () => {
    const doc = new Document()
    const buffer = doc.createBuffer()
    const root = doc.createScene()
    doc.getRoot().setDefaultScene(root)
    const m = doc
      .createMaterial('scan')
      .setExtension('KHR_materials_unlit', doc.createExtension(KHRMaterialsUnlit).createUnlit())
    const positions = Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0])
    const prim = doc
      .createPrimitive()
      .setMaterial(m)
      .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(positions).setBuffer(buffer))
    root.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
    const loaded = await loadScene(await new WebIO().registerExtensions([KHRMaterialsUnlit]).writeBinary(doc))
    expect(loaded.materialList[0]!.unlit).toBe(true)
    expect(loaded.unlit).toBe(true)
  })
})
