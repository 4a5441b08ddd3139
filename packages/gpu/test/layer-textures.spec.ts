import { Document, WebIO } from '@gltf-transform/core'
import {
  KHRMaterialsClearcoat,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
  KHRMaterialsTransmission,
} from '@gltf-transform/extensions'
import { encode as encodePng } from 'fast-png'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, psnr, renderTileCpu, TOLERANCE, WrapMode } from '../src/index.js'
import type { Engine, Material, MaterialTexture, PunctualLight, Scene, Texture } from '../src/index.js'
import { TEXTURE_SLOTS } from '../src/scene/scene.js'
import { addTriangle } from './helpers/gltf.js'
import { bothRenderers, CLEAR_GLASS, wholeTile } from './helpers/render.js'

/** A 2 x 1 texture: the left texel's RGBA, then the right's. */
function twoTexels(left: number[], right: number[]): Texture {
  return { width: 2, height: 1, rgba: Uint8Array.from([...left, ...right]) }
}

const NEAREST: Omit<MaterialTexture, 'texture'> = { wrapS: WrapMode.clamp, wrapT: WrapMode.clamp, linear: false }
const LAMP: Material = { name: 'wall', baseColor: [0, 0, 0], metallic: 0, roughness: 1, emissive: [2, 2, 2] }
const SUN: PunctualLight = { type: 'directional', position: [0, 0, 0], direction: [0.6, 0, -0.8], intensity: [3, 3, 3] }

/**
 * A square of `material` at z = 0 filling the view of a camera at (0, 0, 2) (u from 0 at the left to 1 at the
 * right), lit by a slanting sun, with an emissive wall far behind it; its textures index `textures`.
 */
function pane(material: Material, textures: Texture[], lights: PunctualLight[] = [SUN]): Scene {
  const square = [-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, -1, 0, 1, 1, 0, -1, 1, 0]
  const wall = [-20, -20, -5, 20, -20, -5, 20, 20, -5, -20, -20, -5, 20, 20, -5, -20, 20, -5]
  return packScene({
    vertices: Float32Array.from([...square, ...wall]),
    normals: new Float32Array(36),
    materialIndex: Uint32Array.from([0, 0, 1, 1]),
    materials: [material, LAMP],
    uvs: Float32Array.from([0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, ...Array<number>(12).fill(0)]),
    textures,
    camera: { position: [0, 0, 2], forward: [0, 0, -1], up: [0, 1, 0], right: [1, 0, 0], yfov: 0.9 },
    punctualLights: lights,
  })
}

const SIDE = 16
const tile = (scene: Scene) => wholeTile(scene, SIDE, { samples: 8 })

/** Mean of channel c over the left or the right half of the image. */
function half(pixels: Float32Array, c: number, right: boolean): number {
  let sum = 0
  for (let y = 0; y < SIDE; y++) {
    for (let x = right ? SIDE / 2 : 0; x < (right ? SIDE : SIDE / 2); x++) sum += pixels[(y * SIDE + x) * 4 + c]!
  }
  return sum / ((SIDE * SIDE) / 2)
}

