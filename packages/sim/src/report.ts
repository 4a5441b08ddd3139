import type { AbortOptions } from '@tessera/core'
import { CHART_NAMES, chartSpecs, type ChartName } from './charts/specs.js'
import { renderChart } from './charts/render.js'
import type { BurnMintEpoch } from './economics/burn-mint.js'
import type { LorenzPoint } from './economics/gini.js'
import { toCsv, toJson } from './metrics/format.js'
import { outputDir } from './metrics/output-dir.js'
import { ROLES, SERIES_COLUMNS, type Role, type RoleStats, type SeriesRow } from './metrics/recorder.js'
import type { NetworkStats } from './net/sim-network.js'

/** Percentiles of a distribution. */
export interface Percentiles {
  count: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

/** Everything a run measured; written as metrics.json and drawn as charts. */
export interface RunReport {
  scenario: string
  seed: number
  summary: {
    virtualHours: number
    events: number
    peers: { workers: number; creators: number; verifiers: number; joined: number; left: number; crashed: number }
    jobs: {
      submitted: number
      completed: number
      failed: number
      unfinished: number
      completionMinutes: Percentiles
    }
    tasks: {
      awarded: number
      completed: number
      /** Committed outputs the creator accepted. */
      accepted: number
      /** Committed outputs the creator rejected: detected + falsePositives + unanswered. */
      rejected: number
      /** Committed outputs not yet accepted or rejected when the run ended. */
      unjudged: number
      reassigned: number
    }
    /** What creators' verifiers sample by: the scenario budget's plan, over a longer horizon when it cannot be met. */
    verificationPlan: {
      /** Sampling floor: the probability a trusted worker's task is checked. */
      p: number
      /** Chunks each challenge names, of `chunks`. */
      challengeChunks: number
      chunks: number
      /**
       * The horizon, in tasks of one worker, within which the plan catches the budget's cheater with its `detect`: the
       * budget's own `withinTasks`, or the shortest longer one a plan meets it over (proof's `lengthenHorizon`).
       */
      withinTasks: number
      /** False when no (p, c) meets `jobs.verification` as it stands: it is met over `withinTasks` tasks instead. */
      budgetMet: boolean
      /** The planner's reason, when the budget was not met. */
      infeasible?: string
    }
    detection: {
      badTasks: number
      detected: number
      escaped: number
      /** detected / (detected + escaped): of the bad tasks that were judged (accepted or rejected); NaN when none. */
      detectionRate: number
      checks: number
      /** Honest output rejected by a check that judged it wrong. */
      falsePositives: number
      /**
       * False positives / checks of honest output, whichever role's worker produced it (a cheater's right tasks are
       * honest output too); NaN (null in metrics.json, empty in CSV) when no honest output was checked.
       */
      falsePositiveRate: number
      /** Honest output rejected because its worker never answered the challenge (crashed, left, or a lost message). */
      unanswered: number
    }
    roles: Record<Role, RoleStats>
    /**
     * `accepted`, `paid`, `fees`, `verifierPay`, `verifierUnpaid`, `unpaid` and `outstanding` are in the unit jobs
     * quote prices in, token units. Under burn-and-mint that unit has a fixed USD value, and `burned`, `minted`,
     * `supply` (and the earnings) count the floating token.
     */
    economics: {
      /** Gross amount of accepted tasks: `paid + unpaid + outstanding`. */
      accepted: number
      /**
       * Settled payouts: net to workers plus fees (under burn-and-mint: what creators paid, its fee kept by the
       * protocol and the rest burned).
       */
      paid: number
      /** The protocol's fees, part of `paid`. */
      fees: number
      /** Paid to third-party verifiers and arbiters for the chunks they recomputed. */
      verifierPay: number
      /** Verification pay owed by creators who never pay (not part of `unpaid`, which pairs with `accepted`). */
      verifierUnpaid: number
      slashed: number
      /** Payouts owed by creators who never pay. */
      unpaid: number
      /**
       * Accepted work neither paid nor owed when the run ended: receipts the settlement machines could not settle
       * even after the last epoch closed at the horizon and the chain carried out what was in flight.
       */
      outstanding: number
      gini: number
      /** Tokens burned (burn-and-mint): the USD value of `paid − fees` at each payment's token price. */
      burned: number
      /**
       * Tokens payments would have burned beyond the supply in circulation (burn-and-mint): the price series was too
       * low for the demand. Burns come from tokens in circulation, so none is burned that does not exist.
       */
      unburned: number
      /** Tokens minted (burn-and-mint). */
      minted: number
      /** Token supply at the end (burn-and-mint). */
      supply: number
    }
    network: NetworkStats
    /**
     * Inputs the machines refused, by error code: messages refused as a node would log them (late bids, say), and
     * jobs a creator refused to order. Every job refused shows here, not among `jobs.submitted`.
     */
    rejections: { total: number; byCode: Record<string, number> }
  }
  series: SeriesRow[]
  completionHistogram: { fromMinutes: number; toMinutes: number; jobs: number }[]
  lorenz: LorenzPoint[]
  bme?: BurnMintEpoch[]
}

/** Files a run writes, relative to its output directory. */
export const REPORT_FILES = {
  metrics: 'metrics.json',
  series: 'timeseries.csv',
  completion: 'completion.csv',
  earnings: 'earnings.csv',
  roles: 'roles.csv',
  bme: 'bme.csv',
} as const

/** Every file a run may write: what a later run into the same directory removes when it does not write it. */
const KNOWN_REPORT_FILES: readonly string[] = [
  ...Object.values(REPORT_FILES),
  ...CHART_NAMES.flatMap((name) => [`${name}.svg`, `${name}.png`]),
]

/** Options of {@link writeReport}. */
export interface WriteReportOptions extends AbortOptions {
  /** Called with each file's path once it is written. */
  onWrite?: (path: string) => void
}

/**
 * Writes the report's JSON, CSV tables and charts (SVG and PNG) into `outDir`, and removes the files an earlier run
 * wrote there that this one does not (`bme.csv` of a run with burn-and-mint); returns the paths written.
 */
export async function writeReport(
  outDir: string,
  report: RunReport,
  options: WriteReportOptions = {},
): Promise<string[]> {
  const { put, removeStale, written } = await outputDir(outDir, 'report', { ...options, known: KNOWN_REPORT_FILES })
  await put(REPORT_FILES.metrics, toJson(report))
  await put(REPORT_FILES.series, toCsv(report.series, ['hours', ...SERIES_COLUMNS]))
  await put(REPORT_FILES.completion, toCsv(report.completionHistogram, ['fromMinutes', 'toMinutes', 'jobs']))
  await put(REPORT_FILES.earnings, toCsv(report.lorenz, ['population', 'share']))
  await put(
    REPORT_FILES.roles,
    toCsv(
      ROLES.map((role) => ({ role, ...report.summary.roles[role] })),
      [
        'role',
        'workers',
        'tasksCompleted',
        'tasksBad',
        'checked',
        'failedChecks',
        'detected',
        'escaped',
        'earned',
        'slashed',
      ],
    ),
  )
  if (report.bme !== undefined) {
    await put(
      REPORT_FILES.bme,
      toCsv(report.bme, ['epoch', 'endMs', 'priceUsd', 'usd', 'burned', 'unburned', 'minted', 'supply']),
    )
  }
  const specs = chartSpecs(report)
  for (const name of Object.keys(specs).sort() as ChartName[]) {
    const chart = await renderChart(specs[name])
    await put(`${name}.svg`, chart.svg)
    await put(`${name}.png`, chart.png)
  }
  await removeStale()
  return written
}
