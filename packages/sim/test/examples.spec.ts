import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import { loadScenarioInput } from '../src/scenario/load.js'
import { parseSweepDefinition } from '../src/sweep/file.js'
import { runSweep } from '../src/sweep/sweep.js'

const SCENARIOS = fileURLToPath(new URL('../../../examples/scenarios/', import.meta.url))
const SWEEPS = fileURLToPath(new URL('../../../examples/sweeps/', import.meta.url))
/**
 * Data and vector charts. PNGs are left out: they are rasterised from the SVGs, and a rasteriser may pick other
 * SIMD paths on another CPU; the determinism test compares them between two runs on one machine.
 */
const DATA = /\.(json|csv|svg)$/

const names = (await readdir(SCENARIOS)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length))
const out = await mkdtemp(join(tmpdir(), 'tessera-examples-'))
afterAll(() => rm(out, { recursive: true, force: true }))

// The committed outputs are what the package README explains; a change to the simulator or the machines that moves
// them must regenerate them: `npm run sim -w @tessera/sim -- examples/scenarios/<name>.yaml --out examples/scenarios/<name>`.
describe('committed example outputs', () => {
  it.each(names)('should reproduce examples/scenarios/%s byte for byte', async (name) => {
    const dir = join(out, name)
    await runScenario(join(SCENARIOS, `${name}.yaml`), { seed: 1, outDir: dir })
    const committed = (await readdir(join(SCENARIOS, name))).filter((f) => DATA.test(f)).sort()
    const produced = (await readdir(dir)).filter((f) => DATA.test(f)).sort()
    expect(produced).toEqual(committed)
    for (const file of committed) {
      const expected = await readFile(join(SCENARIOS, name, file), 'utf8')
      expect(await readFile(join(dir, file), 'utf8'), `${name}/${file}`).toBe(expected)
    }
  })
})

// Likewise the committed sweeps: `npm run sim -w @tessera/sim -- sweep examples/sweeps/<name>.yaml --out examples/sweeps/<name>`.
const sweeps = (await readdir(SWEEPS)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length))

describe('committed sweep outputs', () => {
  it.each(sweeps)(
    'should reproduce examples/sweeps/%s byte for byte',
    async (name) => {
      const file = join(SWEEPS, `${name}.yaml`)
      const saved = parseSweepDefinition(await loadScenarioInput(file), file)
      const dir = join(out, `sweep-${name}`)
      await runSweep(saved.scenario, { ...saved, concurrency: 2, outDir: dir })
      const committed = (await readdir(join(SWEEPS, name))).filter((f) => DATA.test(f)).sort()
      expect((await readdir(dir)).filter((f) => DATA.test(f)).sort()).toEqual(committed)
      for (const f of committed) {
        expect(await readFile(join(dir, f), 'utf8'), `${name}/${f}`).toBe(await readFile(join(SWEEPS, name, f), 'utf8'))
      }
      // 25 runs of a 60-worker market on two threads: about a minute on a quiet 2-core machine, more beside other suites.
    },
    300_000,
  )
})
