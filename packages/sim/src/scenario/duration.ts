import { MAX_SCENARIO_DURATION_MS } from '../constants.js'
import { SimError } from '../errors.js'
import type { Duration } from './types.js'

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const PATTERN = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/

/**
 * Milliseconds of a scenario duration (`90000`, `"90s"`, `"1.5m"`), rounded to a whole millisecond. Durations over
 * {@link MAX_SCENARIO_DURATION_MS} are refused here, for every field alike: the schema cannot bound a string such as
 * `"200000d"`, and what a run allocates grows with its length.
 */
export function parseDuration(value: Duration, path: string): number {
  let ms: number | undefined
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) ms = Math.round(value)
  } else {
    const match = PATTERN.exec(value)
    if (match !== null) ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS])
  }
  if (ms === undefined) {
    throw new SimError(
      'SIM__INVALID_SCENARIO',
      `scenario ${path} is not a duration: use ms or e.g. "90s", "10m", "6h"`,
      { path, value },
    )
  }
  if (ms > MAX_SCENARIO_DURATION_MS) {
    throw new SimError(
      'SIM__INVALID_SCENARIO',
      `scenario ${path} must be at most ${formatDuration(MAX_SCENARIO_DURATION_MS)} (${MAX_SCENARIO_DURATION_MS} ms)`,
      { path, value, limit: MAX_SCENARIO_DURATION_MS },
    )
  }
  return ms
}

/** A duration as the shortest exact string (`"6h"`), for reports. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
