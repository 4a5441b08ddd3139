import { BENCHMARK_REFERENCE, BENCHMARK_WORKLOAD, generateScene, loadScene, renderTileCpu } from '@tessera/gpu'
import { FLOPS_PER_SEC_PER_BENCH_UNIT, RAYS_PER_PIXEL_SAMPLE, RAYS_PER_SEC_PER_BENCH_UNIT } from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'

/**
 * The scheduler prices an order's render and inference work in the capacity benchmark's units without depending on the engine: the
 * figures it restates must stay the benchmark's.
 */
describe("the scheduler's work estimate in benchmark units", () => {
  it("should trace the benchmark's reference rays per second at a score of 100", () => {
    expect(RAYS_PER_SEC_PER_BENCH_UNIT * 100).toBe(BENCHMARK_REFERENCE.raysPerSec)
  })

  it("should compute the benchmark's reference FLOPs per second at a score of 100", () => {
    expect(FLOPS_PER_SEC_PER_BENCH_UNIT * 100).toBe(BENCHMARK_REFERENCE.gflops * 1e9)
  })

  it("should cost a pixel-sample the rays it casts on the benchmark's scene", async () => {
    const scene = await loadScene(await generateScene())
    // The benchmark's tile (the centre of a frame twice as wide), at its smallest side.
    const side = 32
    const { rays } = await renderTileCpu({
      scene,
      frame: 0,
      imageWidth: side * 2,
      imageHeight: side * 2,
      x: side / 2,
      y: side / 2,
      width: side,
      height: side,
      samples: BENCHMARK_WORKLOAD.samples,
    })
    const perPixelSample = rays / (side * side * BENCHMARK_WORKLOAD.samples)
    expect(Math.abs(perPixelSample / RAYS_PER_PIXEL_SAMPLE - 1)).toBeLessThan(0.05)
  })
})
