import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebIO } from '@gltf-transform/core'
import { KHRMaterialsIOR, KHRMaterialsSpecular } from '@gltf-transform/extensions'
import {
  createEngine,
  generateSceneDocument,
  loadScene,
  MATERIAL_FLOATS,
  packScene,
  psnr,
  renderTileCpu,
} from '../src/index.js'
import type { Camera, Engine, Material, RenderTileOptions, Scene, Vec3 } from '../src/index.js'
import { dielectricF0, MIN_ALPHA, powerHeuristic, SurfaceBrdf } from '../src/render/brdf.js'
import type { BrdfMaterial } from '../src/render/brdf.js'
import { SampleRng } from '../src/render/rng.js'
import { meanRed, wholeTile } from './helpers/render.js'

/** A unit vector at polar angle theta from +z, in the xz plane. */
function direction(theta: number): Vec3 {
  return [Math.sin(theta), 0, Math.cos(theta)]
}

/** A material's BRDF inputs; the dielectric's F0 defaults to glTF's 0.04 (ior 1.5) and its specular weight to 1. */
function brdfMaterial(
  base: Vec3,
  metallic: number,
  roughness: number,
  f0: Vec3 = [0.04, 0.04, 0.04],
  specular = 1,
): BrdfMaterial {
  return { r: base[0], g: base[1], b: base[2], metallic, roughness, f0r: f0[0], f0g: f0[1], f0b: f0[2], specular }
}

function surface(
  view: Vec3,
  base: Vec3,
  metallic: number,
  roughness: number,
  f0?: Vec3,
  specular?: number,
): SurfaceBrdf {
  const brdf = new SurfaceBrdf()
  brdf.set(0, 0, 1, ...view, brdfMaterial(base, metallic, roughness, f0, specular))
  return brdf
}

/** ∫ g(l) dω over the upper hemisphere, by uniform sampling (independent of the BRDF's own sampling). */
function hemisphereIntegral(g: (x: number, y: number, z: number) => number, n = 200_000, seed = 1): number {
  const rng = new SampleRng(seed)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const z = rng.next()
    const r = Math.sqrt(Math.max(0, 1 - z * z))
    const phi = 2 * Math.PI * rng.next()
    sum += g(r * Math.cos(phi), r * Math.sin(phi), z)
  }
  return (sum / n) * 2 * Math.PI
}

/** The fraction of light from `view` the surface reflects (red channel), ∫ f cos dω by uniform sampling. */
function albedo(brdf: SurfaceBrdf): number {
  return hemisphereIntegral((x, y, z) => {
    brdf.evaluate(x, y, z)
    return brdf.fr * z
  })
}

/** The same by the BRDF's importance sampling: the mean of f cos / pdf over sampled directions. */
function sampledAlbedo(brdf: SurfaceBrdf, n = 100_000, seed = 2): number {
  const rng = new SampleRng(seed)
  let sum = 0
  for (let i = 0; i < n; i++) {
    brdf.sample(rng.next(), rng.next(), rng.next())
    brdf.evaluate(brdf.lx, brdf.ly, brdf.lz)
    if (brdf.pdf > 0) sum += (brdf.fr * brdf.lz) / brdf.pdf
  }
  return sum / n
}

const MATERIALS: Array<{ name: string; base: Vec3; metallic: number; roughness: number }> = [
  { name: 'rough white dielectric', base: [1, 1, 1], metallic: 0, roughness: 1 },
  { name: 'glossy red dielectric', base: [0.8, 0.1, 0.1], metallic: 0, roughness: 0.3 },
  { name: 'rough gold', base: [0.9, 0.7, 0.3], metallic: 1, roughness: 0.5 },
  { name: 'half-metallic', base: [0.5, 0.6, 0.7], metallic: 0.5, roughness: 0.6 },
]

