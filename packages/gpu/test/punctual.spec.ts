import { Document, WebIO } from '@gltf-transform/core'
import { KHRLightsPunctual } from '@gltf-transform/extensions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, renderTileCpu } from '../src/index.js'
import type { Engine, Material, PunctualLight, RenderTileOptions, Scene, Vec3 } from '../src/index.js'
import { SurfaceBrdf } from '../src/render/brdf.js'
import { packPunctualLights, PUNCTUAL_WORDS } from '../src/scene/punctual.js'
import { meanRed, wholeTile } from './helpers/render.js'

const FLOOR: Material = { name: 'floor', baseColor: [0.8, 0.8, 0.8], metallic: 0, roughness: 0.6, emissive: [0, 0, 0] }

/** Two triangles of a square at height y, centred on (cx, cz), facing up or down. */
function square(y: number, half: number, up: boolean, cx = 0, cz = 0): number[] {
  const [a, b, c, d] = [
    [cx - half, y, cz - half],
    [cx - half, y, cz + half],
    [cx + half, y, cz + half],
    [cx + half, y, cz - half],
  ]
  return up ? [...a!, ...b!, ...c!, ...a!, ...c!, ...d!] : [...a!, ...c!, ...b!, ...a!, ...d!, ...c!]
}

/**
 * A large floor (y = 0) lit by `lights`, with more squares if given, and a camera at `eye` seeing the floor at
 * `target` through a tiny field of view.
 */
function scene(
  lights: PunctualLight[],
  eye: Vec3,
  target: Vec3 = [0, 0, 0],
  extra: Array<{ corners: number[]; material: Material }> = [],
): Scene {
  const quads = [{ corners: square(0, 50, true), material: FLOOR }, ...extra]
  const vertices = Float32Array.from(quads.flatMap((q) => q.corners))
  const materialIndex = Uint32Array.from(quads.flatMap((_, i) => [i, i]))
  const forward = target.map((t, k) => t - eye[k]!)
  const len = Math.hypot(...forward)
  const f: Vec3 = [forward[0]! / len, forward[1]! / len, forward[2]! / len]
  // Right is +x (the eyes used here lie in the yz plane through the target); up is right x forward... reversed.
  const up: Vec3 = [0, f[2], -f[1]]
  return packScene({
    vertices,
    normals: new Float32Array(vertices.length),
    materialIndex,
    materials: quads.map((q) => q.material),
    camera: { position: eye, forward: f, right: [1, 0, 0], up: up.map((c) => -c) as unknown as Vec3, yfov: 1e-3 },
    punctualLights: lights,
  })
}

const tile = (s: Scene, extra: Partial<RenderTileOptions> = {}): RenderTileOptions =>
  wholeTile(s, 4, { maxDepth: 1, ...extra })

/** The floor's BRDF at `target` seen from `eye`, towards direction l, times cos: what a light of unit irradiance adds. */
function reflected(eye: Vec3, target: Vec3, l: Vec3): number {
  const v = eye.map((c, k) => c - target[k]!)
  const vl = Math.hypot(...v)
  const brdf = new SurfaceBrdf()
  brdf.set(0, 1, 0, v[0]! / vl, v[1]! / vl, v[2]! / vl, {
    r: 0.8,
    g: 0.8,
    b: 0.8,
    metallic: 0,
    roughness: 0.6,
    f0r: 0.04,
    f0g: 0.04,
    f0b: 0.04,
    specular: 1,
  })
  brdf.evaluate(...l)
  return brdf.fr * l[1]
}

