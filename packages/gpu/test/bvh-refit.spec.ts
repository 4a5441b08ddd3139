import { Document, WebIO } from '@gltf-transform/core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  bitwiseEqual,
  generateSceneDocument,
  GpuError,
  isGpuError,
  loadScene,
  MAX_BVH_TRAVERSAL_COST,
  packScene,
  renderTileCpu,
  SceneTimeline,
  type Scene,
  type TriangleSoup,
} from '../src/index.js'
import { buildBvh, bvhTraversalCost, refitBvh, type FlatBvh } from '../src/scene/bvh.js'
import { BVH_NODE_FLOATS } from '../src/scene/scene.js'
import { animate } from './helpers/gltf.js'

/** `count` small triangles scattered in the unit cube, from a fixed seed. */
function scattered(count: number, seed: number): Float32Array {
  let state = seed
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32
  const vertices = new Float32Array(count * 9)
  for (let t = 0; t < count; t++) {
    const [x, y, z] = [next(), next(), next()]
    for (let k = 0; k < 3; k++) vertices.set([x + next() * 0.05, y + next() * 0.05, z + next() * 0.05], t * 9 + k * 3)
  }
  return vertices
}

/** One grey material's triangles at `vertices`, their normals left to the faces'. */
function soupOf(vertices: Float32Array): TriangleSoup {
  return {
    vertices,
    normals: new Float32Array(vertices.length),
    materialIndex: new Uint32Array(vertices.length / 9),
    materials: [{ name: 'grey', baseColor: [0.8, 0.8, 0.8], metallic: 0, roughness: 1, emissive: [0, 0, 0] }],
  }
}

/**
 * A GLB of `pieces` small tetrahedra in a 0.2-unit cluster at time 0 that fly apart to fill a 4-unit cube by time 1
 * (debris bursting): the tree built at the burst groups pieces that end up far apart.
 */
async function burstScene(pieces: number): Promise<Uint8Array> {
  const doc = new Document()
  const buffer = doc.createBuffer()
  const scene = doc.createScene()
  doc.getRoot().setDefaultScene(scene)
  const s = 0.02
  const corners = [
    [0, 0, 0],
    [s, 0, 0],
    [0, s, 0],
    [0, 0, s],
  ]
  const faces = [
    [0, 2, 1],
    [0, 1, 3],
    [0, 3, 2],
    [1, 2, 3],
  ]
  const positions = doc
    .createAccessor()
    .setType('VEC3')
    .setBuffer(buffer)
    .setArray(Float32Array.from(faces.flat().flatMap((c) => corners[c]!)))
  const mesh = doc.createMesh().addPrimitive(doc.createPrimitive().setAttribute('POSITION', positions))
  const times = doc
    .createAccessor()
    .setType('SCALAR')
    .setBuffer(buffer)
    .setArray(Float32Array.from([0, 1]))
  const burst = doc.createAnimation('burst')
  let state = 7
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32
  for (let i = 0; i < pieces; i++) {
    const from = [0.2 * next() - 0.1, 0.2 * next() - 0.1, 0.2 * next() - 0.1].map(Math.fround) as [
      number,
      number,
      number,
    ]
    const to = [4 * next() - 2, 4 * next() - 2, 4 * next() - 2]
    const node = doc.createNode(`piece-${i}`).setMesh(mesh).setTranslation(from)
    scene.addChild(node)
    const keys = doc
      .createAccessor()
      .setType('VEC3')
      .setBuffer(buffer)
      .setArray(Float32Array.from([...from, ...to]))
    const sampler = doc.createAnimationSampler().setInput(times).setOutput(keys)
    burst
      .addSampler(sampler)
      .addChannel(doc.createAnimationChannel().setTargetNode(node).setTargetPath('translation').setSampler(sampler))
  }
  return new WebIO().writeBinary(doc)
}

/** The index and count slots of every node: what a tree is, boxes aside. */
function topologyOf(nodes: Float32Array): number[] {
  return Array.from(new Uint32Array(nodes.buffer, nodes.byteOffset, nodes.length)).filter((_, i) => i % 4 === 3)
}

