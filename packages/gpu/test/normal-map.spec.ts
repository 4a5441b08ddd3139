import { Document, WebIO } from '@gltf-transform/core'
import { encode as encodePng } from 'fast-png'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  generateSceneDocument,
  loadScene,
  packScene,
  psnr,
  renderTileCpu,
  TOLERANCE,
} from '../src/index.js'
import type { Engine, RenderTileOptions, Scene } from '../src/index.js'
import { soupTangents } from '../src/scene/tangents.js'

/** Bytes of a normal-map texel to the tangent-space vector it encodes. */
const decode = (c: number[]): [number, number, number] => [
  (2 * c[0]!) / 255 - 1,
  (2 * c[1]!) / 255 - 1,
  (2 * c[2]!) / 255 - 1,
]

/** A 64x64 tangent-space normal map of egg-crate bumps, as a baker would write it. */
function bumpMap(): Uint8Array {
  const side = 64
  const data = new Uint8Array(side * side * 4)
  const k = (2 * Math.PI) / 16
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      // The slopes of the height 0.6 / k * sin(kx) sin(ky); the normal is (-dh/dx, -dh/dy, 1), normalized.
      const dx = 0.6 * Math.cos(k * x) * Math.sin(k * y)
      const dy = 0.6 * Math.sin(k * x) * Math.cos(k * y)
      const l = Math.hypot(dx, dy, 1)
      const n = [-dx / l, -dy / l, 1 / l].map((c) => Math.round((c * 0.5 + 0.5) * 255))
      data.set([...n, 255], (y * side + x) * 4)
    }
  }
  return encodePng({ width: side, height: side, data, channels: 4 })
}

interface FloorOptions {
  /** The floor's vertex normal (default +y). */
  normal?: [number, number, number]
  /** A 1x1 normal map of these bytes. */
  map?: number[]
  scale?: number
  /** The floor's TANGENT attribute (xyzw per vertex), else none. */
  tangent?: [number, number, number, number]
  /** Mirror the floor's node in x. */
  mirrored?: boolean
}

/**
 * A glossy floor (y = 0, u along +x, v along +z) under a small lamp, seen at an angle: how bright it looks depends
 * strongly on its shading normal.
 */
async function floorScene(o: FloorOptions = {}): Promise<Scene> {
  const doc = new Document()
  const buffer = doc.createBuffer()
  const scene = doc.createScene()
  doc.getRoot().setDefaultScene(scene)
  const quad = (corners: number[], uvs: number[], material: ReturnType<Document['createMaterial']>, n: number[]) => {
    const prim = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc.createAccessor().setType('VEC3').setArray(Float32Array.from(corners)).setBuffer(buffer),
      )
      .setAttribute(
        'NORMAL',
        doc
          .createAccessor()
          .setType('VEC3')
          .setArray(Float32Array.from([...n, ...n, ...n, ...n]))
          .setBuffer(buffer),
      )
      .setAttribute(
        'TEXCOORD_0',
        doc.createAccessor().setType('VEC2').setArray(Float32Array.from(uvs)).setBuffer(buffer),
      )
      .setIndices(
        doc
          .createAccessor()
          .setType('SCALAR')
          .setArray(Uint32Array.from([0, 1, 2, 0, 2, 3]))
          .setBuffer(buffer),
      )
      .setMaterial(material)
    return prim
  }
  const floorMaterial = doc.createMaterial('floor').setBaseColorFactor([0.8, 0.8, 0.8, 1]).setRoughnessFactor(0.3)
  floorMaterial.setMetallicFactor(0)
  if (o.map !== undefined) {
    const png = encodePng({ width: 1, height: 1, data: Uint8Array.from([...o.map, 255]), channels: 4 })
    floorMaterial.setNormalTexture(doc.createTexture().setImage(png).setMimeType('image/png'))
    if (o.scale !== undefined) floorMaterial.setNormalScale(o.scale)
  }
  // Corners counter-clockwise seen from above; u = (x + 1) / 2, v = (z + 1) / 2.
  const floor = quad(
    [-1, 0, -1, -1, 0, 1, 1, 0, 1, 1, 0, -1],
    [0, 0, 0, 1, 1, 1, 1, 0],
    floorMaterial,
    o.normal ?? [0, 1, 0],
  )
  if (o.tangent !== undefined) {
    const t = o.tangent
    floor.setAttribute(
      'TANGENT',
      doc
        .createAccessor()
        .setType('VEC4')
        .setArray(Float32Array.from([...t, ...t, ...t, ...t]))
        .setBuffer(buffer),
    )
  }
  const floorNode = doc.createNode('floor').setMesh(doc.createMesh().addPrimitive(floor))
  if (o.mirrored === true) floorNode.setScale([-1, 1, 1])
  scene.addChild(floorNode)
  const lamp = doc.createMaterial('lamp').setBaseColorFactor([0, 0, 0, 1]).setEmissiveFactor([1, 1, 1])
  // A 0.4 x 0.4 lamp at y = 1 above x = 0.3, facing down.
  const lampPrim = quad(
    [0.1, 1, -0.2, 0.5, 1, -0.2, 0.5, 1, 0.2, 0.1, 1, 0.2],
    [0, 0, 1, 0, 1, 1, 0, 1],
    lamp,
    [0, -1, 0],
  )
  scene.addChild(doc.createNode('lamp').setMesh(doc.createMesh().addPrimitive(lampPrim)))
  const camera = doc.createCamera().setType('perspective').setYFov(0.5).setZNear(0.01)
  // At (0, 1.2, 2.2) looking down at the origin: rotated about x by atan(1.2 / 2.2).
  const angle = -Math.atan2(1.2, 2.2)
  scene.addChild(
    doc
      .createNode('camera')
      .setCamera(camera)
      .setTranslation([0, 1.2, 2.2])
      .setRotation([Math.sin(angle / 2), 0, 0, Math.cos(angle / 2)]),
  )
  return loadScene(await new WebIO().writeBinary(doc))
}

