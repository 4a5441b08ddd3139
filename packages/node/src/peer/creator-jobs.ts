import { type AbortOptions, type Clock, type Order, parseBlobCid, type Result, throwIfAborted } from '@tessera/core'
import { jobBudget, type JobSpec, type JobView, taskCountOf } from '@tessera/scheduler'
import type { SchedulerDriver } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import type { JobOutput, JobOutputOptions, JobRequest, JobStatus, JobSummary } from '../api/contract.js'
import { NodeError } from '../errors.js'
import type { NodeMetrics } from '../metrics.js'
import { AssemblyCache } from './assembly-cache.js'
import type { BlobAudience } from './blob-audience.js'
import { type BlobHolds, jobHolder, UPLOAD, UPLOAD_RETENTION_MS } from './blob-holds.js'
import { RECEIPT_GRACE_MS } from './constants.js'
import type { EpochCounter } from './epoch-counter.js'
import { errorFields } from './error-fields.js'
import type { InputOrder } from './inputs.js'
import {
  assembleJobOutput,
  jobOutputFiles,
  mayHaveOutputFile,
  type OutputFile,
  type OutputSource,
} from './job-output.js'
import { type JobEnd, type JobProgress, JobRecords, type StoredJob, unfinishedState } from './job-records.js'
import { checkJobBudget, jobSpecOf } from './job-request.js'
import { checkJobVerification, verificationView } from './job-verification.js'
import type { Settlement } from './settlement.js'

/** Whether `value` is a blob CID. */
function isBlobCid(value: string): boolean {
  try {
    parseBlobCid(value)
    return true
  } catch {
    return false
  }
}

/** Where a job the market still tracks stands. */
function liveStanding(job: JobView): Pick<JobStatus, 'state' | 'tasks' | 'completed' | 'verified'> {
  const active = job.assigned + job.verifying + job.accepted > 0
  return {
    state: job.status === 'open' ? (active ? 'running' : 'bidding') : job.status,
    tasks: job.tasks,
    completed: job.accepted + job.verifying,
    verified: job.accepted,
  }
}

/**
 * How long a running job may still take, by the node's clock: its tasks still to verify at the pace its verified ones
 * took since it was ordered (`orderedAt`, ms). None before its first verified task, nor once it is not running.
 */
export function jobEta(
  standing: Pick<JobStatus, 'state' | 'tasks' | 'verified'>,
  orderedAt: number | undefined,
  now: number,
): Pick<JobStatus, 'etaMs'> {
  if (standing.state !== 'running' || standing.verified <= 0 || orderedAt === undefined) return {}
  const elapsed = Math.max(0, now - orderedAt)
  const left = Math.max(0, standing.tasks - standing.verified)
  return { etaMs: Math.round((elapsed * left) / standing.verified) }
}

/** What {@link CreatorJobs} needs from its peer. */
export interface CreatorJobsComponents {
  scheduler: SchedulerDriver
  settlement: Settlement
  records: JobRecords
  holds: BlobHolds
  /** Who may fetch each job's blobs: a deleted job's admissions go with it. */
  audience?: Pick<BlobAudience, 'forget'>
  clock: Clock
  /** Where accepted outputs are kept, to assemble a job's files. */
  blobs: OutputSource
  epochCounter: EpochCounter
  /** The epoch of each job ordered in this run until it has settled (the receipts exchange reads it too). */
  epochs: Map<string, number>
  /**
   * Checks that a job's inputs, all held here, read as its work (`GpuWorkload.checkInputs`): the order, not made yet,
   * is this peer's own.
   */
  checkInputs: (order: Omit<InputOrder, 'creator' | 'jobId'>, options: AbortOptions) => Promise<void>
  metrics: NodeMetrics
  logger: Logger
}

/**
 * The creator's jobs on a peer, from order to deletion: it orders a job and funds its epoch vault, tracks its
 * progress, writes its record when it ends and settles it; it answers `job status`, `list`, `cancel`, `delete` and
 * `fetch`.
 */
