/**
 * Inequality of an earnings distribution: the Gini coefficient (0 when everyone earns the same, approaching 1 when
 * one earns everything) and the Lorenz curve it is the area of.
 */

/** Gini coefficient of non-negative values; 0 for an empty or all-zero list. */
export function gini(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  let total = 0
  let weighted = 0
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number
    total += v
    weighted += (i + 1) * v
  }
  if (n === 0 || total === 0) return 0
  return (2 * weighted) / (n * total) - (n + 1) / n
}

/** A point of the Lorenz curve: the poorest `population` share of earners holds `share` of the total. */
export interface LorenzPoint {
  population: number
  share: number
}

/**
 * The Lorenz curve at `points` + 1 evenly spaced population shares, from (0, 0) to (1, 1). Between two earners the
 * curve is the straight line joining their cumulative shares, as the Gini coefficient (its area) assumes: reading
 * the nearest earner instead put points above the line of equality when there are fewer earners than points.
 */
export function lorenz(values: ArrayLike<number>, points = 20): LorenzPoint[] {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  const cumulative = new Float64Array(n + 1)
  for (let i = 0; i < n; i++) cumulative[i + 1] = (cumulative[i] as number) + (sorted[i] as number)
  const total = cumulative[n] as number
  const out: LorenzPoint[] = []
  for (let k = 0; k <= points; k++) {
    const population = k / points
    if (n === 0 || total === 0) {
      out.push({ population, share: population })
      continue
    }
    // The earners below `population`: whole ones up to `i`, then a fraction of the next.
    const position = population * n
    const i = Math.min(n, Math.floor(position))
    const partial = i === n ? 0 : (position - i) * (sorted[i] as number)
    out.push({ population, share: ((cumulative[i] as number) + partial) / total })
  }
  return out
}
