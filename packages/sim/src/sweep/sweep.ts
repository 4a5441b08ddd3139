import { availableParallelism } from 'node:os'
import type { AbortOptions } from '@tessera/core'
import { CustomProgressEvent, type ProgressEvent } from 'progress-events'
import { renderChart } from '../charts/render.js'
import { SimError } from '../errors.js'
import { toCsv, toJson } from '../metrics/format.js'
import { outputDir, prepareOutputDir } from '../metrics/output-dir.js'
import { loadScenarioInput } from '../scenario/load.js'
import { DEFAULT_SWEEP_CHARTS, sweepChartSpec } from './charts.js'
import { SWEEP_METRIC_NAMES, type SweepMetric } from './metrics.js'
import type { SweepParameter, SweepValue } from './parameters.js'
import { planSweep, type SweepPlan } from './plan.js'
import { runPool } from './pool.js'
import { summarize, type MetricStats } from './stats.js'

/** Progress of {@link runSweep}: `sweep:progress` as each run finishes, `sweep:report` as each file is written. */
export type SweepProgressEvents =
  | ProgressEvent<'sweep:progress', { done: number; total: number; run: number }>
  | ProgressEvent<'sweep:report', { file: string }>

/** Options of {@link runSweep}. */
export interface SweepOptions extends AbortOptions {
  /** Fields to vary and their values; none runs the scenario as written under `replications` seeds. */
  parameters: readonly SweepParameter[]
  /** Runs per point. @default 1 */
  replications?: number
  /** First seed; replicate r of every point runs under seed + r. @default the scenario's seed */
  seed?: number
  /** Runs at once, each in a worker thread. @default the machine's available parallelism */
  concurrency?: number
  /** Writes sweep.json, runs.csv, summary.csv and charts here; nothing is written when absent. */
  outDir?: string
  /** Metrics to chart against the first parameter. @default {@link DEFAULT_SWEEP_CHARTS} */
  charts?: readonly SweepMetric[]
  onProgress?: (event: SweepProgressEvents) => void
}

/** A point's runs, summarised. */
export interface SweepPointResult {
  index: number
  values: Record<string, SweepValue>
  stats: Record<SweepMetric, MetricStats>
}

/** One run's figures. */
export interface SweepRunResult {
  index: number
  point: number
  replicate: number
  seed: number
  metrics: Record<SweepMetric, number>
}

/** What a sweep measured; written as sweep.json. */
export interface SweepSummary {
  scenario: string
  parameters: SweepParameter[]
  replications: number
  seed: number
  metrics: SweepMetric[]
  points: SweepPointResult[]
  runs: SweepRunResult[]
}

/** What {@link runSweep} resolves with: the summary per point, the metrics charted and the files written. */
export interface SweepResult extends SweepSummary {
  /** The metrics charted (and printed by the CLI). */
  charts: SweepMetric[]
  /** Paths of the files written (empty without `outDir`). */
  files: string[]
}

/** Files a sweep writes, relative to its output directory (charts add `sweep-<metric>.svg` and `.png`). */
export const SWEEP_FILES = { summary: 'sweep.json', runs: 'runs.csv', points: 'summary.csv' } as const

/** Every file a sweep may write: what a later sweep into the same directory removes when it does not write it. */
const KNOWN_SWEEP_FILES: readonly string[] = [
  ...Object.values(SWEEP_FILES),
  ...SWEEP_METRIC_NAMES.flatMap((m) => [`sweep-${m}.svg`, `sweep-${m}.png`]),
]

const runLabel = (plan: SweepPlan, run: SweepPlan['runs'][number]): string => {
  const values = Object.entries((plan.points[run.point] as SweepPlan['points'][number]).values)
  const at = values.map(([k, v]) => `${k}=${String(v)}`).join(', ')
  return `run ${run.index} (seed ${run.seed}${at === '' ? '' : `, ${at}`})`
}

/**
 * Runs a scenario over a grid of parameter values, each point `replications` times under seeds shared by all
 * points, in parallel worker threads, and summarises each metric per point (mean, standard deviation, 95%
 * confidence interval). Outputs do not depend on the concurrency or on the order runs finish: the same scenario,
 * parameters, seeds and code give byte-identical files. Every point is validated before anything runs.
 *
 * @example
 * ```ts
 * const sweep = await runSweep('examples/scenarios/cheaters.yaml', {
 *   parameters: [{ path: 'adversaries.cheaters.wrongChunkFraction', values: [0.03125, 0.125, 0.5] }],
 *   replications: 5,
 *   outDir: 'out/sweep',
 * })
 * const rates = sweep.points.map((p) => p.stats.detectionRate.mean)
 * ```
 */
