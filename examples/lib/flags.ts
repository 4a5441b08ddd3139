/** Command-line flag checks shared by the examples (parsing itself is node:util's `parseArgs`). */

/** The whole number a `--name` flag holds, or a usage message and exit code 2 when it holds anything else. */
export function wholeNumberFlag(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value)
  if (value === undefined || !/^\d+$/.test(value) || n < min || n > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max}`)
    process.exit(2)
  }
  return n
}
