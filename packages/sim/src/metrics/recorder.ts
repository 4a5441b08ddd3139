/**
 * What a run measures. Counters accumulate per metrics interval into one row each; gauges are sampled at the
 * row's end. Columns are indexed by number so the hot path adds into a typed array.
 */

/** The time-series columns, in CSV order (after `hours`). */
export const SERIES_COLUMNS = [
  'jobsSubmitted',
  'jobsCompleted',
  'jobsFailed',
  'tasksAwarded',
  'tasksCompleted',
  'tasksReassigned',
  'checks',
  'detected',
  'falsePositives',
  'unanswered',
  'escaped',
  'liveWorkers',
  'messagesDelivered',
  'messagesDropped',
  'paid',
  'fees',
  'slashed',
  'burned',
  'minted',
  'supply',
  'priceUsd',
] as const

/** The name of a time-series column. */
export type SeriesColumn = (typeof SERIES_COLUMNS)[number]

/** Column index by name. */
export const COL = Object.freeze(
  Object.fromEntries(SERIES_COLUMNS.map((name, i) => [name, i])) as { [K in SeriesColumn]: number },
)

/** Columns that are sampled levels rather than counts within the interval. */
const GAUGES = new Set<number>([COL.liveWorkers, COL.supply, COL.priceUsd])

/** One row of the time series. */
export type SeriesRow = { hours: number } & { [K in SeriesColumn]: number }

/** The behaviours the simulator gives workers; detection is reported per behaviour. */
export const ROLES = ['honest', 'cheater', 'lazy', 'colluder', 'sybil', 'spammer'] as const
/** A worker behaviour the report breaks detection down by. */
export type Role = (typeof ROLES)[number]

/** Per-role outcome counts. */
export interface RoleStats {
  workers: number
  tasksCompleted: number
  /** Completed tasks whose committed output had at least one chunk beyond tolerance. */
  tasksBad: number
  /** Tasks a verifier checked. */
  checked: number
  /** Rejected tasks: a failed check, or a challenge the worker never answered. */
  failedChecks: number
  /** Bad tasks caught. */
  detected: number
  /** Bad tasks accepted and paid. */
  escaped: number
  earned: number
  slashed: number
}

function emptyRole(): RoleStats {
  return {
    workers: 0,
    tasksCompleted: 0,
    tasksBad: 0,
    checked: 0,
    failedChecks: 0,
    detected: 0,
    escaped: 0,
    earned: 0,
    slashed: 0,
  }
}

/** Collects a run's time series (one row per interval), per-role outcomes and job completion times. */
export class MetricsRecorder {
  readonly intervalMs: number
  readonly rows: SeriesRow[] = []
  readonly roles: Record<Role, RoleStats> = Object.fromEntries(ROLES.map((r) => [r, emptyRole()])) as Record<
    Role,
    RoleStats
  >
  readonly #current = new Float64Array(SERIES_COLUMNS.length)
  readonly #totals = new Float64Array(SERIES_COLUMNS.length)
  #completion = new Float64Array(1024)
  #completed = 0
  #lastRowEndMs: number | undefined

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs
  }

  /** Adds to a counter of the current interval. */
  add(column: number, n = 1): void {
    this.#current[column] = (this.#current[column] as number) + n
  }

  /** The index the open row will have in {@link rows} once closed, to book into it later with {@link addToRow}. */
  get openRow(): number {
    return this.rows.length
  }

  /**
   * Adds to a counter of the row at `index` (see {@link openRow}), closed or still open: for a later event that
   * revises one booked then, so each interval keeps counting what happened in it.
   */
  addToRow(index: number, column: number, n: number): void {
    const row = this.rows[index]
    if (row === undefined) {
      this.add(column, n)
      return
    }
    const name = SERIES_COLUMNS[column] as SeriesColumn
    row[name] += n
    this.#totals[column] = (this.#totals[column] as number) + n
  }

  /** Sets a gauge of the current interval. */
  set(column: number, value: number): void {
    this.#current[column] = value
  }

  /** The total of a counter so far (closed rows and the open one). */
  total(column: number): number {
    return (this.#totals[column] as number) + (GAUGES.has(column) ? 0 : (this.#current[column] as number))
  }

  /** Records one job's completion time (order to last accepted task), ms. */
  completion(ms: number): void {
    if (this.#completed === this.#completion.length) {
      const grown = new Float64Array(this.#completion.length * 2)
      grown.set(this.#completion)
      this.#completion = grown
    }
    this.#completion[this.#completed++] = ms
  }

  /** Completion times recorded so far, ms. */
  completionTimes(): Float64Array {
    return this.#completion.subarray(0, this.#completed)
  }

  /**
   * Where the last closed row ends, ms since the start; undefined before the first. Rows carry hours, and hours
   * times 3,600,000 need not give the milliseconds back (65 s: 64,999.99...).
   */
  get lastRowEndMs(): number | undefined {
    return this.#lastRowEndMs
  }

  /** Closes the row ending at `elapsedMs` since the start and opens the next. */
  closeRow(elapsedMs: number): SeriesRow {
    this.#lastRowEndMs = elapsedMs
    const row = { hours: elapsedMs / 3_600_000 } as SeriesRow
    for (let i = 0; i < SERIES_COLUMNS.length; i++) {
      const value = this.#current[i] as number
      row[SERIES_COLUMNS[i] as SeriesColumn] = value
      if (GAUGES.has(i)) this.#totals[i] = value
      else {
        this.#totals[i] = (this.#totals[i] as number) + value
        this.#current[i] = 0
      }
    }
    this.rows.push(row)
    return row
  }
}
