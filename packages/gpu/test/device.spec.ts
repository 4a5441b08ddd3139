import { isCoreError } from '@tessera/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, generateScene, isGpuError, loadScene } from '../src/index.js'
import type { Engine, GpuError, Scene } from '../src/index.js'

describe('engine', () => {
  let engine: Engine
  let scene: Scene

  beforeAll(async () => {
    engine = await createEngine()
    scene = await loadScene(await generateScene({ spheres: 1, subdivisions: 1 }))
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should report the adapter, its features and limits', () => {
    const a = engine.adapter
    expect(a.backend).toBe('vulkan')
    expect(a.featureLevel).toBe('core')
    expect(`${a.vendor} ${a.description}`.trim().length).toBeGreaterThan(0)
    expect(Array.isArray(a.features)).toBe(true)
    expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024)
    expect(engine.device.limits.maxStorageBufferBindingSize).toBe(a.limits.maxStorageBufferBindingSize)
    expect(engine.usable).toBe(true)
  })

  it('should refuse allocations beyond the adapter limits with a coded error and stay usable', async () => {
    expect(() => engine.context.checkAllocation(engine.context.maxStorageBytes + 4, 'test')).toThrow(
      expect.objectContaining({ code: 'GPU__ALLOCATION_EXCEEDED' }),
    )
    const huge = {
      scene,
      frame: 0,
      imageWidth: 16_384,
      imageHeight: 16_384,
      x: 0,
      y: 0,
      width: 16_384,
      height: 16_384,
      samples: 1,
    }
    await expect(engine.renderTile(huge)).rejects.toMatchObject({
      code: 'GPU__ALLOCATION_EXCEEDED',
      context: { what: 'render tile output' },
    })
    const small = await engine.renderTile({ ...huge, imageWidth: 8, imageHeight: 8, width: 8, height: 8 })
    expect(small.pixels.length).toBe(8 * 8 * 4)
  })

  it('should surface device loss as GPU__DEVICE_LOST instead of crashing', async () => {
    const lost: GpuError[] = []
    const victim = await createEngine({ onDeviceLost: (e) => lost.push(e) })
    const tile = { scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 }
    await victim.renderTile(tile)
    // An external destroy stands in for a driver reset: the engine did not ask for it.
    victim.device.destroy()
    await victim.device.lost
    await new Promise((resolve) => setImmediate(resolve))
    expect(lost).toHaveLength(1)
    expect(isGpuError(lost[0], 'GPU__DEVICE_LOST')).toBe(true)
    expect(victim.usable).toBe(false)
    await expect(victim.renderTile(tile)).rejects.toMatchObject({ code: 'GPU__DEVICE_LOST' })
    victim.destroy()
  })

  it('should reject calls after destroy with GPU__ENGINE_DESTROYED', async () => {
    const short = await createEngine()
    short.destroy()
    short.destroy()
    await expect(
      short.renderTile({ scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 }),
    ).rejects.toMatchObject({
      code: 'GPU__ENGINE_DESTROYED',
    })
  })

  it('should refuse to create an engine once its signal has aborted, with CORE__ABORTED', async () => {
    await expect(createEngine({ signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__ABORTED'),
    )
  })

  it('should honour an abort signal', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(
      engine.renderTile(
        { scene, frame: 0, imageWidth: 8, imageHeight: 8, x: 0, y: 0, width: 8, height: 8, samples: 1 },
        { signal: controller.signal },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' })
  })
})
