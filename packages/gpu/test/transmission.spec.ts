import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsTransmission } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, GpuError, loadScene, renderTileCpu } from '../src/index.js'
import type { Engine, Material, PunctualLight, RenderTileOptions, Scene, Vec3 } from '../src/index.js'
import { SurfaceBrdf } from '../src/render/brdf.js'
import { brdfGlass, headOnAlbedo, samplingReport } from './helpers/bsdf.js'
import { CLEAR_GLASS, facingDown, meanRed, pane, paneScene as scene, renderBoth, wholeTile } from './helpers/render.js'

/** A glass pane: white, smooth, all its diffuse let through (KHR_materials_transmission = 1). */
const GLASS = CLEAR_GLASS

const tile = (s: Scene, extra: Partial<RenderTileOptions> = {}): RenderTileOptions =>
  wholeTile(s, 4, { samples: 64, maxDepth: 2, ...extra })

describe('transmission (KHR_materials_transmission, thin-walled)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** An emissive wall (radiance 2) at z = -1, behind a pane of `material` at z = 1. */
  const wallBehind = (material: Material): Scene =>
    scene([
      { corners: pane(1, 1), material },
      {
        corners: pane(-1, 20),
        material: { ...GLASS, name: 'wall', baseColor: [0, 0, 0], transmission: 0, emissive: [2, 2, 2] },
      },
    ])

  it('should show what lies behind smooth glass, less what its Fresnel layer reflects', async () => {
    // Seen head-on the layer reflects F0 = 0.04 of the light, so 96% of the wall's radiance comes through.
    const glass = wallBehind(GLASS)
    expect(glass.transmissive).toBe(true)
    const expected = 2 * 0.96
    expect(meanRed(renderTileCpu(tile(glass)).pixels) / expected).toBeCloseTo(1, 1)
    expect(meanRed((await engine.renderTile(tile(glass))).pixels) / expected).toBeCloseTo(1, 1)
    // The same pane, opaque, hides the wall: its front faces away from the only light.
    const opaque = wallBehind({ ...GLASS, transmission: 0 })
    expect(opaque.transmissive).toBe(false)
    expect(meanRed(renderTileCpu(tile(opaque)).pixels)).toBeLessThan(0.01)
    expect(meanRed((await engine.renderTile(tile(opaque))).pixels)).toBeLessThan(0.01)
  })

  it('should tint what passes by the base colour and scale it by the transmission factor', async () => {
    const tinted = wallBehind({ ...GLASS, baseColor: [0.5, 0.5, 0.5], transmission: 0.5 })
    // Half the diffuse share passes, tinted by 0.5; the other half is diffuse, lit by nothing on the camera's side.
    const expected = 2 * 0.96 * 0.5 * 0.5
    expect(meanRed(renderTileCpu(tile(tinted)).pixels) / expected).toBeCloseTo(1, 1)
    expect(meanRed((await engine.renderTile(tile(tinted))).pixels) / expected).toBeCloseTo(1, 1)
  })

  it('should light rough glass from behind by next-event estimation, through its far side', async () => {
    // A point light behind a rough pane: no bounce can find a point, so only light samples through the pane
    // (origin behind it, |cos|, the transmission lobe) can show it. One segment: direct light only.
    const light: PunctualLight = { type: 'point', position: [0, 0, 0], direction: [0, 0, -1], intensity: [4, 4, 4] }
    const rough = { ...GLASS, roughness: 1 }
    const s = scene([{ corners: pane(1, 1), material: rough }], [light])
    const brdf = new SurfaceBrdf()
    brdf.set(0, 0, 1, 0, 0, 1, brdfGlass(1, 1, 1))
    brdf.evaluate(0, 0, -1)
    expect(brdf.fr).toBeGreaterThan(0)
    const expected = brdf.fr * 1 * 4 // f * |cos| * I / d², d = 1
    const options = { samples: 4, maxDepth: 1 }
    expect(meanRed(renderTileCpu(tile(s, options)).pixels) / expected).toBeCloseTo(1, 3)
    expect(meanRed((await engine.renderTile(tile(s, options))).pixels) / expected).toBeCloseTo(1, 3)
    const opaque = scene([{ corners: pane(1, 1), material: { ...rough, transmission: 0 } }], [light])
    expect(meanRed(renderTileCpu(tile(opaque, options)).pixels)).toBe(0)
    expect(meanRed((await engine.renderTile(tile(opaque, options))).pixels)).toBe(0)
  })

  it('should let shadow rays to punctual lights through thin glass, and those to emissive triangles not', async () => {
    // A floor at z = 0 seen head-on at its origin, lit by a point light at (1, 0, 2) through a small pane at z = 1
    // that the camera's rays miss. One segment: the floor's light sample only. Smooth glass lets through what its
    // Fresnel layer does not reflect at the shadow ray's angle.
    const floor: Material = { ...GLASS, name: 'floor', baseColor: [0.8, 0.8, 0.8], roughness: 1, transmission: 0 }
    const light: PunctualLight = { type: 'point', position: [1, 0, 2], direction: [0, 0, -1], intensity: [5, 5, 5] }
    const lit = (window: Material): Scene =>
      scene(
        [
          { corners: pane(0, 20), material: floor },
          { corners: pane(1, 0.2, 0.5), material: window },
        ],
        [light],
      )
    const l: Vec3 = [1 / Math.sqrt(5), 0, 2 / Math.sqrt(5)]
    const brdf = new SurfaceBrdf()
    brdf.set(0, 0, 1, 0, 0, 1, brdfGlass(0.8, 1, 0))
    brdf.evaluate(...l)
    const open = (brdf.fr * l[2] * 5) / 5
    const fresnel = 0.04 + 0.96 * (1 - l[2]) ** 5
    const options = { samples: 4, maxDepth: 1 }
    const glass = lit({ ...GLASS, baseColor: [0.5, 0.5, 0.5] })
    for (const pixels of [
      renderTileCpu(tile(glass, options)).pixels,
      (await engine.renderTile(tile(glass, options))).pixels,
    ]) {
      expect(meanRed(pixels) / (open * (1 - fresnel) * 0.5)).toBeCloseTo(1, 3)
    }
    const opaque = lit({ ...GLASS, transmission: 0 })
    expect(meanRed(renderTileCpu(tile(opaque, options)).pixels)).toBe(0)
    expect(meanRed((await engine.renderTile(tile(opaque, options))).pixels)).toBe(0)
    // An emissive lamp above the pane is found through it only by bounces, which one segment does not have: its
    // light samples stop at the glass, so nothing counts that light twice.
    const lampAbove = (quads: Array<{ corners: number[]; material: Material }>): Scene =>
      scene([
        { corners: pane(0, 20), material: floor },
        ...quads,
        { corners: facingDown(pane(2, 0.1, 1)), material: { ...floor, name: 'lamp', emissive: [50, 50, 50] } },
      ])
    const behindGlass = lampAbove([{ corners: pane(1, 0.2, 0.5), material: GLASS }])
    expect(meanRed(renderTileCpu(tile(behindGlass, options)).pixels)).toBe(0)
    expect(meanRed((await engine.renderTile(tile(behindGlass, options))).pixels)).toBe(0)
    expect(meanRed(renderTileCpu(tile(lampAbove([]), options)).pixels)).toBeGreaterThan(0.01)
  })

  it('should sample the lobes as it evaluates them: a pdf that integrates to 1, and an unbiased estimator', () => {
    // For a fixed viewer, over the whole sphere: the pdf integrates to 1 (every drawn direction is counted by the
    // lobes that can draw it, above or below the surface), the share of samples below matches the pdf's mass
    // there, and the mean of f |cos| / pdf over samples matches f |cos| integrated by brute force.
    const report = samplingReport(brdfGlass(0.9, 0.5, 0.7), [0.6, 0, 0.8])
    expect(report.mass).toBeCloseTo(1, 2)
    expect(report.below).toBeCloseTo(report.massBelow, 2)
    expect(report.massBelow).toBeGreaterThan(0.5)
    expect(report.sampled / report.integrated).toBeCloseTo(1, 2)
  })

  it('should conserve what a rough pane scatters: in a white furnace it shows its albedo, reflected plus let through', async () => {
    // Under a uniform white sky every path ends in the sky after the pane, on either side, so each pixel is the
    // pane's directional albedo: f |cos| integrated over the whole sphere (by brute force here).
    const rough = { ...GLASS, baseColor: [0.9, 0.9, 0.9] as Vec3, roughness: 0.5, transmission: 0.8 }
    const { albedo, through } = headOnAlbedo(brdfGlass(0.9, 0.5, 0.8))
    expect(through / albedo).toBeGreaterThan(0.5)
    const options = tile(scene([{ corners: pane(1, 1), material: rough }]), { background: [1, 1, 1], samples: 256 })
    const both = await renderBoth(engine, options)
    expect(both.cpu / albedo).toBeCloseTo(1, 1)
    expect(both.gpu / albedo).toBeCloseTo(1, 1)
    expect(both.psnr).toBeGreaterThan(60)
  })

  it('should read KHR_materials_transmission from glTF, bounded to [0, 1], and refuse a packed value outside it', async () => {
    const doc = new Document()
    const buffer = doc.createBuffer()
    const extension = doc.createExtension(KHRMaterialsTransmission)
    const material = doc
      .createMaterial('glass')
      .setExtension('KHR_materials_transmission', extension.createTransmission().setTransmissionFactor(0.8))
    const positions = doc
      .createAccessor()
      .setType('VEC3')
      .setArray(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]))
      .setBuffer(buffer)
    const prim = doc.createPrimitive().setAttribute('POSITION', positions).setMaterial(material)
    const node = doc.createNode().setMesh(doc.createMesh().addPrimitive(prim))
    doc.getRoot().setDefaultScene(doc.createScene().addChild(node))
    const loaded = await loadScene(await new WebIO().registerExtensions([KHRMaterialsTransmission]).writeBinary(doc))
    expect(loaded.materialList[0]!.transmission).toBeCloseTo(0.8, 6)
    expect(loaded.transmissive).toBe(true)

    material.setExtension('KHR_materials_transmission', extension.createTransmission().setTransmissionFactor(7))
    const clamped = await loadScene(await new WebIO().registerExtensions([KHRMaterialsTransmission]).writeBinary(doc))
    expect(clamped.materialList[0]!.transmission).toBe(1)

    const bad = (): Scene => scene([{ corners: pane(0, 1), material: { ...GLASS, transmission: 1.5 } }])
    expect(bad).toThrow(GpuError)
    expect(bad).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }))
  })
})