export async function runSweep(scenario: unknown, options: SweepOptions): Promise<SweepResult> {
  const input = typeof scenario === 'string' ? await loadScenarioInput(scenario) : scenario
  const plan = planSweep(input, {
    parameters: options.parameters,
    ...(options.replications === undefined ? {} : { replications: options.replications }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  })
  const concurrency = options.concurrency ?? availableParallelism()
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SimError('SIM__INVALID_SWEEP', `concurrency must be a positive integer, got ${concurrency}`, {
      concurrency,
    })
  }
  const charts = options.charts ?? DEFAULT_SWEEP_CHARTS
  for (const m of charts) {
    if (!SWEEP_METRIC_NAMES.includes(m)) {
      throw new SimError('SIM__INVALID_SWEEP', `no sweep metric named ${String(m)}`, { metric: m })
    }
  }
  // Before the runs, not after them: an unusable directory is a bad option, not a failed sweep.
  if (options.outDir !== undefined) await prepareOutputDir(options.outDir, 'sweep')
  const tasks = plan.runs.map((run) => ({
    scenario: (plan.points[run.point] as SweepPlan['points'][number]).scenario,
    seed: run.seed,
    label: runLabel(plan, run),
  }))
  const metrics = await runPool(tasks, {
    concurrency,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onDone: (run, done) =>
      options.onProgress?.(new CustomProgressEvent('sweep:progress', { done, total: tasks.length, run })),
  })
  const runs: SweepRunResult[] = plan.runs.map((run) => ({
    ...run,
    metrics: metrics[run.index] as SweepRunResult['metrics'],
  }))
  const points = plan.points.map((point): SweepPointResult => {
    const mine = runs.filter((r) => r.point === point.index)
    const stats = {} as Record<SweepMetric, MetricStats>
    for (const m of SWEEP_METRIC_NAMES) stats[m] = summarize(mine.map((r) => r.metrics[m]))
    return { index: point.index, values: point.values, stats }
  })
  const summary: SweepSummary = {
    scenario: plan.scenario,
    parameters: plan.parameters,
    replications: plan.replications,
    seed: plan.seed,
    metrics: [...SWEEP_METRIC_NAMES],
    points,
    runs,
  }
  const files = options.outDir === undefined ? [] : await writeSweep(options.outDir, summary, { ...options, charts })
  return { ...summary, charts: [...charts], files }
}

/**
 * Writes a sweep's JSON, CSV tables and charts into `outDir`, and removes the files an earlier sweep wrote there that
 * this one does not (charts of other metrics); returns the paths written.
 */
export async function writeSweep(
  outDir: string,
  sweep: SweepSummary,
  options: AbortOptions & { charts?: readonly SweepMetric[]; onProgress?: SweepOptions['onProgress'] } = {},
): Promise<string[]> {
  const { put, removeStale, written } = await outputDir(outDir, 'sweep', {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    known: KNOWN_SWEEP_FILES,
    onWrite: (file) => options.onProgress?.(new CustomProgressEvent('sweep:report', { file })),
  })
  const paths = sweep.parameters.map((p) => p.path)
  await put(SWEEP_FILES.summary, toJson(sweep))
  await put(
    SWEEP_FILES.runs,
    toCsv<Record<string, unknown>>(
      sweep.runs.map((r) => ({
        run: r.index,
        point: r.point,
        replicate: r.replicate,
        seed: r.seed,
        ...(sweep.points[r.point] as SweepPointResult).values,
        ...r.metrics,
      })),
      ['run', 'point', 'replicate', 'seed', ...paths, ...sweep.metrics],
    ),
  )
  const statColumns = sweep.metrics.flatMap((m) => [`${m}_mean`, `${m}_ci95`])
  await put(
    SWEEP_FILES.points,
    toCsv<Record<string, unknown>>(
      sweep.points.map((p) => {
        const row: Record<string, unknown> = { point: p.index, ...p.values, runs: sweep.replications }
        for (const m of sweep.metrics) {
          row[`${m}_mean`] = p.stats[m].mean
          row[`${m}_ci95`] = p.stats[m].ci95
        }
        return row
      }),
      ['point', ...paths, 'runs', ...statColumns],
    ),
  )
  for (const metric of options.charts ?? DEFAULT_SWEEP_CHARTS) {
    const spec = sweepChartSpec(sweep, metric)
    if (spec === undefined) break
    const chart = await renderChart(spec)
    await put(`sweep-${metric}.svg`, chart.svg)
    await put(`sweep-${metric}.png`, chart.png)
  }
  await removeStale()
  return written
}