describe('glTF metallic-roughness BRDF', () => {
  it('should be reciprocal: f(v, l) = f(l, v)', () => {
    const rng = new SampleRng(7)
    for (const m of MATERIALS) {
      for (let i = 0; i < 50; i++) {
        const v = direction(rng.next() * 1.5)
        const phi = 2 * Math.PI * rng.next()
        const t = rng.next() * 1.5
        const l: Vec3 = [Math.sin(t) * Math.cos(phi), Math.sin(t) * Math.sin(phi), Math.cos(t)]
        const a = surface(v, m.base, m.metallic, m.roughness)
        a.evaluate(...l)
        const b = surface(l, m.base, m.metallic, m.roughness)
        b.evaluate(...v)
        expect(b.fr).toBeCloseTo(a.fr, 10)
        expect(b.fb).toBeCloseTo(a.fb, 10)
      }
    }
  })

  it('should report the density its samples have: the pdf integrates to the share of samples above the horizon', () => {
    for (const m of MATERIALS) {
      for (const theta of [0, 0.8, 1.3]) {
        const brdf = surface(direction(theta), m.base, m.metallic, m.roughness)
        const total = hemisphereIntegral((x, y, z) => {
          brdf.evaluate(x, y, z)
          return brdf.pdf
        })
        // A rough lobe mirrors some visible normals below the horizon; those samples are dropped.
        const rng = new SampleRng(3)
        let above = 0
        for (let i = 0; i < 100_000; i++) {
          brdf.sample(rng.next(), rng.next(), rng.next())
          if (brdf.lz > 0) above++
        }
        expect(total, `${m.name} at ${theta}`).toBeCloseTo(above / 100_000, 2)
      }
    }
  })

  it('should sample directions with the pdf it reports: importance sampling and uniform sampling agree', () => {
    for (const m of MATERIALS) {
      for (const theta of [0.2, 1.0]) {
        const brdf = surface(direction(theta), m.base, m.metallic, m.roughness)
        const uniform = albedo(brdf)
        expect(sampledAlbedo(brdf), `${m.name} at ${theta}`).toBeCloseTo(uniform, 2)
      }
    }
  })

  it('should never reflect more light than arrives, and a white mirror reflects nearly all of it', () => {
    const white = (theta: number, metallic: number, roughness: number): number =>
      sampledAlbedo(surface(direction(theta), [1, 1, 1], metallic, roughness))
    for (const [metallic, roughness] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 0.3],
      [1, 1],
      [0.5, 0.5],
    ] as const) {
      for (const theta of [0, 0.7, 1.4]) {
        // The specification's dielectric takes Fresnel off its diffuse by v·h: at grazing angles a smooth one
        // reflects more than arrives (1.36 at 80 degrees), as the specification's reference does.
        if (metallic === 0 && roughness === 0 && theta > 1) continue
        expect(white(theta, metallic, roughness), `${metallic} ${roughness} at ${theta}`).toBeLessThanOrEqual(1.005)
      }
    }
    // GGX without multiple scattering loses light only at high roughness; a white smooth metal keeps it.
    expect(white(0.3, 1, 0)).toBeGreaterThan(0.99)
    expect(white(0, 1, 1)).toBeCloseTo(0.31, 2)
    // A smooth dielectric reflects more at grazing angles (Fresnel) and a black one nothing but that reflection.
    const black = (theta: number): number => sampledAlbedo(surface(direction(theta), [0, 0, 0], 0, 0.05))
    expect(black(0)).toBeCloseTo(0.04, 2)
    expect(black(1.4)).toBeGreaterThan(0.3)
  })

  it('should reflect by the index of refraction and the specular factor and colour (KHR_materials_ior, _specular)', () => {
    expect(dielectricF0(1.5)).toBeCloseTo(0.04, 12)
    // A black smooth dielectric reflects its F0 at normal incidence: 0.04 at ior 1.5, (1/3)² at ior 2.
    const f0 = dielectricF0(2)
    expect(sampledAlbedo(surface(direction(0), [0, 0, 0], 0, 0.05, [f0, f0, f0]))).toBeCloseTo(1 / 9, 2)
    // A specular colour tints that reflection per channel (red here; sampledAlbedo reads red).
    const red = sampledAlbedo(surface(direction(0), [0, 0, 0], 0, 0.05, [0.04, 0, 0]))
    expect(red).toBeCloseTo(0.04, 2)
    // Specular factor 0 removes the layer: a white dielectric is then Lambertian and reflects all the light.
    expect(sampledAlbedo(surface(direction(0.5), [1, 1, 1], 0, 0.5, [0.04, 0.04, 0.04], 0))).toBeCloseTo(1, 3)
    // and the factor does not touch metals.
    const metal = (specular: number): number =>
      sampledAlbedo(surface(direction(0.5), [0.9, 0.6, 0.2], 1, 0.4, undefined, specular))
    expect(metal(0)).toBe(metal(1))
  })

  it('should turn a roughness of 0 into its sharpest lobe, with a finite pdf', () => {
    const brdf = surface(direction(0.5), [1, 1, 1], 1, 0)
    brdf.sample(0, 0.3, 0.4)
    const dot = brdf.lx * -Math.sin(0.5) + brdf.lz * Math.cos(0.5)
    expect(dot).toBeGreaterThan(0.999)
    brdf.evaluate(brdf.lx, brdf.ly, brdf.lz)
    expect(Number.isFinite(brdf.pdf) && brdf.pdf > 1e3).toBe(true)
    expect(MIN_ALPHA).toBeGreaterThan(0)
  })

  it('should weight strategies by the power heuristic, summing to 1', () => {
    expect(powerHeuristic(1, 1)).toBe(0.5)
    expect(powerHeuristic(3, 1) + powerHeuristic(1, 3)).toBeCloseTo(1, 12)
    expect(powerHeuristic(1e-30, 1e30)).toBe(1 / (1 + 1e30))
  })
})

