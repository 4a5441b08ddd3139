import type { Document, Material as GltfMaterial, Scene as GltfScene } from '@gltf-transform/core'

/**
 * Adds one triangle of `material` (corners (0,0,z), (1,0,z), (0,1,z)) to the document's default scene, creating
 * the buffer and the scene where it has none: the least asset that loads, for tests of what the loader reads.
 */
export function addTriangle(doc: Document, material: GltfMaterial | null, z = 0): GltfScene {
  const root = doc.getRoot()
  const buffer = root.listBuffers()[0] ?? doc.createBuffer()
  const scene = root.getDefaultScene() ?? doc.createScene()
  root.setDefaultScene(scene)
  const positions = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(Float32Array.from([0, 0, z, 1, 0, z, 0, 1, z]))
    .setBuffer(buffer)
  const prim = doc.createPrimitive().setAttribute('POSITION', positions).setMaterial(material)
  return scene.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
}
