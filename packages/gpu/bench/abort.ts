/**
 * `npm run bench:abort -w @tessera/gpu`: how soon a worker's abortable render stops, on whichever adapter runs it.
 * Each scene renders one large paced tile (as a worker's task does), aborted `--abort-ms` after it starts; the table
 * gives the time from the abort to the render's rejection, the longest dispatch as the host saw it (the gap between
 * two progress reports) and how many dispatches ran. The uneven scene has cheap rows (sky) above costly ones (every
 * ray walks every box of a sliver BVH): the case where a pacer timing cheap rows would plan one dispatch of seconds.
 *
 * Flags: `--out FILE` writes the results as JSON (default bench/abort-results.json); `--abort-ms N` (default 1000).
 */
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isCoreError } from '@tessera/core'
import { createEngine, generateScene, loadScene } from '../src/index.js'
import type { Engine, RenderTileOptions, Scene } from '../src/index.js'
import { DISPATCH_TARGET_MS } from '../src/constants.js'
import { wholeTile } from '../test/helpers/render.js'
import { sliverScene } from '../test/helpers/slivers.js'
import { materialsScene } from './materials.js'

const here = dirname(fileURLToPath(import.meta.url))
const { values: flags } = parseArgs({
  options: {
    out: { type: 'string', default: join(here, 'abort-results.json') },
    'abort-ms': { type: 'string', default: '1000' },
  },
})
const abortMs = Number(flags['abort-ms'])
if (!(abortMs > 0)) throw new Error(`--abort-ms must be a positive number of milliseconds, got ${flags['abort-ms']}`)

interface AbortRun {
  scene: string
  tile: string
  samples: number
  /** From the abort to the render's rejection. */
  abortToStopMs: number
  /** The longest gap between two progress reports (the first counted from the render's start). */
  longestDispatchMs: number
  dispatches: number
  /** Share of the tile's pixel-samples traced before the abort took. */
  tracedShare: number
  /** The render did not finish before the abort (else the scene was too cheap for this adapter). */
  aborted: boolean
}

async function abortRun(engine: Engine, name: string, tile: RenderTileOptions): Promise<AbortRun> {
  const controller = new AbortController()
  const start = performance.now()
  let last = start
  let longest = 0
  let dispatches = 0
  let traced = 0
  let total = 1
  let abortedAt = 0
  const timer = setTimeout(() => {
    abortedAt = performance.now()
    controller.abort()
  }, abortMs)
  const outcome = await engine
    .renderTile(tile, {
      signal: controller.signal,
      onProgress: (p) => {
        const now = performance.now()
        longest = Math.max(longest, now - last)
        last = now
        dispatches = p.dispatches
        traced = p.pixelSamples
        total = p.total
      },
    })
    .then(
      () => 'finished' as const,
      (e: unknown) => e,
    )
  const stopped = performance.now()
  clearTimeout(timer)
  if (outcome !== 'finished' && !isCoreError(outcome, 'CORE__ABORTED')) throw outcome
  return {
    scene: name,
    tile: `${tile.width}x${tile.height}`,
    samples: tile.samples,
    abortToStopMs: outcome === 'finished' ? 0 : stopped - abortedAt,
    longestDispatchMs: longest,
    dispatches,
    tracedShare: traced / total,
    aborted: outcome !== 'finished',
  }
}

const engine = await createEngine()
const adapter = `${engine.adapter.vendor} ${engine.adapter.architecture} ${engine.adapter.description}`
  .replace(/\s+/g, ' ')
  .trim()
const side = 1024
const whole = (scene: Scene, samples: number): RenderTileOptions => wholeTile(scene, side, { samples })
// Sample counts that no adapter here finishes within the abort: a GPU traces about 1 G rays/s on the bench scene.
const scenes: [string, RenderTileOptions][] = [
  ['bench scene (15k triangles)', whole(await loadScene(await generateScene()), 4096)],
  ['layered materials room', whole(await loadScene(await materialsScene()), 4096)],
  ['uneven: sky above 20k slivers', whole(sliverScene(20_000, 0), 256)],
]
const runs: AbortRun[] = []
for (const [name, tile] of scenes) {
  // A first render of one sample compiles the scene's kernel, which is not what an abort waits for.
  await engine.renderTile({ ...tile, width: 8, height: 8, samples: 1 })
  runs.push(await abortRun(engine, name, tile))
}
engine.destroy()

const fmt = (v: number): string => v.toFixed(0)
console.log(`adapter: ${adapter}; abort ${abortMs} ms after the start; dispatch target ${DISPATCH_TARGET_MS} ms`)
console.table(
  runs.map((r) => ({
    scene: r.scene,
    'tile, spp': `${r.tile}, ${r.samples}`,
    'abort to stop ms': r.aborted ? fmt(r.abortToStopMs) : 'finished first',
    'longest dispatch ms': fmt(r.longestDispatchMs),
    dispatches: r.dispatches,
    'traced %': (r.tracedShare * 100).toFixed(2),
  })),
)
const results = { adapter, abortMs, dispatchTargetMs: DISPATCH_TARGET_MS, runs, measuredAt: new Date().toISOString() }
writeFileSync(resolve(flags.out!), `${JSON.stringify(results, null, 2)}\n`)
