import { throwIfAborted, type AbortOptions } from '@tessera/core'
import type { Engine } from './device/engine.js'
import type { RenderTileOptions } from './render/tile.js'
import type { GpuBackend } from './tensor/gpu-backend.js'
import { tensor } from './tensor/tensor.js'

/**
 * Throughput measurement that scales with the device: work is batched until one batch takes long enough that
 * per-call overheads (submission, read-back) vanish, on lavapipe and on an H100 alike.
 */

/** A clock in milliseconds. */
export type Clock = () => number

/** A batch takes at least this long before it is timed, unless the batch size cap is hit. */
const MIN_BATCH_MS = 50
const MAX_MATMUL_BATCH = 1024
const MAX_SAMPLES = 4096

/** Work per second of wall-clock time, and per CPU-second when a CPU clock was given. */
export interface Rate {
  perSecond: number
  perCpuSecond?: number
  /** Milliseconds of one call at the base workload (one matmul, one render at the first sample count), warm. */
  callMs: number
}

/**
 * Square fp32 matmul GFLOP/s on `ops`, timed for at least `minSeconds`. `cpuNow` (CPU milliseconds of this
 * process) adds GFLOP per CPU-second, a figure that holds up on a shared machine. `options.signal` is checked
 * before every batch of matmuls.
 */
export async function matmulGflops(
  engine: Engine,
  ops: GpuBackend,
  n: number,
  minSeconds: number,
  now: Clock,
  cpuNow?: Clock,
  options: AbortOptions = {},
): Promise<Rate> {
  throwIfAborted(options.signal)
  const fill = (seed: number): Float32Array =>
    new Float32Array(n * n).map((_, i) => (((i + seed) * 7919) % 1000) / 1000 - 0.5)
  const a = ops.fromHost(tensor([n, n], fill(1)))
  const b = ops.fromHost(tensor([n, n], fill(2)))
  const c = ops.alloc([n, n])
  const run = async (count: number): Promise<number> => {
    throwIfAborted(options.signal)
    const start = now()
    for (let i = 0; i < count; i++) {
      ops.matmulInto(a, b, c)
      ops.flush()
    }
    await engine.context.idle()
    return now() - start
  }
  try {
    await run(1)
    // The faster of two calls: one slow call (a collection, a driver stall) must not fix the batch size.
    const callMs = Math.min(await run(1), await run(1))
    let batch = 1
    if (callMs < MIN_BATCH_MS) {
      batch = 2
      while (batch < MAX_MATMUL_BATCH && (await run(batch)) < MIN_BATCH_MS) batch *= 2
    }
    let reps = 0
    let elapsed = 0
    const cpuStart = cpuNow?.()
    do {
      elapsed += await run(batch)
      reps += batch
    } while (elapsed < minSeconds * 1000)
    const gflop = (2 * n ** 3 * reps) / 1e9
    return rate(gflop, elapsed, callMs, cpuStart, cpuNow)
  } finally {
    for (const t of [a, b, c]) ops.release(t)
    ops.flush()
  }
}

/** Options of {@link pathTraceRaysPerSec}. */
export interface PathTraceRateOptions extends AbortOptions {
  /**
   * Render as a worker's abortable task does: dispatches paced by measured time, the rows in a spread order (see
   * `GpuPathTracer.renderTile`). Without, renders queue their dispatches at the largest size, the device's peak.
   */
  paced?: boolean
}

/**
 * Rays per second rendering `tile`, with the sample count doubled from `tile.samples` until a render takes long
 * enough. `options.signal` is checked before every render.
 */
export async function pathTraceRaysPerSec(
  engine: Engine,
  tile: RenderTileOptions,
  minSeconds: number,
  now: Clock,
  cpuNow?: Clock,
  options: PathTraceRateOptions = {},
): Promise<Rate & { samples: number }> {
  // Paced, the render gets a signal of its own that never aborts (the caller's is checked between renders).
  const control = options.paced === true ? { signal: new AbortController().signal } : {}
  const render = async (samples: number): Promise<{ ms: number; rays: number }> => {
    throwIfAborted(options.signal)
    const start = now()
    // The caller's signal stays out of the render: with one, renderTile paces its dispatches, which would change
    // what is timed.
    const { rays } = await engine.renderTile({ ...tile, samples }, control)
    return { ms: now() - start, rays }
  }
  await render(1)
  // The faster of two renders: one slow call (a collection, a driver stall) must not fix the sample count.
  const callMs = Math.min((await render(tile.samples)).ms, (await render(tile.samples)).ms)
  let samples = tile.samples
  if (callMs < MIN_BATCH_MS) {
    samples *= 2
    while (samples < MAX_SAMPLES && (await render(samples)).ms < MIN_BATCH_MS) samples *= 2
  }
  let rays = 0
  let elapsed = 0
  const cpuStart = cpuNow?.()
  do {
    const r = await render(samples)
    rays += r.rays
    elapsed += r.ms
  } while (elapsed < minSeconds * 1000)
  return { ...rate(rays, elapsed, callMs, cpuStart, cpuNow), samples }
}

function rate(
  work: number,
  elapsedMs: number,
  callMs: number,
  cpuStart: number | undefined,
  cpuNow: Clock | undefined,
): Rate {
  const perSecond = work / (elapsedMs / 1000)
  if (cpuStart === undefined || cpuNow === undefined) return { perSecond, callMs }
  return { perSecond, perCpuSecond: work / ((cpuNow() - cpuStart) / 1000), callMs }
}
