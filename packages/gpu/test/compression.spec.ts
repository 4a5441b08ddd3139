import { WebIO } from '@gltf-transform/core'
import { EXTMeshoptCompression, KHRDracoMeshCompression } from '@gltf-transform/extensions'
import draco3d from 'draco3dgltf'
import { MeshoptEncoder } from 'meshoptimizer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, generateScene, generateSceneDocument, loadScene, psnr, TOLERANCE } from '../src/index.js'
import type { Engine, Scene } from '../src/index.js'

const tile = (scene: Scene) => ({
  scene,
  frame: 1,
  imageWidth: 64,
  imageHeight: 64,
  x: 0,
  y: 0,
  width: 64,
  height: 64,
  samples: 4,
})

describe('compressed geometry', () => {
  let engine: Engine
  let plain: Scene
  let plainBytes: number

  beforeAll(async () => {
    engine = await createEngine()
    const glb = await generateScene({ subdivisions: 3 })
    plainBytes = glb.byteLength
    plain = await loadScene(glb)
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should read Draco-compressed meshes (KHR_draco_mesh_compression) and render them as the original', async () => {
    const doc = generateSceneDocument({ subdivisions: 3 })
    doc
      .createExtension(KHRDracoMeshCompression)
      .setRequired(true)
      .setEncoderOptions({ quantizationBits: { POSITION: 20, NORMAL: 16, TEX_COORD: 16 } } as never)
    const glb = await new WebIO()
      .registerExtensions([KHRDracoMeshCompression])
      .registerDependencies({ 'draco3d.encoder': await draco3d.createEncoderModule() })
      .writeBinary(doc)
    expect(glb.byteLength).toBeLessThan(plainBytes / 2)
    const scene = await loadScene(glb)
    expect(scene.triangleCount).toBe(plain.triangleCount)
    // Draco quantizes positions and normals (20 and 16 bits here) and reorders vertices, so after a few bounces the
    // paths and their noise part ways: at 32 samples the two images still agree within the render tolerance.
    const a = await engine.renderTile({ ...tile(scene), samples: 32 })
    const b = await engine.renderTile({ ...tile(plain), samples: 32 })
    expect(psnr(a.pixels, b.pixels)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should read meshopt-compressed buffers (EXT_meshopt_compression)', async () => {
    await MeshoptEncoder.ready
    const doc = generateSceneDocument({ subdivisions: 3 })
    doc
      .createExtension(EXTMeshoptCompression)
      .setRequired(true)
      .setEncoderOptions({ method: EXTMeshoptCompression.EncoderMethod.FILTER })
    const glb = await new WebIO()
      .registerExtensions([EXTMeshoptCompression])
      .registerDependencies({ 'meshopt.encoder': MeshoptEncoder })
      .writeBinary(doc)
    expect(glb.byteLength).toBeLessThan(plainBytes)
    const scene = await loadScene(glb)
    expect(scene.triangleCount).toBe(plain.triangleCount)
    const a = await engine.renderTile(tile(scene))
    const b = await engine.renderTile(tile(plain))
    expect(psnr(a.pixels, b.pixels)).toBeGreaterThan(TOLERANCE.render.minDb)
  })

  it('should refuse accessors that declare more data than the bound before decoding anything', async () => {
    const gltf = (accessors: unknown[]): Uint8Array =>
      new TextEncoder().encode(JSON.stringify({ asset: { version: '2.0' }, accessors }))
    // A billion float triangles' positions: 36 GB, whatever the file's few bytes say.
    await expect(loadScene(gltf([{ count: 3e9, componentType: 5126, type: 'VEC3' }]))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
    })
    await expect(loadScene(gltf([{ componentType: 5126, type: 'VEC3' }]))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
    })
    await expect(loadScene(gltf([{ count: 3, componentType: 1, type: 'VEC3' }]))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
    })
  })
})
