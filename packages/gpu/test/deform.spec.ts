import { type Document, Node, PrimitiveTarget, WebIO } from '@gltf-transform/core'
import { encode as encodePng } from 'fast-png'
import { describe, expect, it, vi } from 'vitest'
import {
  generateSceneDocument,
  loadScene,
  MAX_MORPH_TARGETS,
  MAX_NODE_DEPTH,
  MAX_SCENE_JOINTS,
  MAX_SKIN_JOINTS,
  MAX_SKIN_SETS,
  SceneTimeline,
} from '../src/index.js'
import { animate } from './helpers/gltf.js'
import { triangleRows } from './helpers/triangles.js'

/** Corners of a 1 x 1 quad in the xy plane at z = -1, the two top ones at y = 1. */
const QUAD = [0, 0, -1, 1, 0, -1, 1, 1, -1, 0, 1, -1]

/** A quad primitive of `corners` facing +z, and the accessor maker of the document's buffer for more attributes. */
function quadPrimitive(doc: Document, corners: number[] = QUAD) {
  const buffer = doc.getRoot().listBuffers()[0]!
  const accessor = (type: 'VEC3' | 'VEC4' | 'SCALAR', array: Float32Array | Uint16Array | Uint8Array) =>
    doc.createAccessor().setType(type).setArray(array).setBuffer(buffer)
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', accessor('VEC3', new Float32Array(corners)))
    .setAttribute('NORMAL', accessor('VEC3', new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1])))
    .setIndices(accessor('SCALAR', new Uint16Array([0, 1, 2, 0, 2, 3])))
  return { prim, accessor }
}

/**
 * The procedural scene's room plus a skinned quad: a root joint and a child joint, the quad's bottom corners bound
 * to the root, its top ones to the child (or `topWeights` of it, the rest on the root). The quad's own node sits at
 * x = 5: skinning ignores it.
 */
function skinned(topWeights = 1): { doc: Document; child: Node } {
  const doc = generateSceneDocument({ subdivisions: 0 })
  const root = doc.createNode('root')
  const child = doc.createNode('child')
  root.addChild(child)
  const rest = 1 - topWeights
  const { prim, accessor } = quadPrimitive(doc)
  // The top corners' second joint is the root (index 0), with the rest of their weight.
  prim
    .setAttribute('JOINTS_0', accessor('VEC4', new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])))
    .setAttribute(
      'WEIGHTS_0',
      accessor('VEC4', new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, topWeights, rest, 0, 0, topWeights, rest, 0, 0])),
    )
  const skin = doc.createSkin('skin').addJoint(root).addJoint(child)
  const quad = doc.createNode('quad').setMesh(doc.createMesh('quad').addPrimitive(prim)).setSkin(skin)
  quad.setTranslation([5, 0, 0])
  const scene = doc.getRoot().listScenes()[0]!
  scene.addChild(root).addChild(quad)
  return { doc, child }
}

/** The scene with an unskinned quad of these corners instead, at the origin: what skinning must give. */
async function withQuad(corners: number[]) {
  const doc = generateSceneDocument({ subdivisions: 0 })
  const { prim } = quadPrimitive(doc, corners)
  doc
    .getRoot()
    .listScenes()[0]!
    .addChild(doc.createNode('quad').setMesh(doc.createMesh('quad').addPrimitive(prim)))
  return loadScene(await new WebIO().writeBinary(doc))
}

/** QUAD with its top corners raised by `lift`. */
const lifted = (lift: number) => QUAD.map((v, i) => (i === 7 || i === 10 ? v + lift : v))

