import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'

const SCENARIOS = fileURLToPath(new URL('../../../examples/scenarios/', import.meta.url))
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
