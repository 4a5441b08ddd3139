import type { TopLevelSpec } from 'vega-lite'
import type { RunReport } from '../report.js'

/** The charts every run draws, by file name (without extension). */
export const CHART_NAMES = ['jobs', 'completion', 'detection', 'verification', 'earnings', 'network', 'tokens'] as const

/** The name of a chart every run draws. */
export type ChartName = (typeof CHART_NAMES)[number]

const WIDTH = 560
const HEIGHT = 260
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

/** Lines of several series columns over time, folded into one colour-coded chart. */
function lines(
  title: string,
  rows: readonly Record<string, unknown>[],
  fields: readonly string[],
  yTitle: string,
  cumulative = false,
): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows.map((r) => ({ ...r })) },
    transform: [
      ...(cumulative
        ? [{ window: fields.map((f) => ({ op: 'sum' as const, field: f, as: f })), sort: [{ field: 'hours' }] }]
        : []),
      { fold: [...fields], as: ['series', 'value'] },
    ],
    mark: { type: 'line', interpolate: 'step-before' },
    encoding: {
      x: { field: 'hours', type: 'quantitative', title: 'virtual time (h)' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null, sort: [...fields] },
    },
  }
}

/** Vega-Lite specs of a run's charts. */
export function chartSpecs(report: RunReport): Record<ChartName, TopLevelSpec> {
  const { series, summary } = report
  const name = report.scenario
  const completion = summary.jobs.completionMinutes
  return {
    jobs: lines(`${name}: jobs per interval`, series, ['jobsSubmitted', 'jobsCompleted', 'jobsFailed'], 'jobs'),
    completion: {
      $schema: SCHEMA,
      title: `${name}: job completion time (p50 ${fmt(completion.p50)} min, p90 ${fmt(completion.p90)} min)`,
      width: WIDTH,
      height: HEIGHT,
      data: { values: report.completionHistogram.map((b) => ({ ...b })) },
      mark: 'bar',
      encoding: {
        x: {
          field: 'fromMinutes',
          type: 'quantitative',
          bin: { binned: true },
          title: 'minutes from order to completion',
        },
        x2: { field: 'toMinutes' },
        y: { field: 'jobs', type: 'quantitative', title: 'jobs' },
      },
    },
    detection: {
      $schema: SCHEMA,
      title: `${name}: bad tasks by worker behaviour (detection ${pct(summary.detection.detectionRate)})`,
      width: WIDTH,
      height: HEIGHT,
      data: {
        values: Object.entries(summary.roles)
          .filter(([, s]) => s.workers > 0)
          .flatMap(([role, s]) => [
            { role, outcome: 'bad tasks', tasks: s.tasksBad },
            { role, outcome: 'detected', tasks: s.detected },
            { role, outcome: 'escaped (paid)', tasks: s.escaped },
          ]),
      },
      mark: 'bar',
      encoding: {
        x: { field: 'role', type: 'nominal', title: 'worker behaviour', axis: { labelAngle: 0 } },
        xOffset: { field: 'outcome', type: 'nominal', sort: ['bad tasks', 'detected', 'escaped (paid)'] },
        y: { field: 'tasks', type: 'quantitative', title: 'tasks' },
        color: { field: 'outcome', type: 'nominal', title: null, sort: ['bad tasks', 'detected', 'escaped (paid)'] },
      },
    },
    verification: lines(
      `${name}: verification, cumulative`,
      series,
      ['checks', 'detected', 'escaped', 'falsePositives', 'unanswered'],
      'tasks',
      true,
    ),
    earnings: {
      $schema: SCHEMA,
      title: `${name}: worker earnings, Lorenz curve (Gini ${fmt(summary.economics.gini)})`,
      width: HEIGHT + 60,
      height: HEIGHT + 60,
      data: {
        values: report.lorenz.flatMap((p) => [
          { population: p.population, share: p.share, curve: 'earnings' },
          { population: p.population, share: p.population, curve: 'equality' },
        ]),
      },
      mark: 'line',
      encoding: {
        x: {
          field: 'population',
          type: 'quantitative',
          title: 'share of workers (poorest first)',
          axis: { format: '%' },
        },
        y: { field: 'share', type: 'quantitative', title: 'share of earnings', axis: { format: '%' } },
        color: { field: 'curve', type: 'nominal', title: null },
        strokeDash: { field: 'curve', type: 'nominal', legend: null },
      },
    },
    network: {
      $schema: SCHEMA,
      title: `${name}: peers and messages`,
      data: { values: series.map((r) => ({ ...r })) },
      vconcat: [
        {
          width: WIDTH,
          height: HEIGHT / 2,
          mark: { type: 'line', interpolate: 'step-before' },
          encoding: {
            x: { field: 'hours', type: 'quantitative', title: null },
            y: { field: 'liveWorkers', type: 'quantitative', title: 'live workers' },
          },
        },
        {
          width: WIDTH,
          height: HEIGHT / 2,
          transform: [{ fold: ['messagesDelivered', 'messagesDropped'], as: ['series', 'value'] }],
          mark: { type: 'line', interpolate: 'step-before' },
          encoding: {
            x: { field: 'hours', type: 'quantitative', title: 'virtual time (h)' },
            y: { field: 'value', type: 'quantitative', title: 'messages', scale: { type: 'symlog' } },
            color: { field: 'series', type: 'nominal', title: null },
          },
        },
      ],
    },
    tokens:
      report.bme === undefined
        ? lines(`${name}: token flows per interval`, series, ['paid', 'fees', 'slashed'], 'token units')
        : {
            $schema: SCHEMA,
            title: `${name}: burn and mint per epoch`,
            data: { values: report.bme.map((e) => ({ ...e, hours: e.endMs / 3_600_000 })) },
            vconcat: [
              {
                width: WIDTH,
                height: HEIGHT / 2,
                transform: [{ fold: ['burned', 'minted'], as: ['series', 'value'] }],
                mark: { type: 'line', interpolate: 'step-before' },
                encoding: {
                  x: { field: 'hours', type: 'quantitative', title: null },
                  y: { field: 'value', type: 'quantitative', title: 'tokens per epoch' },
                  color: { field: 'series', type: 'nominal', title: null },
                },
              },
              {
                width: WIDTH,
                height: HEIGHT / 2,
                mark: 'line',
                encoding: {
                  x: { field: 'hours', type: 'quantitative', title: 'virtual time (h)' },
                  y: { field: 'supply', type: 'quantitative', title: 'token supply', scale: { zero: false } },
                },
              },
            ],
          },
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : 'n/a'
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${Number((x * 100).toPrecision(3))}%` : 'n/a'
}