/** Two triangles spanning the parallelogram corner, corner + u, corner + u + v, corner + v (front face u × v). */
function quad(corner: Vec3, u: Vec3, v: Vec3): number[] {
  const p = (a: number, b: number): number[] => [0, 1, 2].map((k) => corner[k]! + u[k]! * a + v[k]! * b)
  return [...p(0, 0), ...p(1, 0), ...p(1, 1), ...p(0, 0), ...p(1, 1), ...p(0, 1)]
}

/** A scene of quads (each with its material) and a camera looking from `eye` at the origin. */
function quadScene(quads: Array<{ corners: number[]; material: Material }>, eye: Vec3, yfov: number): Scene {
  const vertices = new Float32Array(quads.flatMap((q) => q.corners))
  const count = vertices.length / 9
  const normals = new Float32Array(count * 9)
  const materialIndex = new Uint32Array(count)
  quads.forEach((_, i) => materialIndex.fill(i, i * 2, i * 2 + 2))
  for (let t = 0; t < count; t++) {
    const v = vertices.subarray(t * 9, t * 9 + 9)
    const e1 = [v[3]! - v[0]!, v[4]! - v[1]!, v[5]! - v[2]!]
    const e2 = [v[6]! - v[0]!, v[7]! - v[1]!, v[8]! - v[2]!]
    const n = [e1[1]! * e2[2]! - e1[2]! * e2[1]!, e1[2]! * e2[0]! - e1[0]! * e2[2]!, e1[0]! * e2[1]! - e1[1]! * e2[0]!]
    for (let k = 0; k < 3; k++) normals.set(n, t * 9 + k * 3)
  }
  const len = Math.hypot(...eye)
  const forward: Vec3 = [-eye[0] / len, -eye[1] / len, -eye[2] / len]
  // The eye lies in the yz plane, so x is the image's right and forward × right its up.
  const right: Vec3 = [1, 0, 0]
  const up: Vec3 = [0, forward[2], -forward[1]]
  const camera: Camera = { position: eye, forward, right, up, yfov }
  return packScene({ vertices, normals, materialIndex, materials: quads.map((q) => q.material), camera })
}

function material(base: Vec3, metallic: number, roughness: number, emissive: Vec3 = [0, 0, 0]): Material {
  return { name: 'm', baseColor: base, metallic, roughness, emissive }
}

/** A square lamp at y = 1 facing down: its corner (x, z), side and emission. */
interface Lamp {
  x: number
  z: number
  side: number
  emission: number
}

/**
 * The red radiance that the lamps send off a floor (normal +y) at the origin towards `eye`, by quadrature over
 * each lamp: ∫ f · Le · cosS · cosL / d² dA.
 */
function directLight(eye: Vec3, m: Material, lamps: readonly Lamp[]): number {
  const brdf = new SurfaceBrdf()
  const len = Math.hypot(...eye)
  brdf.set(0, 1, 0, eye[0] / len, eye[1] / len, eye[2] / len, brdfMaterial(m.baseColor, m.metallic, m.roughness))
  const n = 200
  let sum = 0
  for (const lamp of lamps) {
    let lampSum = 0
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const q = [lamp.x + (lamp.side * (i + 0.5)) / n, 1, lamp.z + (lamp.side * (j + 0.5)) / n]
        const d2 = q[0]! ** 2 + q[1]! ** 2 + q[2]! ** 2
        const d = Math.sqrt(d2)
        brdf.evaluate(q[0]! / d, q[1]! / d, q[2]! / d)
        // cosS = cosL = q.y / d for a floor facing up and a lamp facing down.
        lampSum += (brdf.fr * lamp.emission * (1 / d) ** 2) / d2
      }
    }
    sum += (lampSum * lamp.side * lamp.side) / (n * n)
  }
  return sum
}

