/**
 * Cross-machine determinism probes: the bench's probe tile and probe model output, saved on one machine and
 * compared on another. This is how the determinism profile measures a real GPU against lavapipe: no single
 * machine here has both, so one run writes its probes (`--write-probes DIR`) and the other reads them
 * (`--compare-probes DIR`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bitwiseEqual, psnr, relativeError } from '../src/index.js'
import { rowCheck, type RowCheck } from './rows.js'

/** What one machine's probes are: which adapter made them, and the two outputs. */
export interface Probes {
  readonly adapter: string
  readonly render: Float32Array
  /** The same tile of the scene with its textured floor. */
  readonly texturedRender: Float32Array
  /** The same tile of the scene whose spheres are glass, clear-coated metal and sheen cloth (bench/materials.ts). */
  readonly materialsRender: Float32Array
  /** That scene lit by a panorama too (`probeSky`, turned): environment lookups and sampling. */
  readonly environmentRender: Float32Array
  /** That tile at 1 spp, where a diverged sample weighs most. */
  readonly environmentSparseRender: Float32Array
  /** The probes' tile width, for row-by-row checks. */
  readonly width: number
  readonly inference: Float32Array
}

/** How far another machine's probes are from this one's. */
export interface ProbeComparison {
  readonly adapter: string
  readonly renderPsnrDb: number
  readonly renderBitwise: boolean
  readonly texturedRenderPsnrDb: number
  readonly materialsRenderPsnrDb: number
  readonly environmentRenderPsnrDb: number
  /** The panorama-lit probe as a verifier checks it, row by row, at the probe's samples and at 1 spp. */
  readonly environmentRows: RowCheck
  readonly environmentSparseRows: RowCheck
  readonly inferenceRelativeError: number
  readonly inferenceBitwise: boolean
}

const META = 'probes.json'
const RENDER = 'render.f32'
const TEXTURED = 'textured.f32'
const MATERIALS = 'materials.f32'
const ENVIRONMENT = 'environment.f32'
const ENVIRONMENT_SPARSE = 'environment-1spp.f32'
const INFERENCE = 'inference.f32'

export function writeProbes(dir: string, probes: Probes): void {
  mkdirSync(dir, { recursive: true })
  const raw = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
  writeFileSync(join(dir, RENDER), raw(probes.render))
  writeFileSync(join(dir, TEXTURED), raw(probes.texturedRender))
  writeFileSync(join(dir, MATERIALS), raw(probes.materialsRender))
  writeFileSync(join(dir, ENVIRONMENT), raw(probes.environmentRender))
  writeFileSync(join(dir, ENVIRONMENT_SPARSE), raw(probes.environmentSparseRender))
  writeFileSync(join(dir, INFERENCE), raw(probes.inference))
  writeFileSync(
    join(dir, META),
    `${JSON.stringify({
      adapter: probes.adapter,
      render: probes.render.length,
      textured: probes.texturedRender.length,
      materials: probes.materialsRender.length,
      environment: probes.environmentRender.length,
      environmentSparse: probes.environmentSparseRender.length,
      width: probes.width,
      inference: probes.inference.length,
    })}\n`,
  )
}

function readFloats(path: string, expected: number): Float32Array {
  const bytes = readFileSync(path)
  if (bytes.byteLength !== expected * 4) {
    throw new Error(`${path}: ${bytes.byteLength} bytes, expected ${expected * 4} (${expected} float32 values)`)
  }
  // Copy into an aligned buffer: a Buffer's view into Node's pool may start at any byte.
  const out = new Float32Array(expected)
  new Uint8Array(out.buffer).set(bytes)
  return out
}

/** Reads probes written by another machine and compares them with this machine's; sizes must match exactly. */
export function compareProbes(dir: string, mine: Probes): ProbeComparison {
  const meta = JSON.parse(readFileSync(join(dir, META), 'utf8')) as Record<string, unknown>
  if (
    typeof meta.adapter !== 'string' ||
    meta.render !== mine.render.length ||
    meta.textured !== mine.texturedRender.length ||
    meta.materials !== mine.materialsRender.length ||
    meta.environment !== mine.environmentRender.length ||
    meta.environmentSparse !== mine.environmentSparseRender.length ||
    meta.width !== mine.width ||
    meta.inference !== mine.inference.length
  ) {
    throw new Error(`${join(dir, META)}: probes of another shape than this bench's (${JSON.stringify(meta)})`)
  }
  const render = readFloats(join(dir, RENDER), mine.render.length)
  const texturedRender = readFloats(join(dir, TEXTURED), mine.texturedRender.length)
  const materialsRender = readFloats(join(dir, MATERIALS), mine.materialsRender.length)
  const environmentRender = readFloats(join(dir, ENVIRONMENT), mine.environmentRender.length)
  const environmentSparseRender = readFloats(join(dir, ENVIRONMENT_SPARSE), mine.environmentSparseRender.length)
  const inference = readFloats(join(dir, INFERENCE), mine.inference.length)
  return {
    adapter: meta.adapter,
    renderPsnrDb: psnr(render, mine.render),
    renderBitwise: bitwiseEqual(render, mine.render),
    texturedRenderPsnrDb: psnr(texturedRender, mine.texturedRender),
    materialsRenderPsnrDb: psnr(materialsRender, mine.materialsRender),
    environmentRenderPsnrDb: psnr(environmentRender, mine.environmentRender),
    environmentRows: rowCheck(environmentRender, mine.environmentRender, mine.width),
    environmentSparseRows: rowCheck(environmentSparseRender, mine.environmentSparseRender, mine.width),
    inferenceRelativeError: relativeError(inference, mine.inference),
    inferenceBitwise: bitwiseEqual(inference, mine.inference),
  }
}
