import { Document, WebIO } from '@gltf-transform/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, psnr, renderTileCpu, TOLERANCE, WrapMode } from '../src/index.js'
import type { Engine, Material, RenderTileOptions, Scene } from '../src/index.js'
import { addTriangle } from './helpers/gltf.js'

/** A 2x2 texture, nearest-sampled: alpha 255 at the top-left and bottom-right texels, `hole` at the others. */
const checker = (hole: number) => ({
  width: 2,
  height: 2,
  rgba: Uint8Array.from([0, 0, 0, 255, 0, 0, 0, hole, 0, 0, 0, hole, 0, 0, 0, 255]),
})

/** A black material sampling texture 0 (nearest, clamped), with `extra` on top. */
function black(extra: Partial<Material>): Material {
  return {
    name: 'screen',
    baseColor: [0, 0, 0],
    metallic: 0,
    roughness: 1,
    emissive: [0, 0, 0],
    baseColorTexture: { texture: 0, wrapS: WrapMode.clamp, wrapT: WrapMode.clamp, linear: false },
    ...extra,
  }
}

/**
 * A black square in the plane z = 0 filling a camera's view from +z, with the white sky (the background) behind
 * it: what shows through it is what its alpha lets through.
 */
function screen(material: Partial<Material>, hole = 0): Scene {
  return packScene({
    // Two triangles, counter-clockwise seen from +z: corners (-1, -1), (1, -1), (1, 1) and (-1, -1), (1, 1), (-1, 1).
    vertices: Float32Array.from([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, -1, 0, 1, 1, 0, -1, 1, 0]),
    normals: Float32Array.from(Array.from({ length: 6 }, () => [0, 0, 1]).flat()),
    materialIndex: Uint32Array.from([0, 0]),
    materials: [black(material)],
    // u along +x, v down the image (glTF's v = 0 at the top): (0, 1) at the bottom-left corner.
    uvs: Float32Array.from([0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0]),
    textures: [checker(hole)],
    camera: { position: [0, 0, 1], forward: [0, 0, -1], up: [0, 1, 0], right: [1, 0, 0], yfov: 1.2 },
  })
}

const tile = (scene: Scene, samples = 4): RenderTileOptions => ({
  scene,
  frame: 0,
  imageWidth: 16,
  imageHeight: 16,
  x: 0,
  y: 0,
  width: 16,
  height: 16,
  samples,
  background: [1, 1, 1],
})

/** Mean red radiance over a quarter of the image (quadrant qx, qy). */
function quadrant(pixels: Float32Array, qx: number, qy: number): number {
  let sum = 0
  for (let y = qy * 8; y < qy * 8 + 8; y++) for (let x = qx * 8; x < qx * 8 + 8; x++) sum += pixels[(y * 16 + x) * 4]!
  return sum / 64
}

