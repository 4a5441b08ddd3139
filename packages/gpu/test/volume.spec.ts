import { Document, WebIO } from '@gltf-transform/core'
import { KHRMaterialsTransmission, KHRMaterialsVolume } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, psnr, renderTileCpu, TOLERANCE } from '../src/index.js'
import type { Camera, Engine, Material, PunctualLight, RenderTileOptions, Scene } from '../src/index.js'
import { SurfaceBrdf } from '../src/render/brdf.js'
import { brdfGlass, samplingReport } from './helpers/bsdf.js'
import { errorCode } from './helpers/errors.js'
import { addTriangle } from './helpers/gltf.js'
import { bothRenderers, cameraOnZ, channelMean, CLEAR_GLASS, pane, partsScene, wholeTile } from './helpers/render.js'

/** Smooth clear glass bounding a volume (KHR_materials_volume with a thickness). */
const GLASS: Material = { ...CLEAR_GLASS, thickness: 1 }
const LAMP: Material = { name: 'lamp', baseColor: [0, 0, 0], metallic: 0, roughness: 1, emissive: [2, 2, 2] }

/**
 * The 12 triangles of a box of half-extents (hx, hy, hz) centred on c, turned by `angle` radians about +y, wound
 * counter-clockwise seen from outside (its faces' normals point out).
 */
function box(c: [number, number, number], [hx, hy, hz]: [number, number, number], angle = 0): number[] {
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const corner = (sx: number, sy: number, sz: number): number[] => {
    const [x, y, z] = [sx * hx, sy * hy, sz * hz]
    return [c[0] + cos * x + sin * z, c[1] + y, c[2] - sin * x + cos * z]
  }
  // Each face as four corners counter-clockwise from outside.
  const faces: Array<Array<[number, number, number]>> = [
    [
      [1, -1, -1],
      [1, 1, -1],
      [1, 1, 1],
      [1, -1, 1],
    ], // +x
    [
      [-1, -1, 1],
      [-1, 1, 1],
      [-1, 1, -1],
      [-1, -1, -1],
    ], // -x
    [
      [-1, 1, -1],
      [-1, 1, 1],
      [1, 1, 1],
      [1, 1, -1],
    ], // +y
    [
      [-1, -1, 1],
      [-1, -1, -1],
      [1, -1, -1],
      [1, -1, 1],
    ], // -y
    [
      [-1, -1, 1],
      [1, -1, 1],
      [1, 1, 1],
      [-1, 1, 1],
    ], // +z
    [
      [1, -1, -1],
      [-1, -1, -1],
      [-1, 1, -1],
      [1, 1, -1],
    ], // -z
  ]
  return faces.flatMap((f) => {
    const [a, b, d, e] = f.map((s) => corner(...s))
    return [...a!, ...b!, ...d!, ...a!, ...d!, ...e!]
  })
}

/** A camera far up +z looking down -z with a field of view `halfWidth` wide at z = 0 (rays nearly parallel). */
const distantCamera = (halfWidth: number): Camera => cameraOnZ(40, halfWidth)

const tile = (scene: Scene, side: number, samples: number): RenderTileOptions => wholeTile(scene, side, { samples })