describe("the extensions' textures (transmission, clearcoat, sheen, specular)", () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const renders = bothRenderers(() => engine, tile)
  const gpu = async (s: Scene): Promise<Float32Array> => (await engine.renderTile(tile(s))).pixels

  it("should let light through where the transmission texture's red says, on the CPU and the GPU alike", async () => {
    // Red 255 on the left, 0 on the right (green the other way round, which must not count); no sun, so only the
    // wall behind lights what the camera sees.
    const glass = pane(
      { ...CLEAR_GLASS, transmissionTexture: { texture: 0, ...NEAREST } },
      [twoTexels([255, 0, 0, 255], [0, 255, 0, 255])],
      [],
    )
    const cpu = renderTileCpu(tile(glass)).pixels
    for (const [name, render] of renders) {
      const pixels = await render(glass)
      expect(half(pixels, 0, false), name).toBeGreaterThan(1)
      expect(half(pixels, 0, true), name).toBeLessThan(0.05)
    }
    expect(psnr(cpu, await gpu(glass))).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  /**
   * For one slot: a texture whose channel of the slot is 0 everywhere (the other channels full, which must not
   * count) renders as the factor 0 does, and a white one renders as no texture does. Exact on the CPU, where the same
   * numbers take the same path.
   */
  async function scales(
    factors: Partial<Material>,
    zero: Partial<Material>,
    slot: keyof Material,
    channel: number,
    sRgb = false,
  ): Promise<void> {
    const base: Material = {
      name: 'layered',
      baseColor: [0.2, 0.1, 0.1],
      metallic: 0,
      roughness: 0.7,
      emissive: [0, 0, 0],
    }
    const texel = (v: number) => [0, 1, 2, 3].map((k) => (k === channel ? v : 255 - v))
    const textured = (v: number) =>
      pane({ ...base, ...factors, [slot]: { texture: 0, ...NEAREST } }, [twoTexels(texel(v), texel(v))])
    const fullTexture = () =>
      pane({ ...base, ...factors, [slot]: { texture: 0, ...NEAREST } }, [
        twoTexels([255, 255, 255, 255], [255, 255, 255, 255]),
      ])
    const plain = (m: Partial<Material>) =>
      pane({ ...base, ...m, baseColorTexture: undefined }, [twoTexels([0, 0, 0, 0], [0, 0, 0, 0])])
    const cpu = (s: Scene) => renderTileCpu(tile(s)).pixels
    expect(Array.from(cpu(textured(0))), `${slot} at 0`).toEqual(Array.from(cpu(plain({ ...factors, ...zero }))))
    const full = cpu(fullTexture())
    // A full sRGB byte decodes to exactly 1 as a linear one does.
    expect(Array.from(full), `${slot} at 255${sRgb ? ' (sRGB)' : ''}`).toEqual(Array.from(cpu(plain(factors))))
    expect(psnr(full, await gpu(fullTexture()))).toBeGreaterThan(TOLERANCE.render.minDb)
    expect(psnr(cpu(textured(0)), await gpu(textured(0)))).toBeGreaterThan(TOLERANCE.render.minDb)
  }

  it('should scale the clearcoat by its texture red, and its roughness by its roughness texture green', async () => {
    await scales({ clearcoat: 1, clearcoatRoughness: 0.3 }, { clearcoat: 0 }, 'clearcoatTexture', 0)
    await scales({ clearcoat: 1, clearcoatRoughness: 0.3 }, { clearcoatRoughness: 0 }, 'clearcoatRoughnessTexture', 1)
  })

  it('should scale the sheen colour by its texture (sRGB) and its roughness by its roughness texture alpha', async () => {
    const sheen: Partial<Material> = { sheenColor: [1, 1, 1], sheenRoughness: 0.5 }
    for (const c of [0, 1, 2]) {
      await scales(
        sheen,
        { sheenColor: [c === 0 ? 0 : 1, c === 1 ? 0 : 1, c === 2 ? 0 : 1] },
        'sheenColorTexture',
        c,
        true,
      )
    }
    await scales(sheen, { sheenRoughness: 0 }, 'sheenRoughnessTexture', 3)
  })

  it('should scale F0 by the specular colour texture (sRGB) and the specular weight by the specular texture alpha', async () => {
    const specular: Partial<Material> = { specular: 1, specularColor: [1, 1, 1] }
    for (const c of [0, 1, 2]) {
      const color: [number, number, number] = [c === 0 ? 0 : 1, c === 1 ? 0 : 1, c === 2 ? 0 : 1]
      await scales(specular, { specularColor: color }, 'specularColorTexture', c, true)
    }
    await scales(specular, { specular: 0 }, 'specularTexture', 3)
  })

  it("should read the extensions' textures from glTF", async () => {
    const doc = new Document()
    const png = encodePng({ width: 1, height: 1, data: Uint8Array.from([255, 128, 0, 255]), channels: 4, depth: 8 })
    const texture = () => doc.createTexture().setImage(png).setMimeType('image/png')
    const material = doc
      .createMaterial('layered')
      .setExtension(
        'KHR_materials_transmission',
        doc
          .createExtension(KHRMaterialsTransmission)
          .createTransmission()
          .setTransmissionFactor(1)
          .setTransmissionTexture(texture()),
      )
      .setExtension(
        'KHR_materials_clearcoat',
        doc
          .createExtension(KHRMaterialsClearcoat)
          .createClearcoat()
          .setClearcoatFactor(1)
          .setClearcoatTexture(texture())
          .setClearcoatRoughnessTexture(texture()),
      )
      .setExtension(
        'KHR_materials_sheen',
        doc
          .createExtension(KHRMaterialsSheen)
          .createSheen()
          .setSheenColorFactor([1, 1, 1])
          .setSheenColorTexture(texture())
          .setSheenRoughnessTexture(texture()),
      )
      .setExtension(
        'KHR_materials_specular',
        doc
          .createExtension(KHRMaterialsSpecular)
          .createSpecular()
          .setSpecularTexture(texture())
          .setSpecularColorTexture(texture()),
      )
    addTriangle(doc, material)
    doc
      .getRoot()
      .listMeshes()[0]!
      .listPrimitives()[0]!
      .setAttribute(
        'TEXCOORD_0',
        doc.createAccessor().setType('VEC2').setArray(new Float32Array(6)).setBuffer(doc.getRoot().listBuffers()[0]!),
      )
    const io = new WebIO().registerExtensions([
      KHRMaterialsTransmission,
      KHRMaterialsClearcoat,
      KHRMaterialsSheen,
      KHRMaterialsSpecular,
    ])
    const m = (await loadScene(await io.writeBinary(doc))).materialList[0]!
    // Every slot after the four of core glTF: the extensions'.
    for (const slot of TEXTURE_SLOTS.slice(4)) {
      expect(m[slot], slot).toMatchObject({ texture: expect.any(Number) as number })
    }
    // One image each: a texture decoded for each.
    expect(
      new Set([m.transmissionTexture!.texture, m.clearcoatTexture!.texture, m.sheenRoughnessTexture!.texture]).size,
    ).toBe(3)
  })
})
