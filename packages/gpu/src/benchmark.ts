import type { AbortOptions } from '@tessera/core'
import type { Engine } from './device/engine.js'
import { GpuError } from './errors.js'
import { generateScene } from './scene/generate.js'
import { loadScene } from './scene/gltf.js'
import type { Scene } from './scene/scene.js'
import { matmulGflops, pathTraceRaysPerSec } from './throughput.js'

/**
 * The throughput that scores 100 benchmark units: what Mesa lavapipe (llvmpipe, Mesa 25.0.7, LLVM 15) on a 2-vCPU
 * AMD EPYC development VM reached with the engine's first path-tracing kernel, November 2026 (its per-CPU-second
 * throughput, 1.2 M rays and 4.8 GFLOP, times two CPUs). The unit is these figures, not that machine: engine
 * speed-ups raise every device's score alike. A score is proportional to the geometric mean of path-tracing and
 * matmul throughput relative to them, so twice these speeds at both workloads scores 200.
 */
export const BENCHMARK_REFERENCE = Object.freeze({
  raysPerSec: 2_400_000,
  gflops: 9.6,
  machine: 'Mesa lavapipe 25.0.7 (llvmpipe) on a 2-vCPU x86-64 VM',
})

/**
 * The fixed workloads. Changing any of them changes the unit: bump `version` then. Fast devices get more work per
 * call (more samples per pixel, more matmuls per submission) so per-call overheads do not cap their score; what
 * is measured, rays/s and GFLOP/s on these inputs, stays the same.
 */
export const BENCHMARK_WORKLOAD = Object.freeze({
  version: 1,
  /** Tile of the default procedural scene (15,372 triangles); samples per pixel start here and double. */
  imageSide: 256,
  tileSide: 128,
  samples: 4,
  /** Square fp32 matmul side. */
  matmulN: 512,
  /** Each workload is timed for at least this long. */
  minSeconds: 0.25,
})

/** Options of {@link runCapacityBenchmark}. */
export interface CapacityBenchmarkOptions extends AbortOptions {
  /**
   * Measured runs; the score is their mean and `cv` their spread.
   * @default 5
   */
  runs?: number
  /** A clock in milliseconds. @default performance.now */
  now?: () => number
}

/** One run's figures. */
export interface BenchmarkRun {
  score: number
  raysPerSec: number
  gflops: number
}

/** The capacity benchmark's result, as a worker advertises it. */
export interface CapacityBenchmarkResult {
  /** Mean score in benchmark units (reference machine = 100). */
  score: number
  /** Coefficient of variation of the run scores (standard deviation / mean). */
  cv: number
  runs: BenchmarkRun[]
  workloadVersion: number
}

let sceneCache: Promise<Scene> | undefined

/**
 * Runs the fixed workloads (a path-traced tile of the procedural scene and a 512x512 fp32 matmul) `runs` times
 * and scores each run as `100 * sqrt((raysPerSec / reference.raysPerSec) * (gflops / reference.gflops))`.
 * Each run begins with a warm-up so shader compilation is not timed.
 */
export async function runCapacityBenchmark(
  engine: Engine,
  options: CapacityBenchmarkOptions = {},
): Promise<CapacityBenchmarkResult> {
  const runs = options.runs ?? 5
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw new GpuError('GPU__INVALID_INPUT', 'runs must be an integer in 1..100', { runs })
  const now = options.now ?? (() => performance.now())
  const w = BENCHMARK_WORKLOAD
  sceneCache ??= generateScene().then((glb) => loadScene(glb))
  const scene = await sceneCache
  const offset = (w.imageSide - w.tileSide) / 2
  const tile = {
    scene,
    frame: 0,
    imageWidth: w.imageSide,
    imageHeight: w.imageSide,
    x: offset,
    y: offset,
    width: w.tileSide,
    height: w.tileSide,
    samples: w.samples,
  }
  const results: BenchmarkRun[] = []
  try {
    for (let r = 0; r < runs; r++) {
      engine.context.assertUsable(options.signal)
      const raysPerSec = (await pathTraceRaysPerSec(engine, tile, w.minSeconds, now)).perSecond
      engine.context.assertUsable(options.signal)
      const gflops = (await matmulGflops(engine, engine.tensors, w.matmulN, w.minSeconds, now)).perSecond
      const score =
        100 * Math.sqrt((raysPerSec / BENCHMARK_REFERENCE.raysPerSec) * (gflops / BENCHMARK_REFERENCE.gflops))
      results.push({ score, raysPerSec, gflops })
    }
  } finally {
    // A node benchmarks once and then idles for days: give the scene's GPU buffers back.
    engine.releaseScene(scene)
  }
  const mean = results.reduce((s, x) => s + x.score, 0) / runs
  const variance = results.reduce((s, x) => s + (x.score - mean) ** 2, 0) / runs
  return { score: mean, cv: mean > 0 ? Math.sqrt(variance) / mean : 0, runs: results, workloadVersion: w.version }
}
