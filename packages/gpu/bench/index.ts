/**
 * `npm run bench -w @tessera/gpu`: matmul GFLOP/s against a plain JS triple loop, path-tracing rays/s on the
 * procedural glTF scene, the capacity benchmark's score and spread, and the determinism profile across drivers.
 * Prints a table and writes bench/results.json. Runs unchanged on lavapipe and on real GPUs; where PyTorch with
 * CUDA is importable it also times cuBLAS (bench/cublas.py) for the WGSL-vs-vendor-library ratio.
 *
 * Flags: `--out FILE` writes the results elsewhere (a real GPU's run goes beside lavapipe's, not over it);
 * `--write-probes DIR` saves this machine's determinism probes; `--compare-probes DIR` measures this machine's
 * probes against ones another machine saved (bench/probes.ts).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  bitwiseEqual,
  matmulGflops,
  pathTraceRaysPerSec,
  createEngine,
  generateScene,
  GpuBackend,
  loadOnnxModel,
  loadScene,
  psnr,
  relativeError,
  renderTileCpu,
  runCapacityBenchmark,
  runModelCpu,
  tensor,
  withEnvironment,
} from '../src/index.js'
import type { MatmulKernel, RenderTileOptions } from '../src/index.js'
import { randomFloats } from '../test/helpers/onnx-builder.js'
import { transformerModel } from '../test/helpers/models.js'
import { materialsScene, probeSky } from './materials.js'
import { compareProbes, writeProbes } from './probes.js'
import { rowCheck } from './rows.js'
import type { Probes } from './probes.js'

const here = dirname(fileURLToPath(import.meta.url))
const { values: flags } = parseArgs({
  options: {
    out: { type: 'string', default: join(here, 'results.json') },
    'write-probes': { type: 'string' },
    'compare-probes': { type: 'string' },
  },
})
const MATMUL_N = 1024
const PT_SIDE = 256
/** Samples per pixel to start from; doubled until one render takes long enough to time (fast GPUs). */
const PT_SAMPLES = 16
const MIN_SECONDS = 1

/** CPU milliseconds used by this process so far (lavapipe's threads included). */
function cpuNow(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const wallNow = (): number => performance.now()
const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length

function timeJsMatmul(n: number): number {
  const a = randomFloats(n * n, 1)
  const b = randomFloats(n * n, 2)
  const c = new Float32Array(n * n)
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0
      for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!
      c[i * n + j] = s
    }
  }
  return (performance.now() - start) / 1000
}

function cublas(): { gflops: number; device: string } | { unavailable: string } {
  try {
    const out = execFileSync('python3', [join(here, 'cublas.py'), String(MATMUL_N)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    })
    return JSON.parse(out.trim().split('\n').pop()!) as { gflops: number; device: string }
  } catch (e) {
    const reason = String((e as { stderr?: string }).stderr ?? e)
      .trim()
      .split('\n')
      .pop()
    return { unavailable: reason ?? 'python3 with torch and CUDA not found' }
  }
}

const engine = await createEngine()
const adapter = `${engine.adapter.vendor} ${engine.adapter.architecture} ${engine.adapter.description}`
  .replace(/\s+/g, ' ')
  .trim()

// Matmul: the engine's own kernel is the headline; the other kernel is reported alongside.
const kernel = engine.tensors.matmulKernel
const loadBefore = loadavg()[0]!
const mm = await matmulGflops(engine, engine.tensors, MATMUL_N, MIN_SECONDS, wallNow, cpuNow)
const gflops = mm.perSecond
const otherKernel: MatmulKernel = kernel === 'tiled' ? 'blocked' : 'tiled'
const otherGflops = (
  await matmulGflops(engine, new GpuBackend(engine.context, otherKernel), MATMUL_N, MIN_SECONDS, wallNow)
).perSecond
// The JS loop runs at the kernel's own size: at n = 512 its operands fit in cache and it is twice as fast per flop,
// which would flatter JS.
const jsSeconds = timeJsMatmul(MATMUL_N)
const jsGflops = (2 * MATMUL_N ** 3) / jsSeconds / 1e9
const vendor = cublas()

