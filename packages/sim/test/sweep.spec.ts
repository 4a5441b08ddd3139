import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AbortError } from '@tessera/core'
import { afterAll, describe, expect, it } from 'vitest'
import { invokeSim as invoke } from './helpers.js'
import { isSimError } from '../src/errors.js'
import { runScenario } from '../src/run.js'
import { loadScenarioInput, validateScenario } from '../src/scenario/load.js'
import { sweepMetrics } from '../src/sweep/metrics.js'
import { parseSweepParameter, withOverride } from '../src/sweep/parameters.js'
import { planSweep } from '../src/sweep/plan.js'
import { summarize } from '../src/sweep/stats.js'
import { runSweep } from '../src/sweep/sweep.js'

const TINY = new URL('./fixtures/tiny.yaml', import.meta.url).pathname
const dirs: string[] = []

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sweep-'))
  dirs.push(dir)
  return dir
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return isSimError(e) ? e.code : 'not a SimError'
  }
  return undefined
}

describe('sweep parameters', () => {
  it('should read values as YAML scalars', () => {
    expect(parseSweepParameter('adversaries.cheaters.fraction=0, 0.1,0.25')).toEqual({
      path: 'adversaries.cheaters.fraction',
      values: [0, 0.1, 0.25],
    })
    expect(parseSweepParameter('jobs.bidWindow=2s,90s').values).toEqual(['2s', '90s'])
    expect(parseSweepParameter('jobs.arrival=poisson,uniform').values).toEqual(['poisson', 'uniform'])
  })

  it('should refuse malformed, repeated and prototype-reaching parameters with a coded error', () => {
    for (const bad of ['noequals', '=1', 'a.b=', 'a.b=1,,2', 'a.b=1,1', 'a.__proto__.x=1', 'seed=1,2', 'a..b=1']) {
      expect(
        codeOf(() => parseSweepParameter(bad)),
        bad,
      ).toBe('SIM__INVALID_SWEEP')
    }
    expect(codeOf(() => parseSweepParameter(`a=${Array.from({ length: 65 }, (_, i) => i).join(',')}`))).toBe(
      'SIM__INVALID_SWEEP',
    )
  })

  it('should set a field on a copy, creating missing objects and indexing arrays within bounds', () => {
    const input = { regions: [{ name: 'eu' }], jobs: { count: 3 } }
    const out = withOverride(withOverride(input, 'adversaries.cheaters.fraction', 0.2), 'regions.0.weight', 2)
    expect(out).toEqual({
      regions: [{ name: 'eu', weight: 2 }],
      jobs: { count: 3 },
      adversaries: { cheaters: { fraction: 0.2 } },
    })
    expect(input).toEqual({ regions: [{ name: 'eu' }], jobs: { count: 3 } })
    expect(codeOf(() => withOverride(input, 'regions.3.weight', 1))).toBe('SIM__INVALID_SWEEP')
    expect(codeOf(() => withOverride(input, 'jobs.count.x', 1))).toBe('SIM__INVALID_SWEEP')
  })
})

