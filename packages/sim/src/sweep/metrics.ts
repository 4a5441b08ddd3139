import type { Role } from '../metrics/recorder.js'
import type { RunReport } from '../report.js'

type Summary = RunReport['summary']

/** Detected over judged bad tasks of one kind of worker: how each adversary fares, apart from the others. */
const roleDetection = (role: Role) => (s: Summary) => {
  const { detected, escaped } = s.roles[role]
  return detected + escaped === 0 ? Number.NaN : detected / (detected + escaped)
}

/**
 * The figures a sweep compares across points, each read from a run's summary. A figure a run cannot define (the
 * detection rate of a run with no bad tasks, a percentile of no completed jobs) is NaN and left out of its point's
 * statistics.
 */
export const SWEEP_METRICS = {
  /** Completed jobs over submitted ones. */
  completedFraction: (s: Summary) => (s.jobs.submitted === 0 ? Number.NaN : s.jobs.completed / s.jobs.submitted),
  completionP50Min: (s: Summary) => s.jobs.completionMinutes.p50,
  completionP90Min: (s: Summary) => s.jobs.completionMinutes.p90,
  /** Detected over judged bad tasks, of every kind of worker. */
  detectionRate: (s: Summary) => s.detection.detectionRate,
  cheaterDetectionRate: roleDetection('cheater'),
  lazyDetectionRate: roleDetection('lazy'),
  colluderDetectionRate: roleDetection('colluder'),
  sybilDetectionRate: roleDetection('sybil'),
  /** Bad tasks accepted and paid. */
  escaped: (s: Summary) => s.detection.escaped,
  falsePositiveRate: (s: Summary) => s.detection.falsePositiveRate,
  /** Chunks each challenge names under the plan in force. */
  challengeChunks: (s: Summary) => s.verificationPlan.challengeChunks,
  /** 1 when the scenario's verification budget could be met, 0 when the verifier's default plan stood in. */
  budgetMet: (s: Summary) => (s.verificationPlan.budgetMet ? 1 : 0),
  /** Checks per completed task: what verification costs. */
  checksPerTask: (s: Summary) => (s.tasks.completed === 0 ? Number.NaN : s.detection.checks / s.tasks.completed),
  reassigned: (s: Summary) => s.tasks.reassigned,
  paid: (s: Summary) => s.economics.paid,
  unpaid: (s: Summary) => s.economics.unpaid,
  slashed: (s: Summary) => s.economics.slashed,
  gini: (s: Summary) => s.economics.gini,
  events: (s: Summary) => s.events,
} as const satisfies Record<string, (s: Summary) => number>

/** The name of a metric a sweep tabulates and charts. */
export type SweepMetric = keyof typeof SWEEP_METRICS

/** Metric names in the order tables list them. */
export const SWEEP_METRIC_NAMES = Object.keys(SWEEP_METRICS) as SweepMetric[]

/** Reads every sweep metric from a run's report. */
export function sweepMetrics(report: RunReport): Record<SweepMetric, number> {
  const out = {} as Record<SweepMetric, number>
  for (const name of SWEEP_METRIC_NAMES) out[name] = SWEEP_METRICS[name](report.summary)
  return out
}
