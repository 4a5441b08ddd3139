import { join } from 'node:path'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import {
  type AbortOptions,
  blobCid,
  createNode,
  parseBlobCid,
  cryptoRng,
  FsBlobstore,
  type Order,
  type Result,
  systemClock,
  throwIfAborted,
  type Identity,
  type TesseraNode,
} from '@tessera/core'
import { createEngine, type Engine } from '@tessera/gpu'
import { merkleRoot } from '@tessera/proof'
import {
  demandPrice,
  expectedCost,
  fixedPrice,
  type JobView,
  type PricingStrategy,
  taskCountOf,
} from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver } from '@tessera/scheduler/driver'
import { LevelDatastore } from 'datastore-level'
import type { Logger } from 'pino'
import { concat } from 'uint8arrays/concat'
import type {
  JobOutput,
  JobOutputOptions,
  JobRequest,
  JobStatus,
  JobSummary,
  NodeOperations,
  NodeStatus,
  WalletInfo,
} from '../api/contract.js'
import type { NodeConfig } from '../config.js'
import type { DataDir } from '../data-dir.js'
import { Datastore } from '../datastore.js'
import { NodeError } from '../errors.js'
import { NodeMetrics } from '../metrics.js'
import { BlobHolds, jobHolder, taskHolder, UPLOAD, UPLOAD_RETENTION_MS } from './blob-holds.js'
import { capacityScore } from './capacity-score.js'
import { DEFAULT_MEMORY_MB, DEFAULT_SCORE, RECEIPT_GRACE_MS, SLASHES_KEPT } from './constants.js'
import { errorFields } from './error-fields.js'
import { GpuWorkload } from './gpu-workload.js'
import { InputCache } from './inputs.js'
import { keepCommittedOutput } from './committed-output.js'
import { EpochCounter } from './epoch-counter.js'
import { assembleJobOutput } from './job-output.js'
import { type JobEnd, type JobProgress, JobRecords, type StoredJob, unfinishedState } from './job-records.js'
import { jobSpecOf } from './job-request.js'
import { ReceiptExchange } from './receipts.js'
import { Settlement } from './settlement.js'
import { type SlashRecord, Verification } from './verification.js'

/** What a peer is started from: its data directory, configuration, identity and logger. */
export interface PeerInit {
  dir: DataDir
  config: NodeConfig
  identity: Identity
  logger: Logger
  /** An engine to share (tests); by default the peer opens its own and destroys it on stop. */
  engine?: Engine
  /** Capacity benchmark score, benchmark units. */
  score?: number
}

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

function pricingOf(config: NodeConfig): PricingStrategy {
  return config.worker.pricing === 'demand'
    ? demandPrice({ base: config.worker.price })
    : fixedPrice(config.worker.price)
}

/**
 * A whole Tessera peer: the libp2p node, the market (creator and worker roles), the datastore and metrics,
 * exposed to the CLI through {@link NodeOperations}.
 */
export class Peer implements NodeOperations {
  /** The libp2p node: message bus, blobs, capacity records. */
  readonly node: TesseraNode
  /** The market: this peer's creator and worker roles. */
  readonly scheduler: SchedulerDriver
  /** The node's store on disk. */
  readonly datastore: Datastore
  /** Which blobs the peer still needs: a worker's outputs until they are paid for, a creator's inputs and outputs. */
  readonly holds: BlobHolds
  /** What `/metrics` exposes. */
  readonly metrics: NodeMetrics
  /** The WebGPU engine tasks and checks run on. */
  readonly engine: Engine
  /** Verification by sampling, as creator, worker and third peer. */
  readonly verification: Verification
  /** The creator's settlement on the ledger. */
  readonly settlement: Settlement
  /** Receipts signed by creator and worker. */
  readonly receipts: ReceiptExchange
  /**
   * Per running job: tasks re-awarded after a lost lease or a failed check, and each worker's accepted/rejected
   * count. Folded into the job's record when it ends.
   */
  readonly #progress = new Map<string, JobProgress>()
  /** The creator's job records and their summaries. */
  readonly #jobRecords: JobRecords
  /**
   * The epoch of each job ordered in this run until it ends; receipts signed later (a verdict that came late) find it
   * in the job's settlement record.
   */
  readonly #epochs: Map<string, number>
  /** Hands out settlement epochs (one per job, more for late receipts), persisted so a restart never reuses one. */
  readonly #epochCounter: EpochCounter
  /** Fraud proofs upheld by this peer, newest last: the latest {@link SLASHES_KEPT}. */
  readonly slashes: readonly SlashRecord[]
  readonly #ownsEngine: boolean
  /** Jobs whose vault is being funded: a job that ends meanwhile waits for it before it closes. */
  readonly #funding = new Map<string, Promise<void>>()
  /** Accepted results of finished jobs until their record holds them. */
  readonly #finished = new Map<string, { order: Order; results: readonly Result[] }>()
  /** The restart's unfinished business (see `#resume`), awaited before the datastore closes. */
  #resuming: Promise<void> = Promise.resolve()
  readonly #libp2pStore: LevelDatastore
  readonly #config: NodeConfig
  readonly #log: Logger

