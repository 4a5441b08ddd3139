import { deviation, max, mean, min } from 'd3-array'
import jstat from 'jstat'

/** A metric over one point's replications. */
export interface MetricStats {
  /** Runs that defined the metric (finite values). */
  n: number
  mean: number
  /** Sample standard deviation; NaN with fewer than two values. */
  sd: number
  /** Half-width of the 95% confidence interval of the mean (Student's t, n - 1 degrees of freedom). */
  ci95: number
  min: number
  max: number
}

/**
 * Mean, spread and a 95% confidence interval of the mean over the finite values. The interval assumes the runs are
 * independent draws, which runs under distinct seeds are; with one value it is undefined (NaN).
 */
export function summarize(values: readonly number[]): MetricStats {
  const finite = values.filter(Number.isFinite)
  const n = finite.length
  const sd = n >= 2 ? (deviation(finite) as number) : Number.NaN
  const t = n >= 2 ? (jstat.studentt.inv(0.975, n - 1) as number) : Number.NaN
  return {
    n,
    mean: n === 0 ? Number.NaN : (mean(finite) as number),
    sd,
    ci95: n >= 2 ? (t * sd) / Math.sqrt(n) : Number.NaN,
    min: n === 0 ? Number.NaN : (min(finite) as number),
    max: n === 0 ? Number.NaN : (max(finite) as number),
  }
}
