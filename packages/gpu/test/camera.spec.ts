import { Document, WebIO } from '@gltf-transform/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, loadScene, packScene, psnr, renderTileCpu, TOLERANCE } from '../src/index.js'
import type { Camera, Engine, Material, RenderTileOptions, Scene } from '../src/index.js'
import { errorCode } from './helpers/errors.js'
import { addTriangle } from './helpers/gltf.js'
import { pane, wholeTile } from './helpers/render.js'

const LAMP: Material = { name: 'lamp', baseColor: [0, 0, 0], metallic: 0, roughness: 1, emissive: [1, 1, 1] }
const SIDE = 32

/** Two glowing squares 0.5 wide, one at x = -0.5 on z = 0, one at x = 0.5 much farther off on z = -6. */
function twoSquares(camera: Camera): Scene {
  const corners = [...pane(0, 0.25, -0.5), ...pane(-6, 0.25, 0.5)]
  return packScene({
    vertices: Float32Array.from(corners),
    normals: new Float32Array(corners.length),
    materialIndex: Uint32Array.from([0, 0, 0, 0]),
    materials: [LAMP],
    camera,
  })
}

const looking = { position: [0, 0, 3], forward: [0, 0, -1], right: [1, 0, 0], up: [0, 1, 0] } as const

const tile = (scene: Scene): RenderTileOptions => wholeTile(scene, SIDE)

/** Pixels lit (red above half) in the left and the right half of the image. */
function litHalves(pixels: Float32Array): [number, number] {
  const halves: [number, number] = [0, 0]
  for (let i = 0; i < SIDE * SIDE; i++) if (pixels[i * 4]! > 0.5) halves[i % SIDE < SIDE / 2 ? 0 : 1]++
  return halves
}

describe('cameras', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should draw things their size whatever their distance through an orthographic camera, unlike a perspective one', async () => {
    // A view 2 units tall: each square covers a quarter of the height and width, 64 of the 1,024 pixels.
    const ortho = twoSquares({ ...looking, yfov: 0.5, orthographic: 1 })
    const cpu = renderTileCpu(tile(ortho)).pixels
    const gpu = (await engine.renderTile(tile(ortho))).pixels
    for (const pixels of [cpu, gpu]) {
      const [near, far] = litHalves(pixels)
      expect(Math.abs(near - 64)).toBeLessThanOrEqual(8)
      expect(Math.abs(far - 64)).toBeLessThanOrEqual(8)
    }
    expect(psnr(cpu, gpu)).toBeGreaterThan(TOLERANCE.render.minDb)
    const [near, far] = litHalves(renderTileCpu(tile(twoSquares({ ...looking, yfov: 0.7 }))).pixels)
    // Three times as far away, the far square is about a ninth of the near one's area.
    expect(far).toBeLessThan(near / 4)
  })

  it('should read a glTF orthographic camera as its half-height (ymag)', async () => {
    const doc = new Document()
    const root = addTriangle(doc, doc.createMaterial('lamp').setEmissiveFactor([1, 1, 1]))
    const camera = doc.createCamera().setType('orthographic').setXMag(3).setYMag(2).setZNear(0.1).setZFar(100)
    root.addChild(doc.createNode().setCamera(camera).setTranslation([0, 0, 5]))
    const scene = await loadScene(await new WebIO().writeBinary(doc))
    expect(scene.camera.orthographic).toBe(2)
    expect(scene.camera.position).toEqual([0, 0, 5])
    expect(scene.camera.forward).toEqual([-0, -0, -1])
  })

  it('should refuse a camera without a field of view or a half-height, or with vectors that are not numbers', () => {
    for (const bad of [
      { yfov: 0 },
      { yfov: Math.PI },
      { orthographic: -1 },
      { orthographic: 0 },
      { position: [NaN, 0, 0] },
    ]) {
      const code = errorCode(() => twoSquares({ ...looking, yfov: 0.7, ...bad } as Camera))
      expect(code, JSON.stringify(bad)).toBe('GPU__MALFORMED_SCENE')
    }
  })
})
