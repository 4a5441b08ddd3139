import { describe, expect, it } from 'vitest'
import { generateScene, loadScene } from '../src/index.js'
import { GpuPathTracer } from '../src/render/gpu-pathtracer.js'
import { fakeContext } from './helpers/fake-context.js'

describe("the path tracer's device buffers", () => {
  it("should free every buffer it made when one of the scene's uploads fails", async () => {
    const scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    const tile = { scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 }
    for (const failing of ['scene triangles', 'scene lights and textures', 'tile rows']) {
      const { ctx, live } = fakeContext(failing)
      await expect(new GpuPathTracer(ctx, false).renderTile(tile), failing).rejects.toThrow(/past the device/)
      // The scene's buffers stay only when the tile's own upload failed: the scene is held for its next render.
      expect(live.size, failing).toBe(failing === 'tile rows' ? 5 : 0)
    }
  })

  it('should free a dispatch its parameters when the dispatch fails to encode or submit', async () => {
    const scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    const tile = { scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 }
    for (const failing of ['bind', 'submit']) {
      for (const control of [{}, { signal: new AbortController().signal }]) {
        const { ctx, live } = fakeContext(failing)
        const what = `${failing}, ${control.signal === undefined ? 'unpaced' : 'paced'}`
        await expect(new GpuPathTracer(ctx, false).renderTile(tile, control), what).rejects.toThrow(/past the device/)
        // Only the scene's own buffers stay, held for its next render.
        expect(live.size, what).toBe(5)
      }
    }
  })
})
