import { compareChunks, parseTolerance } from '@tessera/proof'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { materialsScene, probeSky } from '../bench/materials.js'
import {
  createEngine,
  generateScene,
  loadOnnxModel,
  loadScene,
  psnr,
  relativeError,
  tensor,
  tileRowChunks,
  TOLERANCE,
  withEnvironment,
} from '../src/index.js'
import type { Engine, RenderTileOptions } from '../src/index.js'
import { randomFloats } from './helpers/onnx-builder.js'
import { transformerModel } from './helpers/models.js'

// The one file that needs two engines: the determinism profile compares Dawn's Vulkan and OpenGL ES backends.
describe('determinism across drivers', () => {
  let vulkan: Engine
  let gles: Engine

  beforeAll(async () => {
    vulkan = await createEngine()
    gles = await createEngine({ backend: 'opengles' })
  })

  afterAll(() => {
    vulkan.destroy()
    gles.destroy()
  })

  it('should open a compatibility-mode device on the OpenGL ES backend', () => {
    expect(gles.adapter.backend).toBe('opengles')
    expect(gles.adapter.featureLevel).toBe('compatibility')
  })

  it('should render within the render tolerance class on both backends', async () => {
    const scene = await loadScene(await generateScene({ spheres: 2, subdivisions: 3 }))
    const tile: RenderTileOptions = {
      scene,
      frame: 2,
      imageWidth: 64,
      imageHeight: 64,
      x: 0,
      y: 0,
      width: 64,
      height: 64,
      samples: 2,
    }
    const a = await vulkan.renderTile(tile)
    const b = await gles.renderTile(tile)
    expect(psnr(a.pixels, b.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
  })

  it("should pass the verifier's row check on every row of a panorama-lit render at 1 spp, and fail lazy rows", async () => {
    // Where drivers disagree most: one sample per pixel, glass and coated spheres, a sun in the panorama. A rounding
    // difference sends the odd sample elsewhere, and at 1 spp that pixel alone took a row of Mesa 25.0.7 to 24 dB
    // under the plain metric; the proof package's check leaves the worst 1/32 of a row's pixels out.
    const layered = await loadScene(await materialsScene())
    const tile: RenderTileOptions = {
      scene: withEnvironment(layered, probeSky(), { rotation: 0.5 }),
      frame: 3,
      imageWidth: 128,
      imageHeight: 128,
      x: 0,
      y: 0,
      width: 128,
      height: 128,
      samples: 1,
    }
    const verifier = parseTolerance('psnr:rgba32f')
    const reference = tileRowChunks(await vulkan.renderTile(tile))
    const other = tileRowChunks(await gles.renderTile(tile))
    const failing = other.filter((row, y) => !compareChunks(verifier, row, reference[y]!).ok)
    expect(failing).toHaveLength(0)
    // A worker that renders a quarter of the samples (here: 4 spp checked against 16) fails on every row.
    const full = tileRowChunks(await vulkan.renderTile({ ...tile, samples: 16 }))
    const lazy = tileRowChunks(await gles.renderTile({ ...tile, samples: 4 }))
    const passing = lazy.filter((row, y) => compareChunks(verifier, row, full[y]!).ok)
    expect(passing).toHaveLength(0)
  })

  it('should run a transformer block within the inference tolerance class on both backends', async () => {
    const model = loadOnnxModel(transformerModel())
    const x = tensor([2, 8, 32], randomFloats(2 * 8 * 32, 3))
    const a = (await vulkan.runModel(model, { x })).y!
    const b = (await gles.runModel(model, { x })).y!
    expect(relativeError(b.data, a.data)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
  })
})
