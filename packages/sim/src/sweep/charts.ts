import type { TopLevelSpec } from 'vega-lite'
import type { SweepMetric } from './metrics.js'
import type { SweepPointResult, SweepSummary } from './sweep.js'

const WIDTH = 560
const HEIGHT = 260
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

/** Metrics drawn unless the caller picks others: what a verification or pricing study looks at first. */
export const DEFAULT_SWEEP_CHARTS: readonly SweepMetric[] = [
  'detectionRate',
  'completionP50Min',
  'checksPerTask',
  'gini',
]

const label = (point: SweepPointResult, paths: readonly string[]): string =>
  paths.map((p) => `${p}=${String(point.values[p])}`).join(', ')

/**
 * One metric against the first swept parameter: the mean of each point's runs with its 95% confidence interval as
 * an error bar, one line per combination of the other parameters. Field names in the data are fixed (`x`, `mean`,
 * ...) since Vega-Lite would read a dotted parameter path as nested fields. None without a swept parameter.
 */
export function sweepChartSpec(sweep: SweepSummary, metric: SweepMetric): TopLevelSpec | undefined {
  const [first, ...rest] = sweep.parameters
  if (first === undefined) return undefined
  const numeric = first.values.every((v) => typeof v === 'number')
  const paths = rest.map((p) => p.path)
  const rows = sweep.points.map((point) => {
    const s = point.stats[metric]
    const defined = Number.isFinite(s.ci95)
    return {
      x: numeric ? point.values[first.path] : String(point.values[first.path]),
      series:
        paths.length === 0
          ? metric
          : paths.length === 1
            ? String(point.values[paths[0] as string])
            : label(point, paths),
      mean: Number.isFinite(s.mean) ? s.mean : null,
      lo: defined ? s.mean - s.ci95 : null,
      hi: defined ? s.mean + s.ci95 : null,
    }
  })
  const x = numeric
    ? { field: 'x', type: 'quantitative' as const, title: first.path }
    : { field: 'x', type: 'ordinal' as const, title: first.path, sort: first.values.map(String) }
  // One other parameter titles the legend and its values label it; with more, each label spells out its values.
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: rest.length === 1 ? paths[0] : rest.length === 0 ? null : 'other parameters',
    // Series in the order the points came, not sorted as text (which puts "10" before "5").
    sort: [...new Set(rows.map((r) => r.series))],
    legend: rest.length === 0 ? null : { labelLimit: 0, titleLimit: 0 },
  }
  return {
    $schema: SCHEMA,
    title: `${sweep.scenario}: ${metric} by ${first.path} (mean of ${sweep.replications} runs, 95% CI)`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'mean', type: 'quantitative', title: metric }, color },
      },
      {
        mark: { type: 'errorbar', ticks: true },
        encoding: { x, y: { field: 'lo', type: 'quantitative', title: metric }, y2: { field: 'hi' }, color },
      },
    ],
  }
}
