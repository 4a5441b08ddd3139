import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import {
  MAX_BME_TOKENS,
  MAX_METRICS_ROWS,
  MAX_SCENARIO_BYTES,
  MAX_SCENARIO_DEPTH,
  MAX_SCENARIO_DURATION_MS,
  MAX_TOKEN_PRICE_USD,
  MAX_USD_PER_TOKEN_UNIT,
  MIN_TOKEN_PRICE_USD,
} from '../src/constants.js'
import { isSimError } from '../src/errors.js'
import { nestingDepth } from '../src/scenario/depth.js'
import { loadScenario, loadScenarioInput, parseScenario, validateScenario } from '../src/scenario/load.js'
import { parseSweepDefinition } from '../src/sweep/file.js'
import { planSweep } from '../src/sweep/plan.js'
import { minimal } from './helpers.js'

function failure(fn: () => unknown): { code: string; message: string; context: Record<string, unknown> } {
  try {
    fn()
  } catch (e) {
    if (isSimError(e)) return { code: e.code, message: e.message, context: e.context }
    throw e
  }
  throw new Error('expected a SimError')
}

/** The audit's file: about a kilobyte that validated, then had the recorder allocate 1.7e10 rows. */
const HOSTILE = `version: 1
name: baseline
duration: 200d
metricsInterval: 1
regions: [{ name: eu }, { name: us }]
network:
  latencyMs: { eu: { eu: 12, us: 45 }, us: { us: 15 } }
workers: { count: 40 }
creators: { count: 4 }
jobs: { count: 0 }
`

const tmp = await mkdtemp(join(tmpdir(), 'tessera-scenario-limits-'))
afterAll(() => rm(tmp, { recursive: true, force: true }))