/** A lamp's two triangles, facing down. */
function lampQuad(l: Lamp): number[] {
  return quad([l.x, 1, l.z], [l.side, 0, 0], [0, 0, l.side])
}

/** The mean red radiance of a rendered tile. */
describe('KHR_materials_ior and KHR_materials_specular', () => {
  it('should read both into the material and pack its dielectric F0 and specular weight', async () => {
    const doc = generateSceneDocument({ spheres: 1, subdivisions: 1 })
    const white = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'white')!
    white.setExtension('KHR_materials_ior', doc.createExtension(KHRMaterialsIOR).createIOR().setIOR(2))
    white.setExtension(
      'KHR_materials_specular',
      doc
        .createExtension(KHRMaterialsSpecular)
        .createSpecular()
        .setSpecularFactor(0.5)
        .setSpecularColorFactor([1, 0.5, 20]),
    )
    const io = new WebIO().registerExtensions([KHRMaterialsIOR, KHRMaterialsSpecular])
    const scene = await loadScene(await io.writeBinary(doc))
    const index = scene.materialList.findIndex((m) => m.name === 'white')
    expect(scene.materialList[index]).toMatchObject({ ior: 2, specular: 0.5, specularColor: [1, 0.5, 20] })
    // F0 = (1/3)² times the colour, capped at 1; then the weight.
    const row = [...scene.materials.subarray(index * MATERIAL_FLOATS + 24, index * MATERIAL_FLOATS + 28)]
    expect(row.map((x) => Math.fround(x))).toEqual([1 / 9, 0.5 / 9, 1, 0.5].map(Math.fround))
    // A material without the extensions keeps glTF's defaults.
    const plain = scene.materialList.findIndex((m) => m.name === 'red')
    expect(scene.materials[plain * MATERIAL_FLOATS + 24]).toBeCloseTo(0.04, 7)
    expect(scene.materials[plain * MATERIAL_FLOATS + 27]).toBe(1)
  })
})

