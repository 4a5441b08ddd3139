import { Document, WebIO } from '@gltf-transform/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, psnr, renderTileCpu, TOLERANCE } from '../src/index.js'
import type { Engine, Material, PunctualLight, RenderTileOptions, Scene } from '../src/index.js'
import { COLOR_WORDS } from '../src/scene/scene.js'
import { rejectionCode } from './helpers/errors.js'
import { bothRenderers, pane, wholeTile } from './helpers/render.js'

const WHITE: Material = { name: 'white', baseColor: [1, 1, 1], metallic: 0, roughness: 1, emissive: [0, 0, 0] }
/** A directional light shining down -z onto panes that face +z. */
const SUN: PunctualLight = { type: 'directional', position: [0, 0, 0], direction: [0, 0, -1], intensity: [3, 3, 3] }
const SIDE = 32

/**
 * A square pane at z = 0 filling the view of a camera at (0, 0, 3), its six corners (two triangles) tinted by
 * `corner(x)` by their x (-1 or 1), or untinted when `corner` is not given.
 */
function tintedPane(material: Material, corner?: (x: number) => [number, number, number, number]): Scene {
  const corners = pane(0, 1)
  const colors = corner && Array.from({ length: 6 }, (_, i) => corner(corners[i * 3]!)).flat()
  return packScene({
    vertices: Float32Array.from(corners),
    normals: new Float32Array(corners.length),
    materialIndex: Uint32Array.from([0, 0]),
    materials: [material],
    ...(colors === undefined ? {} : { colors: Float32Array.from(colors) }),
    camera: { position: [0, 0, 3], forward: [0, 0, -1], right: [1, 0, 0], up: [0, 1, 0], yfov: 0.5 },
    punctualLights: [SUN],
  })
}

const tile = (scene: Scene): RenderTileOptions => wholeTile(scene, SIDE)

/** Mean of channel c over the pixels of columns [x0, x1). */
function mean(pixels: Float32Array, c: number, x0 = 0, x1 = SIDE): number {
  let sum = 0
  for (let y = 0; y < SIDE; y++) for (let x = x0; x < x1; x++) sum += pixels[(y * SIDE + x) * 4 + c]!
  return sum / (SIDE * (x1 - x0))
}

/** Every vertex colour a scene packed, decoded to [0, 1] and rounded to 4 decimals, in sorted order. */
function packedColors(scene: Scene): string[] {
  const out: string[] = []
  for (let t = 0; t < scene.triangleCount; t++) {
    for (let v = 0; v < 3; v++) {
      const o = scene.colorOffset + t * COLOR_WORDS + v * 2
      const [a, b] = [scene.aux[o]!, scene.aux[o + 1]!]
      out.push([a & 0xffff, a >>> 16, b & 0xffff, b >>> 16].map((x) => (x / 65535).toFixed(4)).join(','))
    }
  }
  return out.sort()
}

