import { Document, TextureInfo, WebIO } from '@gltf-transform/core'
import type { Material as GltfMaterial } from '@gltf-transform/core'
import { KHRMaterialsEmissiveStrength } from '@gltf-transform/extensions'
import { encode as encodePng } from 'fast-png'
import jpeg from 'jpeg-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  generateScene,
  generateSceneDocument,
  isGpuError,
  loadScene,
  psnr,
  renderTileCpu,
  TOLERANCE,
} from '../src/index.js'
import type { Engine, RenderedTile, RenderTileOptions, Scene } from '../src/index.js'
import { GpuPathTracer } from '../src/render/gpu-pathtracer.js'
import { decodeTexture, sampleTexture, SRGB_TO_LINEAR, WrapMode } from '../src/scene/texture.js'
import { packScene } from '../src/scene/pack.js'

/** A packed scene's aux words and a texture row for a w x h texture of the given RGBA texels. */
function packedTexture(w: number, h: number, texels: number[][], bits: number) {
  const rgba = Uint8Array.from(texels.flat())
  const scene = packScene({
    vertices: Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0]),
    normals: new Float32Array(9),
    materialIndex: Uint32Array.from([0]),
    materials: [
      {
        name: 't',
        baseColor: [1, 1, 1],
        metallic: 0,
        roughness: 1,
        emissive: [0, 0, 0],
        baseColorTexture: { texture: 0, wrapS: bits & 3, wrapT: (bits >> 2) & 3, linear: (bits & 16) !== 0 } as never,
      },
    ],
    uvs: new Float32Array(6),
    textures: [{ width: w, height: h, rgba }],
  })
  const row = new Uint32Array(scene.materials.buffer, 8 * 4, 4)
  return { scene, tex: [row[0]!, row[1]!, row[2]!, row[3]!] as [number, number, number, number] }
}

const lin = (v: number): number => SRGB_TO_LINEAR[v]!

describe('base-color texture sampling (CPU mirror of the shader)', () => {
  // 2x2: top row black, white; bottom row red, blue.
  const texels = [
    [0, 0, 0, 255],
    [255, 255, 255, 255],
    [255, 0, 0, 255],
    [0, 0, 255, 255],
  ]
  const at = (bits: number, u: number, v: number): number[] => {
    const { scene, tex } = packedTexture(2, 2, texels, bits)
    const out = [0, 0, 0]
    sampleTexture(scene.aux, Uint32Array.from(tex), 0, u, v, out)
    return out
  }
  const flags = (wrapS: number, wrapT: number, linear: boolean): number =>
    wrapS | (wrapT << 2) | ((linear ? 1 : 0) << 4) | 32

  it('should pick the nearest texel, with v = 0 at the image top', () => {
    const nearest = flags(WrapMode.repeat, WrapMode.repeat, false)
    expect(at(nearest, 0.25, 0.25)).toEqual([0, 0, 0])
    expect(at(nearest, 0.75, 0.25)).toEqual([1, 1, 1])
    expect(at(nearest, 0.25, 0.75)).toEqual([1, 0, 0])
    expect(at(nearest, 0.75, 0.75)).toEqual([0, 0, 1])
  })

  it('should wrap by repeat, clamp to edge and mirrored repeat', () => {
    expect(at(flags(WrapMode.repeat, WrapMode.repeat, false), 1.25, -0.75)).toEqual([0, 0, 0])
    expect(at(flags(WrapMode.clamp, WrapMode.clamp, false), 1.7, -3)).toEqual([1, 1, 1])
    // Mirrored: u = 1.25 reads as 0.75, u = -0.25 as 0.25.
    expect(at(flags(WrapMode.mirror, WrapMode.repeat, false), 1.25, 0.25)).toEqual([1, 1, 1])
    expect(at(flags(WrapMode.mirror, WrapMode.repeat, false), -0.25, 0.25)).toEqual([0, 0, 0])
    // Non-finite coordinates read as 0.
    expect(at(flags(WrapMode.repeat, WrapMode.repeat, false), Number.NaN, Number.POSITIVE_INFINITY)).toEqual([0, 0, 0])
  })

  it('should blend the four nearest texels in linear light when bilinear', () => {
    const mid = at(flags(WrapMode.clamp, WrapMode.clamp, true), 0.5, 0.5)
    // Equal weights of black, white, red and blue.
    expect(mid[0]).toBeCloseTo((lin(255) * 2) / 4, 6)
    expect(mid[1]).toBeCloseTo(lin(255) / 4, 6)
    expect(mid[2]).toBeCloseTo((lin(255) * 2) / 4, 6)
    // At a texel's centre only that texel counts; with repeat the far edge blends with the opposite side.
    expect(at(flags(WrapMode.clamp, WrapMode.clamp, true), 0.25, 0.25)).toEqual([0, 0, 0])
    const edge = at(flags(WrapMode.repeat, WrapMode.repeat, true), 0, 0.25)
    expect(edge[0]).toBeCloseTo(lin(255) / 2, 6)
  })
})