// Path tracing: the default procedural scene, one full 256x256 tile, after a warm-up that compiles the shader.
const scene = await loadScene(await generateScene())
const frame: RenderTileOptions = {
  scene,
  frame: 0,
  imageWidth: PT_SIDE,
  imageHeight: PT_SIDE,
  x: 0,
  y: 0,
  width: PT_SIDE,
  height: PT_SIDE,
  samples: PT_SAMPLES,
}
const pt = await pathTraceRaysPerSec(engine, frame, MIN_SECONDS, wallNow, cpuNow)
const raysPerSec = pt.perSecond
// What a worker's abortable task runs: dispatches paced by measured time, rows in a spread order.
const paced = await pathTraceRaysPerSec(engine, frame, MIN_SECONDS, wallNow, cpuNow, { paced: true })
const raysPerCpuSecond = pt.perCpuSecond ?? 0

const benchmark = await runCapacityBenchmark(engine, { runs: 5 })

// Determinism profile: the same tile and model on Dawn's OpenGL ES backend and on the CPU reference.
const probe: RenderTileOptions = {
  ...frame,
  imageWidth: 128,
  imageHeight: 128,
  width: 128,
  height: 128,
  samples: 4,
  frame: 3,
}
const vkTile = await engine.renderTile(probe)
const vkTileAgain = await engine.renderTile(probe)
// What verifiers rely on, checked on whichever adapter runs the bench: a sub-rectangle re-rendered alone.
const sub = { x: 37, y: 21, width: 50, height: 23 }
const subTile = await engine.renderTile({ ...probe, ...sub })
const subRectBitwise = Array.from({ length: sub.height }, (_, r) => r).every((r) => {
  const start = ((sub.y + r) * probe.width + sub.x) * 4
  const row = subTile.pixels.subarray(r * sub.width * 4, (r + 1) * sub.width * 4)
  return bitwiseEqual(row, vkTile.pixels.subarray(start, start + sub.width * 4))
})
const cpuTile = renderTileCpu(probe)
// The same probe of the scene with its textured floor: texture sampling goes through the same profile.
const textured: RenderTileOptions = { ...probe, scene: await loadScene(await generateScene({ texturedFloor: true })) }
const vkTextured = await engine.renderTile(textured)
const cpuTextured = renderTileCpu(textured)
// And of the room whose spheres are glass, coated metal and cloth: the layered materials' kernel variant.
const layered: RenderTileOptions = { ...probe, scene: await loadScene(await materialsScene()) }
const vkMaterials = await engine.renderTile(layered)
const vkMaterialsAgain = await engine.renderTile(layered)
const cpuMaterials = renderTileCpu(layered)
// And that room lit by a panorama through its open front: environment lookups and sampling.
const skylit: RenderTileOptions = { ...layered, scene: withEnvironment(layered.scene, probeSky(), { rotation: 0.5 }) }
const vkEnvironment = await engine.renderTile(skylit)
const vkEnvironmentAgain = await engine.renderTile(skylit)
const cpuEnvironment = renderTileCpu(skylit)
// And at 1 spp, where one sample sent elsewhere by a rounding difference weighs most in a row.
const sparse: RenderTileOptions = { ...skylit, samples: 1 }
const vkSparse = await engine.renderTile(sparse)
const cpuSparse = renderTileCpu(sparse)
const model = loadOnnxModel(transformerModel())
const x = tensor([4, 8, 32], randomFloats(4 * 8 * 32, 42))
const vkY = (await engine.runModel(model, { x })).y!
const cpuY = (await runModelCpu(model, { x })).y!
const probes: Probes = {
  adapter,
  render: vkTile.pixels,
  texturedRender: vkTextured.pixels,
  materialsRender: vkMaterials.pixels,
  environmentRender: vkEnvironment.pixels,
  environmentSparseRender: vkSparse.pixels,
  width: probe.width,
  inference: vkY.data,
}
if (flags['write-probes']) writeProbes(resolve(flags['write-probes']), probes)
const otherMachine = flags['compare-probes'] ? compareProbes(resolve(flags['compare-probes']), probes) : undefined
let gles: Record<string, unknown>
try {
  const gl = await createEngine({ backend: 'opengles' })
  try {
    const glTile = await gl.renderTile(probe)
    const glTextured = await gl.renderTile(textured)
    const glMaterials = await gl.renderTile(layered)
    const glEnvironment = await gl.renderTile(skylit)
    const glSparse = await gl.renderTile(sparse)
    const glY = (await gl.runModel(model, { x })).y!
    gles = {
      adapter: `${gl.adapter.vendor} ${gl.adapter.description}`.trim(),
      renderPsnrDb: psnr(glTile.pixels, vkTile.pixels),
      renderBitwise: bitwiseEqual(glTile.pixels, vkTile.pixels),
      texturedRenderPsnrDb: psnr(glTextured.pixels, vkTextured.pixels),
      materialsRenderPsnrDb: psnr(glMaterials.pixels, vkMaterials.pixels),
      environmentRenderPsnrDb: psnr(glEnvironment.pixels, vkEnvironment.pixels),
      environmentRows: rowCheck(glEnvironment.pixels, vkEnvironment.pixels, probe.width),
      environmentSparseRows: rowCheck(glSparse.pixels, vkSparse.pixels, probe.width),
      inferenceRelativeError: relativeError(glY.data, vkY.data),
      inferenceBitwise: bitwiseEqual(glY.data, vkY.data),
    }
  } finally {
    gl.destroy()
  }
} catch (e) {
  gles = { unavailable: String((e as Error).message ?? e) }
}
const determinism = {
  sameDriverRenderBitwise: bitwiseEqual(vkTile.pixels, vkTileAgain.pixels),
  sameDriverMaterialsBitwise: bitwiseEqual(vkMaterials.pixels, vkMaterialsAgain.pixels),
  sameDriverEnvironmentBitwise: bitwiseEqual(vkEnvironment.pixels, vkEnvironmentAgain.pixels),
  subRectBitwise,
  cpuVsGpu: {
    renderPsnrDb: psnr(cpuTile.pixels, vkTile.pixels),
    texturedRenderPsnrDb: psnr(cpuTextured.pixels, vkTextured.pixels),
    materialsRenderPsnrDb: psnr(cpuMaterials.pixels, vkMaterials.pixels),
    environmentRenderPsnrDb: psnr(cpuEnvironment.pixels, vkEnvironment.pixels),
    environmentRows: rowCheck(cpuEnvironment.pixels, vkEnvironment.pixels, probe.width),
    environmentSparseRows: rowCheck(cpuSparse.pixels, vkSparse.pixels, probe.width),
    inferenceRelativeError: relativeError(cpuY.data, vkY.data),
  },
  openglesVsVulkan: gles,
  ...(otherMachine ? { otherMachine } : {}),
}