const tile = (scene: Scene): RenderTileOptions => ({
  scene,
  frame: 1,
  imageWidth: 32,
  imageHeight: 32,
  x: 0,
  y: 0,
  width: 32,
  height: 32,
  samples: 16,
})

describe('MikkTSpace tangents', () => {
  it('should point the tangent along +u and the bitangent up the image (decreasing v)', () => {
    // One triangle of the floor: u along +x, v along +z, normal +y.
    const t = soupTangents(
      Float32Array.from([-1, 0, -1, -1, 0, 1, 1, 0, 1]),
      Float32Array.from([0, 1, 0, 0, 1, 0, 0, 1, 0]),
      Float32Array.from([0, 0, 0, 1, 1, 1]),
    )
    for (let k = 0; k < 3; k++) {
      expect([...t.subarray(k * 4, k * 4 + 3)]).toEqual([1, 0, 0])
      // cross(+y, +x) = -z, times w: the bitangent is -z when w = 1, towards v = 0, the image's top.
      expect(t[k * 4 + 3]).toBe(1)
    }
  })

  it('should stand in the face normal for a missing one', () => {
    const t = soupTangents(
      Float32Array.from([-1, 0, -1, -1, 0, 1, 1, 0, 1]),
      new Float32Array(9),
      Float32Array.from([0, 0, 0, 1, 1, 1]),
    )
    expect([...t].every(Number.isFinite)).toBe(true)
    expect([...t.subarray(0, 3)]).toEqual([1, 0, 0])
  })
})