describe('skinned meshes', () => {
  it('should draw a skinned mesh where its joints put it, not where its own node is', async () => {
    const { doc, child } = skinned()
    child.setTranslation([0, 2, 0])
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    // Bottom corners (bound to the root, at rest) stay; top corners (bound to the child) rise by 2; x = 5 is ignored.
    const expected = await withQuad(lifted(2))
    expect(scene.triangles).toEqual(expected.triangles)
    expect(scene.normals).toEqual(expected.normals)
  })

  it('should blend the joints by their weights and follow an animation of a joint', async () => {
    const { doc, child } = skinned(0.5)
    animate(doc, child, 'translation', [0, 1], [0, 0, 0, 0, 2, 0])
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(doc))
    // Half on the child: the top corners rise by half the child's lift, 1 at the end of the second.
    expect(triangleRows(timeline.at(0))).toEqual(triangleRows(await withQuad(lifted(0))))
    expect(triangleRows(timeline.at(1))).toEqual(triangleRows(await withQuad(lifted(1))))
  })

  it('should turn a joint about where it was bound, through its inverse bind matrix', async () => {
    const { doc, child } = skinned()
    // The child joint stands at y = 1, bound there: its inverse bind matrix takes the quad back to it.
    child.setTranslation([0, 1, 0])
    const buffer = doc.getRoot().listBuffers()[0]!
    const inverseBind = [
      1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 1,
    ]
    doc
      .getRoot()
      .listSkins()[0]!
      .setInverseBindMatrices(
        doc.createAccessor().setType('MAT4').setArray(new Float32Array(inverseBind)).setBuffer(buffer),
      )
    // A quarter turn about z: the top corners swing about (0, 1), (1, 1) to (0, 2).
    child.setRotation([0, 0, Math.SQRT1_2, Math.SQRT1_2])
    const turned = await loadScene(await new WebIO().writeBinary(doc))
    const expected = await withQuad([0, 0, -1, 1, 0, -1, 0, 2, -1, 0, 1, -1])
    expect(turned.triangles.length).toBe(expected.triangles.length)
    turned.triangles.forEach((v, i) => expect(v).toBeCloseTo(expected.triangles[i]!, 5))
  })

  it('should refuse a skin of more than MAX_SKIN_JOINTS joints, and nodes nested past MAX_NODE_DEPTH', async () => {
    const wide = skinned()
    const skin = wide.doc.getRoot().listSkins()[0]!
    for (let i = 0; i < MAX_SKIN_JOINTS; i++) skin.addJoint(wide.doc.createNode())
    await expect(loadScene(await new WebIO().writeBinary(wide.doc))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      message: expect.stringMatching(/joints/),
    })
    // A chain of nodes, each the child of the last: followed level by level, it would overflow the stack.
    const deep = skinned()
    let parent = deep.child
    for (let i = 0; i < MAX_NODE_DEPTH; i++) {
      const next = deep.doc.createNode()
      parent.addChild(next)
      parent = next
    }
    await expect(loadScene(await new WebIO().writeBinary(deep.doc))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      message: expect.stringMatching(/deep/),
    })
  })

  it('should refuse a primitive of more than MAX_SKIN_SETS joint and weight pairs before reading them', async () => {
    // Every pair names the same two accessors, so a small file could make each corner read thousands of pairs.
    const withSets = async (sets: number) => {
      const { doc } = skinned()
      const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
      const [joints, weights] = [prim.getAttribute('JOINTS_0')!, prim.getAttribute('WEIGHTS_0')!]
      for (let set = 1; set < sets; set++)
        prim.setAttribute(`JOINTS_${set}`, joints).setAttribute(`WEIGHTS_${set}`, weights)
      return loadScene(await new WebIO().writeBinary(doc))
    }
    await expect(withSets(MAX_SKIN_SETS)).resolves.toBeDefined()
    await expect(withSets(MAX_SKIN_SETS + 1)).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { limit: MAX_SKIN_SETS },
    })
  })

  it("should compose each node's local matrix once a build, however many skins list its joints", async () => {
    // Skins of many joints deep under a chain of parents: each joint's world matrix was walked up the whole chain,
    // again for every skin, so 40 skins of 4,096 joints 250 deep took 20 s a build.
    const { doc } = skinned()
    const scene = doc.getRoot().listScenes()[0]!
    let parent = doc.createNode('chain')
    scene.addChild(parent)
    for (let i = 0; i < 20; i++) {
      const next = doc.createNode().setTranslation([0.01, 0, 0])
      parent.addChild(next)
      parent = next
    }
    const joints = Array.from({ length: 64 }, () => doc.createNode())
    for (const joint of joints) parent.addChild(joint)
    const quad = doc.getRoot().listMeshes().at(-1)!
    for (let s = 0; s < 4; s++) {
      const skin = doc.createSkin()
      for (const joint of joints) skin.addJoint(joint)
      scene.addChild(doc.createNode().setMesh(quad).setSkin(skin))
    }
    const glb = await new WebIO().writeBinary(doc)
    const nodes = doc.getRoot().listNodes().length
    const compose = vi.spyOn(Node.prototype, 'getMatrix')
    try {
      await loadScene(glb)
      expect(compose.mock.calls.length).toBeLessThanOrEqual(nodes)
    } finally {
      compose.mockRestore()
    }
  })

  it('should refuse skins that list more than MAX_SCENE_JOINTS joints together before the JSON is parsed', async () => {
    const doc = generateSceneDocument({ subdivisions: 0 })
    const joints = Array.from({ length: MAX_SKIN_JOINTS }, () => doc.createNode())
    const root = doc.createNode('rig')
    for (const joint of joints) root.addChild(joint)
    doc.getRoot().listScenes()[0]!.addChild(root)
    // Each skin within its own bound, the same joints listed again and again.
    for (let s = 0; s <= MAX_SCENE_JOINTS / MAX_SKIN_JOINTS; s++) {
      const skin = doc.createSkin()
      for (const joint of joints) skin.addJoint(joint)
    }
    await expect(loadScene(await new WebIO().writeBinary(doc))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { joints: (MAX_SCENE_JOINTS / MAX_SKIN_JOINTS + 1) * MAX_SKIN_JOINTS, limit: MAX_SCENE_JOINTS },
    })
  })

  it('should refuse nodes that form a cycle with GPU__MALFORMED_SCENE, not walk up them for ever', async () => {
    const io = new WebIO()
    const { json, resources } = await io.writeJSON(generateSceneDocument({ subdivisions: 1 }))
    // Two nodes, each the other's child: glTF forbids it, and glTF-Transform reads it as it is.
    const nodes = json.nodes ?? []
    nodes.push({ name: 'a', children: [nodes.length + 1] }, { name: 'b', children: [nodes.length] })
    const glb = await io.writeBinary(await io.readJSON({ json: { ...json, nodes }, resources }))
    await expect(loadScene(glb)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/cycle/),
    })
  })

  it('should scale weights that do not sum to 1, and let a vertex with no weight follow its first joint', async () => {
    const { doc, child } = skinned()
    child.setTranslation([0, 2, 0])
    const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
    // Bottom corners: no weight at all, on the root. Top corners: a quarter each on the child and the root.
    prim
      .getAttribute('WEIGHTS_0')!
      .setArray(new Float32Array([0, 0, 0, 0, 0, 0, 0, 0, 0.25, 0.25, 0, 0, 0.25, 0.25, 0, 0]))
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    // As half and half: the top corners rise by half the child's lift; the bottom ones stay with the root.
    expect(scene.triangles).toEqual((await withQuad(lifted(1))).triangles)
  })

  it('should refuse a negative or non-finite joint weight with a coded error', async () => {
    for (const bad of [-0.5, Number.NaN]) {
      const { doc } = skinned()
      const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
      prim.getAttribute('WEIGHTS_0')!.setArray(new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1.5, bad, 0, 0, 1, 0, 0, 0]))
      await expect(loadScene(await new WebIO().writeBinary(doc))).rejects.toMatchObject({
        code: 'GPU__MALFORMED_SCENE',
        message: expect.stringMatching(/vertex 2 has joint weight (-0\.5|NaN)/),
      })
    }
  })

  it('should refuse a vertex that names a joint the skin does not have, with a coded error', async () => {
    const { doc } = skinned()
    const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
    prim.getAttribute('JOINTS_0')!.setArray(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0]))
    await expect(loadScene(await new WebIO().writeBinary(doc))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/names joint 7 of 2/),
    })
  })
})

