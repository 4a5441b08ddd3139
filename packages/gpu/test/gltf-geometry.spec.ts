import { Document, Primitive as GltfPrimitive, WebIO } from '@gltf-transform/core'
import type { Material, Primitive } from '@gltf-transform/core'
import type { Node } from '@gltf-transform/core'
import { EXTMeshGPUInstancing, KHRMaterialsUnlit } from '@gltf-transform/extensions'
import { describe, expect, it, vi } from 'vitest'
import { loadScene, renderTileCpu } from '../src/index.js'
import type { Scene } from '../src/index.js'
import { PrimitiveMode } from '../src/scene/gltf-geometry.js'
import { TRIANGLE_FLOATS } from '../src/scene/scene.js'
import { rejectionCode } from './helpers/errors.js'
import { meanRed, wholeTile } from './helpers/render.js'

type Mode = 'list' | 'strip' | 'fan'

/**
 * A scene's triangles as sorted keys, each its three corners (in no particular order) and its winding's normal,
 * rounded: two scenes with equal keys hold the same triangles facing the same way, whatever order the BVH keeps.
 */
function triangleSet(scene: Scene): string[] {
  const keys: string[] = []
  const t = scene.triangles
  // Three decimals: instance rotations stored as 16-bit integers move corners by about 1e-4.
  const r = (x: number): string => (Math.abs(x) < 5e-4 ? 0 : x).toFixed(3)
  for (let i = 0; i < scene.triangleCount; i++) {
    const o = i * TRIANGLE_FLOATS
    const v0 = [t[o]!, t[o + 1]!, t[o + 2]!]
    const e1 = [t[o + 4]!, t[o + 5]!, t[o + 6]!]
    const e2 = [t[o + 8]!, t[o + 9]!, t[o + 10]!]
    const corners = [v0, v0.map((x, k) => x + e1[k]!), v0.map((x, k) => x + e2[k]!)].map((v) => v.map(r).join(','))
    const n = [e1[1]! * e2[2]! - e1[2]! * e2[1]!, e1[2]! * e2[0]! - e1[0]! * e2[2]!, e1[0]! * e2[1]! - e1[1]! * e2[0]!]
    const len = Math.hypot(n[0]!, n[1]!, n[2]!)
    keys.push(`${corners.sort().join(' ')} | ${n.map((x) => r(x / len)).join(',')}`)
  }
  return keys.sort()
}

/** A document with one emissive material (so the scene has a light) and a default scene. */
function baseDocument(): { doc: Document; scene: ReturnType<Document['createScene']>; add: (node: Node) => void } {
  const doc = new Document()
  doc.createBuffer()
  const scene = doc.createScene()
  doc.getRoot().setDefaultScene(scene)
  return { doc, scene, add: (node) => void scene.addChild(node) }
}

/**
 * The same fan of four triangles around a centre vertex (a square with its centre), drawn as a triangle list, a
 * strip or a fan, indexed or not. Strip and fan orders follow glTF 3.7.2.1, so every triangle faces +z.
 */
function square(doc: Document, mode: Mode, indexed: boolean): Primitive {
  // Corners counter-clockwise seen from +z, then the centre.
  const c = [
    [0, 0, 0],
    [1, 0, 0],
    [1, 1, 0],
    [0, 1, 0],
    [0.5, 0.5, 0],
  ]
  // Triangle list: centre, corner i, corner i + 1.
  const list = [4, 0, 1, 4, 1, 2, 4, 2, 3, 4, 3, 0]
  // Fan: (v[i+1], v[i+2], v[0]) with v0 = centre.
  const fan = [4, 0, 1, 2, 3, 0]
  // Strip over the square's two halves: (0, 1, 4), then odd (1, 2, 4) reversed as glTF does, and so on.
  const strip = [0, 1, 4, 2, 3]
  const order = mode === 'list' ? list : mode === 'fan' ? fan : strip
  const prim = doc
    .createPrimitive()
    .setMode(PrimitiveMode[mode === 'list' ? 'triangles' : mode === 'fan' ? 'triangleFan' : 'triangleStrip'])
  const buffer = doc.getRoot().listBuffers()[0]!
  if (indexed) {
    prim.setAttribute(
      'POSITION',
      doc.createAccessor().setType('VEC3').setArray(Float32Array.from(c.flat())).setBuffer(buffer),
    )
    prim.setIndices(doc.createAccessor().setType('SCALAR').setArray(Uint16Array.from(order)).setBuffer(buffer))
  } else {
    const flat = Float32Array.from(order.flatMap((i) => c[i]!))
    prim.setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(flat).setBuffer(buffer))
  }
  return prim.setMaterial(doc.createMaterial('lamp').setEmissiveFactor([1, 1, 1]))
}

