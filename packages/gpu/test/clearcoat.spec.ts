import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsClearcoat } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, renderTileCpu } from '../src/index.js'
import type { Engine, Material, PunctualLight, RenderTileOptions, Scene, Vec3 } from '../src/index.js'
import { SurfaceBrdf, type BrdfMaterial } from '../src/render/brdf.js'
import { headOnAlbedo, samplingReport } from './helpers/bsdf.js'
import { meanRed, pane, paneScene, renderBoth, wholeTile } from './helpers/render.js'

/** A glossy red dielectric under a smooth clearcoat: the layer of varnish or car paint. */
const PAINT: Material = {
  name: 'paint',
  baseColor: [0.6, 0.05, 0.05],
  metallic: 0,
  roughness: 0.6,
  emissive: [0, 0, 0],
  clearcoat: 1,
  clearcoatRoughness: 0.05,
}

/** The BSDF inputs of `m` (glTF's default ior). */
function inputs(m: Material): BrdfMaterial {
  const [r, g, b] = m.baseColor
  return {
    r,
    g,
    b,
    metallic: m.metallic,
    roughness: m.roughness,
    f0r: 0.04,
    f0g: 0.04,
    f0b: 0.04,
    specular: 1,
    transmission: m.transmission ?? 0,
    clearcoat: m.clearcoat ?? 0,
    clearcoatRoughness: m.clearcoatRoughness ?? 0,
  }
}

const tile = (s: Scene, extra: Partial<RenderTileOptions> = {}): RenderTileOptions =>
  wholeTile(s, 4, { samples: 64, maxDepth: 2, ...extra })

describe('clearcoat (KHR_materials_clearcoat)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it("should add the coat's highlight over the glossy base", async () => {
    // A point light at the mirror direction of a head-on view: the coat's sharper lobe adds its Fresnel (0.04) times
    // D V, far above the rough base's. (Roughness 0.2: a near-mirror's D at the mirror direction swings by percents
    // with the f32 rounding of the directions, on either implementation.)
    const paint = { ...PAINT, clearcoatRoughness: 0.2 }
    const light: PunctualLight = { type: 'point', position: [0, 0, 2], direction: [0, 0, -1], intensity: [2, 2, 2] }
    const options = { samples: 4, maxDepth: 1 }
    const render = async (m: Material): Promise<[number, number]> => {
      const s = paneScene([{ corners: pane(0, 5), material: m }], [light])
      expect(s.coated).toBe((m.clearcoat ?? 0) > 0)
      return [
        meanRed(renderTileCpu(tile(s, options)).pixels),
        meanRed((await engine.renderTile(tile(s, options))).pixels),
      ]
    }
    const brdf = new SurfaceBrdf()
    brdf.set(0, 0, 1, 0, 0, 1, inputs(paint))
    brdf.evaluate(0, 0, 1)
    const expected = (brdf.fr * 2) / 4 // f * cos * I / d², d = 2
    const [cpu, gpu] = await render(paint)
    expect(cpu / expected).toBeCloseTo(1, 3)
    expect(gpu / expected).toBeCloseTo(1, 3)
    const [bare] = await render({ ...paint, clearcoat: 0 })
    expect(cpu / bare).toBeGreaterThan(3)
  })

  it('should sample the coat as it evaluates it: every drawn direction counted, and an unbiased estimator', () => {
    // Lobes broad enough for the brute-force grid to resolve (a sharper coat is sampled the same way). An opaque
    // material loses the reflections drawn below its horizon (f is 0 there, so nothing is biased): the pdf's mass
    // is 1 less that share. With transmission every drawn direction is counted, above or below.
    const opaque = samplingReport(inputs({ ...PAINT, clearcoatRoughness: 0.3 }), [0.6, 0, 0.8])
    const glass = samplingReport(inputs({ ...PAINT, clearcoatRoughness: 0.4, transmission: 0.6 }), [0.6, 0, 0.8])
    for (const report of [opaque, glass]) {
      expect(report.mass + (report.below - report.massBelow)).toBeCloseTo(1, 2)
      expect(report.sampled / report.integrated).toBeCloseTo(1, 2)
    }
    expect(opaque.massBelow).toBeLessThan(1e-3)
    expect(glass.mass).toBeCloseTo(1, 2)
  })

  it('should conserve energy in a white furnace: a coated plane shows its albedo, on the CPU and the GPU alike', async () => {
    // Under a uniform white sky every path ends in the sky after the plane: each pixel is the coated plane's
    // directional albedo, which the coat's and the base's reflections share.
    const white: Material = { ...PAINT, baseColor: [1, 1, 1], clearcoatRoughness: 0.3 }
    const { albedo } = headOnAlbedo(inputs(white))
    expect(albedo).toBeLessThanOrEqual(1)
    const options = tile(paneScene([{ corners: pane(0, 5), material: white }]), { background: [1, 1, 1], samples: 256 })
    const both = await renderBoth(engine, options)
    expect(both.cpu / albedo).toBeCloseTo(1, 1)
    expect(both.gpu / albedo).toBeCloseTo(1, 1)
    expect(both.psnr).toBeGreaterThan(60)
  })

  it('should read KHR_materials_clearcoat from glTF, bounded to [0, 1]; a material without it has no coat', async () => {
    const doc = new Document()
    const buffer = doc.createBuffer()
    const extension = doc.createExtension(KHRMaterialsClearcoat)
    const coated = doc
      .createMaterial('coated')
      .setExtension(
        'KHR_materials_clearcoat',
        extension.createClearcoat().setClearcoatFactor(0.7).setClearcoatRoughnessFactor(3),
      )
    const plain = doc.createMaterial('plain')
    const triangle = (material: typeof plain, z: number) =>
      doc
        .createPrimitive()
        .setAttribute(
          'POSITION',
          doc
            .createAccessor()
            .setType('VEC3')
            .setArray(new Float32Array([0, 0, z, 1, 0, z, 0, 1, z]))
            .setBuffer(buffer),
        )
        .setMaterial(material)
    const mesh = doc.createMesh().addPrimitive(triangle(coated, 0)).addPrimitive(triangle(plain, 1))
    doc.getRoot().setDefaultScene(doc.createScene().addChild(doc.createNode().setMesh(mesh)))
    const scene = await loadScene(await new WebIO().registerExtensions([KHRMaterialsClearcoat]).writeBinary(doc))
    const byName = (name: string) => scene.materialList.find((m) => m.name === name)!
    expect(byName('coated').clearcoat).toBeCloseTo(0.7, 6)
    expect(byName('coated').clearcoatRoughness).toBe(1)
    expect(byName('plain').clearcoat).toBeUndefined()
    expect(scene.coated).toBe(true)
    const bad: Vec3 = [0, 0, 0]
    expect(() => paneScene([{ corners: pane(0, 1), material: { ...PAINT, emissive: bad, clearcoat: 2 } }])).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }),
    )
  })
})
