import { type Order, type Result, resultSchema } from '@tessera/core'
import { isSchedulerError, taskCountOf } from '@tessera/scheduler'
import type { Logger } from 'pino'
import type { Datastore, DatastoreWrite } from '../datastore.js'
import { NodeError } from '../errors.js'
import { errorFields } from './error-fields.js'

/** A job's progress as `job status` shows it: leases, re-awards and each worker's accepted and rejected tasks. */
export interface JobProgress {
  reassigned: number
  leases: Record<string, number>
  reassignedFrom: Record<string, number>
  workers: Record<string, { accepted: number; rejected: number }>
}

/** How a job ended, as its record keeps it once the market has forgotten the job. */
export interface JobEnd {
  /** `failed`: this node stopped while the job ran, which ends it (its accepted tasks are paid, the rest refunded). */
  state: 'completed' | 'cancelled' | 'expired' | 'failed'
  tasks: number
  /** Tasks accepted (verified). */
  accepted: number
}

/** A job as the datastore keeps it (namespace `jobs`, under its id): the request and order, then how it ended. */
export interface StoredJob {
  request?: string
  order?: Order
  results?: Result[]
  progress?: JobProgress
  /** How the job ended; absent while it runs (and in records of older versions). */
  end?: JobEnd
  /**
   * A job that ended unfinished: the results it accepted, in task order (for a partial output). Absent, they are
   * those kept one by one as they were accepted ({@link JobRecords.acceptedResults}).
   */
  accepted?: Result[]
}

/** What `job list` reads of a job (`jobs/summary/<id>`): small, so listing does not read every job's results. */
export interface JobSummaryRecord {
  /** The order's `issuedAt`, epoch ms. */
  orderedAt: number
  tasks: number
  end?: JobEnd
}

/** The `meta` key set once every job record on disk has its summary (data directories of older versions). */
const SUMMARISED = 'jobs-summarised'
const SUMMARY = 'summary/'
/** Where a result is kept as its job accepts it: `accepted/<job>/<task>`. */
const ACCEPTED = 'accepted/'

/** The prefix of the keys of the results job `jobId` accepted one by one (a job id holds no `/`). */
function acceptedPrefix(jobId: string): string {
  return `${ACCEPTED}${jobId}/`
}

/**
 * The write that keeps a result as its job accepts it (namespace `jobs`, `accepted/<job>/<task>`), until the job's
 * record holds it: in the batch that journals the task for its receipt (`accepts/`), so every task that is paid for
 * is one whose output a partial fetch gives, whatever stop or crash ends the job before its record is written.
 */
export function acceptedResultWrite(jobId: string, taskId: string, result: Result): DatastoreWrite {
  return { type: 'put', ns: 'jobs', key: `${acceptedPrefix(jobId)}${taskId}`, value: result }
}

/**
 * Whether `jobId` can name a record: the ids this node gives its jobs are hex (`jobIdOf`), and older versions' were
 * of letters, digits, `-` and `_`. Any other id (one with a `/`, as an API caller may send) would reach the keys of
 * other records (`summary/<id>`), so it names none.
 */
function recordable(jobId: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(jobId)
}

/** Refuses an id no record can have, as a job this node does not know. */
function assertRecordable(jobId: string): void {
  if (!recordable(jobId)) throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
}

/** How a job that did not complete ended, from the error its wait rejected with. */
export function unfinishedState(e: unknown): JobEnd['state'] {
  if (!isSchedulerError(e, 'SCHEDULER__JOB_UNFINISHED')) return 'failed'
  return e.context.event === 'job:cancelled' ? 'cancelled' : 'expired'
}

/** A stored summary, checked. */
function parseSummary(value: unknown): JobSummaryRecord {
  const v = value as Partial<Record<keyof JobSummaryRecord, unknown>> | null
  if (
    typeof v !== 'object' ||
    v === null ||
    !Number.isSafeInteger(v.orderedAt) ||
    !Number.isSafeInteger(v.tasks) ||
    (v.end !== undefined && !isJobEnd(v.end))
  ) {
    throw new TypeError('a job summary is { orderedAt, tasks, end? }')
  }
  return value as JobSummaryRecord
}

/** Whether `value` is a stored {@link JobEnd}. */
function isJobEnd(value: unknown): value is JobEnd {
  const end = value as Partial<Record<keyof JobEnd, unknown>> | null
  return (
    typeof end === 'object' &&
    end !== null &&
    ['completed', 'cancelled', 'expired', 'failed'].includes(end.state as string) &&
    Number.isSafeInteger(end.tasks) &&
    Number.isSafeInteger(end.accepted)
  )
}

/**
 * A stored job record, checked where this node reads it: an object whose results, if any, are arrays and whose
 * end, if any, is a {@link JobEnd}. The order and results were checked when they were received.
 */
function parseJob(value: unknown): StoredJob {
  const job = value as Partial<Record<keyof StoredJob, unknown>> | null
  if (
    typeof job !== 'object' ||
    job === null ||
    (job.results !== undefined && !Array.isArray(job.results)) ||
    (job.accepted !== undefined && !Array.isArray(job.accepted)) ||
    (job.order !== undefined && (typeof job.order !== 'object' || job.order === null)) ||
    (job.end !== undefined && !isJobEnd(job.end))
  ) {
    throw new TypeError('a job record is { request?, order?, results?, progress?, end? }')
  }
  return value as StoredJob
}

