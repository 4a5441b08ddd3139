import { WebIO } from '@gltf-transform/core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  bitwiseEqual,
  generateSceneDocument,
  loadScene,
  renderTileCpu,
  SceneTimeline,
  type Scene,
} from '../src/index.js'
import { buildBvh, refitBvh, type FlatBvh } from '../src/scene/bvh.js'
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
})
