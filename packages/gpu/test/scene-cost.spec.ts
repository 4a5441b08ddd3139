import { Document, WebIO } from '@gltf-transform/core'
import { describe, expect, it } from 'vitest'
import { generateScene, GpuError, isGpuError, loadScene, MAX_BVH_TRAVERSAL_COST } from '../src/index.js'

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
  it('should refuse 100,000 identical slivers with GPU__SCENE_TOO_COSTLY, naming the cost and the bound', async () => {
    const refusal = await loadScene(await sliverScene(100_000)).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isGpuError(refusal, 'GPU__SCENE_TOO_COSTLY')).toBe(true)
    const context = (refusal as GpuError).context as { cost: number; limit: number }
    expect(context.limit).toBe(MAX_BVH_TRAVERSAL_COST)
    // Each ray entering the box tests all 100,000 copies and the tree's boxes above them.
    expect(context.cost).toBeGreaterThan(100_000)
  })

  it('should load a dense legitimate scene far under the bound', async () => {
    // The room with three 81,920-triangle spheres: 245,772 triangles.
    const scene = await loadScene(await generateScene({ subdivisions: 6 }))
    expect(scene.triangleCount).toBe(245_772)
  })
})
