import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEngine,
  generateScene,
  loadOnnxModel,
  loadScene,
  psnr,
  relativeError,
  tensor,
  TOLERANCE,
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

  it('should run a transformer block within the inference tolerance class on both backends', async () => {
    const model = loadOnnxModel(transformerModel())
    const x = tensor([2, 8, 32], randomFloats(2 * 8 * 32, 3))
    const a = (await vulkan.runModel(model, { x })).y!
    const b = (await gles.runModel(model, { x })).y!
    expect(relativeError(b.data, a.data)).toBeLessThanOrEqual(TOLERANCE.inference.maxRelativeError)
  })
})
