import { throwIfAborted, type AbortOptions } from '@tessera/core'
import type { Engine } from './device/engine.js'
import { GpuError } from './errors.js'
import { generateScene } from './scene/generate.js'
import { loadScene } from './scene/gltf.js'
import type { Scene } from './scene/scene.js'
import type { RenderTileOptions } from './render/tile.js'
import { matmulGflops, pathTraceRaysPerSec } from './throughput.js'
import type { Rate } from './throughput.js'

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
 * The fixed workloads. Changing any of them changes the unit: bump `version` then. Each workload comes in sizes,
 * smallest first, and a device is measured at the size where it saturates: a larger size is kept only while it
 * raises throughput by at least `growth`. An H100 renders 128x128 tiles at an eighth of the rays/s it reaches on
 * 1024x1024 ones and multiplies 512x512 matrices at an eighth of its 2048x2048 GFLOP/s, so version 1's fixed small
 * sizes scored it 7x low; lavapipe on two CPUs saturates at a 256 px tile and n = 1024. Fast devices also get
 * more samples per pixel and more matmuls per submission, so per-call overheads do not cap their score.
 */
export const BENCHMARK_WORKLOAD = Object.freeze({
  version: 2,
  /** Tile sides: the centre tile of a frame twice as wide of the default procedural scene (15,372 triangles). */
  tileSides: Object.freeze([128, 256, 512, 1024]),
  /** Samples per pixel to start from; doubled until one render takes long enough to time. */
  samples: 4,
  /** Square fp32 matmul sides. */
  matmulSizes: Object.freeze([512, 1024, 2048]),
  /** The throughput gain that justifies the next size. */
  growth: 1.15,
  /** The longest single call the size walk will start (estimated from the size before). */
  maxCallMs: 500,
  /** Each workload is timed for at least this long. */
  minSeconds: 0.25,
})

/** A workload size and the throughput measured at it. */
export interface SaturatedSize {
  size: number
  perSecond: number
}

/** How {@link saturatingSize} walks the sizes. */
export interface SaturationOptions {
  /** The throughput gain that justifies the next size. */
  growth: number
  /** A size whose single call would take longer than this (estimated from the last one) is not tried. */
  maxCallMs: number
  /** How much more work one call at size `to` is than at size `from` (2-D tiles: squared, matmul: cubed). */
  workRatio: (from: number, to: number) => number
}

/**
 * Walks `sizes` (smallest first) while each next size raises the measured throughput by at least `growth`, and
 * returns the last size that did. The walk stops at the first size that does not pay off, and before a size
 * whose single call would outlast `maxCallMs`, so a slow or busy device is never run at the large sizes.
 */
export async function saturatingSize(
  sizes: readonly number[],
  measure: (size: number) => Promise<Pick<Rate, 'perSecond' | 'callMs'>>,
  options: SaturationOptions,
): Promise<SaturatedSize> {
  if (sizes.length === 0) throw new GpuError('GPU__INVALID_INPUT', 'saturatingSize needs at least one size')
  let last = await measure(sizes[0]!)
  let best: SaturatedSize = { size: sizes[0]!, perSecond: last.perSecond }
  for (const size of sizes.slice(1)) {
    if (last.callMs * options.workRatio(best.size, size) > options.maxCallMs) break
    last = await measure(size)
    if (last.perSecond < best.perSecond * options.growth) break
    best = { size, perSecond: last.perSecond }
  }
  return best
}

/** The mean score of `runs` and their spread (standard deviation over the mean; 0 for a zero mean). */
export function summarizeRuns(runs: readonly BenchmarkRun[]): { score: number; cv: number } {
  const mean = runs.reduce((s, x) => s + x.score, 0) / runs.length
  const variance = runs.reduce((s, x) => s + (x.score - mean) ** 2, 0) / runs.length
  return { score: mean, cv: mean > 0 ? Math.sqrt(variance) / mean : 0 }
}

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
  /** The sizes this device saturated at, which the runs used. */
  tileSide: number
  matmulN: number
}

let sceneCache: Promise<Scene> | undefined

/**
 * Finds the sizes where this device saturates (those measurements double as the warm-up that keeps shader
 * compilation out of the timings), then runs both workloads `runs` times at those sizes and scores each run as
 * `100 * sqrt((raysPerSec / reference.raysPerSec) * (gflops / reference.gflops))`. `options.signal` is checked
 * between renders and between matmul batches, so an abort is seen once the call under way ends.
 */
export async function runCapacityBenchmark(
  engine: Engine,
  options: CapacityBenchmarkOptions = {},
): Promise<CapacityBenchmarkResult> {
  const runs = options.runs ?? 5
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw new GpuError('GPU__INVALID_INPUT', 'runs must be an integer in 1..100', { runs })
  throwIfAborted(options.signal)
  const now = options.now ?? (() => performance.now())
  const w = BENCHMARK_WORKLOAD
  sceneCache ??= generateScene().then((glb) => loadScene(glb))
  const scene = await sceneCache
  throwIfAborted(options.signal)
  const tile = (side: number): RenderTileOptions => ({
    scene,
    frame: 0,
    imageWidth: side * 2,
    imageHeight: side * 2,
    x: side / 2,
    y: side / 2,
    width: side,
    height: side,
    samples: w.samples,
  })
  const rays = async (side: number): Promise<Rate> => {
    engine.context.assertUsable(options.signal)
    return pathTraceRaysPerSec(engine, tile(side), w.minSeconds, now, undefined, { signal: options.signal })
  }
  const gflops = async (n: number): Promise<Rate> => {
    engine.context.assertUsable(options.signal)
    return matmulGflops(engine, engine.tensors, n, w.minSeconds, now, undefined, { signal: options.signal })
  }
  const results: BenchmarkRun[] = []
  try {
    const walk = { growth: w.growth, maxCallMs: w.maxCallMs }
    const tileSide = (await saturatingSize(w.tileSides, rays, { ...walk, workRatio: (a, b) => (b / a) ** 2 })).size
    const matmulN = (await saturatingSize(w.matmulSizes, gflops, { ...walk, workRatio: (a, b) => (b / a) ** 3 })).size
    for (let r = 0; r < runs; r++) {
      const run = { raysPerSec: (await rays(tileSide)).perSecond, gflops: (await gflops(matmulN)).perSecond }
      const score =
        100 * Math.sqrt((run.raysPerSec / BENCHMARK_REFERENCE.raysPerSec) * (run.gflops / BENCHMARK_REFERENCE.gflops))
      results.push({ score, ...run })
    }
    return { ...summarizeRuns(results), runs: results, workloadVersion: w.version, tileSide, matmulN }
  } finally {
    // A node benchmarks once and then idles for days: give the scene's GPU buffers back.
    engine.releaseScene(scene)
  }
}