describe('planSweep', () => {
  it('should plan every combination, first parameter slowest, under seeds shared by all points', async () => {
    const input = await loadScenarioInput(TINY)
    const plan = planSweep(input, {
      parameters: [
        { path: 'jobs.count', values: [10, 20] },
        { path: 'jobs.minBids', values: [1, 2, 3] },
      ],
      replications: 2,
      seed: 40,
    })
    expect(plan.points.map((p) => p.values)).toEqual([
      { 'jobs.count': 10, 'jobs.minBids': 1 },
      { 'jobs.count': 10, 'jobs.minBids': 2 },
      { 'jobs.count': 10, 'jobs.minBids': 3 },
      { 'jobs.count': 20, 'jobs.minBids': 1 },
      { 'jobs.count': 20, 'jobs.minBids': 2 },
      { 'jobs.count': 20, 'jobs.minBids': 3 },
    ])
    expect(plan.points[4]?.scenario.jobs.count).toBe(20)
    expect(plan.points[4]?.scenario.jobs.minBids).toBe(2)
    expect(plan.runs).toHaveLength(12)
    expect(plan.runs.filter((r) => r.point === 5).map((r) => r.seed)).toEqual([40, 41])
    // No parameter: the scenario as written, replicated under its own seed and the next.
    expect(planSweep(input, { parameters: [], replications: 3 }).runs.map((r) => r.seed)).toEqual([1, 2, 3])
  })

  it('should refuse a point the schema refuses before anything runs, naming its values', async () => {
    const input = await loadScenarioInput(TINY)
    let error: unknown
    try {
      planSweep(input, { parameters: [{ path: 'adversaries.cheaters.fraction', values: [0.5, 1.5] }] })
    } catch (e) {
      error = e
    }
    expect(isSimError(error, 'SIM__INVALID_SCENARIO')).toBe(true)
    expect((error as Error).message).toContain('adversaries.cheaters.fraction=1.5')
    expect(codeOf(() => planSweep(input, { parameters: [{ path: 'jobs.bogus', values: [1] }] }))).toBe(
      'SIM__INVALID_SCENARIO',
    )
  })

  it('should refuse an invalid scenario swept over no parameter with its own message, naming no point', () => {
    let error: unknown
    try {
      planSweep({ peers: -1 }, { parameters: [] })
    } catch (e) {
      error = e
    }
    expect(isSimError(error, 'SIM__INVALID_SCENARIO')).toBe(true)
    expect((error as Error).message).not.toContain('(at')
  })

  it('should refuse overlapping paths, too many runs and seeds past 2^32', async () => {
    const input = await loadScenarioInput(TINY)
    const p = (path: string, n: number) => ({ path, values: Array.from({ length: n }, (_, i) => i + 1) })
    expect(codeOf(() => planSweep(input, { parameters: [p('jobs', 1), p('jobs.count', 1)] }))).toBe(
      'SIM__INVALID_SWEEP',
    )
    expect(
      codeOf(() => planSweep(input, { parameters: [p('jobs.count', 64), p('jobs.minBids', 64)], replications: 3 })),
    ).toBe('SIM__INVALID_SWEEP')
    expect(codeOf(() => planSweep(input, { parameters: [], replications: 0 }))).toBe('SIM__INVALID_SWEEP')
    expect(codeOf(() => planSweep(input, { parameters: [], replications: 2, seed: 0xffffffff }))).toBe(
      'SIM__INVALID_SWEEP',
    )
  })
})

describe('summarize', () => {
  it('should give the mean, sample deviation and Student-t interval of the finite values', () => {
    const s = summarize([1, 2, 3, 4, 5, Number.NaN])
    expect(s.n).toBe(5)
    expect(s.mean).toBe(3)
    expect(s.sd).toBeCloseTo(Math.sqrt(2.5), 12)
    // t(0.975, 4) = 2.7764451
    expect(s.ci95).toBeCloseTo((2.7764451 * Math.sqrt(2.5)) / Math.sqrt(5), 6)
    expect([s.min, s.max]).toEqual([1, 5])
    const one = summarize([7])
    expect([one.n, one.mean]).toEqual([1, 7])
    expect(Number.isNaN(one.ci95)).toBe(true)
    expect(summarize([]).n).toBe(0)
  })
})