describe('volumes (KHR_materials_volume): refraction and absorption', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should sample refraction as it evaluates it, entering and leaving: a pdf of mass 1 and an unbiased estimator', () => {
    for (const eta of [1 / 1.5, 1.5]) {
      for (const roughness of [0.3, 0.7]) {
        for (const cos of [0.9, 0.5, 0.2]) {
          const r = samplingReport(brdfGlass(1, roughness, 1, eta), [Math.sqrt(1 - cos * cos), 0, cos], 100_000)
          const label = `eta ${eta.toFixed(2)}, roughness ${roughness}, cos ${cos}`
          expect(r.mass, label).toBeCloseTo(1, 2)
          // The drawn directions go below the surface as often as the pdf's mass there says.
          expect(Math.abs(r.below - r.massBelow), label).toBeLessThan(0.01)
          expect(Math.abs(r.sampled / r.integrated - 1), label).toBeLessThan(0.02)
        }
      }
    }
  })

  it('should reflect everything past the critical angle inside the glass (total internal reflection)', () => {
    const brdf = new SurfaceBrdf()
    // Seen from inside at 72 degrees off the normal, past glass's 41.8.
    const cos = 0.3
    brdf.set(0, 0, 1, Math.sqrt(1 - cos * cos), 0, cos, brdfGlass(1, 0.05, 1, 1.5))
    let rng = 7
    const random = (): number => (rng = (rng * 1664525 + 1013904223) >>> 0) / 2 ** 32
    let below = 0
    let energy = 0
    const n = 20_000
    for (let i = 0; i < n; i++) {
      brdf.sample(random(), random(), random())
      const len = Math.hypot(brdf.lx, brdf.ly, brdf.lz)
      const [lx, ly, lz] = [brdf.lx / len, brdf.ly / len, brdf.lz / len]
      if (lz < 0) below++
      brdf.evaluate(lx, ly, lz)
      if (brdf.pdf > 0) energy += (brdf.fr * Math.abs(lz)) / brdf.pdf / n
    }
    expect(below).toBe(0)
    expect(energy).toBeCloseTo(1, 1)
  })

  /** A glass slab 0.5 thick across the view, and behind it an emissive wall (radiance 2). */
  const slab = (material: Material): Scene =>
    partsScene(
      [
        { corners: box([0, 0, 0], [2, 2, 0.25]), material },
        { corners: pane(-2, 20), material: LAMP },
      ],
      distantCamera(0.5),
    )

  it('should let a smooth slab through as Fresnel says, twice, and absorb inside it as Beer-Lambert says', async () => {
    // Head-on, each face lets 1 - 0.04 through; the reflections between the faces add about 0.0015 more.
    const clear = slab(GLASS)
    // Half the red is left after the attenuation distance, 0.5: the slab's thickness.
    const tinted = slab({ ...GLASS, attenuationColor: [0.5, 1, 1], attenuationDistance: 0.5 })
    for (const [name, render] of bothRenderers(
      () => engine,
      (s) => tile(s, 8, 64),
    )) {
      const through = channelMean(await render(clear), 0) / 2
      expect(through, name).toBeGreaterThan(0.91)
      expect(through, name).toBeLessThan(0.935)
      const tint = await render(tinted)
      expect(channelMean(tint, 0) / channelMean(tint, 1), name).toBeCloseTo(0.5, 2)
      expect(channelMean(tint, 1) / 2, name).toBeCloseTo(through, 2)
    }
  })

  it('should bend light through a tilted slab (a thin-walled pane does not), the same on the CPU and the GPU', async () => {
    // A stripe of light behind a slab 0.5 thick turned 45 degrees about y: refraction shifts it sideways by
    // d sin(θ - θt) / cos θt = 0.165 at ior 1.5.
    const stripe = (material: Material): Scene =>
      partsScene(
        [
          { corners: box([0, 0, 0], [3, 3, 0.25], Math.PI / 4), material },
          { corners: box([0, 0, -3], [0.02, 3, 0.02]), material: LAMP },
        ],
        distantCamera(0.5),
      )
    const side = 64
    const brightest = (pixels: Float32Array): number => {
      const columns = Array.from({ length: side }, (_, x) => {
        let sum = 0
        for (let y = 0; y < side; y++) sum += pixels[(y * side + x) * 4]!
        return sum
      })
      return columns.indexOf(Math.max(...columns))
    }
    const volume = stripe(GLASS)
    const thin = stripe({ ...GLASS, thickness: 0 })
    const cpu = renderTileCpu(tile(volume, side, 16)).pixels
    const gpu = (await engine.renderTile(tile(volume, side, 16))).pixels
    const pixelsPerUnit = side / 1
    // The thin pane leaves the stripe at the centre (columns 31 and 32 straddle x = 0).
    expect(Math.abs(brightest(renderTileCpu(tile(thin, side, 16)).pixels) - 31.5)).toBeLessThanOrEqual(1)
    for (const pixels of [cpu, gpu]) {
      expect(Math.abs(Math.abs(brightest(pixels) - 31.5) - 0.165 * pixelsPerUnit)).toBeLessThanOrEqual(1.5)
    }
    expect(psnr(cpu, gpu)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should block shadow rays to a punctual light at a volume, which would bend them, but not at thin glass', async () => {
    // A floor at z = -1 under a sun shining down -z, seen through a slab of glass above it.
    // Slanted, so the camera does not see the sun mirrored in the glass.
    const slant = Math.hypot(0.3, 1)
    const sun: PunctualLight = {
      type: 'directional',
      position: [0, 0, 0],
      direction: [0.3 / slant, 0, -1 / slant],
      intensity: [3, 3, 3],
    }
    const floor: Material = { ...LAMP, name: 'floor', baseColor: [0.8, 0.8, 0.8], emissive: [0, 0, 0] }
    const lit = (material: Material): Scene =>
      partsScene(
        [
          { corners: box([0, 0, 0], [2, 2, 0.25]), material },
          { corners: pane(-1, 20), material: floor },
        ],
        distantCamera(0.5),
        [sun],
      )
    for (const [, render] of bothRenderers(
      () => engine,
      (s) => tile(s, 8, 16),
    )) {
      const thin = channelMean(await render(lit({ ...GLASS, thickness: 0 })), 0)
      expect(thin).toBeGreaterThan(0.3)
      // What is left is sunlight found by the light sample at the slab's far side of paths from the floor up
      // through it, which smooth glass rarely lines up (caustics): a twentieth here.
      expect(channelMean(await render(lit(GLASS)), 0)).toBeLessThan(0.1 * thin)
    }
  })

  describe('loading', () => {
    async function material(volume?: { thickness: number; color?: [number, number, number]; distance?: number }) {
      const doc = new Document()
      const m = doc.createMaterial('glass').setEmissiveFactor([1, 1, 1])
      m.setExtension(
        'KHR_materials_transmission',
        doc.createExtension(KHRMaterialsTransmission).createTransmission().setTransmissionFactor(1),
      )
      if (volume !== undefined) {
        const v = doc.createExtension(KHRMaterialsVolume).createVolume().setThicknessFactor(volume.thickness)
        if (volume.color !== undefined) v.setAttenuationColor(volume.color)
        if (volume.distance !== undefined) v.setAttenuationDistance(volume.distance)
        m.setExtension('KHR_materials_volume', v)
      }
      addTriangle(doc, m)
      const glb = await new WebIO().registerExtensions([KHRMaterialsTransmission, KHRMaterialsVolume]).writeBinary(doc)
      return (await loadScene(glb)).materialList[0]!
    }

    it('should read a volume beside transmission, and leave transmission thin-walled without one', async () => {
      expect(await material({ thickness: 0.2, color: [0.9, 0.5, 0.1], distance: 3 })).toMatchObject({
        transmission: 1,
        thickness: 0.2,
        attenuationColor: [0.9, 0.5, 0.1],
        attenuationDistance: 3,
      })
      const thin = await material()
      expect(thin.thickness ?? 0).toBe(0)
    })

    it('should refuse volume factors out of range when packing, with a coded error', () => {
      for (const bad of [{ thickness: -1 }, { attenuationDistance: 0 }, { attenuationColor: [2, 1, 1] as const }]) {
        const material = { ...GLASS, ...bad } as Material
        const code = errorCode(() => partsScene([{ corners: pane(0, 1), material }], distantCamera(1)))
        expect(code, JSON.stringify(bad)).toBe('GPU__MALFORMED_SCENE')
      }
    })
  })
})