const results = {
  adapter,
  backend: engine.adapter.backend,
  matmul: {
    n: MATMUL_N,
    kernel,
    gflops,
    ratioToJs: gflops / jsGflops,
    jsGflops,
    gflopsPerCpuSecond: mm.perCpuSecond ?? 0,
    jsNote: `plain JS i-j-k triple loop over Float32Array at n=${MATMUL_N}, one run`,
    otherKernel: { kernel: otherKernel, gflops: otherGflops },
    ...('gflops' in vendor
      ? { cublasGflops: vendor.gflops, cublasDevice: vendor.device, ratioToCublas: gflops / vendor.gflops }
      : { cublas: vendor.unavailable }),
  },
  pathtrace: {
    triangles: scene.triangleCount,
    raysPerSec,
    raysPerCpuSecond,
    pacedRaysPerSec: paced.perSecond,
    pacedRatio: paced.perSecond / raysPerSec,
    width: PT_SIDE,
    height: PT_SIDE,
    samples: pt.samples,
  },
  benchmark: {
    score: benchmark.score,
    cv: benchmark.cv,
    runs: benchmark.runs.length,
    workloadVersion: benchmark.workloadVersion,
    tileSide: benchmark.tileSide,
    matmulN: benchmark.matmulN,
    // Throughput at the sizes the device saturated at (mean over the runs), beside the fixed-size figures above.
    raysPerSec: mean(benchmark.runs.map((r) => r.raysPerSec)),
    gflops: mean(benchmark.runs.map((r) => r.gflops)),
  },
  determinism,
  // Wall-clock figures on a shared CPU depend on what else runs; the per-CPU-second figures much less so.
  host: { cpus: availableParallelism(), loadAverage1m: { before: loadBefore, after: loadavg()[0]! } },
  measuredAt: new Date().toISOString(),
}
engine.destroy()

