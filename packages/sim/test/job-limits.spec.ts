import {
  DEFAULT_WORK_TOLERANCE,
  isUnderpriced,
  jobBudget,
  MAX_AMOUNT,
  MAX_BENCH_HOURS_PER_TASK as SCHEDULER_MAX_BENCH_HOURS_PER_TASK,
  MAX_FRAMES_PER_JOB,
  MAX_JOB_TIMEOUT_MS,
  MAX_TASKS_PER_JOB,
  resolveJobSpec,
} from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'
import { Simulation } from '../src/engine/simulation.js'
import { validateScenario } from '../src/scenario/load.js'
import { MAX_BENCH_HOURS_PER_TASK } from '../src/constants.js'
import { minBenchHoursPerTask, simJobSpec } from '../src/world/job-spec.js'
import { World } from '../src/world/world.js'
import { minimal, refusalOf } from './helpers.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = Record<string, any>

function refusal(change: (s: Input) => void): { code: string; path: unknown } {
  const s = minimal()
  change(s)
  return refusalOf(() => validateScenario(s))
}

describe('job limits', () => {
  it.each([
    ['a bid window of zero', (s: Input) => (s.jobs.bidWindow = 0), '/jobs/bidWindow'],
    ['a deadline no longer than the bid window', (s: Input) => (s.jobs.deadline = '5s'), '/jobs/deadline'],
    ['a deadline of zero', (s: Input) => (s.jobs.deadline = 0), '/jobs/deadline'],
    ['a deadline past 30 days', (s: Input) => (s.jobs.deadline = MAX_JOB_TIMEOUT_MS + 1), '/jobs/deadline'],
    ['a maximum price past u64', (s: Input) => (s.jobs.maxPrice = 2 ** 64), '/jobs/maxPrice'],
    ['a maximum price that rounds to zero', (s: Input) => (s.jobs.maxPrice = 0.3), '/jobs/maxPrice'],
    [
      'render jobs of more frames than a job may have',
      (s: Input) => (s.jobs.tasks = { min: 1, max: MAX_FRAMES_PER_JOB + 1 }),
      '/jobs/tasks/max',
    ],
    [
      'tasks that round to no benchmark-hours',
      (s: Input) => (s.jobs.benchHoursPerTask = { median: 1e-8 }),
      '/jobs/benchHoursPerTask/median',
    ],
    [
      'render tasks that pay for less than workers bid on',
      (s: Input) => (s.jobs.benchHoursPerTask = { median: 0.0005 }),
      '/jobs/benchHoursPerTask/median',
    ],
    [
      'tasks of a billion benchmark-hours',
      (s: Input) => (s.jobs.benchHoursPerTask = { median: 1e9 }),
      '/jobs/benchHoursPerTask/median',
    ],
    [
      'a job budget past u64 at the median, each bound alone met',
      (s: Input) => {
        s.jobs.maxPrice = 1e19
        s.jobs.benchHoursPerTask = { median: 5_000, sigma: 0 }
      },
      '/jobs/maxPrice',
    ],
    [
      "a job budget past u64 at the distribution's cut tail",
      (s: Input) => {
        s.jobs.maxPrice = 1e13
        s.jobs.tasks = { min: 1, max: 8 }
      },
      '/jobs/maxPrice',
    ],
    [
      "tier-1 jobs, which only creators' trusted partners may take, and simulated creators name none",
      (s: Input) => (s.jobs.tier = 1),
      '/jobs/tier',
    ],
    [
      'tier-2 jobs, whose reputation floor no worker reaches without other work',
      (s: Input) => (s.jobs.tier = 2),
      '/jobs/tier',
    ],
    [
      'a verification horizon past a safe integer',
      (s: Input) => (s.jobs.verification = { withinTasks: 1e300 }),
      '/jobs/verification/withinTasks',
    ],
  ])('should refuse %s, naming the field', (_, change, path) => {
    expect(refusal(change)).toEqual({ code: 'SIM__INVALID_SCENARIO', path })
  })

  it('should take inference tasks shorter than a render tile, whose order shows no work', () => {
    const s = minimal()
    s.jobs.kind = 'inference'
    s.jobs.benchHoursPerTask = { median: 0.0005 }
    expect(validateScenario(s).jobs.benchHoursPerTask.median).toBe(0.0005)
  })

  it("should keep the simulator's benchmark-hours within the scheduler's", () => {
    expect(MAX_BENCH_HOURS_PER_TASK).toBeLessThan(SCHEDULER_MAX_BENCH_HOURS_PER_TASK)
  })

  it('should make orders the scheduler takes and workers bid on at every bound the scenario allows', () => {
    for (const kind of ['render', 'inference'] as const) {
      const s = minimal()
      const most = kind === 'render' ? MAX_FRAMES_PER_JOB : MAX_TASKS_PER_JOB
      // The highest price whose budget, every task at the longest a task may declare, is within u64.
      const maxPrice = MAX_AMOUNT / jobBudget(1n, MAX_BENCH_HOURS_PER_TASK, most)
      s.jobs = {
        count: 1,
        kind,
        tasks: { min: 1, max: most },
        maxPrice: Number(maxPrice),
        bidWindow: 1,
        deadline: MAX_JOB_TIMEOUT_MS,
        verification: { withinTasks: Number.MAX_SAFE_INTEGER },
      }
      const jobs = validateScenario(s).jobs
      for (const tasks of [jobs.tasks.min, jobs.tasks.max]) {
        for (const hours of [minBenchHoursPerTask(kind), MAX_BENCH_HOURS_PER_TASK]) {
          const spec = simJobSpec(jobs, 0, tasks, hours)
          expect(() => resolveJobSpec(spec), `${kind} ${tasks} ${hours}`).not.toThrow()
          expect(isUnderpriced(spec, 1, DEFAULT_WORK_TOLERANCE)).toBe(false)
        }
      }
    }
    const s = minimal()
    s.jobs = {
      count: 1,
      tasks: { min: 1, max: 8 },
      maxPrice: Number(MAX_AMOUNT / jobBudget(1n, MAX_BENCH_HOURS_PER_TASK, 8)) + 1,
    }
    expect(refusalOf(() => validateScenario(s))).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/jobs/maxPrice' })
    const render = simJobSpec(validateScenario(minimal()).jobs, 0, 1, 0)
    const justBelow = { ...render, benchHoursPerTask: minBenchHoursPerTask('render') - 1e-6 }
    expect(isUnderpriced(justBelow, 1, DEFAULT_WORK_TOLERANCE)).toBe(true)
  })

  it("should cut a draw from the distribution's tails to the bounds", () => {
    const jobs = validateScenario(minimal()).jobs
    expect(simJobSpec(jobs, 0, 1, 1e-12).benchHoursPerTask).toBe(minBenchHoursPerTask('render'))
    expect(simJobSpec(jobs, 0, 1, 1e12).benchHoursPerTask).toBe(MAX_BENCH_HOURS_PER_TASK)
    expect(simJobSpec(jobs, 0, 1, 2.5).benchHoursPerTask).toBe(2.5)
  })
})

describe('refused inputs', () => {
  it('should report what the machines refused, by code, so a market of refused orders does not pass unseen', () => {
    const scenario = validateScenario({ ...minimal(), jobs: { count: 5, submitWindow: '10m' } })
    // A scenario that slipped past validation: every order breaks the scheduler's rule for deadlines.
    const broken = { ...scenario, jobs: { ...scenario.jobs, deadlineMs: scenario.jobs.bidWindowMs } }
    const sim = new Simulation({ seed: 1 })
    const world = new World(sim, broken)
    world.start()
    sim.run(sim.start + broken.durationMs)
    const summary = world.report().summary
    expect(summary.jobs.submitted).toBe(0)
    expect(summary.rejections).toEqual({ total: 5, byCode: { SCHEDULER__INVALID_JOB_SPEC: 5 } })
  })
})