  private constructor(parts: {
    node: TesseraNode
    scheduler: SchedulerDriver
    datastore: Datastore
    metrics: NodeMetrics
    engine: Engine
    ownsEngine: boolean
    verification: Verification
    settlement: Settlement
    receipts: ReceiptExchange
    epochs: Map<string, number>
    epochCounter: EpochCounter
    slashes: readonly SlashRecord[]
    libp2pStore: LevelDatastore
    holds: BlobHolds
    config: NodeConfig
    logger: Logger
  }) {
    this.slashes = parts.slashes
    this.settlement = parts.settlement
    this.receipts = parts.receipts
    this.#epochs = parts.epochs
    this.#epochCounter = parts.epochCounter
    this.engine = parts.engine
    this.#ownsEngine = parts.ownsEngine
    this.verification = parts.verification
    this.node = parts.node
    this.scheduler = parts.scheduler
    this.datastore = parts.datastore
    this.metrics = parts.metrics
    this.#libp2pStore = parts.libp2pStore
    this.#jobRecords = new JobRecords(parts.datastore, parts.logger)
    this.holds = parts.holds
    this.#config = parts.config
    this.#log = parts.logger
  }

  /**
   * Opens the stores, starts libp2p and the market. When the start fails, or `options.signal` aborts it, whatever was
   * opened is closed again (the data directory's locks with it) and the call rejects.
   */
  static async start(init: PeerInit, options: AbortOptions = {}): Promise<Peer> {
    const { config } = init
    const { signal } = options
    throwIfAborted(signal)
    const opened: (() => Promise<void>)[] = []
    const closeOpened = async (): Promise<void> => {
      for (const close of opened.reverse()) await close().catch(() => {})
    }
    let parts
    try {
      parts = await Peer.#open(init, opened, options)
    } catch (e) {
      await closeOpened()
      throw e
    }
    const { peer, score, payee } = parts
    try {
      throwIfAborted(signal)
      peer.#resuming = peer
        .#resume()
        .catch((e: unknown) => init.logger.error(errorFields(e), 'settlement:resume-failed'))
      peer.#watch()
      peer.holds.start()
      if (config.worker.enabled) await peer.#announce(score, payee, options)
    } catch (e) {
      await peer.stop().catch(() => {})
      throw e
    }
    init.logger.info(
      { peerId: peer.node.peerId.toString(), addrs: peer.node.getMultiaddrs().map(String) },
      'peer:started',
    )
    return peer
  }