describe('punctual lights (KHR_lights_punctual)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const eye: Vec3 = [0, 1.5, 2]

  it('should light a surface by inverse square from a point light', async () => {
    const s = scene([{ type: 'point', position: [0.3, 2, 0], direction: [0, -1, 0], intensity: [5, 5, 5] }], eye)
    const d2 = 0.3 ** 2 + 4
    const expected = (reflected(eye, [0, 0, 0], [0.3 / Math.sqrt(d2), 2 / Math.sqrt(d2), 0]) * 5) / d2
    expect(meanRed(renderTileCpu(tile(s)).pixels) / expected).toBeCloseTo(1, 3)
    expect(meanRed((await engine.renderTile(tile(s))).pixels) / expected).toBeCloseTo(1, 3)
  })

  it("should shape a spot light's cone: full inside, smooth between the angles, dark outside", async () => {
    // A spot 1 above the origin pointing down, cones of 0.2 and 0.4 rad; the camera looks at floor points at 0.1,
    // 0.3 and 0.5 rad off its axis.
    const spot: PunctualLight = {
      type: 'spot',
      position: [0, 1, 0],
      direction: [0, -1, 0],
      intensity: [3, 3, 3],
      innerConeAngle: 0.2,
      outerConeAngle: 0.4,
    }
    const scale = 1 / (Math.cos(0.2) - Math.cos(0.4))
    for (const angle of [0.1, 0.3, 0.5]) {
      const target: Vec3 = [Math.tan(angle), 0, 0]
      const at = [0, 1.5, 2].map((c, k) => c + target[k]!) as unknown as Vec3
      const s = scene([spot], at, target)
      const d2 = 1 + target[0] ** 2
      const l: Vec3 = [-target[0] / Math.sqrt(d2), 1 / Math.sqrt(d2), 0]
      const cone = Math.min(1, Math.max(0, (Math.cos(angle) - Math.cos(0.4)) * scale)) ** 2
      const expected = (reflected(at, target, l) * 3 * cone) / d2
      const got = meanRed((await engine.renderTile(tile(s))).pixels)
      if (angle > 0.4) expect(got).toBe(0)
      else expect(got / expected, `angle ${angle}`).toBeCloseTo(1, 3)
      expect(meanRed(renderTileCpu(tile(s)).pixels)).toBeCloseTo(got, 6)
    }
  })

  it('should light by illuminance from a directional light, without falloff', async () => {
    const dir: Vec3 = [0, -0.8, -0.6]
    const s = scene([{ type: 'directional', position: [0, 0, 0], direction: dir, intensity: [2, 2, 2] }], eye)
    const expected = reflected(eye, [0, 0, 0], [0, 0.8, 0.6]) * 2
    expect(meanRed((await engine.renderTile(tile(s))).pixels) / expected).toBeCloseTo(1, 3)
    expect(meanRed(renderTileCpu(tile(s)).pixels) / expected).toBeCloseTo(1, 3)
  })

  it('should fade a light to nothing at its range, and cast shadows', async () => {
    const point = (range?: number): PunctualLight => ({
      type: 'point',
      position: [0, 2, 0],
      direction: [0, -1, 0],
      intensity: [5, 5, 5],
      ...(range === undefined ? {} : { range }),
    })
    const full = meanRed((await engine.renderTile(tile(scene([point()], eye)))).pixels)
    // The window 1 - (d / range)^4 at d = 2: 1 - 1/16 with range 4; 0 past the range.
    expect(meanRed((await engine.renderTile(tile(scene([point(4)], eye)))).pixels) / full).toBeCloseTo(15 / 16, 4)
    expect(meanRed((await engine.renderTile(tile(scene([point(1.9)], eye)))).pixels)).toBe(0)
    // A small board at y = 1 between the light and the floor's origin.
    const board = { corners: square(1, 0.2, true), material: { ...FLOOR, name: 'board' } }
    expect(meanRed((await engine.renderTile(tile(scene([point()], eye, [0, 0, 0], [board])))).pixels)).toBe(0)
  })

  it('should pick punctual lights by power, so a dim light costs a bright one no samples', async () => {
    // Two point lights mirrored across the view plane, 1000:1: the floor sees each under the same geometry, so a
    // light sample divided by its pick probability gives every pixel the whole sum at 1 sample per pixel. Picked
    // uniformly, each pixel would be twice one light's share: about 0 or 2.
    const bright: PunctualLight = {
      type: 'point',
      position: [0.3, 2, 0],
      direction: [0, -1, 0],
      intensity: [1000, 1000, 1000],
    }
    const dim: PunctualLight = { ...bright, position: [-0.3, 2, 0], intensity: [1, 1, 1] }
    const s = scene([dim, bright], eye)
    const d2 = 0.3 ** 2 + 4
    const expected = (reflected(eye, [0, 0, 0], [0.3 / Math.sqrt(d2), 2 / Math.sqrt(d2), 0]) * 1001) / d2
    for (const pixels of [
      renderTileCpu(tile(s, { samples: 1 })).pixels,
      (await engine.renderTile(tile(s, { samples: 1 }))).pixels,
    ]) {
      for (let i = 0; i < pixels.length; i += 4) expect(pixels[i]! / expected).toBeCloseTo(1, 2)
    }
  })

  it('should pack pick probabilities by power: point 4π I, spot by its cone, directional over the scene; none for a dark light', () => {
    const at: Vec3 = [0, 1, 0]
    const down: Vec3 = [0, -1, 0]
    const lights: PunctualLight[] = [
      { type: 'point', position: at, direction: down, intensity: [1, 1, 1] },
      { type: 'point', position: at, direction: down, intensity: [0, 0, 0] },
      {
        type: 'spot',
        position: at,
        direction: down,
        intensity: [2, 2, 2],
        innerConeAngle: 0,
        outerConeAngle: Math.PI / 2,
      },
      { type: 'directional', position: at, direction: down, intensity: [1, 1, 1] },
    ]
    const radius = 2
    const words = packPunctualLights(lights, radius)
    const floats = new Float32Array(words.buffer)
    // The spot (intensity 2) lights a cone to halfway between 0 and 90 degrees, 2π(1 - 1/2) = π; the directional light
    // crosses π r².
    const powers = [4 * Math.PI, 0, 2 * (2 * Math.PI * 0.5), Math.PI * radius * radius]
    const total = powers.reduce((a, b) => a + b)
    let cumulative = 0
    powers.forEach((power, i) => {
      cumulative += power / total
      expect(floats[i * PUNCTUAL_WORDS + 14]).toBeCloseTo(power / total, 6)
      expect(floats[i * PUNCTUAL_WORDS + 11]).toBeCloseTo(cumulative, 6)
    })
    expect(floats[3 * PUNCTUAL_WORDS + 11]).toBe(1)
    // Lights that all give nothing are picked uniformly rather than never.
    const dark = new Float32Array(packPunctualLights([lights[1]!, lights[1]!]).buffer)
    expect([dark[14], dark[PUNCTUAL_WORDS + 14]]).toEqual([0.5, 0.5])
  })

  it('should share light samples between punctual and emissive lights without bias', async () => {
    // A point light and a lamp (0.2 x 0.2 at y = 1, emission 10, facing down) over the floor; 1 bounce.
    const lamp = {
      corners: square(1, 0.1, false, -0.3, 0.2),
      material: { ...FLOOR, name: 'lamp', baseColor: [0, 0, 0] as Vec3, emissive: [10, 10, 10] as Vec3 },
    }
    const light: PunctualLight = { type: 'point', position: [0.3, 2, 0], direction: [0, -1, 0], intensity: [5, 5, 5] }
    const both = scene([light], eye, [0, 0, 0], [lamp])
    const pointOnly = scene([light], eye)
    const lampOnly = scene([], eye, [0, 0, 0], [lamp])
    const options = { samples: 512, maxDepth: 2 }
    const sum =
      meanRed(renderTileCpu(tile(pointOnly, options)).pixels) + meanRed(renderTileCpu(tile(lampOnly, options)).pixels)
    expect(meanRed(renderTileCpu(tile(both, options)).pixels) / sum).toBeCloseTo(1, 1)
    expect(meanRed((await engine.renderTile(tile(both, options))).pixels) / sum).toBeCloseTo(1, 1)
  })

  it("should load KHR_lights_punctual from glTF at its node's position and -Z axis, and refuse bad lights", async () => {
    const doc = new Document()
    const lights = doc.createExtension(KHRLightsPunctual)
    const buffer = doc.createBuffer()
    const prim = doc.createPrimitive().setAttribute(
      'POSITION',
      doc
        .createAccessor()
        .setType('VEC3')
        .setArray(Float32Array.from([0, 0, 0, 1, 0, 0, 0, 0, -1]))
        .setBuffer(buffer),
    )
    const root = doc.createScene()
    root.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
    // Turned a quarter about x: its -Z axis points down.
    const q = Math.SQRT1_2
    const spot = lights.createLight().setType('spot').setColor([1, 0.5, 0.25]).setIntensity(8).setRange(5)
    spot.setInnerConeAngle(0.1).setOuterConeAngle(0.3)
    root.addChild(
      doc.createNode().setTranslation([1, 2, 3]).setRotation([-q, 0, 0, q]).setExtension('KHR_lights_punctual', spot),
    )
    const loaded = await loadScene(await new WebIO().registerExtensions([KHRLightsPunctual]).writeBinary(doc))
    expect(loaded.punctualCount).toBe(1)
    const l = loaded.punctualLights[0]!
    expect(l).toMatchObject({ type: 'spot', position: [1, 2, 3], intensity: [8, 4, 2], range: 5, innerConeAngle: 0.1 })
    expect(l.direction[1]).toBeCloseTo(-1, 6)
    const bad = (light: Partial<PunctualLight>) => () =>
      packScene({
        vertices: Float32Array.from([0, 0, 0, 1, 0, 0, 0, 0, -1]),
        normals: new Float32Array(9),
        materialIndex: Uint32Array.from([0]),
        materials: [FLOOR],
        punctualLights: [{ type: 'point', position: [0, 1, 0], direction: [0, -1, 0], intensity: [1, 1, 1], ...light }],
      })
    expect(bad({})).not.toThrow()
    for (const light of [
      { intensity: [-1, 1, 1] as Vec3 },
      { position: [NaN, 0, 0] as Vec3 },
      { type: 'area' as never },
      { type: 'spot' as const, innerConeAngle: 0.5, outerConeAngle: 0.3 },
      { type: 'directional' as const, direction: [0, 0, 0] as Vec3 },
      { range: -1 },
    ]) {
      expect(bad(light), JSON.stringify(light)).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }))
    }
  })
})