describe('normal maps', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should bend the normal along the tangent by red and up the image by green, as a bent vertex normal would', async () => {
    const flat = await engine.renderTile(tile(await floorScene()))
    for (const map of [
      [218, 128, 218],
      [128, 218, 218],
      [60, 90, 230],
    ]) {
      const [x, y, z] = decode(map)
      // Tangent +x, bitangent -z (up the image), normal +y.
      const bent = await floorScene({ normal: [x, z, -y] })
      const mapped = await floorScene({ map })
      const expected = await engine.renderTile(tile(bent))
      const got = await engine.renderTile(tile(mapped))
      expect(psnr(got.pixels, expected.pixels), `map ${map}`).toBeGreaterThan(60)
      // And the bend shows: the map changes the image far more than rounding does.
      expect(psnr(got.pixels, flat.pixels), `map ${map}`).toBeLessThan(45)
      expect(psnr(renderTileCpu(tile(mapped)).pixels, got.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    }
  })

  it('should scale the bend by normalTexture.scale, 0 leaving the surface flat', async () => {
    const flat = await engine.renderTile(tile(await floorScene()))
    const none = await engine.renderTile(tile(await floorScene({ map: [218, 128, 218], scale: 0 })))
    expect(psnr(none.pixels, flat.pixels)).toBeGreaterThan(60)
    const half = await floorScene({ map: [218, 128, 218], scale: 0.5 })
    expect(half.materialList[0]!.normalScale).toBe(0.5)
    const [x, y, z] = decode([218, 128, 218])
    const bent = await floorScene({ normal: [x * 0.5, z, -y * 0.5] })
    expect(
      psnr((await engine.renderTile(tile(half))).pixels, (await engine.renderTile(tile(bent))).pixels),
    ).toBeGreaterThan(60)
  })

  it("should use the asset's TANGENT attribute under its node's transform, a mirror flipping its handedness", async () => {
    const words = (s: Scene): number[] => [...new Float32Array(s.aux.buffer, s.tangentOffset * 4, 4)]
    const generated = await floorScene({ map: [128, 218, 218] })
    expect(generated.tangentOffset).toBe(generated.uvOffset + generated.triangleCount * 6)
    expect(words(generated)).toEqual([1, 0, 0, 1])
    // A TANGENT attribute wins over generated tangents: the opposite handedness bends the other way.
    const given = await floorScene({ map: [128, 218, 218], tangent: [1, 0, 0, -1] })
    expect(words(given)).toEqual([1, 0, 0, -1])
    const [x, y, z] = decode([128, 218, 218])
    const expected = await engine.renderTile(tile(await floorScene({ normal: [x, z, y] })))
    expect(psnr((await engine.renderTile(tile(given))).pixels, expected.pixels)).toBeGreaterThan(60)
    // Mirrored in x: the tangent's x flips and so does w.
    const mirrored = await floorScene({ map: [128, 218, 218], tangent: [1, 0, 0, 1], mirrored: true })
    expect(words(mirrored)).toEqual([-1, 0, 0, -1])
  })

  it('should refuse a normal-mapped scene without tangents, with a coded error', () => {
    const material = {
      name: 'bumpy',
      baseColor: [1, 1, 1] as const,
      metallic: 0,
      roughness: 1,
      emissive: [0, 0, 0] as const,
      normalTexture: { texture: 0, wrapS: 0, wrapT: 0, linear: true } as const,
    }
    const soup = {
      vertices: Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0]),
      normals: new Float32Array(9),
      materialIndex: Uint32Array.from([0]),
      materials: [material],
      uvs: new Float32Array(6),
      textures: [{ width: 1, height: 1, rgba: Uint8Array.from([128, 128, 255, 255]) }],
    }
    expect(() => packScene(soup)).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }))
    expect(() => packScene({ ...soup, tangents: new Float32Array(12) })).not.toThrow()
    expect(() =>
      packScene({ ...soup, tangents: new Float32Array(12), materials: [{ ...material, normalScale: NaN }] }),
    ).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }))
  })

  it('should render a normal-mapped room on the GPU as the CPU reference does, sub-rectangles bit for bit', async () => {
    const doc = generateSceneDocument({ texturedFloor: true, spheres: 2, subdivisions: 2 })
    const floor = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'floor')!
    floor.setNormalTexture(doc.createTexture().setImage(bumpMap()).setMimeType('image/png')).setNormalScale(0.7)
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    const frame = { ...tile(scene), imageWidth: 64, imageHeight: 64, width: 64, height: 64, samples: 4 }
    const gpu = await engine.renderTile(frame)
    expect(psnr(gpu.pixels, renderTileCpu(frame).pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    const sub = await engine.renderTile({ ...frame, x: 10, y: 40, width: 30, height: 12 })
    for (let r = 0; r < 12; r++) {
      expect(sub.pixels.subarray(r * 30 * 4, (r + 1) * 30 * 4)).toEqual(
        gpu.pixels.subarray(((40 + r) * 64 + 10) * 4, ((40 + r) * 64 + 40) * 4),
      )
    }
  })
})