describe('path tracer with the glTF BRDF', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const floor = quad([-50, 0, -50], [0, 0, 100], [100, 0, 0]) // y = 0, facing +y
  const tile = (scene: Scene, extra: Partial<RenderTileOptions>): RenderTileOptions =>
    wholeTile(scene, 8, { samples: 64, ...extra })

  it('should return the surface albedo in a white furnace (a plane under a uniform white sky)', async () => {
    for (const [m, theta] of [
      [material([1, 1, 1], 0, 1), 0.1],
      [material([0.9, 0.7, 0.3], 1, 0.4), 0.9],
      [material([0.5, 0.6, 0.7], 0.5, 0.6), 0.5],
      [material([1, 1, 1], 1, 0), 0.6],
    ] as const) {
      const eye: Vec3 = [0, 2 * Math.cos(theta), 2 * Math.sin(theta)]
      const scene = quadScene([{ corners: floor, material: m }], eye, 1e-3)
      const options = tile(scene, { background: [1, 1, 1] })
      const cpu = renderTileCpu(options)
      const gpu = await engine.renderTile(options)
      // The reflected ray leaves the plane and sees the sky: each sample is f cos / pdf of one direction.
      // The BRDF is isotropic, so the view at angle theta from +z stands for the view at theta from the floor's +y.
      // Importance sampling (checked against uniform sampling above) also integrates the near-mirror's lobe.
      const expected = sampledAlbedo(surface(direction(theta), m.baseColor, m.metallic, m.roughness))
      expect(meanRed(cpu.pixels)).toBeCloseTo(expected, 1)
      expect(psnr(cpu.pixels, gpu.pixels)).toBeGreaterThan(60)
    }
  })

  it('should light a glossy surface through both strategies without counting the light twice (MIS)', async () => {
    // A 0.2 x 0.2 lamp 1 unit above the origin, facing down; the camera sees the origin at the mirror angle, so
    // the BRDF's own samples find the lamp as often as the lamp's samples do.
    const theta = 0.6
    const eye: Vec3 = [0, Math.cos(theta), -Math.sin(theta)]
    const lampPoint: Vec3 = [0, 1, Math.tan(theta)]
    for (const roughness of [0.15, 0.6]) {
      const m = material([0.8, 0.8, 0.8], 0, roughness)
      const lampMaterial = material([0, 0, 0], 0, 1, [10, 10, 10])
      const lamp = lampQuad({ x: lampPoint[0] - 0.1, z: lampPoint[2] - 0.1, side: 0.2, emission: 10 })
      const scene = quadScene(
        [
          { corners: floor, material: m },
          { corners: lamp, material: lampMaterial },
        ],
        eye.map((c) => c * 2) as unknown as Vec3,
        1e-3,
      )
      // maxDepth 2: the floor's light sample and its bounce towards the lamp, nothing further.
      const options = tile(scene, { samples: 256, maxDepth: 2 })
      const cpu = renderTileCpu(options)
      const gpu = await engine.renderTile(options)
      const expected = directLight(eye, m, [{ x: lampPoint[0] - 0.1, z: lampPoint[2] - 0.1, side: 0.2, emission: 10 }])
      expect(meanRed(cpu.pixels) / expected, `roughness ${roughness}`).toBeCloseTo(1, 1)
      expect(meanRed(gpu.pixels) / expected, `roughness ${roughness}`).toBeCloseTo(1, 1)
    }
  })

  it('should emit from both faces of a double-sided material, and from the front face only otherwise', async () => {
    const lamp: Lamp = { x: -0.1, z: -0.1, side: 0.2, emission: 10 }
    // The lamp's front face looks up, away from the floor.
    const up = quad([lamp.x, 1, lamp.z], [0, 0, lamp.side], [lamp.side, 0, 0])
    const floorMaterial = material([0.8, 0.8, 0.8], 0, 0.6)
    const eye: Vec3 = [0, 1.2, 1.6]
    const render = async (doubleSided: boolean): Promise<[number, number]> => {
      const lampMaterial = { ...material([0, 0, 0], 0, 1, [10, 10, 10]), doubleSided }
      const scene = quadScene(
        [
          { corners: floor, material: floorMaterial },
          { corners: up, material: lampMaterial },
        ],
        eye,
        1e-3,
      )
      const options = tile(scene, { samples: 256, maxDepth: 2 })
      return [meanRed(renderTileCpu(options).pixels), meanRed((await engine.renderTile(options)).pixels)]
    }
    expect(await render(false)).toEqual([0, 0])
    const expected = directLight(eye, floorMaterial, [lamp])
    const [cpu, gpu] = await render(true)
    expect(cpu / expected).toBeCloseTo(1, 1)
    expect(gpu / expected).toBeCloseTo(1, 1)
  })

  it('should pick lights by power, and light a surface as quadrature over every lamp does', async () => {
    // A small bright lamp and a large dim one: 0.04 x 20 against 0.64 x 0.25 of power.
    const lamps: Lamp[] = [
      { x: -0.4, z: -0.1, side: 0.2, emission: 20 },
      { x: 0.05, z: -0.4, side: 0.8, emission: 0.25 },
    ]
    const floorMaterial = material([0.8, 0.8, 0.8], 0, 0.5)
    const eye: Vec3 = [0, 1.2, 1.6]
    const scene = quadScene(
      [
        { corners: floor, material: floorMaterial },
        ...lamps.map((l) => ({
          corners: lampQuad(l),
          material: material([0, 0, 0], 0, 1, [l.emission, l.emission, l.emission]),
        })),
      ],
      eye,
      1e-3,
    )
    // The bright lamp's two triangles (material 1) take 0.8 / 0.96 of the picks.
    const triangleBits = new Uint32Array(scene.triangles.buffer)
    const lightBits = new Uint32Array(scene.lights.buffer, scene.lights.byteOffset, scene.lights.length)
    let bright = 0
    for (let k = 0; k < scene.lightCount; k++) {
      const share = scene.lights[k * 2 + 1]! - (k === 0 ? 0 : scene.lights[k * 2 - 1]!)
      if (triangleBits[(lightBits[k * 2]! & 0x7fff_ffff) * 12 + 3] === 1) bright += share
    }
    expect(bright).toBeCloseTo(0.8 / 0.96, 5)
    expect(scene.lightPower).toBeCloseTo(0.96, 5)
    const options = tile(scene, { samples: 256, maxDepth: 2 })
    const expected = directLight(eye, floorMaterial, lamps)
    expect(meanRed(renderTileCpu(options).pixels) / expected).toBeCloseTo(1, 1)
    expect(meanRed((await engine.renderTile(options)).pixels) / expected).toBeCloseTo(1, 1)
  })
})
