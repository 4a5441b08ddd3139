import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isCoreError } from '@tessera/core'
import { DEFAULT_BUDGET, lengthenHorizon, planVerification } from '@tessera/proof'
import { afterAll, describe, expect, it } from 'vitest'
import { isSimError } from '../src/errors.js'
import { runScenario } from '../src/run.js'
import { validateScenario } from '../src/scenario/load.js'
import { minimal, smallScenario } from './helpers.js'

const dirs: string[] = []
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sim-'))
  dirs.push(dir)
  return dir
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('runScenario', () => {
  it('should write byte-identical files for two runs with one seed', async () => {
    const fixture = new URL('./fixtures/tiny.yaml', import.meta.url).pathname
    const [a, b] = [await tempDir(), await tempDir()]
    await runScenario(fixture, { seed: 42, outDir: a })
    await runScenario(fixture, { seed: 42, outDir: b })
    const files = (await readdir(a)).sort()
    expect(files).toEqual((await readdir(b)).sort())
    expect(files).toEqual(
      expect.arrayContaining([
        'metrics.json',
        'timeseries.csv',
        'completion.csv',
        'jobs.svg',
        'jobs.png',
        'earnings.png',
      ]),
    )
    for (const file of files) {
      expect(Buffer.compare(await readFile(join(a, file)), await readFile(join(b, file))), file).toBe(0)
    }
  })

  it('should remove the files of an earlier run it does not write, and leave files it does not know', async () => {
    const dir = await tempDir()
    const bme = { emissionPerEpoch: 1000, price: [{ at: 0, usd: 1 }] }
    await runScenario(validateScenario({ ...minimal(), economics: { bme } }), { outDir: dir })
    expect(await readdir(dir)).toContain('bme.csv')
    await writeFile(join(dir, 'notes.txt'), 'mine')
    const { files } = await runScenario(validateScenario(minimal()), { outDir: dir })
    const names = (await readdir(dir)).sort()
    expect(names).not.toContain('bme.csv')
    expect(names).toEqual([...files.map((f) => f.slice(dir.length + 1)), 'notes.txt'].sort())
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine')
  })

  it('should refuse an output directory it cannot write to before it runs', async () => {
    const file = join(await tempDir(), 'a-file')
    await writeFile(file, '')
    let progress = 0
    const error = await runScenario(smallScenario(), { outDir: join(file, 'out'), onProgress: () => progress++ }).catch(
      (e: unknown) => e,
    )
    expect(isSimError(error, 'SIM__INVALID_OUT_DIR')).toBe(true)
    expect(error).toMatchObject({ context: { dir: join(file, 'out'), reason: 'ENOTDIR' } })
    expect(progress).toBe(0)
  })

  it('should give a different run for a different seed', async () => {
    const scenario = smallScenario()
    const one = await runScenario(scenario, { seed: 1 })
    const two = await runScenario(scenario, { seed: 2 })
    expect(one.report.summary.events).not.toBe(two.report.summary.events)
  })

  it('should complete every job of an honest market and pay for every accepted task', async () => {
    const { report } = await runScenario(smallScenario(), { seed: 3 })
    const s = report.summary
    expect(s.jobs.submitted).toBe(60)
    expect(s.jobs.completed).toBe(60)
    expect(s.jobs.completionMinutes.count).toBe(60)
    expect(s.detection.falsePositives).toBe(0)
    expect(s.economics.paid).toBeGreaterThan(0)
    expect(s.economics.fees).toBe(report.series.reduce((sum, r) => sum + r.fees, 0))
    expect(report.series.at(-1)?.hours).toBe(2)
  })

  it('should count honest tasks rejected unanswered apart from false positives', async () => {
    // 5% of direct messages are lost: some challenges or reveals never arrive, and the creator rejects those tasks
    // as refused. No check judged honest output wrong, so none of them is a false positive.
    const network = { latencyMs: { eu: { eu: 10, us: 40 }, us: { us: 12 } }, lossRate: 0.05 }
    const s = (await runScenario(smallScenario({ network }), { seed: 3 })).report.summary
    expect(s.detection.unanswered).toBeGreaterThan(0)
    expect(s.detection.falsePositives).toBe(0)
    expect(s.detection.detected).toBe(0)
    expect(s.tasks.rejected).toBe(s.detection.unanswered)
    expect(s.roles.honest.failedChecks).toBe(s.detection.unanswered)
    expect(s.tasks.accepted + s.tasks.rejected).toBe(s.tasks.completed)
  })

  it('should report the verification plan in force, and when the budget could not be met', async () => {
    const base = smallScenario()
    const jobs = { ...base.jobs, count: 4 }
    // 32 chunks: the default budget's own plan, three chunks per challenge.
    const met = await runScenario({ ...base, jobs: { ...jobs, chunksPerTask: 32 } })
    expect(met.report.summary.verificationPlan).toMatchObject({ budgetMet: true, challengeChunks: 3, chunks: 32 })
    expect(met.report.summary.verificationPlan.withinTasks).toBe(200)
    // 16 chunks cannot meet it within 10% overhead over 200 tasks: it is met over a longer horizon (the default plan,
    // sized for 64 chunks, stood in before), at the overhead the budget allows.
    const unmet = await runScenario({ ...base, jobs: { ...jobs, chunksPerTask: 16 } })
    const fitted = planVerification({ ...lengthenHorizon(DEFAULT_BUDGET, [16]), chunks: 16 })
    expect(unmet.report.summary.verificationPlan).toMatchObject({
      budgetMet: false,
      challengeChunks: fitted.challengeChunks,
      chunks: 16,
      withinTasks: fitted.budget.withinTasks,
    })
    expect(fitted.budget.withinTasks).toBeGreaterThan(200)
    expect(unmet.report.summary.verificationPlan.infeasible).toMatch(/over the budget's 0.1/)
  })

  it('should name the seed when a run fails', async () => {
    const scenario = { ...smallScenario(), maxEvents: 100 }
    const error = await runScenario(scenario, { seed: 77 }).catch((e: unknown) => e)
    expect(isSimError(error, 'SIM__RUN_FAILED')).toBe(true)
    expect((error as Error).message).toContain('seed 77')
    expect((error as { context: { seed: number } }).context.seed).toBe(77)
  })

  it('should stop on the event after the event budget, not at the end of a slice or the run', async () => {
    const scenario = { ...smallScenario(), maxEvents: 10 }
    const error = await runScenario(scenario).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'SIM__RUN_FAILED' })
    const { cause, context } = error as { cause: unknown; context: { virtualMs: number } }
    expect(cause).toMatchObject({ code: 'SIM__EVENT_LIMIT_EXCEEDED', context: { maxEvents: 10, events: 11 } })
    expect(context.virtualMs).toBeLessThan(scenario.durationMs / 10)
  })

  it('should stop with CORE__ABORTED when aborted, before or during the run', async () => {
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
    await expect(runScenario(smallScenario(), { signal: AbortSignal.abort() })).rejects.toSatisfy(aborted)
    const controller = new AbortController()
    let slices = 0
    const run = runScenario(smallScenario(), {
      signal: controller.signal,
      onProgress: () => {
        slices++
        controller.abort()
      },
    })
    await expect(run).rejects.toSatisfy(aborted)
    expect(slices).toBe(1)
  })

  it('should report progress up to the whole duration', async () => {
    const fractions: number[] = []
    await runScenario(smallScenario(), {
      onProgress: (e) => {
        if (e.type === 'sim:progress') fractions.push(e.detail.fraction)
      },
    })
    expect(fractions.at(-1)).toBe(1)
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions)
  })

  it('should give each metrics interval one row, and a partial last interval one more', async () => {
    const rows = async (duration: string): Promise<number[]> => {
      const s = minimal()
      s.duration = duration
      s.metricsInterval = '5s'
      const { report } = await runScenario(validateScenario(s), { seed: 1 })
      return report.series.map((r) => Math.round(r.hours * 3_600_000))
    }
    // 65 s in hours (0.018055...) times 3,600,000 is 64,999.99...: the last row must not be closed twice.
    const ends = Array.from({ length: 13 }, (_, i) => (i + 1) * 5000)
    expect(await rows('65s')).toEqual(ends)
    expect(await rows('62s')).toEqual([...ends.slice(0, 12), 62_000])
  })
})