describe('alpha modes', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should cut holes where a MASK material is below its cutoff, and show the sky through them', async () => {
    const scene = screen({ alphaMode: 'mask', alphaCutoff: 0.5 })
    expect(scene.alphaTested).toBe(true)
    const gpu = await engine.renderTile(tile(scene))
    // The top-right and bottom-left texels have alpha 0: the sky (1) shows there; the black square elsewhere.
    expect(quadrant(gpu.pixels, 1, 0)).toBeCloseTo(1, 5)
    expect(quadrant(gpu.pixels, 0, 1)).toBeCloseTo(1, 5)
    expect(quadrant(gpu.pixels, 0, 0)).toBeLessThan(0.2)
    expect(quadrant(gpu.pixels, 1, 1)).toBeLessThan(0.2)
    expect(psnr(gpu.pixels, renderTileCpu(tile(scene)).pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it('should compare alpha with the cutoff, and ignore alpha when OPAQUE', async () => {
    // Alpha 102/255 = 0.4: under a cutoff of 0.5 the holes open, over one of 0.3 they close.
    const open = await engine.renderTile(tile(screen({ alphaMode: 'mask', alphaCutoff: 0.5 }, 102)))
    const closed = await engine.renderTile(tile(screen({ alphaMode: 'mask', alphaCutoff: 0.3 }, 102)))
    const opaque = await engine.renderTile(tile(screen({}, 0)))
    expect(quadrant(open.pixels, 1, 0)).toBeCloseTo(1, 5)
    expect(quadrant(closed.pixels, 1, 0)).toBeLessThan(0.2)
    expect(quadrant(opaque.pixels, 1, 0)).toBeLessThan(0.2)
    expect(screen({}).alphaTested).toBe(false)
  })

  it('should let rays through a BLEND material with probability 1 - alpha: the mean is the blend', async () => {
    const samples = 64
    const solid = await engine.renderTile(tile(screen({ baseColorTexture: undefined as never }), samples))
    const glass = screen({ baseColorTexture: undefined as never, alphaMode: 'blend', opacity: 0.25 })
    const gpu = await engine.renderTile(tile(glass, samples))
    const mean = (p: Float32Array): number =>
      (quadrant(p, 0, 0) + quadrant(p, 1, 0) + quadrant(p, 0, 1) + quadrant(p, 1, 1)) / 4
    // 1 - 0.25 of the sky plus 0.25 of what the opaque square reflects.
    expect(mean(gpu.pixels)).toBeCloseTo(0.75 + 0.25 * mean(solid.pixels), 1)
    const cpu = renderTileCpu(tile(glass, samples))
    expect(psnr(gpu.pixels, cpu.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    // Each ray decides from its own random number: a sub-rectangle rendered alone gives the same bits.
    const sub = await engine.renderTile({ ...tile(glass, samples), x: 3, y: 5, width: 7, height: 4 })
    for (let r = 0; r < 4; r++) {
      expect(sub.pixels.subarray(r * 7 * 4, (r + 1) * 7 * 4)).toEqual(
        gpu.pixels.subarray(((5 + r) * 16 + 3) * 4, ((5 + r) * 16 + 10) * 4),
      )
    }
  })

  it('should let shadow rays through the holes too', async () => {
    // A lamp above a white floor, a masked screen between them: the floor under the holes is lit, under the rest
    // it is in shadow.
    const lamp: Material = { name: 'lamp', baseColor: [0, 0, 0], metallic: 0, roughness: 1, emissive: [5, 5, 5] }
    const white: Material = {
      name: 'floor',
      baseColor: [0.8, 0.8, 0.8],
      metallic: 0,
      roughness: 1,
      emissive: [0, 0, 0],
    }
    const mask = black({ alphaMode: 'mask' })
    const quad = (y: number, s: number, up: boolean): number[] => {
      const [a, b, c, d] = [
        [-s, y, -s],
        [-s, y, s],
        [s, y, s],
        [s, y, -s],
      ]
      return up ? [...a!, ...b!, ...c!, ...a!, ...c!, ...d!] : [...a!, ...c!, ...b!, ...a!, ...d!, ...c!]
    }
    const scene = packScene({
      vertices: Float32Array.from([...quad(0, 4, true), ...quad(1, 1, true), ...quad(2, 0.05, false)]),
      normals: new Float32Array(54),
      materialIndex: Uint32Array.from([0, 0, 1, 1, 2, 2]),
      materials: [white, mask, lamp],
      uvs: Float32Array.from([...Array(12).fill(0), 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, ...Array(12).fill(0)]),
      textures: [checker(0)],
      // Straight down from below the screen at the floor under it.
      camera: { position: [0, 0.9, 0], forward: [0, -1, 0], up: [0, 0, -1], right: [1, 0, 0], yfov: 1.2 },
    })
    const options = { ...tile(scene, 16), background: [0, 0, 0] as const }
    const gpu = await engine.renderTile(options)
    const lit = quadrant(gpu.pixels, 0, 0) + quadrant(gpu.pixels, 1, 1)
    const shaded = quadrant(gpu.pixels, 1, 0) + quadrant(gpu.pixels, 0, 1)
    expect(Math.max(lit, shaded) / Math.min(lit, shaded)).toBeGreaterThan(3)
    expect(psnr(gpu.pixels, renderTileCpu(options).pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it('should read alphaMode, alphaCutoff, the base colour alpha and doubleSided from glTF, and refuse bad values', async () => {
    const doc = new Document()
    const material = doc
      .createMaterial('leaf')
      .setAlphaMode('MASK')
      .setAlphaCutoff(0.3)
      .setBaseColorFactor([1, 1, 1, 0.6])
    addTriangle(doc, material)
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    expect(scene.materialList[0]).toMatchObject({ alphaMode: 'mask', alphaCutoff: 0.3, opacity: 0.6 })
    expect(scene.materialList[0]!.doubleSided).toBeUndefined()
    material.setDoubleSided(true)
    const twoSided = await loadScene(await new WebIO().writeBinary(doc))
    expect(twoSided.materialList[0]!.doubleSided).toBe(true)
    // The flag shares its word with the alpha mode: MASK (1) and double-sided (4).
    expect(new Uint32Array(twoSided.materials.buffer)[31]).toBe(1 | 4)
    material.setAlphaMode('OPAQUE')
    const opaque = await loadScene(await new WebIO().writeBinary(doc))
    expect(opaque.materialList[0]!.alphaMode).toBeUndefined()
    expect(() => screen({ alphaMode: 'mask', alphaCutoff: 2 })).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }),
    )
    expect(() => screen({ alphaMode: 'sometimes' as never })).toThrow(
      expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }),
    )
  })
})