/** Every way `bvh`'s boxes fail to hold what they must over `vertices`: a leaf its triangles, a node its children. */
function escapes(bvh: FlatBvh, vertices: Float32Array): string[] {
  const bits = new Uint32Array(bvh.nodes.buffer)
  const holds = (node: number, p: ArrayLike<number>, at: number) =>
    [0, 1, 2].every(
      (a) =>
        bvh.nodes[node * BVH_NODE_FLOATS + a]! <= p[at + a]! &&
        p[at + a]! <= bvh.nodes[node * BVH_NODE_FLOATS + 4 + a]!,
    )
  const out: string[] = []
  for (let node = 0; node < bvh.nodeCount; node++) {
    const o = node * BVH_NODE_FLOATS
    const count = bits[o + 7]!
    if (count > 0) {
      for (let i = bits[o + 3]!; i < bits[o + 3]! + count; i++) {
        for (let k = 0; k < 3; k++) if (!holds(node, vertices, bvh.order[i]! * 9 + k * 3)) out.push(`leaf ${node}`)
      }
    } else {
      const left = node + 1
      const right = bits[left * BVH_NODE_FLOATS + 7]! > 0 ? left + 1 : bits[left * BVH_NODE_FLOATS + 3]!
      for (const child of [left, right]) {
        for (const corner of [0, 4]) {
          if (!holds(node, bvh.nodes, child * BVH_NODE_FLOATS + corner)) out.push(`node ${node} child ${child}`)
        }
      }
    }
  }
  return out
}

describe('refitBvh', () => {
  it('should give the built tree bit for bit over the vertices it was built on', () => {
    const vertices = scattered(2_000, 1)
    const built = buildBvh(vertices, 2_000)
    expect(bitwiseEqual(refitBvh(built, vertices).nodes, built.nodes)).toBe(true)
  })

  it('should keep the tree and hold every triangle where the triangles moved far', () => {
    const before = scattered(2_000, 1)
    const built = buildBvh(before, 2_000)
    // Each triangle somewhere else entirely: the tree groups them badly now, but must still hold them.
    const after = scattered(2_000, 2)
    const refitted = refitBvh(built, after)
    expect(escapes(built, after).length).toBeGreaterThan(0)
    expect(escapes(refitted, after)).toEqual([])
    expect(topologyOf(refitted.nodes)).toEqual(topologyOf(built.nodes))
  })
})

describe('packScene with a topology', () => {
  it("should keep the refit of a small rigid motion: the topology's tree, its boxes moved", () => {
    const before = scattered(2_000, 1)
    const topology = buildBvh(before, 2_000)
    // Half the triangles, one object, moved a little as one piece.
    const after = before.map((v, i) => (i < before.length / 2 && i % 3 === 0 ? v + 0.03 : v))
    const refitted = refitBvh(topology, after)
    expect(bvhTraversalCost(refitted)).toBeGreaterThan(bvhTraversalCost(topology))
    const scene = packScene(soupOf(after), { topology })
    expect(bitwiseEqual(scene.bvh, refitted.nodes)).toBe(true)
    expect(bitwiseEqual(scene.bvh, buildBvh(after, 2_000).nodes)).toBe(false)
  })

  it('should build afresh a refit past MAX_BVH_TRAVERSAL_COST, even one as costly as its topology', () => {
    const count = 80_000
    const after = scattered(count, 2)
    // A tree grouping triangles from another pose, refitted here: over `after` it costs what its refit does, so
    // only the bound, not the ratio, can refuse that refit.
    const topology = refitBvh(buildBvh(scattered(count, 1), count), after)
    expect(bvhTraversalCost(topology)).toBeGreaterThan(MAX_BVH_TRAVERSAL_COST)
    const scene = packScene(soupOf(after), { topology })
    const built = buildBvh(after, count)
    expect(bvhTraversalCost(built)).toBeLessThan(MAX_BVH_TRAVERSAL_COST)
    expect(bitwiseEqual(scene.bvh, built.nodes)).toBe(true)
  })
})

