/**
 * What parsing a job's scene in its own worker thread (`input-parser.ts`) costs over parsing it on this thread: on
 * the benchmark's procedural scene and on one of about a million triangles, each parsed here, in a thread given
 * the job at once (`cold`: it still loads its modules), and in a thread given it once loaded (`warm`: as when the
 * blob fetch outlasts the load, which `InputCache` overlaps). Prints a table, in milliseconds.
 *
 *   node --conditions=tessera-src --import tsx bench/parse-overhead.ts      (from source)
 *   node dist/bench/parse-overhead.js                                       (built, as a node runs)
 */
import { generateScene, loadScene } from '@tessera/gpu'
import { startParser } from '../src/peer/input-parser.js'

/** Loads of each scene: the first of each kind warms the parsers up. */
const RUNS = 3
const SCENES = { 'bench scene': {}, '1M triangles': { subdivisions: 7 } }

/** A parse thread, once it has loaded its modules. */
async function loadedParser(): Promise<ReturnType<typeof startParser>> {
  let ready!: () => void
  const loaded = new Promise<void>((resolve) => (ready = resolve))
  const parser = startParser({
    spawned: (worker) => worker.on('message', (reply: { type: string }) => reply.type === 'ready' && ready()),
  })
  await loaded
  return parser
}

const rows: Record<string, Record<string, number>> = {}
for (const [name, options] of Object.entries(SCENES)) {
  const scene = await generateScene(options)
  for (let run = 1; run <= RUNS; run++) {
    let started = performance.now()
    const here = await loadScene(scene)
    const inProcess = performance.now() - started
    started = performance.now()
    await startParser().parse({ kind: 'render', scene })
    const cold = performance.now() - started
    const parser = await loadedParser()
    started = performance.now()
    await parser.parse({ kind: 'render', scene })
    const warm = performance.now() - started
    rows[`${name} (${here.triangleCount} triangles), run ${run}`] = {
      'in process': Math.round(inProcess),
      cold: Math.round(cold),
      warm: Math.round(warm),
      'warm overhead': Math.round(warm - inProcess),
    }
  }
}
console.table(rows)
