import { join } from 'node:path'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import {
  createNode,
  cryptoRng,
  FsBlobstore,
  type Order,
  type Result,
  systemClock,
  type Identity,
  type TesseraNode,
} from '@tessera/core'
import { createEngine, type Engine } from '@tessera/gpu'
import { merkleRoot } from '@tessera/proof'
import { expectedCost, fixedPrice, demandPrice, type PricingStrategy, taskCountOf } from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver } from '@tessera/scheduler/driver'
import { LevelDatastore } from 'datastore-level'
import type { Logger } from 'pino'
import type {
  JobOutput,
  JobOutputOptions,
  JobRequest,
  JobStatus,
  NodeOperations,
  NodeStatus,
  WalletInfo,
} from '../api/contract.js'
import type { NodeConfig } from '../config.js'
import type { DataDir } from '../data-dir.js'
import { Datastore } from '../datastore.js'
import { NodeError } from '../errors.js'
import { NodeMetrics } from '../metrics.js'
import { capacityScore } from './capacity-score.js'
import { DEFAULT_MEMORY_MB, DEFAULT_SCORE, RECEIPT_GRACE_MS } from './constants.js'
import { GpuWorkload } from './gpu-workload.js'
import { InputCache } from './inputs.js'
import { keepCommittedOutput } from './committed-output.js'
import { EpochCounter } from './epoch-counter.js'
import { assembleJobOutput } from './job-output.js'
import { jobSpecOf } from './job-request.js'
import { ReceiptExchange } from './receipts.js'
import { Settlement } from './settlement.js'
import { type SlashRecord, Verification } from './verification.js'

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
  readonly node: TesseraNode
  readonly scheduler: SchedulerDriver
  readonly datastore: Datastore
  readonly metrics: NodeMetrics
  readonly engine: Engine
  readonly verification: Verification
  readonly settlement: Settlement
  readonly receipts: ReceiptExchange
  /** Per job: tasks re-awarded after a lost lease or a failed check, and each worker's accepted/rejected count. */
  readonly #progress = new Map<
    string,
    {
      reassigned: number
      leases: Record<string, number>
      reassignedFrom: Record<string, number>
      workers: Record<string, { accepted: number; rejected: number }>
    }
  >()
  readonly #epochs: Map<string, number>
  /** Hands out settlement epochs (one per job, more for late receipts), persisted so a restart never reuses one. */
  readonly #epochCounter: EpochCounter
  /** Fraud proofs upheld by this peer, newest last. */
  readonly slashes: readonly SlashRecord[]
  readonly #ownsEngine: boolean
  /** Accepted results of this peer's finished jobs. */
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
    this.#config = parts.config
    this.#log = parts.logger
  }

  /** Opens the stores, starts libp2p and the market. */
  static async start(init: PeerInit): Promise<Peer> {
    const { config, dir } = init
    const metrics = new NodeMetrics()
    const datastore = await Datastore.open(dir.datastore)
    const libp2pStore = new LevelDatastore(join(dir.datastore, 'libp2p'))
    await libp2pStore.open()
    const node = await createNode({
      identity: init.identity,
      listen: config.listen,
      bootstrap: config.bootstrap,
      localNetwork: config.localNetwork,
      blobstore: new FsBlobstore(join(dir.root, 'blobs')),
      datastore: libp2pStore,
      metrics: prometheusMetrics({ registry: metrics.registry, collectDefaultMetrics: true }),
    })
    const engine = init.engine ?? (await createEngine())
    const epochCounter = await EpochCounter.open(datastore)
    const settlement = new Settlement(dir.ledger, config, init.logger, datastore, epochCounter)
    const payee = await settlement.payee()
    const epochs = new Map<string, number>()
    const receipts = new ReceiptExchange({
      bus: node.bus,
      identity: init.identity,
      datastore,
      logger: init.logger,
      payee,
      payeeOf: (worker) => node.capacity.view.get(worker)?.capacity.payee,
      epochOf: (jobId) => epochs.get(jobId) ?? 0,
      onCosigned: (receipt) => {
        settlement
          .receipt(receipt)
          .catch((e: unknown) => init.logger.error({ err: String(e) }, 'settlement:receipt-failed'))
      },
    })
    const workload = new GpuWorkload(engine, new InputCache(node.blobs), config.worker.fault)
    const score =
      init.score ?? (config.worker.enabled ? await capacityScore(engine, datastore, init.logger) : DEFAULT_SCORE)
    const slashes: SlashRecord[] = []
    // The verifier needs the market's orders, and the market needs the verifier: bound once both exist.
    const market: { scheduler?: SchedulerDriver } = {}
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
        slashes.push(slash)
        settlement
          .slash(slash.worker, slash.jobId, slash.fraudProofHash)
          .catch((e: unknown) => init.logger.error({ err: String(e), worker: slash.worker }, 'stake:slash-failed'))
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
    const scheduler = createScheduler(
      { bus: node.bus, blobs: node.blobs },
      {
        verify: async (request, options) => {
          const outcome = await verification.verify(request)
          return outcome === 'fail' ? outcome : keepCommittedOutput(node.blobs, request, init.logger, options)
        },
        onAccept: (task) => {
          receipts
            .accepted(task)
            .catch((e: unknown) => init.logger.warn({ err: String(e), taskId: task.taskId }, 'receipt:failed'))
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
                    await receipts.committed(execution.task.taskId, {
                      jobId: execution.order.jobId,
                      creator: execution.order.creator,
                      root: merkleRoot(output.chunks),
                      minAmount: expectedCost(execution.minPrice, execution.order.benchHoursPerTask),
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
      config,
      logger: init.logger,
    })
    peer.#resuming = peer
      .#resume()
      .catch((e: unknown) => init.logger.error({ err: String(e) }, 'settlement:resume-failed'))
    peer.#watch()
    if (config.worker.enabled) await peer.#announce(score, payee)
    init.logger.info({ peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) }, 'peer:started')
    return peer
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
    // A job the restart cut short ends here: its accepted tasks are those it signed receipts for.
    const accepted = async (jobId: string) => {
      const results = (await this.datastore.get<{ results?: unknown[] }>('jobs', jobId))?.results
      return Array.isArray(results) ? results.length : (outstanding.get(jobId) ?? 0)
    }
    const resumed = await this.settlement.resume(cosigned, accepted, RECEIPT_GRACE_MS)
    for (const [jobId, epoch] of resumed) this.#epochs.set(jobId, epoch)
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
        .catch((err: unknown) => this.#log.warn({ err: String(err), worker: e.worker }, 'stake:bond-failed'))
    })
  }

  async #announce(score: number, payee: string): Promise<void> {
    const adapter = this.engine.adapter
    await this.node.capacity.announce({
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
    })
  }

  async stop(): Promise<void> {
    this.scheduler.stop()
    this.verification.stop()
    this.receipts.stop()
    await this.#resuming
    await this.settlement.close()
    if (this.#ownsEngine) this.engine.destroy()
    await this.node.stop()
    await this.#libp2pStore.close()
    await this.datastore.close()
    this.#log.info('peer:stopped')
  }

  async status(): Promise<NodeStatus> {
    return {
      peerId: this.node.peerId.toString(),
      addrs: this.node.getMultiaddrs().map(String),
      peers: this.node.libp2p.getPeers().length,
      capacityRecords: this.node.capacity.view.size,
      worker: this.#config.worker.enabled,
      payee: await this.settlement.payee(),
    }
  }

  async putBlob(bytes: Uint8Array): Promise<string> {
    const cid = await this.node.blobs.put(bytes)
    return cid.toString()
  }

  async submitJob(request: JobRequest): Promise<{ jobId: string }> {
    const jobId = this.scheduler.submit(jobSpecOf(request))
    this.metrics.jobsSubmitted.inc()
    const order = this.scheduler.job(jobId)?.order
    if (order === undefined)
      throw new NodeError('NODE__JOB_NOT_FOUND', `job ${jobId} vanished as it was ordered`, { jobId })
    // Listen before anything else awaits: a small job can finish while its vault is still being funded.
    this.scheduler.waitForJob(jobId).then(
      async (results) => {
        this.#finished.set(jobId, { order, results })
        this.metrics.jobsCompleted.inc()
        this.metrics.tasksCompleted.inc({ role: 'creator' }, results.length)
        await this.datastore.put('jobs', jobId, { request: JSON.stringify(request), order, results })
        this.#log.info({ jobId, tasks: results.length }, 'job:completed')
        await this.settlement.closeJob(jobId, results.length, RECEIPT_GRACE_MS)
        this.metrics.tokensPaid.inc(Number(this.settlement.paidNet(jobId)))
      },
      (e: unknown) => this.#log.warn({ jobId, err: String(e) }, 'job:unfinished'),
    )
    await this.datastore.put('jobs', jobId, { request: JSON.stringify(request), order })
    // The epoch is fixed before any await: receipts signed from now on name it.
    const epoch = this.#epochCounter.take()
    this.#epochs.set(jobId, epoch)
    const tasks = taskCountOf(order.split)
    await this.#epochCounter.save()
    try {
      await this.settlement.fundJob(
        jobId,
        epoch,
        expectedCost(order.maxPrice, order.benchHoursPerTask) * BigInt(tasks),
        tasks,
      )
    } catch (e) {
      this.scheduler.cancel(jobId)
      throw e
    }
    return { jobId }
  }

  async jobStatus(jobId: string): Promise<JobStatus> {
    const job = this.scheduler.job(jobId)
    let base: Pick<JobStatus, 'state' | 'tasks' | 'completed' | 'verified' | 'diagnostic'>
    if (job !== undefined) {
      const active = job.assigned + job.verifying + job.accepted > 0
      const state = job.status === 'open' ? (active ? 'running' : 'bidding') : job.status
      base = {
        state,
        tasks: job.tasks,
        completed: job.accepted + job.verifying,
        verified: job.accepted,
        ...(state === 'bidding' ? { diagnostic: this.#diagnostic(jobId) } : {}),
      }
    } else {
      // The market forgets finished jobs after a while; the datastore keeps them.
      const stored = this.#finished.get(jobId) ?? (await this.#storedJob(jobId))
      if (stored === undefined) throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
      const tasks = stored.results.length
      base = { state: 'completed', tasks, completed: tasks, verified: tasks }
    }
    const progress = this.#progress.get(jobId)
    const settlement = await this.settlement.view(jobId)
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

  /** Why a job still waits for bids, flattened for the API (see `JobStatus.diagnostic`). */
  #diagnostic(jobId: string): Record<string, number> | undefined {
    const d = this.scheduler.creator?.diagnose(jobId)
    if (d === undefined) return undefined
    return { seen: d.seen, eligible: d.eligible, bids: d.bids, needed: d.needed, ...d.excluded }
  }

  async jobOutput(jobId: string, options: JobOutputOptions = {}): Promise<JobOutput> {
    const finished = this.#finished.get(jobId) ?? (await this.#storedJob(jobId))
    if (finished === undefined) {
      throw new NodeError(
        'NODE__JOB_NOT_COMPLETE',
        `job ${jobId} has not completed; see \`tessera job status ${jobId}\``,
        {
          jobId,
        },
      )
    }
    return assembleJobOutput(finished.order, finished.results, this.node.blobs, options)
  }

  async #storedJob(jobId: string): Promise<{ order: Order; results: readonly Result[] } | undefined> {
    const stored = await this.datastore.get<{ order?: Order; results?: Result[] }>('jobs', jobId)
    if (stored?.order === undefined || stored.results === undefined) return undefined
    return { order: stored.order, results: stored.results }
  }

  async wallet(): Promise<WalletInfo> {
    return this.settlement.wallet()
  }

  async airdrop(amount: bigint): Promise<WalletInfo> {
    return this.settlement.airdrop(amount)
  }

  async prometheusText(): Promise<string> {
    return this.metrics.text()
  }
}