describe('decodeTexture', () => {
  const png = (o: Parameters<typeof encodePng>[0]) => encodePng(o)

  it('should decode grey, grey+alpha, 16-bit, RGB, RGBA and indexed PNGs to RGBA8', () => {
    // A PNG of the given pixels, decoded at the size it states.
    const decoded = (o: Parameters<typeof encodePng>[0]): number[] =>
      Array.from(decodeTexture(png(o), 'image/png', [o.width, o.height], 100, 'test').rgba)
    expect(decoded({ width: 2, height: 1, data: Uint8Array.from([10, 200]), channels: 1, depth: 8 })).toEqual([
      10, 10, 10, 255, 200, 200, 200, 255,
    ])
    expect(decoded({ width: 1, height: 1, data: Uint8Array.from([7, 9]), channels: 2, depth: 8 })).toEqual([7, 7, 7, 9])
    expect(decoded({ width: 1, height: 1, data: Uint16Array.from([65535, 0, 257]), channels: 3, depth: 16 })).toEqual([
      255, 0, 1, 255,
    ])
    expect(decoded({ width: 1, height: 1, data: Uint8Array.from([1, 2, 3, 4]), channels: 4, depth: 8 })).toEqual([
      1, 2, 3, 4,
    ])
    const indexed = png({
      width: 2,
      height: 1,
      data: Uint8Array.from([1, 0]),
      channels: 1,
      depth: 8,
      palette: [
        [9, 8, 7],
        [1, 2, 3],
      ],
    })
    expect(Array.from(decodeTexture(indexed, 'image/png', [2, 1], 100, 'i').rgba)).toEqual([1, 2, 3, 255, 9, 8, 7, 255])
  })

  it('should decode a JPEG', () => {
    const data = new Uint8Array(16 * 16 * 4).fill(200)
    const bytes = jpeg.encode({ width: 16, height: 16, data }, 95).data
    const t = decodeTexture(new Uint8Array(bytes), 'image/jpeg', [16, 16], 1000, 'j')
    expect([t.width, t.height]).toEqual([16, 16])
    expect(Math.abs(t.rgba[0]! - 200)).toBeLessThanOrEqual(2)
  })

  it('should refuse other formats, oversized headers and bytes that do not decode, with coded errors', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f()
      } catch (e) {
        return isGpuError(e) ? e.code : 'uncoded'
      }
      return undefined
    }
    const small = png({ width: 1, height: 1, data: Uint8Array.from([0, 0, 0, 0]), channels: 4, depth: 8 })
    expect(code(() => decodeTexture(small, 'image/ktx2', [1, 1], 100, 'k'))).toBe('GPU__UNSUPPORTED_TEXTURE')
    expect(code(() => decodeTexture(small, 'image/png', [9000, 1], 1e9, 'big'))).toBe('GPU__SCENE_TOO_LARGE')
    expect(code(() => decodeTexture(small, 'image/png', [100, 100], 50, 'budget'))).toBe('GPU__SCENE_TOO_LARGE')
    expect(code(() => decodeTexture(small.slice(0, 20), 'image/png', [1, 1], 100, 'cut'))).toBe('GPU__MALFORMED_SCENE')
    expect(code(() => decodeTexture(small, 'image/png', [2, 2], 100, 'lies'))).toBe('GPU__MALFORMED_SCENE')
    expect(code(() => decodeTexture(small, 'image/png', null, 100, 'none'))).toBe('GPU__MALFORMED_SCENE')
  })
})