describe('vertex colours (glTF COLOR_0)', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should tint the base colour as a base colour factor does, on the CPU reference and the GPU alike', async () => {
    const tinted = tintedPane(WHITE, () => [0.8, 0.3, 0.1, 1])
    const factor = tintedPane({ ...WHITE, baseColor: [0.8, 0.3, 0.1] })
    expect(tinted.colorOffset).toBeGreaterThan(0)
    expect(factor.colorOffset).toBe(0)
    const cpu = renderTileCpu(tile(tinted)).pixels
    const gpu = (await engine.renderTile(tile(tinted))).pixels
    // 16-bit channels move a colour by at most 1/131070: the images are equal but for rounding.
    expect(psnr(cpu, renderTileCpu(tile(factor)).pixels)).toBeGreaterThan(80)
    expect(psnr(gpu, (await engine.renderTile(tile(factor))).pixels)).toBeGreaterThan(80)
    expect(psnr(cpu, gpu)).toBeGreaterThan(TOLERANCE.render.minDb)
    expect(mean(cpu, 0)).toBeGreaterThan(4 * mean(cpu, 2))
  })

  it('should interpolate colours across a triangle between its vertices', async () => {
    const gradient = tintedPane(WHITE, (x) => (x < 0 ? [1, 0, 0, 1] : [0, 0, 1, 1]))
    for (const pixels of [renderTileCpu(tile(gradient)).pixels, (await engine.renderTile(tile(gradient))).pixels]) {
      const [leftRed, leftBlue] = [mean(pixels, 0, 0, 8), mean(pixels, 2, 0, 8)]
      const [rightRed, rightBlue] = [mean(pixels, 0, SIDE - 8), mean(pixels, 2, SIDE - 8)]
      expect(leftRed).toBeGreaterThan(2 * leftBlue)
      expect(rightBlue).toBeGreaterThan(2 * rightRed)
      // Halfway, both are about half: the middle columns mix them.
      expect(mean(pixels, 0, 15, 17) / mean(pixels, 2, 15, 17)).toBeCloseTo(1, 0)
    }
  })

  it("should multiply a MASK material's alpha by the vertices' alpha", async () => {
    const mask: Material = { ...WHITE, alphaMode: 'mask', alphaCutoff: 0.5 }
    const hidden = tintedPane(mask, () => [1, 1, 1, 0.2])
    const shown = tintedPane(mask, () => [1, 1, 1, 0.8])
    for (const [, render] of bothRenderers(() => engine, tile)) {
      expect(mean(await render(hidden), 0)).toBe(0)
      expect(mean(await render(shown), 0)).toBeGreaterThan(0.1)
    }
  })

  describe('loading', () => {
    /** A glTF document of two quads, the first with COLOR_0 of `type` and `array` (normalized if integer). */
    function document(type: 'VEC3' | 'VEC4' | 'SCALAR', array: Float32Array | Uint8Array, normalCount = 4): Document {
      const doc = new Document()
      const buffer = doc.createBuffer()
      const scene = doc.createScene()
      doc.getRoot().setDefaultScene(scene)
      const lamp = doc.createMaterial('lamp').setEmissiveFactor([1, 1, 1])
      for (const [i, colored] of [true, false].entries()) {
        const positions = Float32Array.from([0, 0, i, 1, 0, i, 1, 1, i, 0, 1, i])
        const prim = doc
          .createPrimitive()
          .setMaterial(lamp)
          .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(positions).setBuffer(buffer))
          .setIndices(
            doc
              .createAccessor()
              .setType('SCALAR')
              .setArray(Uint16Array.from([0, 1, 2, 0, 2, 3])),
          )
        if (colored) {
          const color = doc.createAccessor().setType(type).setArray(array).setBuffer(buffer)
          prim.setAttribute('COLOR_0', color.setNormalized(array instanceof Uint8Array))
          const normals = new Float32Array(normalCount * 3).map((_, k) => (k % 3 === 2 ? 1 : 0))
          prim.setAttribute('NORMAL', doc.createAccessor().setType('VEC3').setArray(normals).setBuffer(buffer))
        }
        scene.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
      }
      return doc
    }

    async function load(doc: Document): Promise<Scene> {
      return loadScene(await new WebIO().writeBinary(doc))
    }

    it('should read normalized byte RGBA and float RGB colours, white where a primitive has none', async () => {
      const bytes = await load(
        document('VEC4', Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 51, 51, 51, 255])),
      )
      const white = Array(6).fill('1.0000,1.0000,1.0000,1.0000')
      // Triangles (0, 1, 2) and (0, 2, 3) of the coloured quad, then the white one's six corners.
      expect(packedColors(bytes)).toEqual(
        [
          '1.0000,0.0000,0.0000,1.0000',
          '0.0000,1.0000,0.0000,0.5020',
          '0.0000,0.0000,1.0000,0.0000',
          '1.0000,0.0000,0.0000,1.0000',
          '0.0000,0.0000,1.0000,0.0000',
          '0.2000,0.2000,0.2000,1.0000',
          ...white,
        ].sort(),
      )
      const floats = await load(
        document('VEC3', Float32Array.from([0.5, 0.25, 2, 0.5, 0.25, 2, 0.5, 0.25, 2, 0.5, 0.25, 2])),
      )
      // Channels are clamped to [0, 1]; RGB colours are opaque.
      expect(packedColors(floats)).toEqual([...Array(6).fill('0.5000,0.2500,1.0000,1.0000'), ...white].sort())
    })

    it('should refuse a COLOR_0 of another type, and attributes with fewer elements than positions', async () => {
      expect(await rejectionCode(load(document('SCALAR', new Float32Array(4))))).toBe('GPU__MALFORMED_SCENE')
      expect(await rejectionCode(load(document('VEC3', new Float32Array(12), 3)))).toBe('GPU__MALFORMED_SCENE')
    })
  })
})
