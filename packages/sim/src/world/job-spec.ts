import {
  BENCH_HOUR_SCALE,
  DEFAULT_WORK_TOLERANCE,
  estimatedTaskMs,
  type JobSpec,
  MS_PER_HOUR,
} from '@tessera/scheduler'
import { MAX_BENCH_HOURS_PER_TASK } from '../constants.js'
import type { Scenario } from '../scenario/types.js'

/**
 * The jobs the simulator orders. The models give a task its work by benchmark-hours (`jobs.benchHoursPerTask`); the
 * split only names the tasks: a render job is one 64×64 tile of 64 samples per frame, an inference job one item per
 * task.
 */
const RENDER_FRAME = { width: 64, height: 64, tileWidth: 64, tileHeight: 64, samples: 64 } as const

/** The split of a job of `tasks` tasks. */
function simSplit(kind: Scenario['jobs']['kind'], tasks: number): JobSpec['split'] {
  return kind === 'render'
    ? { kind: 'render', firstFrame: 0, frames: tasks, ...RENDER_FRAME }
    : { kind: 'inference', items: tasks, itemsPerTask: 1 }
}

/**
 * Least benchmark-hours a simulated task may declare, by job kind: what a worker still bids for. Settlement counts
 * micro-benchmark-hours (`BENCH_HOUR_SCALE`), so less declares nothing. A render order is also held to the work its
 * split shows: workers skip an order whose task would take them more than `DEFAULT_WORK_TOLERANCE` times what it pays
 * for (`isUnderpriced`), so a simulated render task declares at least that share of its tile's estimated work. Rounded
 * up to the micro-benchmark-hour, as orders carry it.
 */
export function minBenchHoursPerTask(kind: Scenario['jobs']['kind']): number {
  const scale = Number(BENCH_HOUR_SCALE)
  const workMs = estimatedTaskMs(simSplit(kind, 1), 1)
  const leastPaidHours = workMs === undefined ? 0 : workMs / MS_PER_HOUR / DEFAULT_WORK_TOLERANCE
  return Math.max(1, Math.ceil(leastPaidHours * scale)) / scale
}

/** What a task of `benchHours` declares: cut to the bounds, to the micro-benchmark-hour orders carry. */
function declaredBenchHours(kind: Scenario['jobs']['kind'], benchHours: number): number {
  const hours = Math.min(MAX_BENCH_HOURS_PER_TASK, Math.max(minBenchHoursPerTask(kind), benchHours))
  return Number(hours.toFixed(6))
}

/**
 * The most benchmark-hours a task of the scenario's jobs may declare: the median when the distribution has no spread,
 * else the cut of its tail, {@link MAX_BENCH_HOURS_PER_TASK}. A job's budget is bounded by it.
 */
export function mostBenchHoursPerTask(jobs: Pick<Scenario['jobs'], 'kind' | 'benchHoursPerTask'>): number {
  const { median, sigma } = jobs.benchHoursPerTask
  return sigma === 0 ? declaredBenchHours(jobs.kind, median) : MAX_BENCH_HOURS_PER_TASK
}

/**
 * The spec of the simulator's `index`th job: `tasks` tasks of `benchHours` benchmark-hours each (a draw, cut to
 * [{@link minBenchHoursPerTask}, {@link MAX_BENCH_HOURS_PER_TASK}] so a lognormal tail never makes an order workers
 * skip or the scheduler refuses), with the scenario's price, windows and verification budget.
 */
export function simJobSpec(jobs: Scenario['jobs'], index: number, tasks: number, benchHours: number): JobSpec {
  return {
    kind: jobs.kind,
    inputs: [`sim-input-${index}`],
    split: simSplit(jobs.kind, tasks),
    tier: jobs.tier,
    maxPrice: BigInt(jobs.maxPrice),
    benchHoursPerTask: declaredBenchHours(jobs.kind, benchHours),
    bidWindowMs: jobs.bidWindowMs,
    minBids: jobs.minBids,
    timeoutMs: jobs.deadlineMs,
    verification: jobs.verification,
  }
}