/** The scene with a quad whose one morph target lifts its top corners by 1, at default weight `weight`. */
function morphing(weight: number): { doc: Document; quad: Node } {
  const doc = generateSceneDocument({ subdivisions: 0 })
  const { prim, accessor } = quadPrimitive(doc)
  const lift = doc
    .createPrimitiveTarget('lift')
    .setAttribute('POSITION', accessor('VEC3', new Float32Array([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0])))
  prim.addTarget(lift)
  const quad = doc.createNode('quad').setMesh(doc.createMesh('quad').addPrimitive(prim).setWeights([weight]))
  doc.getRoot().listScenes()[0]!.addChild(quad)
  return { doc, quad }
}

describe('morph targets', () => {
  it("should blend a mesh's morph targets by its default weights", async () => {
    const scene = await loadScene(await new WebIO().writeBinary(morphing(0.5).doc))
    expect(scene.triangles).toEqual((await withQuad(lifted(0.5))).triangles)
  })

  it('should refuse a malformed morph target at once, even at weight 0, and too many targets', async () => {
    const { doc } = morphing(0)
    const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
    const buffer = doc.getRoot().listBuffers()[0]!
    const short = doc.createAccessor().setType('VEC3').setArray(new Float32Array(3)).setBuffer(buffer)
    prim.addTarget(doc.createPrimitiveTarget('short').setAttribute('POSITION', short))
    await expect(loadScene(await new WebIO().writeBinary(doc))).rejects.toMatchObject({ code: 'GPU__MALFORMED_SCENE' })
    const many = morphing(0)
    const manyPrim = many.doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
    const lift = manyPrim.listTargets()[0]!
    for (let i = 0; i < MAX_MORPH_TARGETS; i++) manyPrim.addTarget(lift.clone())
    await expect(loadScene(await new WebIO().writeBinary(many.doc))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
    })
  })

  it("should check a primitive's targets once a build, however many nodes draw it", async () => {
    // Checked again for every node, a small file of many nodes drawing one triangle of 256 targets cost each node
    // every target (20,000 nodes took 4.6 s, 1 s without the targets).
    const targetReads = async (nodes: number): Promise<number> => {
      const { doc, quad } = morphing(0)
      const prim = quad.getMesh()!.listPrimitives()[0]!
      for (let i = 1; i < 64; i++) prim.addTarget(prim.listTargets()[0]!.clone())
      const scene = doc.getRoot().listScenes()[0]!
      for (let n = 1; n < nodes; n++) scene.addChild(doc.createNode().setMesh(quad.getMesh()))
      const glb = await new WebIO().writeBinary(doc)
      const read = vi.spyOn(PrimitiveTarget.prototype, 'getAttribute')
      try {
        await loadScene(glb)
        return read.mock.calls.length
      } finally {
        read.mockRestore()
      }
    }
    expect(await targetReads(40)).toBe(await targetReads(1))
  })

  it('should follow an animation of the weights, and give them back as stored', async () => {
    const { doc, quad } = morphing(0)
    animate(doc, quad, 'weights', [0, 1], [0, 1])
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(doc))
    expect(timeline.animated).toBe(true)
    expect(triangleRows(timeline.at(0.5))).toEqual(triangleRows(await withQuad(lifted(0.5))))
    expect(triangleRows(timeline.at(1))).toEqual(triangleRows(await withQuad(lifted(1))))
    expect(triangleRows(timeline.stored())).toEqual(triangleRows(await withQuad(lifted(0))))
  })

  it("should move a normal-mapped mesh's tangents by its targets' TANGENT displacements", async () => {
    const { doc } = morphing(0.5)
    const prim = doc.getRoot().listMeshes().at(-1)!.listPrimitives()[0]!
    const buffer = doc.getRoot().listBuffers()[0]!
    const accessor = (type: 'VEC2' | 'VEC3' | 'VEC4', values: number[]) =>
      doc.createAccessor().setType(type).setArray(Float32Array.from(values)).setBuffer(buffer)
    const flat = encodePng({ width: 1, height: 1, data: Uint8Array.of(128, 128, 255, 255), channels: 4 })
    prim.setMaterial(
      doc.createMaterial('bumpy').setNormalTexture(doc.createTexture().setImage(flat).setMimeType('image/png')),
    )
    prim.setAttribute('TEXCOORD_0', accessor('VEC2', [0, 0, 1, 0, 1, 1, 0, 1]))
    prim.setAttribute('TANGENT', accessor('VEC4', [1, 0, 0, -1, 1, 0, 0, -1, 1, 0, 0, -1, 1, 0, 0, -1]))
    // The target turns every tangent from +x to +y: at weight 0.5, halfway; the handedness stays.
    prim.listTargets()[0]!.setAttribute('TANGENT', accessor('VEC3', [-1, 1, 0, -1, 1, 0, -1, 1, 0, -1, 1, 0]))
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    const tangents = new Float32Array(scene.aux.buffer, scene.aux.byteOffset + scene.tangentOffset * 4)
    // Only the quad's six corners have tangents (the room has no normal map): each is the morphed one.
    const given = Array.from({ length: scene.triangleCount * 3 }, (_, i) => [...tangents.subarray(i * 4, i * 4 + 4)])
    expect(given.filter((t) => t.slice(0, 3).some((x) => x !== 0))).toEqual(Array(6).fill([0.5, 0.5, 0, -1]))
  })
})