describe('runSweep', () => {
  const parameters = [{ path: 'jobs.minBids', values: [1, 3] }]

  it('should write the same bytes whether runs go one at a time or in parallel worker threads', async () => {
    const [a, b] = [await tempDir(), await tempDir()]
    const inline = await runSweep(TINY, { parameters, replications: 2, seed: 5, concurrency: 1, outDir: a })
    const threaded = await runSweep(TINY, { parameters, replications: 2, seed: 5, concurrency: 2, outDir: b })
    expect(threaded.runs).toEqual(inline.runs)
    const names = (await readdir(a)).sort()
    expect(names).toEqual(
      expect.arrayContaining(['sweep.json', 'runs.csv', 'summary.csv', 'sweep-detectionRate.svg', 'sweep-gini.png']),
    )
    expect((await readdir(b)).sort()).toEqual(names)
    for (const name of names) expect(await readFile(join(b, name)), name).toEqual(await readFile(join(a, name)))
    const runs = (await readFile(join(a, 'runs.csv'), 'utf8')).trim().split('\n')
    expect(runs[0]).toMatch(/^run,point,replicate,seed,jobs\.minBids,completedFraction,/)
    expect(runs).toHaveLength(5)
  })

  it('should quote a swept value holding a carriage return in the CSVs (RFC 4180)', async () => {
    const dir = await tempDir()
    const description = [{ path: 'description', values: ['one\rtwo', 'plain'] }]
    await runSweep(TINY, { parameters: description, replications: 1, seed: 5, concurrency: 1, outDir: dir, charts: [] })
    const runs = await readFile(join(dir, 'runs.csv'), 'utf8')
    expect(runs.split('\n')[1]).toMatch(/^0,0,0,5,"one\rtwo",/)
    expect(runs.split('\n')[2]).toMatch(/^1,1,0,5,plain,/)
    expect((await readFile(join(dir, 'summary.csv'), 'utf8')).split('\n')[1]).toMatch(/^0,"one\rtwo",1,/)
  })

  it('should remove the charts of an earlier sweep it does not draw, and leave files it does not know', async () => {
    const dir = await tempDir()
    const one = [{ path: 'jobs.minBids', values: [1] }]
    await runSweep(TINY, { parameters: one, replications: 1, concurrency: 1, outDir: dir, charts: ['gini'] })
    await writeFile(join(dir, 'notes.txt'), 'mine')
    await runSweep(TINY, { parameters: one, replications: 1, concurrency: 1, outDir: dir, charts: ['escaped'] })
    expect((await readdir(dir)).sort()).toEqual([
      'notes.txt',
      'runs.csv',
      'summary.csv',
      'sweep-escaped.png',
      'sweep-escaped.svg',
      'sweep.json',
    ])
  })

  it('should refuse an output directory it cannot write to before any run', async () => {
    const file = join(await tempDir(), 'a-file')
    await writeFile(file, '')
    let progress = 0
    const sweep = runSweep(TINY, {
      parameters,
      replications: 1,
      concurrency: 1,
      outDir: join(file, 'out'),
      onProgress: () => progress++,
    })
    await expect(sweep).rejects.toMatchObject({ code: 'SIM__INVALID_OUT_DIR' })
    expect(progress).toBe(0)
    const { code, stderr } = await invoke(['sweep', TINY, '--out', join(file, 'out'), '-q'], tmpdir())
    expect(code).toBe(2)
    expect(stderr).toContain('SIM__INVALID_OUT_DIR')
  })

  it('should report for each run what running its point alone under its seed reports', async () => {
    const sweep = await runSweep(TINY, { parameters, replications: 2, seed: 5, concurrency: 2 })
    const run = sweep.runs[3]
    expect(run).toMatchObject({ point: 1, replicate: 1, seed: 6 })
    const alone = await runScenario(validateScenario(withOverride(await loadScenarioInput(TINY), 'jobs.minBids', 3)), {
      seed: 6,
    })
    expect(run?.metrics).toEqual(sweepMetrics(alone.report))
    const point = sweep.points[1]
    expect(point?.stats.events.n).toBe(2)
    expect(point?.stats.events.mean).toBe((sweep.runs[2]!.metrics.events + sweep.runs[3]!.metrics.events) / 2)
  })

  it('should stop at the first failing run and name its seed', async () => {
    const input = withOverride(await loadScenarioInput(TINY), 'maxEvents', 50)
    const failure = runSweep(input, { parameters, replications: 2, seed: 17, concurrency: 2 })
    await expect(failure).rejects.toMatchObject({ code: 'SIM__RUN_FAILED' })
    await expect(failure).rejects.toThrow(/seed 1[78].*SIM__RUN_FAILED/)
  })

  it('should reject with AbortError and stop its workers when aborted', async () => {
    const controller = new AbortController()
    const sweep = runSweep(TINY, {
      parameters,
      replications: 4,
      concurrency: 2,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    })
    await expect(sweep).rejects.toBeInstanceOf(AbortError)
  })
})