describe('SceneTimeline', () => {
  let glb: Uint8Array

  beforeAll(async () => {
    // The room with its diffuse sphere rolling across it.
    const doc = generateSceneDocument({ subdivisions: 2 })
    const sphere = doc
      .getRoot()
      .listNodes()
      .find((n) => n.getName() === 'diffuse-sphere')!
    // Stored where the first key, a float32, puts it: time 0 is then the pose as stored.
    sphere.setTranslation([-0.5, 0.375, -0.25])
    animate(doc, sphere, 'translation', [0, 1], [-0.5, 0.375, -0.25, 0.5, 0.625, 0.375])
    glb = await new WebIO().writeBinary(doc)
  })

  const render = (scene: Scene) =>
    renderTileCpu({ scene, frame: 0, imageWidth: 12, imageHeight: 12, x: 0, y: 0, width: 12, height: 12, samples: 2 })
      .pixels

  it('should refit the tree built for the topology time, which is the tree a build gives', async () => {
    const timeline = await SceneTimeline.load(glb)
    const first = timeline.at(0)
    // Time 0 is the stored pose: a still load builds its tree.
    const built = await loadScene(glb)
    expect(bitwiseEqual(first.bvh, built.bvh)).toBe(true)
    expect(bitwiseEqual(first.triangles, built.triangles)).toBe(true)
    const later = timeline.at(0.75)
    expect(bitwiseEqual(later.triangles, first.triangles)).toBe(false)
    expect(topologyOf(later.bvh)).toEqual(topologyOf(first.bvh))
  })

  it('should build the same frame bit for bit whatever frames were built before it', async () => {
    const busy = await SceneTimeline.load(glb)
    for (const time of [0.75, 0.25, 1]) busy.at(time)
    const after = busy.at(0.5)
    const alone = (await SceneTimeline.load(glb)).at(0.5)
    expect(bitwiseEqual(after.bvh, alone.bvh)).toBe(true)
    expect(bitwiseEqual(after.triangles, alone.triangles)).toBe(true)
    expect(bitwiseEqual(render(after), render(alone))).toBe(true)
  })

  it('should build a frame whose triangles flew apart for its own pose, as a load at that time does', async () => {
    const burst = await burstScene(300)
    const timeline = await SceneTimeline.load(burst)
    const cost = (scene: Scene) => bvhTraversalCost({ nodes: scene.bvh, nodeCount: scene.bvhNodeCount })
    const atBurst = timeline.at(0)
    // Refitted, the tree built at the burst would cost 255 at time 1, 4 times its 62 at the burst; built, 24.
    const apart = timeline.at(1)
    const alone = await loadScene(burst, { time: 1, topologyTime: 1 })
    expect(bitwiseEqual(apart.bvh, alone.bvh)).toBe(true)
    expect(bitwiseEqual(apart.triangles, alone.triangles)).toBe(true)
    expect(cost(apart)).toBeLessThan(cost(atBurst))
  })

  it('should refuse every time with one coded error where the pose at the topology time cannot be drawn', async () => {
    const doc = generateSceneDocument({ subdivisions: 0 })
    const sphere = doc
      .getRoot()
      .listNodes()
      .find((n) => n.getName() === 'diffuse-sphere')!
    // At time 0 the sphere lies past float32's range; from time 1 it sits in the room.
    animate(doc, sphere, 'scale', [0, 1], [3e38, 3e38, 3e38, 1, 1, 1])
    animate(doc, sphere, 'translation', [0, 1], [3e38, 3e38, 3e38, 0, 0.3, 0])
    const glb = await new WebIO().writeBinary(doc)
    const timeline = await SceneTimeline.load(glb)
    const refusal = (time: number) => {
      try {
        timeline.at(time)
      } catch (e) {
        return e
      }
      return undefined
    }
    const first = refusal(1)
    expect(isGpuError(first, 'GPU__MALFORMED_SCENE')).toBe(true)
    expect((first as GpuError).context).toMatchObject({ topologyTime: 0 })
    // Kept, not found again by posing the document for each frame.
    expect(refusal(0)).toBe(first)
    expect(refusal(1)).toBe(first)
    // With a topology time where it can be drawn, the pose at time 1 is a scene.
    expect((await SceneTimeline.load(glb, { topologyTime: 1 })).at(1).triangleCount).toBe(
      timeline.stored().triangleCount,
    )
  })
})