  /** Opens the parts of a peer and puts them together; each part opened is pushed to `opened`, to close on failure. */
  static async #open(
    init: PeerInit,
    opened: (() => Promise<void>)[],
    options: AbortOptions,
  ): Promise<{ peer: Peer; score: number; payee: string }> {
    const { config, dir } = init
    const { signal } = options
    const metrics = new NodeMetrics()
    const datastore = await Datastore.open(dir.datastore)
    opened.push(() => datastore.close())
    throwIfAborted(signal)
    const libp2pStore = new LevelDatastore(join(dir.datastore, 'libp2p'))
    await libp2pStore.open()
    opened.push(() => libp2pStore.close())
    const node = await createNode(
      {
        identity: init.identity,
        listen: config.listen,
        bootstrap: config.bootstrap,
        localNetwork: config.localNetwork,
        blobstore: new FsBlobstore(join(dir.root, 'blobs')),
        datastore: libp2pStore,
        metrics: prometheusMetrics({ registry: metrics.registry, collectDefaultMetrics: true }),
      },
      options,
    )
    opened.push(() => node.stop())
    const holds = new BlobHolds({
      datastore,
      store: node.blobs.store,
      clock: systemClock,
      logger: init.logger,
      onDeleted: (_cid, reason) => metrics.blobsDeleted.inc({ reason }),
    })
    opened.push(() => holds.stop())
    throwIfAborted(signal)
    const engine = init.engine ?? (await createEngine())
    if (init.engine === undefined) opened.push(async () => engine.destroy())
    throwIfAborted(signal)
    const epochCounter = await EpochCounter.open(datastore)
    const settlement = new Settlement(dir.ledger, config, init.logger, datastore, epochCounter)
    const payee = await settlement.payee(options)
    const score =
      init.score ?? (config.worker.enabled ? await capacityScore(engine, datastore, init.logger) : DEFAULT_SCORE)
    throwIfAborted(signal)
    // Nothing below awaits until the peer exists: from there, its stop() closes everything.
    const epochs = new Map<string, number>()
    const slashes: SlashRecord[] = []
    // The verifier needs the market's orders, and the market needs the verifier: bound once both exist.
    const market: { scheduler?: SchedulerDriver } = {}
    const outputRetentionMs = config.worker.outputRetentionHours * 3_600_000
    const workload = new GpuWorkload(engine, new InputCache(node.blobs), config.worker.fault)
    // Registered on the bus before the scheduler, so a Result's signed envelope is kept before it is verified.
    const verification = new Verification({
      bus: node.bus,
      clock: systemClock,
      rng: cryptoRng(),
      logger: init.logger,
      verifiers: config.verification.verifiers,
      selfVerifyWeight: config.verification.selfWeight,
      serve: config.verification.serve,
      tolerance: {
        minPsnrDb: config.verification.minPsnrDb,
        psnrOutlierFraction: config.verification.psnrOutlierFraction,
      },
      orderOf: (jobId) => market.scheduler?.job(jobId)?.order,
      shapeOf: (order, taskId) => workload.shapeOf(order, taskId),
      recompute: (order, taskId, indices, options) => workload.recompute(order, taskId, indices, options),
      onSlash: (slash) => {
        if (slashes.length >= SLASHES_KEPT) slashes.shift()
        slashes.push(slash)
        settlement
          .slash(slash.worker, slash.jobId, slash.fraudProofHash)
          .catch((e: unknown) =>
            init.logger.error({ ...errorFields(e), worker: slash.worker, jobId: slash.jobId }, 'slash:failed'),
          )
        metrics.verdicts.inc({ outcome: 'slash' })
        init.logger.warn({ worker: slash.worker, taskId: slash.taskId }, 'proof:upheld')
      },
      onPayment: (payment) => {
        metrics.servedChecks.inc({ role: payment.role })
        init.logger.info(payment, 'verification:served')
      },
      onEvent: (event) => {
        if (event.name === 'task:accepted') metrics.verdicts.inc({ outcome: 'pass' })
        if (event.name === 'task:rejected') metrics.verdicts.inc({ outcome: event.outcome })
      },
    })
    const receipts = new ReceiptExchange({
      bus: node.bus,
      identity: init.identity,
      datastore,
      logger: init.logger,
      payee,
      payeeOf: (worker) => node.capacity.view.get(worker)?.capacity.payee,
      // A job that has ended is no longer in `epochs`; its settlement record names its epoch.
      epochOf: async (jobId) => epochs.get(jobId) ?? (await settlement.epochOf(jobId)) ?? 0,
      onCosigned: (receipt) => {
        settlement
          .receipt(receipt)
          .catch((e: unknown) =>
            init.logger.error(
              { ...errorFields(e), jobId: receipt.jobId, taskId: receipt.taskId },
              'receipt:settle-failed',
            ),
          )
      },
      // Paid for: the creator holds the output (it fetched it before it accepted the task), so neither the prover's
      // copy nor the blob is needed any longer.
      onCountersigned: (receipt, committed) => {
        verification.release(receipt.jobId, receipt.taskId)
        if (committed.output === undefined) return
        holds
          .release(committed.output, taskHolder(receipt.taskId))
          .catch((e: unknown) =>
            init.logger.error({ ...errorFields(e), taskId: receipt.taskId }, 'holds:release-failed'),
          )
      },
    })
    opened.push(async () => {
      receipts.stop()
      verification.stop()
    })
    const scheduler = createScheduler(
      { bus: node.bus, blobs: node.blobs },
      {
        verify: async (request, options) => {
          const outcome = await verification.verify(request)
          if (outcome === 'fail') return outcome
          // An accepted output stays with its job until the job is deleted.
          const pin = () => holds.hold(request.result.output, jobHolder(request.jobId), undefined, options)
          return keepCommittedOutput(node.blobs, request, init.logger, { ...options, pin })
        },
        onAccept: (task) => {
          receipts
            .accepted(task)
            .catch((e: unknown) => init.logger.warn({ ...errorFields(e), taskId: task.taskId }, 'receipt:failed'))
        },
        creator: { tiers: { reputation: (peer) => verification.reputation.score(peer) } },
        ...(config.worker.enabled
          ? {
              worker: {
                profile: {
                  memoryMb: DEFAULT_MEMORY_MB,
                  features: [],
                  score,
                  slots: config.worker.slots,
                  tiers: config.worker.tiers,
                },
                pricing: pricingOf(config),
                executor: verification.wrapExecutor({
                  // Remember each committed root, so the creator's receipt can be checked even after a restart.
                  execute: async (execution, options) => {
                    const output = await workload.execute(execution, options)
                    const { taskId } = execution.task
                    const cid = blobCid(concat([...output.chunks])).toString()
                    // Held before the scheduler stores it: until the creator pays, or gives up for long enough.
                    await holds.hold(cid, taskHolder(taskId), systemClock.now() + outputRetentionMs, options)
                    await receipts.committed(taskId, {
                      jobId: execution.order.jobId,
                      creator: execution.order.creator,
                      root: merkleRoot(output.chunks),
                      minAmount: expectedCost(execution.minPrice, execution.order.benchHoursPerTask),
                      output: cid,
                    })
                    return output
                  },
                }),
              },
            }
          : {}),
      },
    )
    market.scheduler = scheduler
    const peer = new Peer({
      node,
      scheduler,
      datastore,
      metrics,
      engine,
      ownsEngine: init.engine === undefined,
      verification,
      settlement,
      receipts,
      epochs,
      epochCounter,
      slashes,
      libp2pStore,
      holds,
      config,
      logger: init.logger,
    })
    return { peer, score, payee }
  }

  /**
   * Picks up what a restart interrupted on the creator side: unsettled jobs are settled with the co-signed receipts
   * on disk, and receipts still waiting for a countersignature are offered to their workers again. In the
   * background, since it may open the chain; the settlements exist before any receipt is re-offered, so a
   * countersignature that comes back finds its job.
   */
  async #resume(): Promise<void> {
    const { cosigned, pending } = await this.receipts.stored()
    const outstanding = new Map<string, number>()
    for (const r of [...cosigned, ...pending]) outstanding.set(r.jobId, (outstanding.get(r.jobId) ?? 0) + 1)
    // A job the restart cut short ends here: its accepted tasks are those it signed receipts for. A job record that
    // cannot be read counts them the same way, so its settlement still closes.
    const accepted = async (jobId: string) => {
      const results = await this.#stored(jobId).then(
        (job) => job?.results,
        (e: unknown) => void this.#log.error({ ...errorFields(e), ns: 'jobs', key: jobId }, 'record:skipped'),
      )
      return Array.isArray(results) ? results.length : (outstanding.get(jobId) ?? 0)
    }
    await this.settlement.resume(cosigned, accepted, RECEIPT_GRACE_MS)
    this.receipts.offer(pending)
  }

  /** Tracks per-job progress and posts stake bonds for workers as they are granted leases. */
  #watch(): void {
    const progress = (jobId: string) => {
      let p = this.#progress.get(jobId)
      if (p === undefined)
        this.#progress.set(jobId, (p = { reassigned: 0, leases: {}, reassignedFrom: {}, workers: {} }))
      return p
    }
    const worker = (jobId: string, peer: string) => (progress(jobId).workers[peer] ??= { accepted: 0, rejected: 0 })
    // The market's milestones, one JSON log line each (the rest is on DEBUG=tessera:*).
    for (const type of [
      'job:ordered',
      'auction:closed',
      'lease:granted',
      'lease:lost',
      'task:reassigned',
      'task:rejected',
      'job:completed',
      'job:expired',
      'award:received',
      'result:sent',
      'task:aborted',
    ] as const) {
      this.scheduler.on(type, (e) => {
        const { type: _type, at: _at, ...fields } = e as unknown as Record<string, unknown>
        this.#log.info(
          Object.fromEntries(
            Object.entries(fields)
              .filter(([, v]) => typeof v !== 'object' || v === null)
              .map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
          ),
          type,
        )
      })
    }
    // An operator's first question about an order nobody took: why. The breakdown is computed now, once.
    this.scheduler.on('order:unmatched', (e) =>
      this.#log.info({ jobId: e.jobId, ...this.#diagnostic(e.jobId) }, 'order:unmatched'),
    )
    this.scheduler.on('task:reassigned', (e) => {
      const p = progress(e.jobId)
      p.reassigned++
      p.reassignedFrom[e.from] = (p.reassignedFrom[e.from] ?? 0) + 1
      this.metrics.tasksReassigned.inc()
    })
    this.scheduler.on('task:verified', (e) => worker(e.jobId, e.worker).accepted++)
    this.scheduler.on('task:rejected', (e) => worker(e.jobId, e.worker).rejected++)
    this.scheduler.on('lease:granted', (e) => {
      const leases = progress(e.jobId).leases
      leases[e.worker] = (leases[e.worker] ?? 0) + e.taskIds.length
      const record = this.node.capacity.view.get(e.worker)?.capacity
      if (record?.payee === undefined) return
      this.settlement
        .bond(e.worker, record.payee, record.stake)
        .catch((err: unknown) => this.#log.warn({ ...errorFields(err), worker: e.worker }, 'bond:failed'))
    })
  }

  async #announce(score: number, payee: string, options: AbortOptions): Promise<void> {
    const adapter = this.engine.adapter
    await this.node.capacity.announce(
      {
        gpu: {
          vendor: adapter.vendor.slice(0, 64),
          architecture: adapter.architecture.slice(0, 64),
          description: adapter.description.slice(0, 256),
          backend: String(adapter.backend).slice(0, 64),
        },
        memoryMb: DEFAULT_MEMORY_MB,
        features: adapter.features.slice(0, 32).map((f) => f.slice(0, 64)),
        score,
        price: this.#config.worker.price,
        tiers: this.#config.worker.tiers,
        stake: this.#config.worker.stake,
        classes: ['render', 'inference'],
        slots: this.#config.worker.slots,
        busy: 0,
        payee,
      },
      options,
    )
  }

  /** Stops the market, lets the settlements under way finish, then closes libp2p and the stores. */
  async stop(): Promise<void> {
    this.scheduler.stop()
    this.verification.stop()
    this.receipts.stop()
    await this.#resuming
    await this.settlement.close()
    await this.holds.stop()
    if (this.#ownsEngine) this.engine.destroy()
    await this.node.stop()
    await this.#libp2pStore.close()
    await this.datastore.close()
    this.#log.info('peer:stopped')
  }

  /** The node's identity, addresses and view of the network. */
  async status(options: AbortOptions = {}): Promise<NodeStatus> {
    return {
      peerId: this.node.peerId.toString(),
      addrs: this.node.getMultiaddrs().map(String),
      peers: this.node.libp2p.getPeers().length,
      capacityRecords: this.node.capacity.view.size,
      worker: this.#config.worker.enabled,
      payee: await this.settlement.payee(options),
    }
  }

  /**
   * Stores `bytes` as a blob (a job's input) and resolves to its CID. It stays as long as a job that names it, and
   * at least a day ({@link UPLOAD_RETENTION_MS}) for the job to be ordered.
   */
  async putBlob(bytes: Uint8Array, options: AbortOptions = {}): Promise<string> {
    const cid = blobCid(bytes).toString()
    await this.holds.hold(cid, UPLOAD, systemClock.now() + UPLOAD_RETENTION_MS, options)
    await this.node.blobs.put(bytes, options)
    return cid
  }

  /**
   * Orders a job and funds its epoch vault; the job settles in the background once it completes. A job whose order
   * cannot be recorded or funded, or whose `options.signal` aborts before funding starts, is cancelled.
   */
  async submitJob(request: JobRequest, options: AbortOptions = {}): Promise<{ jobId: string }> {
    throwIfAborted(options.signal)
    const jobId = this.scheduler.submit(jobSpecOf(request))
    this.metrics.jobsSubmitted.inc()
    const order = this.scheduler.job(jobId)?.order
    if (order === undefined)
      throw new NodeError('NODE__JOB_NOT_FOUND', `job ${jobId} vanished as it was ordered`, { jobId })
    // Listen before anything else awaits: a small job can finish while its vault is still being funded. Nothing
    // awaits what follows, so a failure there (the datastore closing under a stop, say) is logged, never unhandled.
    this.scheduler
      .waitForJob(jobId)
      .then(
        (results) => this.#completed(jobId, request, order, results),
        (e: unknown) => this.#unfinished(jobId, request, order, e),
      )
      .catch((e: unknown) => this.#log.error({ ...errorFields(e), jobId }, 'job:close-failed'))
    const funding = this.#fund(jobId, request, order, options)
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
      this.scheduler.cancel(jobId)
      throw e
    } finally {
      this.#funding.delete(jobId)
    }
    return { jobId }
  }

  /** Records a job's order, fixes its epoch and funds its epoch vault with its budget. */
  async #fund(jobId: string, request: JobRequest, order: Order, options: AbortOptions): Promise<void> {
    // Its inputs stay while the job does: its workers and verifiers fetch them from here. A name that is no CID is
    // nothing this node could hold (the job fails when a worker cannot fetch it).
    for (const input of order.inputs) {
      if (isBlobCid(input)) await this.holds.hold(input, jobHolder(jobId), undefined, options)
    }
    await this.#jobRecords.put(jobId, { request: JSON.stringify(request), order })
    // The epoch is fixed before any await: receipts signed from now on name it.
    const epoch = this.#epochCounter.take()
    this.#epochs.set(jobId, epoch)
    const tasks = taskCountOf(order.split)
    await this.#epochCounter.save()
    await this.settlement.fundJob(
      jobId,
      epoch,
      expectedCost(order.maxPrice, order.benchHoursPerTask) * BigInt(tasks),
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
    this.metrics.jobsCompleted.inc()
    this.metrics.tasksCompleted.inc({ role: 'creator' }, results.length)
    // Its first record and its settlement are written by the funding: after it, or this record would be overwritten
    // and the close would find no settlement to close.
    await this.#funding.get(jobId)
    await this.#record(jobId, {
      request: JSON.stringify(request),
      order,
      results: [...results],
      end: { state: 'completed', tasks: results.length, accepted: results.length },
    })
    this.#finished.delete(jobId)
    this.#log.info({ jobId, tasks: results.length }, 'job:completed')
    await this.settlement.closeJob(jobId, results.length, RECEIPT_GRACE_MS)
    this.#epochs.delete(jobId)
    this.metrics.tokensPaid.inc(Number(await this.settlement.paidNet(jobId)))
  }

  /**
   * A job was cancelled or expired: its progress goes to its record, and its epoch settles over the tasks it accepted
   * (their receipts are signed), refunding the rest of the budget, as a restart would settle it.
   */
  async #unfinished(jobId: string, request: JobRequest, order: Order, e: unknown): Promise<void> {
    this.#log.warn({ ...errorFields(e), jobId }, 'job:failed')
    const view = this.scheduler.job(jobId)
    const accepted = view?.accepted ?? 0
    const end: JobEnd = { state: unfinishedState(e), tasks: view?.tasks ?? taskCountOf(order.split), accepted }
    await this.#funding.get(jobId)
    await this.#record(jobId, { request: JSON.stringify(request), order, end })
    await this.settlement.closeJob(jobId, accepted, RECEIPT_GRACE_MS)
    this.#epochs.delete(jobId)
    this.metrics.tokensPaid.inc(Number(await this.settlement.paidNet(jobId)))
  }

  /** Writes a job's record with its progress folded in, and lets go of the progress kept in memory. */
  async #record(jobId: string, job: StoredJob): Promise<void> {
    const progress = this.#progress.get(jobId)
    await this.#jobRecords.put(jobId, { ...job, ...(progress !== undefined ? { progress } : {}) })
    if (this.#progress.get(jobId) === progress) this.#progress.delete(jobId)
  }

  /** A job's progress and settlement; rejects with `NODE__JOB_NOT_FOUND` for a job this node did not order. */
  async jobStatus(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    const job = this.scheduler.job(jobId)
    // A job's progress is kept in memory while it runs, then in its record.
    let progress = this.#progress.get(jobId)
    let base: Pick<JobStatus, 'state' | 'tasks' | 'completed' | 'verified' | 'diagnostic'>
    // Ended and deleted, a job the market still remembers for a while is gone all the same.
    if (
      job !== undefined &&
      job.status !== 'open' &&
      !this.#finished.has(jobId) &&
      (await this.#stored(jobId)) === undefined
    ) {
      throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
    }
    if (job !== undefined) {
      base = liveStanding(job)
      if (base.state === 'bidding') base = { ...base, diagnostic: this.#diagnostic(jobId) }
      if (progress === undefined && base.state !== 'bidding' && base.state !== 'running') {
        progress = (await this.#stored(jobId))?.progress
      }
    } else {
      // The market forgets finished jobs after a while; the datastore keeps them.
      const stored = await this.#stored(jobId)
      const results = this.#finished.get(jobId)?.results ?? stored?.results
      if (results === undefined && stored === undefined) {
        throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
      }
      const end = stored?.end ?? (await this.#endOf(jobId, stored, results, options))
      base = { state: end.state, tasks: end.tasks, completed: end.accepted, verified: end.accepted }
      progress ??= stored?.progress
    }
    const settlement = await this.settlement.view(jobId, options)
    return {
      jobId,
      ...base,
      reassigned: progress?.reassigned ?? 0,
      leases: progress?.leases ?? {},
      reassignedFrom: progress?.reassignedFrom ?? {},
      workers: progress?.workers ?? {},
      // A worker's bond is slashed once, for the job whose fraud proof came first.
      slashed: this.settlement.slashes.filter((s) => s.jobId === jobId).map((s) => ({ ...s })),
      ...(settlement !== undefined ? { settlement } : {}),
    }
  }

  /** The jobs this node ordered, newest first, at most `limit` of them: from their summaries, live ones as they run. */
  async listJobs(limit: number, options: AbortOptions = {}): Promise<JobSummary[]> {
    throwIfAborted(options.signal)
    const summaries = [...(await this.#jobRecords.summaries())].sort(([, a], [, b]) => b.orderedAt - a.orderedAt)
    const listed: JobSummary[] = []
    for (const [jobId, summary] of summaries.slice(0, limit)) {
      const live = this.scheduler.job(jobId)
      const standing =
        live !== undefined
          ? liveStanding(live)
          : summary.end !== undefined
            ? { state: summary.end.state, tasks: summary.end.tasks, verified: summary.end.accepted }
            : await this.#endOf(jobId, undefined, this.#finished.get(jobId)?.results, options).then((end) => ({
                state: end.state,
                tasks: summary.tasks,
                verified: end.accepted,
              }))
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
  async cancelJob(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    throwIfAborted(options.signal)
    if (this.scheduler.job(jobId)?.status === 'open') {
      this.scheduler.cancel(jobId)
      this.#log.info({ jobId }, 'job:cancelled')
    }
    return this.jobStatus(jobId, options)
  }

  /**
   * Deletes a job that has ended and settled: its record, and its inputs and outputs unless another job or an upload
   * of the last day holds them. Receipts and settlement records stay (they are what was paid). Rejects with
   * `NODE__JOB_NOT_ENDED` while the job runs or settles, `NODE__JOB_NOT_FOUND` for a job this node did not order.
   */
  async deleteJob(jobId: string, options: AbortOptions = {}): Promise<{ jobId: string; blobsDeleted: number }> {
    throwIfAborted(options.signal)
    if (this.scheduler.job(jobId)?.status === 'open') {
      throw new NodeError('NODE__JOB_NOT_ENDED', `job ${jobId} is still running; cancel it first`, { jobId })
    }
    const finishing = this.#finished.has(jobId)
    if (!finishing && (await this.#stored(jobId)) === undefined) {
      throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
    }
    // Its epoch is let go once it has settled (or it never had one).
    if (finishing || this.#epochs.has(jobId) || !(await this.settlement.idle(jobId))) {
      throw new NodeError('NODE__JOB_NOT_ENDED', `job ${jobId} is still settling`, { jobId })
    }
    await this.#jobRecords.delete(jobId)
    this.#progress.delete(jobId)
    const blobsDeleted = await this.holds.releaseAll(jobHolder(jobId), options)
    this.#log.info({ jobId, blobsDeleted }, 'job:deleted')
    return { jobId, blobsDeleted }
  }

  /** Why a job still waits for bids, flattened for the API (see `JobStatus.diagnostic`). */
  #diagnostic(jobId: string): Record<string, number> | undefined {
    const d = this.scheduler.creator?.diagnose(jobId)
    if (d === undefined) return undefined
    return { seen: d.seen, eligible: d.eligible, bids: d.bids, needed: d.needed, ...d.excluded }
  }

  /** A completed job's files: frames as PNG (tone-mapped as `output` says) and OpenEXR, or an inference buffer. */
  async jobOutput(jobId: string, output: JobOutputOptions = {}, options: AbortOptions = {}): Promise<JobOutput> {
    const finished = this.#finished.get(jobId) ?? (await this.#stored(jobId))
    if (finished?.order === undefined || finished.results === undefined) {
      throw new NodeError(
        'NODE__JOB_NOT_COMPLETE',
        `job ${jobId} has not completed; see \`tessera job status ${jobId}\``,
        {
          jobId,
        },
      )
    }
    return assembleJobOutput(finished.order, finished.results, this.node.blobs, {
      ...output,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
  }

  /** A job's record, as this node wrote it. */
  async #stored(jobId: string): Promise<StoredJob | undefined> {
    return this.#jobRecords.get(jobId)
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
    return { state: 'failed', tasks, accepted: (await this.settlement.view(jobId, options))?.receipts ?? 0 }
  }

  /** This node's ledger wallet and balances. */
  async wallet(options: AbortOptions = {}): Promise<WalletInfo> {
    return this.settlement.wallet(options)
  }

  /** Airdrops `amount` payment token units to this node (local ledgers only); resolves to the new balances. */
  async airdrop(amount: bigint, options: AbortOptions = {}): Promise<WalletInfo> {
    return this.settlement.airdrop(amount, options)
  }

  /** The node's metrics in the Prometheus text exposition format. */
  async prometheusText(options: AbortOptions = {}): Promise<string> {
    throwIfAborted(options.signal)
    return this.metrics.text()
  }

  /** What this peer holds in memory per job, for tests that it is let go once a job has ended and settled. */
  get retained(): { progress: number; finished: number; epochs: number; settlements: number } {
    return {
      progress: this.#progress.size,
      finished: this.#finished.size,
      epochs: this.#epochs.size,
      settlements: this.settlement.active,
    }
  }
}
