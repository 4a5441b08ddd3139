import { describe, expect, it } from 'vitest'
import { generateScene, loadScene } from '../src/index.js'
import type { GpuContext } from '../src/device/context.js'
import { GpuPathTracer } from '../src/render/gpu-pathtracer.js'

/** A device context that makes buffers it counts, and fails the upload named `failing`. */
function countingContext(failing: string) {
  const live = new Set<object>()
  const buffer = () => {
    const b = { destroy: () => void live.delete(b) }
    live.add(b)
    return b as unknown as GPUBuffer
  }
  const ctx = {
    device: { limits: { maxComputeWorkgroupsPerDimension: 65_535 } },
    assertUsable: () => {},
    checkAllocation: () => {},
    checkDispatch: () => {},
    scoped: (_what: string, work: () => Promise<unknown>) => work(),
    pipeline: () => ({}),
    upload: (_data: ArrayBufferView, what: string) => {
      if (what === failing) throw new Error(`${what} is past the device's limits`)
      return buffer()
    },
    createStorage: () => buffer(),
    uniform: () => buffer(),
    bind: () => ({}),
    submit: () => {},
    idle: async () => {},
    read: async () => new ArrayBuffer(0),
  }
  return { ctx: ctx as unknown as GpuContext, live }
}

describe("the path tracer's device buffers", () => {
  it("should free every buffer it made when one of the scene's uploads fails", async () => {
    const scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
    const tile = { scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 }
    for (const failing of ['scene triangles', 'scene lights and textures', 'tile rows']) {
      const { ctx, live } = countingContext(failing)
      await expect(new GpuPathTracer(ctx, false).renderTile(tile), failing).rejects.toThrow(/past the device/)
      // The scene's buffers stay only when the tile's own upload failed: the scene is held for its next render.
      expect(live.size, failing).toBe(failing === 'tile rows' ? 5 : 0)
    }
  })
})