export class CreatorJobs {
  readonly #c: CreatorJobsComponents
  readonly #records: JobRecords
  /**
   * Per running job: tasks re-awarded after a lost lease or a failed check, and each worker's accepted/rejected
   * count. Folded into the job's record when it ends.
   */
  readonly #progress = new Map<string, JobProgress>()
  /** Jobs whose vault is being funded: a job that ends meanwhile waits for it before it closes. */
  readonly #funding = new Map<string, Promise<void>>()
  /** Accepted results of finished jobs until their record holds them. */
  readonly #finished = new Map<string, { order: Order; results: readonly Result[] }>()
  /** Results a job accepted before it was cancelled or expired, until its record holds them. */
  readonly #partial = new Map<string, readonly Result[]>()
  /** Outputs put together lately: a client fetching a frame's files one reply each has the frame assembled once. */
  readonly #assembled = new AssemblyCache()

  constructor(components: CreatorJobsComponents) {
    this.#c = components
    this.#records = components.records
    this.#watch()
  }

  /**
   * Stops the assemblies of job outputs under way, whose callers reject, and lets go of the outputs assembled: the
   * peer is stopping.
   */
  stop(): void {
    this.#assembled.close()
  }

  /** What is held in memory per job, for tests that it is let go once a job has ended and settled. */
  get retained(): { progress: number; finished: number; epochs: number } {
    return { progress: this.#progress.size, finished: this.#finished.size, epochs: this.#c.epochs.size }
  }

  /** Tracks each job's progress from the market's events. */
  #watch(): void {
    const { scheduler, metrics } = this.#c
    const progress = (jobId: string) => {
      let p = this.#progress.get(jobId)
      if (p === undefined)
        this.#progress.set(jobId, (p = { reassigned: 0, leases: {}, reassignedFrom: {}, workers: {} }))
      return p
    }
    const worker = (jobId: string, peer: string) => (progress(jobId).workers[peer] ??= { accepted: 0, rejected: 0 })
    scheduler.on('task:reassigned', (e) => {
      const p = progress(e.jobId)
      p.reassigned++
      p.reassignedFrom[e.from] = (p.reassignedFrom[e.from] ?? 0) + 1
      metrics.tasksReassigned.inc()
    })
    scheduler.on('task:verified', (e) => worker(e.jobId, e.worker).accepted++)
    // Emitted before the job's wait rejects, so the record written then holds them.
    for (const type of ['job:cancelled', 'job:expired'] as const) {
      scheduler.on(type, (e) => {
        if (e.results.length > 0) this.#partial.set(e.jobId, e.results)
      })
    }
    scheduler.on('task:rejected', (e) => worker(e.jobId, e.worker).rejected++)
    scheduler.on('lease:granted', (e) => {
      const leases = progress(e.jobId).leases
      leases[e.worker] = (leases[e.worker] ?? 0) + e.taskIds.length
    })
  }