describe('textured rendering', () => {
  const SIZE = 128
  let engine: Engine
  let scene: Scene
  let frame: Omit<RenderTileOptions, 'x' | 'y' | 'width' | 'height'>
  let full: RenderedTile

  beforeAll(async () => {
    engine = await createEngine()
    scene = await loadScene(await generateScene({ texturedFloor: true }))
    frame = { scene, frame: 3, imageWidth: SIZE, imageHeight: SIZE, samples: 4 }
    full = await engine.renderTile({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE })
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should load the floor texture and its coordinates into the scene', () => {
    const floor = scene.materialList.find((m) => m.name === 'floor')
    expect(floor?.baseColorTexture).toEqual({
      texture: 0,
      wrapS: WrapMode.repeat,
      wrapT: WrapMode.repeat,
      linear: true,
    })
    expect(scene.uvOffset).toBe(scene.lutOffset + 512)
    // Lights, the sRGB and unorm tables, 6 coordinates per triangle and the 64x64 texels.
    expect(scene.aux.length).toBe(scene.lightCount * 2 + 512 + scene.triangleCount * 6 + 64 * 64)
  })

  it('should show the checkerboard: the floor differs from the untextured scene far more than the ceiling', async () => {
    const plain = await engine.renderTile({
      ...frame,
      scene: await loadScene(await generateScene()),
      x: 0,
      y: 0,
      width: SIZE,
      height: SIZE,
    })
    const rows = (from: number, to: number, img: RenderedTile) => img.pixels.subarray(from * SIZE * 4, to * SIZE * 4)
    // The bottom rows look at the floor; the top rows at the ceiling, which the floor only lights indirectly.
    const floor = psnr(rows(120, 128, full), rows(120, 128, plain))
    const ceiling = psnr(rows(0, 8, full), rows(0, 8, plain))
    expect(floor).toBeLessThan(ceiling - 6)
    // The floor alternates light and dark squares along a row.
    const row = rows(124, 125, full)
    const luma = Array.from({ length: SIZE }, (_, x) => row[x * 4]! + row[x * 4 + 1]! + row[x * 4 + 2]!)
    expect(Math.max(...luma) / Math.max(1e-6, Math.min(...luma))).toBeGreaterThan(3)
  })

  it('should match the CPU reference at equal samples (PSNR >= 30 dB)', () => {
    const cpu = renderTileCpu({ ...frame, x: 0, y: 0, width: SIZE, height: SIZE })
    expect(psnr(full.pixels, cpu.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it('should re-render a sub-rectangle alone bit for bit, samples in turn or in parallel', async () => {
    const tile = { ...frame, x: 21, y: 97, width: 40, height: 19 }
    const sub = await engine.renderTile(tile)
    const parallel = await new GpuPathTracer(engine.context, true).renderTile(tile)
    for (let r = 0; r < 19; r++) {
      const fromFull = full.pixels.subarray(((97 + r) * SIZE + 21) * 4, ((97 + r) * SIZE + 21 + 40) * 4)
      expect(sub.pixels.subarray(r * 40 * 4, (r + 1) * 40 * 4)).toEqual(fromFull)
    }
    expect(Buffer.from(parallel.pixels.buffer).equals(Buffer.from(sub.pixels.buffer))).toBe(true)
  })

  it('should refuse a textured primitive without texture coordinates', async () => {
    const doc: Document = generateSceneDocument({ texturedFloor: true })
    for (const mesh of doc.getRoot().listMeshes()) {
      for (const prim of mesh.listPrimitives()) prim.setAttribute('TEXCOORD_0', null)
    }
    const glb = await new WebIO().writeBinary(doc)
    await expect(loadScene(glb)).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
  })

  it('should honour a nearest-filter sampler from the asset', async () => {
    const doc = generateSceneDocument({ texturedFloor: true })
    const floor = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'floor')!
    floor
      .getBaseColorTextureInfo()!
      .setMagFilter(TextureInfo.MagFilter.NEAREST!)
      .setWrapS(TextureInfo.WrapMode.MIRRORED_REPEAT!)
    const s = await loadScene(await new WebIO().writeBinary(doc))
    expect(s.materialList.find((m) => m.name === 'floor')?.baseColorTexture).toMatchObject({
      linear: false,
      wrapS: WrapMode.mirror,
    })
  })
})

describe('metallic-roughness and emissive textures', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  /** A 2x2 PNG of one RGBA colour. */
  const solid = (rgba: number[]): Uint8Array =>
    encodePng({ width: 2, height: 2, data: Uint8Array.from([...rgba, ...rgba, ...rgba, ...rgba]), channels: 4 })

  /** The textured test room with its floor material changed by `edit`. */
  const room = async (edit: (doc: Document, floor: GltfMaterial) => void): Promise<Scene> => {
    const doc = generateSceneDocument({ texturedFloor: true, spheres: 1, subdivisions: 1 })
    const floor = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'floor')!
    edit(doc, floor)
    return loadScene(await new WebIO().writeBinary(doc))
  }
  const texture = (doc: Document, png: Uint8Array) => doc.createTexture().setImage(png).setMimeType('image/png')
  const tile = { frame: 2, imageWidth: 48, imageHeight: 48, x: 0, y: 0, width: 48, height: 48, samples: 4 }
  const bits = (t: RenderedTile): Buffer => Buffer.from(t.pixels.buffer, t.pixels.byteOffset, t.pixels.byteLength)

  it('should scale metallic by the blue channel and roughness by the green, as linear data', async () => {
    // Factors (1, 1) under a texture of blue 0 and green 255 are a dielectric of roughness 1: the same bits.
    const dielectric = await room((doc, floor) =>
      floor
        .setMetallicFactor(1)
        .setRoughnessFactor(1)
        .setMetallicRoughnessTexture(texture(doc, solid([0, 255, 0, 255]))),
    )
    const plain = await room((_, floor) => floor.setMetallicFactor(0).setRoughnessFactor(1))
    expect(dielectric.materialList.find((m) => m.name === 'floor')?.metallicRoughnessTexture).toMatchObject({
      texture: 1,
    })
    expect(bits(await engine.renderTile({ ...tile, scene: dielectric }))).toEqual(
      bits(await engine.renderTile({ ...tile, scene: plain })),
    )
    // Green 128 is roughness 128/255, not the sRGB decoding of 128 (0.216): the texture holds data, not colour.
    const glossy = await room((doc, floor) =>
      floor
        .setMetallicFactor(1)
        .setRoughnessFactor(1)
        .setMetallicRoughnessTexture(texture(doc, solid([0, 128, 255, 255]))),
    )
    const factors = await room((_, floor) => floor.setMetallicFactor(1).setRoughnessFactor(128 / 255))
    const a = await engine.renderTile({ ...tile, scene: glossy })
    expect(bits(a)).toEqual(bits(await engine.renderTile({ ...tile, scene: factors })))
    expect(bits(a)).not.toEqual(bits(await engine.renderTile({ ...tile, scene: plain })))
    expect(psnr(a.pixels, renderTileCpu({ ...tile, scene: glossy }).pixels)).toBeGreaterThanOrEqual(
      TOLERANCE.render.minDb,
    )
  })

  it('should multiply emission by the emissive texture, in hits and in light samples', async () => {
    // A white emissive texture is the factor alone, bit for bit.
    const white = await room((doc, floor) =>
      floor.setEmissiveFactor([0.5, 0.5, 0.5]).setEmissiveTexture(texture(doc, solid([255, 255, 255, 255]))),
    )
    const factor = await room((_, floor) => floor.setEmissiveFactor([0.5, 0.5, 0.5]))
    expect(bits(await engine.renderTile({ ...tile, scene: white }))).toEqual(
      bits(await engine.renderTile({ ...tile, scene: factor })),
    )
    // A glowing checkerboard floor (its own base-color checkerboard as emission) is a light source: the top rows,
    // ceiling and lamp, get brighter (1.3 times here); the GPU's light samples read the texture as the CPU's do.
    const glowing = await room((_, floor) => {
      floor.setEmissiveFactor([1, 1, 1]).setEmissiveTexture(floor.getBaseColorTexture())
    })
    expect(glowing.lightCount).toBe(4)
    const gpu = await engine.renderTile({ ...tile, scene: glowing })
    const cpu = renderTileCpu({ ...tile, scene: glowing })
    expect(psnr(gpu.pixels, cpu.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    const plain = await engine.renderTile({ ...tile, scene: await room(() => undefined) })
    const ceiling = (t: RenderedTile): number =>
      t.pixels.subarray(0, 6 * 48 * 4).reduce((sum, v, i) => (i % 4 === 3 ? sum : sum + v), 0)
    expect(ceiling(gpu)).toBeGreaterThan(1.2 * ceiling(plain))
  })

  it('should texture a scene without lights, whose decoding tables start its aux buffer', async () => {
    const dark = await loadScene(await generateScene({ texturedFloor: true, lightIntensity: 0 }))
    expect(dark.lightCount).toBe(0)
    expect(dark.lutOffset).toBe(0)
    const sky = { ...tile, scene: dark, background: [1, 1, 1] as const, samples: 8 }
    const gpu = await engine.renderTile(sky)
    // Lit by the open front alone, the floor still alternates light and dark squares along a row.
    const row = gpu.pixels.subarray(46 * 48 * 4, 47 * 48 * 4)
    const luma = Array.from({ length: 48 }, (_, x) => row[x * 4]! + row[x * 4 + 1]! + row[x * 4 + 2]!)
    expect(Math.max(...luma) / Math.max(1e-6, Math.min(...luma))).toBeGreaterThan(3)
    expect(psnr(gpu.pixels, renderTileCpu(sky).pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })
})

describe('emissive strength', () => {
  it('should scale a light past emissiveFactor 1 with KHR_materials_emissive_strength', async () => {
    const doc = generateSceneDocument({ spheres: 1, subdivisions: 1 })
    const lamp = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'light')!
    lamp.setExtension(
      'KHR_materials_emissive_strength',
      doc.createExtension(KHRMaterialsEmissiveStrength).createEmissiveStrength().setEmissiveStrength(4),
    )
    const bright = await loadScene(
      await new WebIO().registerExtensions([KHRMaterialsEmissiveStrength]).writeBinary(doc),
    )
    const plain = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    expect(bright.materialList.find((m) => m.name === 'light')?.emissive).toEqual([4, 4, 4])
    const tile = { frame: 0, imageWidth: 32, imageHeight: 32, x: 0, y: 0, width: 32, height: 32, samples: 2 }
    const mean = (t: RenderedTile): number => t.pixels.reduce((a, b, i) => (i % 4 === 3 ? a : a + b), 0)
    const ratio = mean(renderTileCpu({ ...tile, scene: bright })) / mean(renderTileCpu({ ...tile, scene: plain }))
    // Light transport is linear in emission: four times the emission, four times the radiance (the same paths).
    expect(ratio).toBeCloseTo(4, 1)
  })
})