const fmt = (v: number, digits = 2): string => v.toFixed(digits)
// JSON has no Infinity (identical images have infinite PSNR): write non-finite numbers as strings.
const finite = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)
console.table([
  { metric: 'adapter', value: adapter },
  { metric: `matmul ${MATMUL_N} GFLOP/s (${kernel})`, value: fmt(gflops) },
  { metric: `matmul ${MATMUL_N} GFLOP/s (${otherKernel})`, value: fmt(otherGflops) },
  { metric: 'matmul JS GFLOP/s', value: fmt(jsGflops, 3) },
  { metric: 'matmul ratio to JS', value: fmt(gflops / jsGflops, 1) },
  { metric: 'matmul ratio to cuBLAS', value: 'gflops' in vendor ? fmt(gflops / vendor.gflops, 3) : vendor.unavailable },
  { metric: `path tracer M rays/s (${scene.triangleCount} triangles)`, value: fmt(raysPerSec / 1e6) },
  { metric: 'path tracer M rays per CPU-second', value: fmt(raysPerCpuSecond / 1e6) },
  {
    metric: 'path tracer M rays/s paced (abortable), ratio to plain',
    value: `${fmt(paced.perSecond / 1e6)} (${fmt(paced.perSecond / raysPerSec, 3)})`,
  },
  { metric: 'matmul GFLOP per CPU-second', value: fmt(mm.perCpuSecond ?? 0) },
  { metric: 'load average (1 min) before/after', value: `${fmt(loadBefore)} / ${fmt(loadavg()[0]!)}` },
  {
    metric: `benchmark score (units; ${benchmark.tileSide}px tile, matmul ${benchmark.matmulN})`,
    value: fmt(benchmark.score, 1),
  },
  { metric: 'benchmark CV', value: fmt(benchmark.cv, 3) },
  { metric: 'render CPU vs GPU PSNR dB', value: fmt(determinism.cpuVsGpu.renderPsnrDb, 1) },
  { metric: 'textured render CPU vs GPU PSNR dB', value: fmt(determinism.cpuVsGpu.texturedRenderPsnrDb, 1) },
  { metric: 'layered materials CPU vs GPU PSNR dB', value: fmt(determinism.cpuVsGpu.materialsRenderPsnrDb, 1) },
  { metric: 'panorama-lit CPU vs GPU PSNR dB', value: fmt(determinism.cpuVsGpu.environmentRenderPsnrDb, 1) },
  {
    metric: 'panorama-lit CPU vs GPU worst row dB, plain / checked (1 spp)',
    value: `${fmt(determinism.cpuVsGpu.environmentSparseRows.worstRowDb, 1)} / ${fmt(determinism.cpuVsGpu.environmentSparseRows.worstRowCheckedDb, 1)}`,
  },
  { metric: 'inference CPU vs GPU rel. error', value: determinism.cpuVsGpu.inferenceRelativeError.toExponential(2) },
  { metric: 'GLES vs Vulkan', value: JSON.stringify(gles, finite) },
  ...(otherMachine ? [{ metric: 'against the other machine', value: JSON.stringify(otherMachine, finite) }] : []),
])
writeFileSync(resolve(flags.out!), `${JSON.stringify(results, finite, 2)}\n`)
