import { seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { MAX_SCORE_MEDIAN, MIN_SCORE_MEDIAN } from '../src/constants.js'
import { taskRunMs } from '../src/models/gpu.js'
import { runScenario } from '../src/run.js'
import { parseScenario, validateScenario } from '../src/scenario/load.js'
import { invalidPathOf as pathOf, minimal } from './helpers.js'

describe('GPU model', () => {
  it('should keep a run past 2^31 ms whole instead of wrapping it', () => {
    // 700 benchmark-hours on a score-1 GPU: 29 days.
    expect(taskRunMs(seededRng(1), 700, 1, 0)).toBe(2_520_000_000)
  })

  it('should give a run in whole milliseconds, as it did below 2^31 ms', () => {
    expect(taskRunMs(seededRng(1), 1, 3_600_000 / 2.5, 0)).toBe(2)
    expect(taskRunMs(seededRng(1), 1, 1e9, 0)).toBe(0)
  })

  it('should leave a task longer than the run unfinished', async () => {
    const s = minimal()
    s.workers.score = { median: 1, sigma: 0 }
    s.jobs.benchHoursPerTask = { median: 700, sigma: 0 }
    s.jobs.deadline = '20d'
    const { report } = await runScenario(validateScenario(s), { seed: 1 })
    expect(report.summary.tasks.awarded).toBeGreaterThan(0)
    expect(report.summary.tasks.completed).toBe(0)
  })

  it('should refuse a median score outside its bounds or not finite, naming the field', () => {
    for (const median of [0, MIN_SCORE_MEDIAN / 2, MAX_SCORE_MEDIAN * 2, 1e300]) {
      const s = minimal()
      s.workers.score = { median }
      expect(
        pathOf(() => validateScenario(s)),
        String(median),
      ).toBe('/workers/score/median')
    }
    const yaml = (score: string): string =>
      `version: 1\nname: m\nduration: 2h\nregions: [{ name: eu }]\nnetwork: { latencyMs: { eu: { eu: 10 } } }\n` +
      `workers: { count: 4, score: ${score} }\ncreators: { count: 1 }\njobs: { count: 3 }\n`
    expect(pathOf(() => parseScenario(yaml('{ median: .nan }'), 'yaml'))).toBe('/workers/score/median')
    expect(pathOf(() => parseScenario(yaml('{ median: .inf }'), 'yaml'))).toBe('/workers/score/median')
    expect(pathOf(() => parseScenario(yaml('{ median: 300, sigma: .nan }'), 'yaml'))).toBe('/workers/score/sigma')
  })
})
