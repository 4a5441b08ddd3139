/**
 * Number and table formatting for outputs. Floats are cut to ten significant digits, so a report reads well and
 * still says exactly what the run computed; the same run always prints the same text.
 */

/** A number as it is written to CSV and JSON. */
export function roundNumber(x: number): number {
  return Number.isInteger(x) || !Number.isFinite(x) ? x : Number(x.toPrecision(10))
}

function cell(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(roundNumber(value)) : ''
  const text = String(value ?? '')
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** CSV (RFC 4180, `\n` line ends; a cell holding `"`, `,`, CR or LF is quoted) with a header row of `columns`. */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const lines = [columns.join(',')]
  for (const row of rows) lines.push(columns.map((c) => cell(row[c])).join(','))
  return `${lines.join('\n')}\n`
}

/** Indented JSON with rounded floats and bigints as decimal strings. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'number' ? roundNumber(v) : typeof v === 'bigint' ? v.toString() : v),
    2,
  )}\n`
}

/** The q-quantile (0..1) of values, by linear interpolation between order statistics; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const pos = (n - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] as number
  return a + ((sorted[hi] as number) - a) * (pos - lo)
}