describe('sim sweep', () => {
  it('should run the grid and print each point', async () => {
    const dir = await tempDir()
    const { code, stdout } = await invoke(
      ['sweep', TINY, '--set', 'jobs.minBids=1,3', '-r', '2', '-j', '2', '--chart', 'gini', '--out', 'o', '-q'],
      dir,
    )
    expect(code).toBe(0)
    expect(stdout).toContain('2 points x 2 runs (seeds 1-2)')
    expect(stdout).toMatch(/jobs\.minBids=3: gini [0-9.]+/)
    expect((await readdir(join(dir, 'o'))).sort()).toEqual([
      'runs.csv',
      'summary.csv',
      'sweep-gini.png',
      'sweep-gini.svg',
      'sweep.json',
    ])
  })

  it('should run a saved sweep file, flags beside it overriding its fields', async () => {
    const dir = await tempDir()
    await writeFile(
      join(dir, 'saved.yaml'),
      `version: 1\nscenario: ${TINY}\nparameters:\n  jobs.minBids: [1, 2]\n  jobs.count: [10]\nreplications: 3\nseed: 8\ncharts: [gini]\n`,
    )
    const { code, stdout } = await invoke(['sweep', 'saved.yaml', '--set', 'jobs.count=12', '-r', '1', '-q'], dir)
    expect(code).toBe(0)
    expect(stdout).toContain('2 points x 1 runs (seeds 8-8)')
    expect(stdout).toContain('jobs.minBids=2, jobs.count=12: gini ')
    expect(await readdir(join(dir, 'sim-output', 'tiny-sweep'))).toContain('sweep-gini.svg')
    await writeFile(join(dir, 'bad.yaml'), `version: 1\nscenario: ${TINY}\nparameters:\n  jobs.count: []\n`)
    const bad = await invoke(['sweep', 'bad.yaml', '-q'], dir)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('SIM__INVALID_SWEEP')
  })

  it('should refuse bad arguments with exit code 2', async () => {
    const cwd = tmpdir()
    for (const argv of [
      ['sweep'],
      ['sweep', TINY, '--set', 'jobs.minBids'],
      ['sweep', TINY, '-r', '0'],
      ['sweep', TINY, '--chart', 'nonsense'],
      ['sweep', TINY, '--bogus'],
    ]) {
      expect((await invoke(argv, cwd)).code, argv.join(' ')).toBe(2)
    }
    // Refused by the plan, after the scenario was read, with exit 1 before.
    for (const [argv, message] of [
      [['sweep', TINY, '--seed', '4294967295', '-r', '2'], /seeds 4294967295 to 4294967296 do not all fit/],
      [['sweep', TINY, '--set', 'workers.count=4', '--set', 'workers.count=8'], /workers\.count overlaps another/],
      [['sweep', TINY, '--set', 'jobs=1', '--set', 'jobs.count=8'], /jobs\.count overlaps another/],
      [
        ['sweep', TINY, '--set', `jobs.count=${Array.from({ length: 11 }, (_, i) => i + 1).join(',')}`, '-r', '1000'],
        /plans 11000 runs; at most 10000/,
      ],
    ] as const) {
      const res = await invoke([...argv], cwd)
      expect({ argv, code: res.code }).toEqual({ argv, code: 2 })
      expect(res.stderr).toMatch(/^SIM__INVALID_SWEEP: /)
      expect(res.stderr).toMatch(message)
    }
  })
})