/** The summary of a job record, or undefined when it holds no order to summarise. */
function summaryOf(job: StoredJob): JobSummaryRecord | undefined {
  if (job.order === undefined) return undefined
  const results = job.results
  const end =
    job.end ??
    (results !== undefined ? { state: 'completed', tasks: results.length, accepted: results.length } : undefined)
  return { orderedAt: job.order.issuedAt, tasks: taskCountOf(job.order.split), ...(end !== undefined ? { end } : {}) }
}

/**
 * The creator's job records (namespace `jobs`): each job's record under its id, and beside it a small summary that
 * `job list` reads, both written in one batch.
 */
export class JobRecords {
  readonly #datastore: Datastore
  readonly #logger: Logger

  constructor(datastore: Datastore, logger: Logger) {
    this.#datastore = datastore
    this.#logger = logger
  }

  /** A job's record, or undefined for a job this node did not order. */
  async get(jobId: string): Promise<StoredJob | undefined> {
    if (!recordable(jobId)) return undefined
    return this.#datastore.get('jobs', jobId, parseJob)
  }

  /**
   * Writes a job's record, and its summary with it. A record that holds the job's results (or, ended unfinished, those
   * it accepted) takes the place of the results kept one by one ({@link acceptedResultWrite}), deleted in its batch.
   */
  async put(jobId: string, job: StoredJob): Promise<void> {
    assertRecordable(jobId)
    const summary = summaryOf(job)
    const writes: DatastoreWrite[] = [{ type: 'put', ns: 'jobs', key: jobId, value: job }]
    if (summary !== undefined) writes.push({ type: 'put', ns: 'jobs', key: SUMMARY + jobId, value: summary })
    if (job.results !== undefined || job.accepted !== undefined) writes.push(...(await this.#deleteAccepted(jobId)))
    await this.#datastore.batch(writes)
  }

  /** Deletes a job's record and its summary, and the results it kept one by one. */
  async delete(jobId: string): Promise<void> {
    assertRecordable(jobId)
    await this.#datastore.batch([
      { type: 'del', ns: 'jobs', key: jobId },
      { type: 'del', ns: 'jobs', key: SUMMARY + jobId },
      ...(await this.#deleteAccepted(jobId)),
    ])
  }

  /**
   * The results job `jobId` kept one by one as it accepted them ({@link acceptedResultWrite}), in task id order: what
   * a job that ended before its record held them (a stop, a crash) accepted and paid for. One that cannot be read is
   * logged (`record:skipped`) and left out.
   */
  async acceptedResults(jobId: string): Promise<Result[]> {
    if (!recordable(jobId)) return []
    const results: Result[] = []
    for await (const [, result] of this.#datastore.entries('jobs', {
      prefix: acceptedPrefix(jobId),
      parse: (value) => resultSchema.parse(value),
      onCorrupt: (key, error) => this.#logger.error({ ...errorFields(error), ns: 'jobs', key }, 'record:skipped'),
    })) {
      results.push(result)
    }
    return results
  }

  /** The writes that delete the results job `jobId` kept one by one. */
  async #deleteAccepted(jobId: string): Promise<DatastoreWrite[]> {
    const keys: string[] = []
    // One that cannot be decoded goes too.
    const onCorrupt = (key: string) => void keys.push(key)
    for await (const [key] of this.#datastore.entries('jobs', { prefix: acceptedPrefix(jobId), onCorrupt })) {
      keys.push(key)
    }
    return keys.map((key) => ({ type: 'del', ns: 'jobs', key }))
  }

  /**
   * Every job's summary, by job id. The first call on a data directory of an older version reads every record once
   * to write their summaries. A summary that cannot be read is logged (`record:skipped`) and left out.
   */
  async summaries(): Promise<Map<string, JobSummaryRecord>> {
    if ((await this.#datastore.get('meta', SUMMARISED)) === undefined) await this.#summariseAll()
    const summaries = new Map<string, JobSummaryRecord>()
    const onCorrupt = (key: string, error: NodeError) =>
      this.#logger.error({ ...errorFields(error), ns: 'jobs', key }, 'record:skipped')
    for await (const [key, summary] of this.#datastore.entries('jobs', {
      prefix: SUMMARY,
      onCorrupt,
      parse: parseSummary,
    })) {
      summaries.set(key.slice(SUMMARY.length), summary)
    }
    return summaries
  }

  async #summariseAll(): Promise<void> {
    const writes: DatastoreWrite[] = []
    const onCorrupt = (key: string, error: NodeError) =>
      this.#logger.error({ ...errorFields(error), ns: 'jobs', key }, 'record:skipped')
    for await (const [key, job] of this.#datastore.entries<StoredJob>('jobs', { onCorrupt })) {
      // Job ids hold no '/': the summaries are the keys that do.
      if (key.includes('/')) continue
      let summary: JobSummaryRecord | undefined
      try {
        summary = summaryOf(job)
      } catch (e) {
        this.#logger.error({ err: String(e), ns: 'jobs', key }, 'record:skipped')
      }
      if (summary !== undefined) writes.push({ type: 'put', ns: 'jobs', key: SUMMARY + key, value: summary })
    }
    writes.push({ type: 'put', ns: 'meta', key: SUMMARISED, value: 1 })
    await this.#datastore.batch(writes)
  }
}
