import { Document, WebIO } from '@gltf-transform/core'
import { describe, expect, it } from 'vitest'
import {
  BVH_NODE_FLOATS,
  generateScene,
  GpuError,
  isGpuError,
  loadScene,
  MAX_BVH_TRAVERSAL_COST,
} from '../src/index.js'
import { buildBvh, bvhTraversalCost } from '../src/scene/bvh.js'

/**
 * A GLB of one indexed primitive drawing the same long thin triangle `count` times, across the unit cube's diagonal:
 * a few bytes a triangle, and the audit's slowest scene (every ray that enters the box tests every copy).
 */
async function sliverScene(count: number): Promise<Uint8Array> {
  const doc = new Document()
  const buffer = doc.createBuffer()
  const scene = doc.createScene()
  doc.getRoot().setDefaultScene(scene)
  const positions = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(Float32Array.from([0, 0, 0, 1, 1, 1, 1, 1, 1.0001]))
    .setBuffer(buffer)
  const indices = doc
    .createAccessor()
    .setType('SCALAR')
    .setArray(Uint32Array.from({ length: count * 3 }, (_, i) => i % 3))
    .setBuffer(buffer)
  const prim = doc.createPrimitive().setAttribute('POSITION', positions).setIndices(indices)
  scene.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
  return new WebIO().writeBinary(doc)
}

describe('scene traversal cost', () => {
  it('should refuse 100,000 identical slivers with GPU__TRAVERSAL_COST_EXCEEDED, naming the cost and the bound', async () => {
    const refusal = await loadScene(await sliverScene(100_000)).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isGpuError(refusal, 'GPU__TRAVERSAL_COST_EXCEEDED')).toBe(true)
    const context = (refusal as GpuError).context as { cost: number; limit: number }
    expect(context.limit).toBe(MAX_BVH_TRAVERSAL_COST)
    // Each ray entering the box tests all 100,000 copies and the tree's boxes above them.
    expect(context.cost).toBeGreaterThan(100_000)
  })

  it('should cost slivers as much beside one triangle far away, which grows the root box past them', () => {
    const slivers = 10_000
    const vertices = new Float32Array((slivers + 1) * 9)
    for (let i = 0; i < slivers; i++) vertices.set([0, 0, 0, 1, 1, 1, 1, 1, 1.0001], i * 9)
    const alone = bvhTraversalCost(buildBvh(vertices.subarray(0, slivers * 9), slivers))
    vertices.set([1e6, 1e6, 1e6, 1e6 + 1, 1e6, 1e6, 1e6, 1e6 + 1, 1e6], slivers * 9)
    const withFar = bvhTraversalCost(buildBvh(vertices, slivers + 1))
    expect(alone).toBeGreaterThan(slivers)
    expect(withFar).toBeGreaterThanOrEqual(alone)
  })

  it('should load a dense legitimate scene far under the bound', async () => {
    // The room with three 81,920-triangle spheres: 245,772 triangles.
    const scene = await loadScene(await generateScene({ subdivisions: 6 }))
    expect(scene.triangleCount).toBe(245_772)
  })
})

/** A flattened tree of `boxes` in depth-first order, each `[min, max, count]`: a leaf holds `count` triangles. */
function tree(boxes: Array<[[number, number, number], [number, number, number], number]>): {
  nodes: Float32Array
  nodeCount: number
} {
  const nodes = new Float32Array(boxes.length * BVH_NODE_FLOATS)
  const bits = new Uint32Array(nodes.buffer)
  boxes.forEach(([min, max, count], i) => {
    nodes.set(min, i * BVH_NODE_FLOATS)
    nodes.set(max, i * BVH_NODE_FLOATS + 4)
    bits[i * BVH_NODE_FLOATS + 7] = count
  })
  return { nodes, nodeCount: boxes.length }
}

describe('bvhTraversalCost', () => {
  it('should cost one triangle the root box and the triangle', () => {
    expect(bvhTraversalCost(buildBvh(Float32Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0]), 1))).toBe(2)
    expect(bvhTraversalCost(tree([]))).toBe(0)
  })

  it('should weigh each box by its surface area over the box it is costed against', () => {
    // Two unit boxes 8 apart under a root of 10 x 1 x 1 (area 42, theirs 6 each), holding 1 and 2 triangles: the
    // root, both children tested, then each leaf's triangles a seventh of the time (more than either leaf alone).
    const apart = tree([
      [[0, 0, 0], [10, 1, 1], 0],
      [[0, 0, 0], [1, 1, 1], 1],
      [[9, 0, 0], [10, 1, 1], 2],
    ])
    expect(bvhTraversalCost(apart)).toBeCloseTo(1 + 2 + (1 * 6) / 42 + (2 * 6) / 42, 12)
    // A leaf of 30 triangles: a ray entering its box tests them all, however small the box is beside the root's.
    const crowded = tree([
      [[0, 0, 0], [10, 1, 1], 0],
      [[0, 0, 0], [1, 1, 1], 30],
      [[9, 0, 0], [10, 1, 1], 2],
    ])
    expect(bvhTraversalCost(crowded)).toBe(31)
    // On a line every box has no area: a ray that grazes the root tests everything.
    const line = tree([
      [[0, 0, 0], [2, 0, 0], 0],
      [[0, 0, 0], [1, 0, 0], 1],
      [[1, 0, 0], [2, 0, 0], 1],
    ])
    expect(bvhTraversalCost(line)).toBe(1 + 2 + 1 + 1)
  })
})