async function load(doc: Document): Promise<Scene> {
  return loadScene(await new WebIO().registerExtensions([EXTMeshGPUInstancing, KHRMaterialsUnlit]).writeBinary(doc))
}

async function squareScene(mode: Mode, indexed: boolean): Promise<Scene> {
  const { doc, add } = baseDocument()
  add(doc.createNode().setMesh(doc.createMesh().addPrimitive(square(doc, mode, indexed))))
  return load(doc)
}

describe('glTF triangle strips and fans', () => {
  it('should draw a strip and a fan as the same triangles, facing the same way, as the list they stand for', async () => {
    const list = triangleSet(await squareScene('list', true))
    expect(list).toHaveLength(4)
    for (const mode of ['strip', 'fan'] as const) {
      for (const indexed of [true, false]) {
        const set = triangleSet(await squareScene(mode, indexed))
        // The strip covers the square with three triangles, not four around the centre: compare the fan only.
        if (mode === 'fan') expect(set, `${mode} indexed ${indexed}`).toEqual(list)
        else {
          expect(set, `${mode} indexed ${indexed}`).toHaveLength(3)
          for (const key of set) expect(key.endsWith('| 0.000,0.000,1.000'), key).toBe(true)
        }
      }
    }
  })

  it('should refuse a strip index past its vertices and a list not divisible by 3, with coded errors', async () => {
    const { doc, add } = baseDocument()
    const prim = square(doc, 'strip', true)
    prim.getIndices()!.setArray(Uint16Array.from([0, 1, 9]))
    add(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
    expect(await rejectionCode(load(doc))).toBe('GPU__MALFORMED_SCENE')

    const other = baseDocument()
    const list = square(other.doc, 'list', true)
    list.getIndices()!.setArray(Uint16Array.from([4, 0, 1, 4]))
    other.add(other.doc.createNode().setMesh(other.doc.createMesh().addPrimitive(list)))
    expect(await rejectionCode(load(other.doc))).toBe('GPU__MALFORMED_SCENE')
  })

  it('should read primitives that draw no triangles once per mesh, however many nodes draw them', async () => {
    // Strips of two vertices add nothing to the triangle bound: read again for every node that draws them, a small
    // file of many nodes and many such strips made the work of their product (6,000 by 6,000 took 59 s).
    const attributeReads = async (nodes: number): Promise<{ reads: number; scene: Scene }> => {
      const { doc, add } = baseDocument()
      add(doc.createNode().setMesh(doc.createMesh().addPrimitive(square(doc, 'list', true))))
      const buffer = doc.getRoot().listBuffers()[0]!
      const ends = doc
        .createAccessor()
        .setType('VEC3')
        .setArray(new Float32Array([0, 0, 0, 1, 0, 0]))
        .setBuffer(buffer)
      const empty = doc.createMesh()
      for (let p = 0; p < 10; p++) {
        empty.addPrimitive(doc.createPrimitive().setMode(PrimitiveMode.triangleStrip).setAttribute('POSITION', ends))
      }
      for (let n = 0; n < nodes; n++) add(doc.createNode().setMesh(empty))
      const glb = await new WebIO().writeBinary(doc)
      const read = vi.spyOn(GltfPrimitive.prototype, 'getAttribute')
      try {
        const scene = await loadScene(glb)
        return { reads: read.mock.calls.length, scene }
      } finally {
        read.mockRestore()
      }
    }
    const one = await attributeReads(1)
    const many = await attributeReads(40)
    expect(many.scene.triangleCount).toBe(one.scene.triangleCount)
    expect(many.reads).toBe(one.reads)
  })
})

describe('EXT_mesh_gpu_instancing', () => {
  /** Per instance: translation, rotation (unit quaternion) and scale. */
  const instances: Array<{ t: number[]; r: number[]; s: number[] }> = [
    { t: [0, 0, 0], r: [0, 0, 0, 1], s: [1, 1, 1] },
    { t: [3, 0, 0], r: [0, 0, Math.SQRT1_2, Math.SQRT1_2], s: [2, 2, 2] },
    { t: [0, -2, 1], r: [Math.SQRT1_2, 0, 0, Math.SQRT1_2], s: [1, 0.5, 1] },
  ]
  const parent = { translation: [10, 0, 0] as [number, number, number], scale: [1, 1, -1] as [number, number, number] }

  it('should draw a mesh once per instance, under its node, as separate nodes with those transforms would', async () => {
    const instanced = baseDocument()
    const mesh = instanced.doc.createMesh().addPrimitive(square(instanced.doc, 'list', true))
    const buffer = instanced.doc.getRoot().listBuffers()[0]!
    const ext = instanced.doc.createExtension(EXTMeshGPUInstancing).setRequired(true)
    // Rotations as normalized 16-bit integers, as glTF-Transform's `instance()` may write them.
    const rotation = Int16Array.from(instances.flatMap((i) => i.r.map((x) => Math.round(x * 32767))))
    const attribute = (type: 'VEC3' | 'VEC4', array: Float32Array | Int16Array, normalized = false) =>
      instanced.doc.createAccessor().setType(type).setArray(array).setNormalized(normalized).setBuffer(buffer)
    const node = instanced.doc
      .createNode()
      .setMesh(mesh)
      .setExtension(
        'EXT_mesh_gpu_instancing',
        ext
          .createInstancedMesh()
          .setAttribute('TRANSLATION', attribute('VEC3', Float32Array.from(instances.flatMap((i) => i.t))))
          .setAttribute('ROTATION', attribute('VEC4', rotation, true))
          .setAttribute('SCALE', attribute('VEC3', Float32Array.from(instances.flatMap((i) => i.s)))),
      )
    instanced.add(instanced.doc.createNode().setTranslation(parent.translation).setScale(parent.scale).addChild(node))

    const separate = baseDocument()
    const group = separate.doc.createNode().setTranslation(parent.translation).setScale(parent.scale)
    const copy = separate.doc.createMesh().addPrimitive(square(separate.doc, 'list', true))
    for (const i of instances) {
      group.addChild(
        separate.doc
          .createNode()
          .setMesh(copy)
          .setTranslation(i.t as [number, number, number])
          .setRotation(i.r as [number, number, number, number])
          .setScale(i.s as [number, number, number]),
      )
    }
    separate.add(group)

    const a = triangleSet(await load(instanced.doc))
    expect(a).toHaveLength(4 * instances.length)
    expect(a).toEqual(triangleSet(await load(separate.doc)))
  })

  it('should refuse instances past the triangle bound before expanding them, and malformed instance attributes', async () => {
    const build = (translations: number, rotations: number, rotationType: 'VEC4' | 'VEC3' = 'VEC4'): Document => {
      const { doc, add } = baseDocument()
      const buffer = doc.getRoot().listBuffers()[0]!
      const ext = doc.createExtension(EXTMeshGPUInstancing).setRequired(true)
      const width = rotationType === 'VEC4' ? 4 : 3
      const instancedMesh = ext
        .createInstancedMesh()
        .setAttribute(
          'TRANSLATION',
          doc
            .createAccessor()
            .setType('VEC3')
            .setArray(new Float32Array(translations * 3))
            .setBuffer(buffer),
        )
        .setAttribute(
          'ROTATION',
          doc
            .createAccessor()
            .setType(rotationType)
            .setArray(new Float32Array(rotations * width).map((_, k) => (k % width === width - 1 ? 1 : 0)))
            .setBuffer(buffer),
        )
      const mesh = doc.createMesh().addPrimitive(square(doc, 'list', true))
      add(doc.createNode().setMesh(mesh).setExtension('EXT_mesh_gpu_instancing', instancedMesh))
      return doc
    }
    // 4 triangles x 1,000,001 instances passes the 4,000,000-triangle bound.
    expect(await rejectionCode(load(build(1_000_001, 1_000_001)))).toBe('GPU__SCENE_TOO_LARGE')
    expect(await rejectionCode(load(build(3, 2)))).toBe('GPU__MALFORMED_SCENE')
    expect(await rejectionCode(load(build(3, 3, 'VEC3')))).toBe('GPU__MALFORMED_SCENE')
    expect(triangleSet(await load(build(3, 3)))).toHaveLength(12)
  })
})

describe('mirroring node matrices (glTF 3.7.2.1: clockwise is front under a negative determinant)', () => {
  /** The winding normals (rounded) of the square under a node of `scale`, or under one instance of that scale. */
  async function windingNormals(scale: [number, number, number], instanced = false): Promise<Set<string>> {
    const { doc, add } = baseDocument()
    const node = doc.createNode().setMesh(doc.createMesh().addPrimitive(square(doc, 'list', true)))
    if (instanced) {
      const buffer = doc.getRoot().listBuffers()[0]!
      const scales = doc.createAccessor().setType('VEC3').setArray(Float32Array.from(scale)).setBuffer(buffer)
      const ext = doc.createExtension(EXTMeshGPUInstancing).setRequired(true)
      node.setExtension('EXT_mesh_gpu_instancing', ext.createInstancedMesh().setAttribute('SCALE', scales))
    } else {
      node.setScale(scale)
    }
    add(node)
    return new Set(triangleSet(await load(doc)).map((key) => key.split(' | ')[1]!))
  }

  it('should wind every triangle to face where its mirrored surface faces', async () => {
    // The square faces +z: a mirror in x or y keeps it facing +z, one in z turns it to -z.
    const cases: Array<[[number, number, number], string]> = [
      [[1, 1, 1], '0.000,0.000,1.000'],
      [[-1, 1, 1], '0.000,0.000,1.000'],
      [[1, -2, 1], '0.000,0.000,1.000'],
      [[-1, -1, 1], '0.000,0.000,1.000'],
      [[1, 1, -1], '0.000,0.000,-1.000'],
      [[-1, -1, -1], '0.000,0.000,-1.000'],
    ]
    for (const [scale, normal] of cases) {
      expect([...(await windingNormals(scale))], JSON.stringify(scale)).toEqual([normal])
    }
    expect([...(await windingNormals([-1, 1, 1], true))]).toEqual(['0.000,0.000,1.000'])
  })

  /** A quad (corners (±1, ±1, 0), facing +z) of `material` under scale `scale`, seen by a camera on +z. */
  async function quadScene(scale: [number, number, number], material: (doc: Document) => Material): Promise<Scene> {
    const doc = new Document()
    const buffer = doc.createBuffer()
    const scene = doc.createScene()
    doc.getRoot().setDefaultScene(scene)
    const accessor = (type: 'VEC3' | 'VEC4' | 'SCALAR', array: Float32Array | Uint16Array) =>
      doc.createAccessor().setType(type).setArray(array).setBuffer(buffer)
    const prim = doc
      .createPrimitive()
      .setAttribute('POSITION', accessor('VEC3', Float32Array.from([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0])))
      // Red on the left (x = -1), green on the right.
      .setAttribute('COLOR_0', accessor('VEC3', Float32Array.from([1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0])))
      .setIndices(accessor('SCALAR', Uint16Array.from([0, 1, 2, 0, 2, 3])))
      .setMaterial(material(doc))
    scene.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)).setScale(scale))
    const camera = doc.createCamera().setType('perspective').setYFov(0.9).setZNear(0.01)
    scene.addChild(doc.createNode().setCamera(camera).setTranslation([0, 0, 3]))
    return load(doc)
  }

  it('should light a mirrored single-sided emissive quad from its front face, as the quad unmirrored', async () => {
    const lamp = (doc: Document) =>
      doc.createMaterial('lamp').setEmissiveFactor([1, 1, 1]).setBaseColorFactor([0, 0, 0, 1])
    const seen = async (scale: [number, number, number]) =>
      meanRed(renderTileCpu(wholeTile(await quadScene(scale, lamp), 16, { samples: 1, maxDepth: 1 })).pixels)
    const front = await seen([1, 1, 1])
    expect(front).toBeGreaterThan(0.2)
    expect(await seen([-1, 1, 1])).toBe(front)
    expect(await seen([1, 1, -1])).toBe(0)
  })

  it('should carry each corner\u2019s attributes with it when a mirror swaps corners', async () => {
    // Unlit: the image shows each point's vertex colour, whichever face it turns to the camera.
    const flat = (doc: Document) =>
      doc
        .createMaterial('flat')
        .setExtension('KHR_materials_unlit', doc.createExtension(KHRMaterialsUnlit).createUnlit())
    const halves = async (scale: [number, number, number]) => {
      const side = 16
      const px = renderTileCpu(wholeTile(await quadScene(scale, flat), side, { samples: 1, maxDepth: 1 })).pixels
      const red = [0, 0]
      for (let i = 0; i < side * side; i++) red[(i % side) * 2 < side ? 0 : 1]! += px[i * 4]!
      return red
    }
    const [left, right] = await halves([1, 1, 1])
    expect(left).toBeGreaterThan(right! * 2)
    // Mirrored in x, the red corners lie on the right.
    const [mirroredLeft, mirroredRight] = await halves([-1, 1, 1])
    // Each pixel's jittered sample falls elsewhere on the quad than its mirror image's: close, not equal.
    expect(mirroredLeft! / right!).toBeCloseTo(1, 1)
    expect(mirroredRight! / left!).toBeCloseTo(1, 1)
  })
})
