import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsSheen } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, psnr, renderTileCpu, TOLERANCE } from '../src/index.js'
import type { Engine, Material, PunctualLight, Scene } from '../src/index.js'
import type { BrdfMaterial } from '../src/render/brdf.js'
import {
  charlieDistribution,
  MIN_SHEEN_ROUGHNESS,
  sheenAlbedo,
  sheenAlbedoTable,
  sheenVisibility,
} from '../src/render/sheen.js'
import { samplingReport } from './helpers/bsdf.js'
import { errorCode } from './helpers/errors.js'
import { addTriangle } from './helpers/gltf.js'
import { cameraOnZ, channelMean, pane, partsScene, wholeTile } from './helpers/render.js'

/** A grey dielectric of glTF's defaults under a sheen of colour (c, c, c) and perceptual roughness r. */
function velvet(grey: number, c: number, r: number): BrdfMaterial {
  const f0 = 0.04
  return {
    r: grey,
    g: grey,
    b: grey,
    metallic: 0,
    roughness: 0.8,
    f0r: f0,
    f0g: f0,
    f0b: f0,
    specular: 1,
    sheenR: c,
    sheenG: c,
    sheenB: c,
    sheenRoughness: r,
  }
}

/** The Charlie lobe's directional albedo at cos nv and roughness r by the midpoint rule over θ and φ (not cos θ). */
function albedoByAngles(nv: number, r: number, steps = 400): number {
  const alpha = r * r
  const vx = Math.sqrt(1 - nv * nv)
  let sum = 0
  for (let a = 0; a < steps; a++) {
    const theta = ((a + 0.5) / steps) * (Math.PI / 2)
    const [nl, sl] = [Math.cos(theta), Math.sin(theta)]
    for (let b = 0; b < steps; b++) {
      const phi = ((b + 0.5) / steps) * 2 * Math.PI
      const [lx, ly] = [sl * Math.cos(phi), sl * Math.sin(phi)]
      const nh = (nv + nl) / Math.hypot(vx + lx, ly, nv + nl)
      sum += charlieDistribution(alpha, nh) * sheenVisibility(nl, nv) * nl * sl
    }
  }
  return sum * (Math.PI / 2 / steps) * ((2 * Math.PI) / steps)
}

describe('sheen (KHR_materials_sheen)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it("should tabulate the Charlie lobe's directional albedo as an independent integral finds it", () => {
    const table = sheenAlbedoTable()
    const side = 16
    for (const [i, j] of [
      [15, 15],
      [8, 6],
      [3, 4],
      [13, 1],
      [1, 0],
    ] as const) {
      // The table's own sample points, where bilinear lookup adds nothing: n·v and roughness as it places them.
      const nv = 0.001 + (0.999 * i) / (side - 1)
      const r = MIN_SHEEN_ROUGHNESS + ((1 - MIN_SHEEN_ROUGHNESS) * j) / (side - 1)
      const expected = albedoByAngles(nv, r)
      const got = sheenAlbedo(table, nv, r)
      expect(Math.abs(got - expected), `n·v ${nv}, roughness ${r}: ${got} against ${expected}`).toBeLessThan(
        0.002 + 0.02 * expected,
      )
    }
  })

  it('should sample the layered BSDF as it evaluates it: an unbiased estimator at every angle', () => {
    for (const r of [0.3, 0.7]) {
      for (const cos of [0.9, 0.5, 0.15]) {
        const report = samplingReport(velvet(0.5, 0.8, r), [Math.sqrt(1 - cos * cos), 0, cos], 100_000)
        expect(Math.abs(report.sampled / report.integrated - 1), `roughness ${r}, cos ${cos}`).toBeLessThan(0.02)
      }
    }
  })

  it('should brighten grazing views of a dark cloth, and dim what lies beneath so white never passes 1', () => {
    const albedoAt = (m: BrdfMaterial, cos: number): number =>
      samplingReport(m, [Math.sqrt(1 - cos * cos), 0, cos], 1).integrated
    const black = velvet(0, 1, 0.3)
    // Velvet: fibres catch the light edge-on.
    expect(albedoAt(black, 0.15)).toBeGreaterThan(2 * albedoAt(black, 1))
    expect(albedoAt(velvet(0, 0, 0.3), 0.15)).toBeLessThan(albedoAt(black, 0.15) / 2)
    for (const cos of [1, 0.5, 0.15]) expect(albedoAt(velvet(1, 1, 0.5), cos), `cos ${cos}`).toBeLessThan(1.01)
  })

  it('should render the same sheen on the CPU reference and the GPU', async () => {
    // A cloth pane facing the camera, lit from a grazing angle, where its sheen shows most.
    const cloth: Material = {
      name: 'velvet',
      baseColor: [0.1, 0.02, 0.02],
      metallic: 0,
      roughness: 0.8,
      emissive: [0, 0, 0],
      sheenColor: [1, 0.8, 0.8],
      sheenRoughness: 0.4,
    }
    const slant = Math.hypot(1, 0.2)
    const sun: PunctualLight = {
      type: 'directional',
      position: [0, 0, 0],
      direction: [1 / slant, 0, -0.2 / slant],
      intensity: [3, 3, 3],
    }
    const scene = (m: Material): Scene => partsScene([{ corners: pane(0, 2), material: m }], cameraOnZ(3, 0.5), [sun])
    const tile = (s: Scene) => wholeTile(s, 16, { samples: 16 })
    const sheened = scene(cloth)
    expect(sheened.sheened).toBe(true)
    const cpu = renderTileCpu(tile(sheened)).pixels
    const gpu = (await engine.renderTile(tile(sheened))).pixels
    expect(psnr(cpu, gpu)).toBeGreaterThan(TOLERANCE.render.minDb)
    const bare = renderTileCpu(tile(scene({ ...cloth, sheenColor: [0, 0, 0] }))).pixels
    // Green comes almost all from the sheen's colour over the dark red cloth.
    expect(channelMean(cpu, 1)).toBeGreaterThan(1.4 * channelMean(bare, 1))
  })

  it('should read KHR_materials_sheen, and refuse sheen factors out of range when packing', async () => {
    const doc = new Document()
    const sheen = doc
      .createExtension(KHRMaterialsSheen)
      .createSheen()
      .setSheenColorFactor([0.9, 0.4, 2])
      .setSheenRoughnessFactor(0.3)
    addTriangle(
      doc,
      doc.createMaterial('velvet').setEmissiveFactor([1, 1, 1]).setExtension('KHR_materials_sheen', sheen),
    )
    const loaded = await loadScene(await new WebIO().registerExtensions([KHRMaterialsSheen]).writeBinary(doc))
    expect(loaded.materialList[0]).toMatchObject({ sheenColor: [0.9, 0.4, 1], sheenRoughness: 0.3 })
    const pack = (m: Partial<Material>) => () =>
      partsScene([{ corners: pane(0, 1), material: { ...loaded.materialList[0]!, ...m } }], cameraOnZ(3, 1))
    expect(errorCode(pack({ sheenColor: [1.5, 0, 0] }))).toBe('GPU__MALFORMED_SCENE')
    expect(errorCode(pack({ sheenRoughness: -0.1 }))).toBe('GPU__MALFORMED_SCENE')
  })
})