describe('scenario limits', () => {
  it('should reject a run duration over a year with the field and limit', () => {
    const s = minimal()
    s.duration = '366d'
    expect(failure(() => validateScenario(s))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/duration', limit: MAX_SCENARIO_DURATION_MS },
    })
    s.duration = 1e300
    expect(failure(() => validateScenario(s)).context.path).toBe('/duration')
  })

  it('should reject any other duration over a year with its path', () => {
    const s = minimal()
    s.jobs.deadline = '100000d'
    expect(failure(() => validateScenario(s))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/jobs/deadline', limit: MAX_SCENARIO_DURATION_MS },
    })
  })

  it('should accept a year at the default metrics interval', () => {
    const s = minimal()
    s.duration = '365d'
    expect(validateScenario(s).durationMs).toBe(MAX_SCENARIO_DURATION_MS)
  })

  it('should reject the hostile 200-day, 1 ms scenario with a coded error before any run', () => {
    expect(failure(() => parseScenario(HOSTILE, 'yaml'))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/metricsInterval', rows: 200 * 86_400_000, limit: MAX_METRICS_ROWS },
    })
  })

  it('should reject a metrics interval that cuts the run into too many rows, and accept the limit', () => {
    const s = minimal()
    s.duration = MAX_METRICS_ROWS * 1000
    s.metricsInterval = '999ms'
    expect(failure(() => validateScenario(s))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/metricsInterval', limit: MAX_METRICS_ROWS },
    })
    s.metricsInterval = '1s'
    expect(validateScenario(s).metricsIntervalMs).toBe(1000)
  })

  it('should reject a burn-and-mint epoch that cuts the run into too many epochs', () => {
    const s = minimal()
    s.duration = '200d'
    s.economics = { bme: { epoch: 1, emissionPerEpoch: 1, price: [{ at: 0, usd: 1 }] } }
    expect(failure(() => validateScenario(s))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/economics/bme/epoch', limit: MAX_METRICS_ROWS },
    })
  })

  it('should reject a settlement epoch that cuts the run into too many epochs, and accept the limit', () => {
    // Each creator's settlement machine closes every one of them: 200 creators at 1 s for a day ran out of heap.
    const s = minimal()
    s.duration = '2d'
    s.economics = { settlementEpoch: '1s' }
    expect(failure(() => validateScenario(s))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      message: expect.stringContaining('172800 epochs'),
      context: { path: '/economics/settlementEpoch', rows: 172_800, limit: MAX_METRICS_ROWS },
    })
    s.economics = { settlementEpoch: '2s' }
    expect(validateScenario(s).economics.settlementEpochMs).toBe(2000)
  })

  it.each([
    ['an emission that sums past any finite number', { emissionPerEpoch: 1e308 }, '/economics/bme/emissionPerEpoch'],
    ['an emission of NaN', { emissionPerEpoch: Number.NaN }, '/economics/bme/emissionPerEpoch'],
    ['an initial supply past the bound', { initialSupply: 1e19 }, '/economics/bme/initialSupply'],
    ['a USD value of a quoted unit past the bound', { usdPerTokenUnit: 1e306 }, '/economics/bme/usdPerTokenUnit'],
    ['a token price of next to nothing', { price: [{ at: 0, usd: 1e-300 }] }, '/economics/bme/price/0/usd'],
    ['a token price past the bound', { price: [{ at: 0, usd: 1e13 }] }, '/economics/bme/price/0/usd'],
    ['a token price of NaN', { price: [{ at: 0, usd: Number.NaN }] }, '/economics/bme/price/0/usd'],
  ])('should refuse %s in burn-and-mint, naming the field', (_, change, path) => {
    const s = minimal()
    s.economics = { bme: { emissionPerEpoch: 10, price: [{ at: 0, usd: 1 }], ...change } }
    expect(failure(() => validateScenario(s))).toMatchObject({ code: 'SIM__INVALID_SCENARIO', context: { path } })
  })

  it('should take burn-and-mint inputs at their bounds', () => {
    const s = minimal()
    const bme = {
      emissionPerEpoch: MAX_BME_TOKENS,
      initialSupply: MAX_BME_TOKENS,
      usdPerTokenUnit: MAX_USD_PER_TOKEN_UNIT,
      price: [
        { at: 0, usd: MIN_TOKEN_PRICE_USD },
        { at: '1h', usd: MAX_TOKEN_PRICE_USD },
      ],
    }
    s.economics = { bme }
    expect(validateScenario(s).economics.bme?.emissionPerEpoch).toBe(MAX_BME_TOKENS)
  })

  it('should refuse a scenario file over the size limit before reading it whole', async () => {
    const file = join(tmp, 'large.yaml')
    await writeFile(file, `${HOSTILE}#${'x'.repeat(MAX_SCENARIO_BYTES)}\n`)
    await expect(loadScenario(file)).rejects.toMatchObject({
      code: 'SIM__MALFORMED_SCENARIO',
      context: { path: file, limit: MAX_SCENARIO_BYTES },
    })
    await expect(loadScenarioInput(file)).rejects.toMatchObject({ code: 'SIM__MALFORMED_SCENARIO' })
  })

  it('should refuse JSON nested past the depth limit with the depth, before parsing it', () => {
    // 5,000 levels under an unknown key used to overflow structuredClone with a bare RangeError.
    const json = `${JSON.stringify(minimal()).slice(0, -1)},"zz":${'['.repeat(5000)}${']'.repeat(5000)}}`
    expect(failure(() => parseScenario(json))).toMatchObject({
      code: 'SIM__MALFORMED_SCENARIO',
      context: { format: 'json', depth: 5001, limit: MAX_SCENARIO_DEPTH },
    })
  })

  it('should refuse a megabyte of nested YAML cheaply, flow or block', () => {
    const flow = HOSTILE + `zz: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`
    const block = HOSTILE + 'zz:\n' + Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}- `).join('\n') + '\n'
    for (const text of [flow, block]) {
      const started = performance.now()
      const error = failure(() => parseScenario(text, 'yaml'))
      expect(error).toMatchObject({ code: 'SIM__MALFORMED_SCENARIO', context: { limit: MAX_SCENARIO_DEPTH } })
      expect(error.context.depth).toBeGreaterThan(MAX_SCENARIO_DEPTH)
      expect(performance.now() - started).toBeLessThan(1000)
    }
  })

  it('should count nesting, not brackets in strings, comments or block scalars', () => {
    const text = [
      'a:',
      '  b:',
      '    - - c: [1, {d: [2]}]',
      'e: "[[[[ \\" [[[["',
      "f: 'it''s [[[['",
      "g: don't [[[[ # [[[[",
      'h: |',
      '  [[[[',
      '    [[[[',
      'i: 1',
    ].join('\n')
    expect(nestingDepth(text, 'yaml')).toBe(8)
    expect(nestingDepth('{"a": "[[[[\\"[[", "b": [[{}]]}', 'json')).toBe(4)
  })

  it('should accept nesting up to the limit, refused then by the schema', () => {
    const levels = MAX_SCENARIO_DEPTH - 1
    const json = `${JSON.stringify(minimal()).slice(0, -1)},"zz":${'['.repeat(levels)}${']'.repeat(levels)}}`
    expect(failure(() => parseScenario(json))).toMatchObject({
      code: 'SIM__INVALID_SCENARIO',
      context: { path: '/zz' },
    })
  })

  it('should refuse a parsed value too deep to copy with a code, not a bare RangeError', () => {
    let deep: unknown[] = []
    for (let i = 0; i < 200_000; i++) deep = [deep]
    const s = { ...minimal(), zz: deep }
    expect(failure(() => validateScenario(s))).toMatchObject({ code: 'SIM__MALFORMED_SCENARIO' })
  })

  it('should still read a file at the size limit, and report a directory as unreadable', async () => {
    const file = join(tmp, 'padded.yaml')
    const text = HOSTILE.replace('200d', '2h').replace('metricsInterval: 1', 'metricsInterval: 10m')
    await writeFile(file, `${text}#`.padEnd(MAX_SCENARIO_BYTES, 'x'))
    expect((await loadScenario(file)).durationMs).toBe(7_200_000)
    await expect(loadScenario(tmp)).rejects.toMatchObject({ code: 'SIM__SCENARIO_NOT_FOUND' })
  })
})

describe('committed scenarios within the limits', () => {
  const root = (dir: string): string => fileURLToPath(new URL(dir, import.meta.url))
  const yamlIn = async (dir: string): Promise<string[]> =>
    (await readdir(root(dir))).filter((f) => f.endsWith('.yaml')).map((f) => join(root(dir), f))

  it('should validate every example scenario and test fixture', async () => {
    const files = [...(await yamlIn('../../../examples/scenarios/')), ...(await yamlIn('./fixtures/'))]
    expect(files.length).toBeGreaterThan(6)
    for (const file of files) {
      const s = await loadScenario(file)
      expect(s.durationMs / s.metricsIntervalMs, file).toBeLessThanOrEqual(MAX_METRICS_ROWS)
    }
  })

  it('should plan every example sweep', async () => {
    const files = await yamlIn('../../../examples/sweeps/')
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      const sweep = parseSweepDefinition(await loadScenarioInput(file), file)
      expect(planSweep(await loadScenarioInput(sweep.scenario), sweep).points.length, file).toBeGreaterThan(0)
    }
  })
})