  /**
   * Orders a job and funds its epoch vault; the job settles in the background once it completes. A job whose order
   * cannot be recorded or funded, or whose `options.signal` aborts before funding starts, is cancelled.
   */
  async submit(request: JobRequest, options: AbortOptions = {}): Promise<{ jobId: string }> {
    throwIfAborted(options.signal)
    const spec = jobSpecOf(request)
    checkJobBudget(spec)
    if (spec.verification !== undefined) checkJobVerification(spec.split, spec.verification)
    await this.#checkInputs(spec, options)
    // The job's epoch is taken and saved before it is ordered: every receipt of the job names it, and a crash cannot
    // hand it to another job.
    const epoch = this.#c.epochCounter.take()
    await this.#c.epochCounter.save()
    // Ordered held: it takes bids while its vault is funded, and awards no task before the vault holds its budget, so
    // no worker runs a task nobody can pay for (a creator short of tokens, a cluster away).
    const jobId = this.#c.scheduler.submit(spec, { held: true })
    this.#c.metrics.jobsSubmitted.inc()
    const order = this.#c.scheduler.job(jobId)?.order
    if (order === undefined)
      throw new NodeError('NODE__JOB_NOT_FOUND', `job ${jobId} vanished as it was ordered`, { jobId })
    this.#c.epochs.set(jobId, epoch)
    // Listen before anything else awaits: a job can end (cancelled, expired) while its vault is still being funded.
    // Nothing awaits what follows, so a failure there (the datastore closing under a stop, say) is logged, never
    // unhandled.
    this.#c.scheduler
      .waitForJob(jobId)
      .then(
        (results) => this.#completed(jobId, request, order, results),
        (e: unknown) => this.#unfinished(jobId, request, order, e),
      )
      .catch((e: unknown) => this.#c.logger.error({ ...errorFields(e), jobId }, 'job:close-failed'))
    const funding = this.#fund(jobId, epoch, request, order, options)
    // A job can end while its vault is still being funded: its close waits for the funding, whatever its outcome.
    this.#funding.set(
      jobId,
      funding.then(
        () => {},
        () => {},
      ),
    )
    try {
      await funding
    } catch (e) {
      this.#c.scheduler.cancel(jobId)
      throw e
    } finally {
      this.#funding.delete(jobId)
    }
    // Funded: its tasks go to the bids it took meanwhile (unless it was cancelled as it was funded).
    if (this.#c.scheduler.job(jobId)?.status === 'open') this.#c.scheduler.release(jobId)
    return { jobId }
  }

  /**
   * Refuses, before anything is ordered or paid, a job whose workers could not run it: an input that is no blob
   * CID or that this node does not hold (it serves its jobs' inputs), or inputs that do not read as the work named.
   */
  async #checkInputs(spec: JobSpec, options: AbortOptions): Promise<void> {
    for (const input of spec.inputs) {
      if (!isBlobCid(input)) {
        throw new NodeError('NODE__UNSUPPORTED_INPUT', `input ${input} is not a blob CID`, { input })
      }
      // Its upload's hold is renewed as it is found: one that ran out must not let a sweep delete it before the
      // job's own hold (a `has` then a hold would leave it that room).
      const keptUntil = this.#c.clock.now() + UPLOAD_RETENTION_MS
      if (!(await this.#c.holds.holdIfStored(input, UPLOAD, keptUntil, options))) {
        throw new NodeError(
          'NODE__INPUT_NOT_FOUND',
          `input ${input} is not stored on this node, which serves it to the job's workers: upload it first`,
          { input },
        )
      }
    }
    await this.#c.checkInputs({ kind: spec.kind, inputs: [...spec.inputs], split: spec.split }, options)
  }

  /** Records a job's order and funds its epoch vault with its budget. */
  async #fund(jobId: string, epoch: number, request: JobRequest, order: Order, options: AbortOptions): Promise<void> {
    await this.#records.put(jobId, { request: JSON.stringify(request), order })
    // Its inputs stay while the job does: its workers and verifiers fetch them from here. Held once its record exists,
    // so a delete finds them (every input is a blob CID: `#checkInputs` refused any other).
    for (const input of order.inputs) {
      await this.#c.holds.hold(input, jobHolder(jobId), undefined, options)
    }
    const tasks = taskCountOf(order.split)
    await this.#c.settlement.fundJob(
      jobId,
      epoch,
      jobBudget(order.maxPrice, order.benchHoursPerTask, tasks),
      tasks,
      options,
    )
  }

  /**
   * A job completed: its results and progress go to its record (which answers for it from then on), then its epoch
   * settles.
   */
  async #completed(jobId: string, request: JobRequest, order: Order, results: readonly Result[]): Promise<void> {
    this.#finished.set(jobId, { order, results })
    this.#c.metrics.jobsCompleted.inc()
    this.#c.metrics.tasksCompleted.inc({ role: 'creator' }, results.length)
    // Its first record and its settlement are written by the funding (a job cancelled or expired as it was funded
    // ends meanwhile): after it, or this record would be overwritten and the close would find no settlement to close.
    await this.#funding.get(jobId)
    await this.#record(jobId, {
      request: JSON.stringify(request),
      order,
      results: [...results],
      end: { state: 'completed', tasks: results.length, accepted: results.length },
    })
    this.#finished.delete(jobId)
    this.#c.logger.info({ jobId, tasks: results.length }, 'job:completed')
    await this.#c.settlement.closeJob(jobId, results.length, RECEIPT_GRACE_MS)
    this.#c.epochs.delete(jobId)
    this.#c.metrics.tokensPaid.inc(Number(await this.#c.settlement.paidNet(jobId)))
  }

  /**
   * A job was cancelled or expired: its progress goes to its record, and its epoch settles over the tasks it accepted
   * (their receipts are signed), refunding the rest of the budget, as a restart would settle it.
   */
  async #unfinished(jobId: string, request: JobRequest, order: Order, e: unknown): Promise<void> {
    this.#c.logger.warn({ ...errorFields(e), jobId }, 'job:failed')
    const view = this.#c.scheduler.job(jobId)
    const accepted = view?.accepted ?? 0
    const end: JobEnd = { state: unfinishedState(e), tasks: view?.tasks ?? taskCountOf(order.split), accepted }
    const partial = this.#partial.get(jobId)
    this.#partial.delete(jobId)
    await this.#funding.get(jobId)
    await this.#record(jobId, {
      request: JSON.stringify(request),
      order,
      end,
      ...(partial !== undefined ? { accepted: [...partial] } : {}),
    })
    await this.#c.settlement.closeJob(jobId, accepted, RECEIPT_GRACE_MS)
    this.#c.epochs.delete(jobId)
    this.#c.metrics.tokensPaid.inc(Number(await this.#c.settlement.paidNet(jobId)))
  }

  /** Writes a job's record with its progress folded in, and lets go of the progress kept in memory. */
  async #record(jobId: string, job: StoredJob): Promise<void> {
    const progress = this.#progress.get(jobId)
    await this.#records.put(jobId, { ...job, ...(progress !== undefined ? { progress } : {}) })
    if (this.#progress.get(jobId) === progress) this.#progress.delete(jobId)
  }

  /** A job's progress and settlement; rejects with `NODE__JOB_NOT_FOUND` for a job this node did not order. */
  async status(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    const job = this.#c.scheduler.job(jobId)
    // A job's progress is kept in memory while it runs, then in its record.
    let progress = this.#progress.get(jobId)
    let base: Pick<JobStatus, 'state' | 'tasks' | 'completed' | 'verified' | 'diagnostic'>
    // A job that is not open answers from its record (the market forgets it after a while); one ended and deleted
    // is gone, even while the market still remembers it.
    const open = job?.status === 'open'
    const stored = open ? undefined : await this.stored(jobId)
    const finished = this.#finished.get(jobId)
    if (!open && stored === undefined && finished === undefined) {
      throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
    }
    if (job !== undefined) {
      base = liveStanding(job)
      // Held while its vault is funded, it waits on this node, not on bids.
      if (base.state === 'bidding' && !job.held) base = { ...base, diagnostic: this.diagnostic(jobId) }
    } else {
      const results = finished?.results ?? stored?.results
      const end = stored?.end ?? (await this.#endOf(jobId, stored, results, options))
      base = { state: end.state, tasks: end.tasks, completed: end.accepted, verified: end.accepted }
    }
    progress ??= stored?.progress
    const settlement = await this.#c.settlement.view(jobId, options)
    const order = job?.order ?? stored?.order ?? finished?.order
    const split = order?.split
    return {
      jobId,
      ...base,
      ...jobEta(base, order?.issuedAt, this.#c.clock.now()),
      ...(split?.kind === 'render' ? { frames: { first: split.firstFrame, count: split.frames } } : {}),
      ...withVerification(order),
      reassigned: progress?.reassigned ?? 0,
      leases: progress?.leases ?? {},
      reassignedFrom: progress?.reassignedFrom ?? {},
      workers: progress?.workers ?? {},
      // A worker's bond is slashed once, for the job whose fraud proof came first.
      slashed: await this.#c.settlement.slashesOf(jobId),
      ...(settlement !== undefined ? { settlement } : {}),
    }
  }

  /** The jobs this node ordered, newest first, at most `limit` of them: from their summaries, live ones as they run. */
  async list(limit: number, options: AbortOptions = {}): Promise<JobSummary[]> {
    throwIfAborted(options.signal)
    const summaries = [...(await this.#records.summaries())].sort(([, a], [, b]) => b.orderedAt - a.orderedAt)
    const listed: JobSummary[] = []
    for (const [jobId, summary] of summaries.slice(0, limit)) {
      const live = this.#c.scheduler.job(jobId)
      const standing =
        live !== undefined
          ? liveStanding(live)
          : summary.end !== undefined
            ? { state: summary.end.state, tasks: summary.end.tasks, verified: summary.end.accepted }
            : // Ended by a stop, an older version wrote it without its end: `job status` reads what its settlement paid,
              // which the list does not open the chain for.
              { state: 'failed' as const, tasks: summary.tasks, verified: 0 }
      listed.push({
        jobId,
        state: standing.state,
        tasks: standing.tasks,
        verified: standing.verified,
        orderedAt: summary.orderedAt,
      })
    }
    return listed
  }

  /**
   * Cancels a job this node ordered, if it is still open, and resolves to its status. Cancelled, it ends unfinished:
   * its accepted tasks settle and the rest of its budget is refunded, as for an expired job.
   */
  async cancel(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    throwIfAborted(options.signal)
    if (this.#c.scheduler.job(jobId)?.status === 'open') {
      this.#c.scheduler.cancel(jobId)
      this.#c.logger.info({ jobId }, 'job:cancelled')
    }
    return this.status(jobId, options)
  }

  /**
   * Deletes a job that has ended and settled: its record, and its inputs and outputs unless another job or an upload
   * of the last day holds them. Receipts and settlement records stay (they are what was paid). Rejects with
   * `NODE__JOB_NOT_ENDED` while the job runs or settles, `NODE__JOB_NOT_FOUND` for a job this node did not order.
   */
  async delete(jobId: string, options: AbortOptions = {}): Promise<{ jobId: string; blobsDeleted: number }> {
    throwIfAborted(options.signal)
    if (this.#c.scheduler.job(jobId)?.status === 'open') {
      throw new NodeError('NODE__JOB_NOT_ENDED', `job ${jobId} is still running; cancel it first`, { jobId })
    }
    const finishing = this.#finished.has(jobId)
    if (!finishing && (await this.stored(jobId)) === undefined) {
      throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
    }
    // Its epoch is let go once it has settled (or it never had one).
    if (finishing || this.#c.epochs.has(jobId) || !(await this.#c.settlement.idle(jobId))) {
      throw new NodeError('NODE__JOB_NOT_ENDED', `job ${jobId} is still settling`, { jobId })
    }
    // The holds and admissions go first, whatever the caller's signal: the record is what lets a delete cut short be
    // tried again.
    const blobsDeleted = await this.#c.holds.releaseAll(jobHolder(jobId))
    await this.#c.audience?.forget(jobHolder(jobId))
    await this.#records.delete(jobId)
    this.#progress.delete(jobId)
    this.#c.logger.info({ jobId, blobsDeleted }, 'job:deleted')
    return { jobId, blobsDeleted }
  }

  /** Why a job still waits for bids, flattened for the API (see `JobStatus.diagnostic`). */
  diagnostic(jobId: string): Record<string, number> | undefined {
    const d = this.#c.scheduler.creator?.diagnose(jobId)
    if (d === undefined) return undefined
    return { seen: d.seen, eligible: d.eligible, bids: d.bids, needed: d.needed, ...d.excluded }
  }

  /**
   * A completed job's files: frames as PNG (tone-mapped as `output` says) and OpenEXR, or an inference buffer. With
   * `output.partial`, a job that ended unfinished gives what it accepted (see `assembleJobOutput`).
   */
  async output(jobId: string, output: JobOutputOptions = {}, options: AbortOptions = {}): Promise<JobOutput> {
    const { order, results } = await this.#outputOf(jobId, output)
    return assembleJobOutput(order, results, this.#c.blobs, {
      ...output,
      cache: this.#assembled,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
  }

  /**
   * One file of a completed job's output (as {@link output} names them), with no bound but what assembling holds:
   * how a file too large for a JSON reply is fetched. `NODE__OUTPUT_FILE_NOT_FOUND` when the output has no such file.
   */
  async outputFile(
    jobId: string,
    name: string,
    output: JobOutputOptions = {},
    options: AbortOptions = {},
  ): Promise<OutputFile> {
    const { order, results } = await this.#outputOf(jobId, output)
    const missing = () =>
      new NodeError('NODE__OUTPUT_FILE_NOT_FOUND', `job ${jobId}'s output has no file ${JSON.stringify(name)}`, {
        jobId,
        name,
      })
    // Checked before anything is fetched: a name no output of this job could have costs nothing.
    if (!mayHaveOutputFile(order, name, output.frame)) throw missing()
    const files = await jobOutputFiles(order, results, this.#c.blobs, {
      ...output,
      only: name,
      cache: this.#assembled,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
    const file = files.find((f) => f.name === name)
    if (file === undefined) throw missing()
    return file
  }

  /** A job's order and the results its output is made of; `NODE__JOB_NOT_COMPLETE` when it has none to give. */
  async #outputOf(jobId: string, output: JobOutputOptions): Promise<{ order: Order; results: readonly Result[] }> {
    const finished = this.#finished.get(jobId) ?? (await this.stored(jobId))
    const live = this.#c.scheduler.job(jobId)
    if (finished === undefined && live === undefined) {
      throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
    }
    const order = finished?.order
    // A job that ended unfinished (cancelled, expired, or cut short by a stop or a crash of this node, which may leave
    // its record without an end) gives, when asked, what it accepted: frames with those tiles, or those items. Its
    // record holds them, or, ended before it could, they were kept one by one as they were accepted.
    const unfinished = finished !== undefined && finished.results === undefined && live?.status !== 'open'
    const recorded = finished !== undefined && 'accepted' in finished ? finished.accepted : undefined
    const accepted = unfinished ? (recorded ?? (await this.#records.acceptedResults(jobId))) : undefined
    const partial = output.partial === true && accepted !== undefined && accepted.length > 0 ? accepted : undefined
    const results = finished?.results ?? partial
    if (order === undefined || results === undefined) {
      const parts = order?.split.kind === 'render' ? 'tiles' : 'item ranges'
      const hint =
        accepted === undefined
          ? ''
          : accepted.length === 0
            ? ` (it accepted none of its ${parts})`
            : ` (it accepted ${accepted.length} of its ${parts}: ask for the partial output)`
      throw new NodeError(
        'NODE__JOB_NOT_COMPLETE',
        `job ${jobId} has not completed${hint}; see \`tessera job status ${jobId}\``,
        { jobId },
      )
    }
    return { order, results }
  }

  /** A job's record, as this node wrote it. */
  async stored(jobId: string): Promise<StoredJob | undefined> {
    return this.#records.get(jobId)
  }

  /**
   * How a job the market has forgotten ended, when its record does not say (an older version wrote it): completed
   * with its results, otherwise ended by a stop of this node, having accepted what its settlement received.
   */
  async #endOf(
    jobId: string,
    stored: StoredJob | undefined,
    results: readonly Result[] | undefined,
    options: AbortOptions,
  ): Promise<JobEnd> {
    if (results !== undefined) return { state: 'completed', tasks: results.length, accepted: results.length }
    const tasks = stored?.order === undefined ? 0 : taskCountOf(stored.order.split)
    return { state: 'failed', tasks, accepted: (await this.#c.settlement.view(jobId, options))?.receipts ?? 0 }
  }
}

/** A status's `verification`, when the job's order has a budget to show. */
function withVerification(order: Pick<Order, 'split' | 'verification'> | undefined): Pick<JobStatus, 'verification'> {
  const view = order === undefined ? undefined : verificationView(order)
  return view === undefined ? {} : { verification: view }
}
