import { join } from 'node:path'
import {
  type AbortOptions,
  blobCid,
  createNode,
  cryptoRng,
  FsBlobstore,
  isCoreError,
  raceSignal,
  systemClock,
  throwIfAborted,
  type Identity,
  type TesseraNode,
} from '@tessera/core'
import { createEngine, type Engine } from '@tessera/gpu'
import { AdaptiveSampler, defaultPlan, Reputation } from '@tessera/proof'
import {
  demandPrice,
  fixedPrice,
  maxTilePixelsOf,
  ORDER_REFUSAL_CODES,
  type PricingStrategy,
  type VerdictOutcome,
  type VerifyRequest,
} from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver } from '@tessera/scheduler/driver'
import { LevelDatastore } from 'datastore-level'
import type { Logger } from 'pino'
import type {
  JobOutput,
  JobOutputOptions,
  JobRequest,
  JobStatus,
  JobSummary,
  NodeOperations,
  NodeStatus,
  OutputFileReply,
  WalletInfo,
} from '../api/contract.js'
import { parseJobRequest } from '../api/job-request-schema.js'
import { parseConfig, type NodeConfig } from '../config.js'
import type { DataDir } from '../data-dir.js'
import { Datastore, openLevel } from '../datastore.js'
import { libp2pMetrics, NodeMetrics } from '../metrics.js'
import { audienceBus } from './audience-bus.js'
import { BlobAudience } from './blob-audience.js'
import { BlobHolds, jobHolder, taskHolder, UPLOAD, UPLOAD_RETENTION_MS } from './blob-holds.js'
import { capacityScore } from './capacity-score.js'
import { CreatorJobs } from './creator-jobs.js'
import { DEFAULT_MEMORY_MB, DEFAULT_SCORE, KEEP_OUTPUT_FETCHES_PER_WORKER, RECEIPT_GRACE_MS } from './constants.js'
import { errorFields } from './error-fields.js'
import { NodeError } from '../errors.js'
import { ReputationStore } from './reputation-store.js'
import { restoreCommitment } from './restored-commitment.js'
import { SlashLog } from './slash-log.js'
import { GpuWorkload, INPUT_REFUSAL_CODES } from './gpu-workload.js'
import { creatorSource, inputKeeper, InputRelays, relayingSource } from './input-relays.js'
import { InputCache, INPUTS_READ } from './inputs.js'
import { keepCommittedOutput, limitFetchesPerPeer } from './committed-output.js'
import { EpochCounter } from './epoch-counter.js'
import { acceptedResultWrite, JobRecords } from './job-records.js'
import { listenFailure } from './listen-failure.js'
import { ReceiptExchange } from './receipts.js'
import { Settlement } from './settlement.js'
import { type SlashRecord, Verification } from './verification.js'
import { workerExecutor } from './worker-executor.js'

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

/**
 * `init` with its config validated as a config file is (and its defaults filled in), its logger checked: an embedder
 * may build both by hand, and a wrong one would otherwise fail later, uncoded, or never (a fee over 100 %).
 */
function checkedInit(init: PeerInit): PeerInit {
  if (typeof init.logger?.info !== 'function' || typeof init.logger.error !== 'function') {
    throw new NodeError('NODE__INVALID_CONFIG', 'Peer.start needs a pino logger (init.logger)', { field: 'logger' })
  }
  return { ...init, config: parseConfig(init.config, 'Peer.start init.config') }
}

function pricingOf(config: NodeConfig): PricingStrategy {
  return config.worker.pricing === 'demand'
    ? demandPrice({ base: config.worker.price })
    : fixedPrice(config.worker.price)
}

/** Resolves when the first receipt for one of this node's tasks arrives (the `crash-mid-job` fault waits for it). */
function firstReceipt(node: TesseraNode): Promise<void> {
  return new Promise((resolve) => {
    const self = node.peerId.toString()
    const stop = node.bus.onMessage(({ message }) => {
      if (message.type !== 'receipt' || message.body.worker !== self) return
      stop()
      resolve()
    })
  })
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
  /** The creator's jobs: ordered, tracked, settled, listed, cancelled and deleted. */
  readonly jobs: CreatorJobs
  /** Fraud proofs upheld by this peer, newest last: the latest, bounded by count and bytes (see {@link SlashLog}). */
  readonly slashes: readonly SlashRecord[]
  readonly #ownsEngine: boolean
  /** The restart's unfinished business (see `#resume`), awaited before the datastore closes. */
  #resuming: Promise<void> = Promise.resolve()
  readonly #libp2pStore: LevelDatastore
  readonly #reputationStore: ReputationStore
  readonly #workload: GpuWorkload
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
    workload: GpuWorkload
    epochCounter: EpochCounter
    slashes: readonly SlashRecord[]
    libp2pStore: LevelDatastore
    holds: BlobHolds
    audience: BlobAudience
    reputationStore: ReputationStore
    config: NodeConfig
    logger: Logger
  }) {
    this.slashes = parts.slashes
    this.settlement = parts.settlement
    this.receipts = parts.receipts
    this.engine = parts.engine
    this.#ownsEngine = parts.ownsEngine
    this.verification = parts.verification
    this.node = parts.node
    this.scheduler = parts.scheduler
    this.datastore = parts.datastore
    this.metrics = parts.metrics
    this.#libp2pStore = parts.libp2pStore
    this.holds = parts.holds
    this.#reputationStore = parts.reputationStore
    this.#workload = parts.workload
    this.jobs = new CreatorJobs({
      scheduler: parts.scheduler,
      settlement: parts.settlement,
      records: new JobRecords(parts.datastore, parts.logger),
      holds: parts.holds,
      audience: parts.audience,
      clock: systemClock,
      blobs: parts.node.blobs,
      epochCounter: parts.epochCounter,
      epochs: parts.epochs,
      // Its inputs read from this peer's store, as its own order's are (no job id yet: none names a relay copy).
      checkInputs: (order, options) =>
        parts.workload.checkInputs({ ...order, jobId: '', creator: parts.node.peerId.toString() }, options),
      metrics: parts.metrics,
      logger: parts.logger,
    })
    this.#config = parts.config
    this.#log = parts.logger
  }

  /**
   * Opens the stores, starts libp2p and the market. `init.config` is checked as a config file is (`NODE__INVALID_CONFIG`,
   * naming the first bad field) and its defaults filled in. When the start fails, or `options.signal` aborts it,
   * whatever was opened is closed again (the data directory's locks with it) and the call rejects.
   */
  static async start(given: PeerInit, options: AbortOptions = {}): Promise<Peer> {
    const { signal } = options
    throwIfAborted(signal)
    const init = checkedInit(given)
    const { config } = init
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
      peer.receipts.sweepLeases()
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
    const datastore = await Datastore.open(dir.datastore, options)
    opened.push(() => datastore.close())
    throwIfAborted(signal)
    const libp2pDir = join(dir.datastore, 'libp2p')
    const libp2pStore = new LevelDatastore(libp2pDir)
    // Opened as its open() does (without compression), which drops why LevelDB refused: coded as the datastore's.
    await openLevel(libp2pStore.db, libp2pDir, { compression: false })
    opened.push(() => libp2pStore.close())
    const blobstore = new FsBlobstore(join(dir.root, 'blobs'))
    const holds = new BlobHolds({
      datastore,
      store: blobstore,
      clock: systemClock,
      logger: init.logger,
      onDeleted: (_cid, reason) => metrics.blobsDeleted.inc({ reason }),
    })
    opened.push(() => holds.stop())
    // Loaded before libp2p serves a blob: a job's blobs go only to the peers handed work on it.
    const audience = new BlobAudience({
      datastore,
      holders: (cid) => holds.holdersNow(cid),
      clock: systemClock,
      logger: init.logger,
    })
    await audience.load(options)
    const node = await createNode(
      {
        identity: init.identity,
        listen: config.listen,
        bootstrap: config.bootstrap,
        ...(config.localNetwork === undefined ? {} : { localNetwork: config.localNetwork }),
        blobstore,
        blobAccess: audience.hook,
        datastore: libp2pStore,
        metrics: libp2pMetrics(metrics.registry),
      },
      options,
    ).catch((e: unknown) => {
      throw listenFailure(e, config.listen) ?? e
    })
    opened.push(() => node.stop())
    // Every message that hands a peer work on a job lets it fetch the job's blobs first.
    const outputRetentionMs = config.worker.outputRetentionHours * 3_600_000
    const bus = audienceBus(node.bus, {
      audience,
      clock: systemClock,
      outputRetentionMs,
      relayInputs: inputKeeper({ holds, blobs: node.blobs }),
    })
    const relays = new InputRelays()
    throwIfAborted(signal)
    const engine = init.engine ?? (await createEngine())
    if (init.engine === undefined) opened.push(async () => engine.destroy())
    throwIfAborted(signal)
    // What this peer knows of others' results, as the last run left it.
    const reputationStore = new ReputationStore({ datastore, clock: systemClock, logger: init.logger })
    const reputation = new Reputation({ onUpdate: (peer, evidence) => reputationStore.record(peer, evidence) })
    await reputationStore.load(reputation, options)
    // Its floor the default plan's p, as the verifier's own would be: the peer gives the verifier no plan.
    const sampler = new AdaptiveSampler({
      pMin: defaultPlan().p,
      onUpdate: (worker, streak) => reputationStore.recordStreak(worker, streak),
    })
    await reputationStore.loadStreaks(sampler, options)
    opened.push(() => reputationStore.close())
    const epochCounter = await EpochCounter.open(datastore)
    const settlement = new Settlement(dir.ledger, config, init.logger, datastore, epochCounter)
    const payee = await settlement.payee(options)
    const score =
      init.score ?? (config.worker.enabled ? await capacityScore(engine, datastore, init.logger) : DEFAULT_SCORE)
    throwIfAborted(signal)
    // Nothing below awaits until the peer exists: from there, its stop() closes everything.
    const epochs = new Map<string, number>()
    const slashes = new SlashLog()
    // The verifier needs the market's orders, and the market needs the verifier: bound once both exist.
    const market: { scheduler?: SchedulerDriver } = {}
    const workload = new GpuWorkload(
      engine,
      new InputCache(
        relayingSource(
          creatorSource(node.blobs, {
            self: node.peerId.toString(),
            holders: (cid) => holds.holdersNow(cid),
            admits: (holder, peer) => audience.admits(holder, peer),
          }),
          relays,
        ),
        engine,
      ),
      config.worker.fault,
      config.worker.fault === 'crash-mid-job' ? firstReceipt(node) : undefined,
    )
    // Registered on the bus before the scheduler, so a Result's signed envelope is kept before it is verified.
    const verification = new Verification({
      bus,
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
        slashes.add(slash)
        metrics.verdicts.inc({ outcome: 'slash' })
        init.logger.warn({ worker: slash.worker, taskId: slash.taskId }, 'proof:upheld')
        // The job's creator holds the worker's bond: a delegate's upheld accusation is forfeited there, on the record
        // the creator's verifier makes watching it, and would only wait here for a bond that never comes.
        if (slash.creator !== node.peerId.toString()) return
        // Journaled before the chain is asked: one a stop cuts short, or that fails, is carried out at the next start.
        settlement.slash(slash.worker, slash.jobId, slash.fraudProofHash).catch((e: unknown) => {
          const fields = { ...errorFields(e), worker: slash.worker, jobId: slash.jobId }
          if (isCoreError(e, 'CORE__ABORTED')) init.logger.info(fields, 'slash:stopped')
          else init.logger.error(fields, 'slash:failed')
        })
      },
      onPayment: (payment) => {
        metrics.servedChecks.inc({ role: payment.role })
        init.logger.info(payment, 'verification:served')
      },
      onRelay: (order, relay) => relays.add(order.inputs.slice(0, INPUTS_READ), relay),
      onEvent: (event) => {
        if (event.name === 'task:accepted') metrics.verdicts.inc({ outcome: 'pass' })
        if (event.name === 'task:rejected') metrics.verdicts.inc({ outcome: event.outcome })
      },
      // A worker cleared after its result failed: the result is accepted after all, its output kept as a pass's is.
      onOverturn: (request, options) => {
        const { taskId, worker } = request
        keepOutput(request, options)
          .then((outcome) => {
            if (outcome === 'pass') market.scheduler?.overturn(taskId, worker)
          })
          .catch((e: unknown) =>
            init.logger.warn({ ...errorFields(e), taskId, worker }, 'verification:overturn-failed'),
          )
      },
      reputation,
      sampler,
      // Called for challenges only, once the receipt exchange below exists.
      restoreCommitment: restoreCommitment({
        committed: (taskId, options) => receipts.committedRecord(taskId, options),
        store: node.blobs.store,
        clock: systemClock,
      }),
    })
    const receipts = new ReceiptExchange({
      bus: node.bus,
      identity: init.identity,
      datastore,
      logger: init.logger,
      payee,
      outputRetentionMs,
      payeeOf: (worker) => node.capacity.view.get(worker)?.capacity.payee,
      // A job that has ended is no longer in `epochs`; its settlement record names its epoch. One with neither is no
      // job of ours to sign for (an epoch of 0 would name an epoch no settlement of the job ever closes).
      epochOf: async (jobId) => {
        const epoch = epochs.get(jobId) ?? (await settlement.epochOf(jobId))
        if (epoch === undefined) throw new NodeError('NODE__JOB_NOT_FOUND', `no epoch for job ${jobId}`, { jobId })
        return epoch
      },
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
      verification.stop()
      await receipts.stop()
    })
    // A few of one worker's outputs kept at a time: more would be answered `busy` by the worker, the task failed.
    const outputFetches = limitFetchesPerPeer(node.blobs, KEEP_OUTPUT_FETCHES_PER_WORKER)
    /** The last step of accepting a result: its output fetched from its worker and kept with its job for good. */
    const keepOutput = (request: VerifyRequest, options: AbortOptions): Promise<VerdictOutcome> => {
      const pin = () => holds.hold(request.result.output, jobHolder(request.jobId), undefined, options)
      return keepCommittedOutput(outputFetches, request, init.logger, { ...options, pin })
    }
    const scheduler = createScheduler(
      { bus, blobs: node.blobs },
      {
        // The job does not end (nor can it be deleted) before this resolves: the scheduler waits for its verdict. A
        // stop rejects it (an abort), once the scheduler, stopped, takes no verdict.
        verify: async (request, options) => {
          const outcome = await verification.verify(request)
          // An accepted output stays with its job until the job is deleted.
          return outcome === 'fail' ? outcome : keepOutput(request, options)
        },
        onAccept: (task) => {
          // Its result is kept with the journal entry: a job a stop or crash ends still gives what it paid for.
          receipts
            .accepted(task, [acceptedResultWrite(task.jobId, task.taskId, task.result)])
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
                workTolerance: config.worker.workTolerance,
                maxTilePixels: maxTilePixelsOf(engine.adapter.limits, node.blobs.maxBlobBytes),
                orderRefusalCodes: new Set([...ORDER_REFUSAL_CODES, ...INPUT_REFUSAL_CODES]),
                payee,
                executor: workerExecutor({ workload, verification, receipts, holds, outputRetentionMs }),
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
      workload,
      epochCounter,
      slashes: slashes.records,
      libp2pStore,
      holds,
      audience,
      reputationStore,
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
    const { cosigned, pending } = await this.receipts.stored().catch((e: unknown) => {
      // Nothing is resumed in this run: receipts coming back must not wait in memory for a funding that never begins.
      this.settlement.resumeAbandoned()
      throw e
    })
    const outstanding = new Map<string, number>()
    for (const r of [...cosigned, ...pending]) outstanding.set(r.jobId, (outstanding.get(r.jobId) ?? 0) + 1)
    // A job the restart cut short ends here: its accepted tasks are those it signed receipts for. A job record that
    // cannot be read counts them the same way, so its settlement still closes.
    const accepted = async (jobId: string) => {
      const results = await this.jobs.stored(jobId).then(
        (job) => job?.results,
        (e: unknown) => void this.#log.error({ ...errorFields(e), ns: 'jobs', key: jobId }, 'record:skipped'),
      )
      return Array.isArray(results) ? results.length : (outstanding.get(jobId) ?? 0)
    }
    await this.settlement.resume(cosigned, accepted, RECEIPT_GRACE_MS)
    this.receipts.offer(pending)
  }

  /** Logs the market's milestones and posts stake bonds for workers as they are granted leases. */
  #watch(): void {
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
      this.#log.info({ jobId: e.jobId, ...this.jobs.diagnostic(e.jobId) }, 'order:unmatched'),
    )
    this.scheduler.on('lease:granted', (e) => {
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

  /**
   * Stops the market, lets the settlements under way finish, then closes libp2p and the stores. Every step runs
   * whatever the steps before it did: one that fails (the ledger's state unwritable, say) must not leave libp2p
   * listening and the data directory locked, so the process could neither exit nor start again. Each failure is
   * logged (`peer:stop-failed`, with its step); the call rejects with the first once all are done.
   */
  async stop(): Promise<void> {
    const failures: unknown[] = []
    const step = async (name: string, run: () => unknown): Promise<void> => {
      try {
        await run()
      } catch (e) {
        failures.push(e)
        this.#log.error({ ...errorFields(e), step: name }, 'peer:stop-failed')
      }
    }
    await step('scheduler', () => this.scheduler.stop())
    await step('jobs', () => this.jobs.stop())
    await step('verification', () => this.verification.stop())
    await step('workload', () => this.#workload.close())
    await step('receipts', () => this.receipts.stop())
    await step('reputation', () => this.#reputationStore.close())
    await step('resume', () => this.#resuming)
    await step('settlement', () => this.settlement.close())
    await step('holds', () => this.holds.stop())
    if (this.#ownsEngine) await step('engine', () => this.engine.destroy())
    await step('libp2p', () => this.node.stop())
    await step('libp2p-store', () => this.#libp2pStore.close())
    await step('datastore', () => this.datastore.close())
    this.#log.info({ failed: failures.length }, 'peer:stopped')
    if (failures.length > 0) throw failures[0]
  }

  /** The node's identity, addresses and view of the network. */
  async status(options: AbortOptions = {}): Promise<NodeStatus> {
    const load = this.scheduler.worker?.load
    const earned = load === undefined ? undefined : await this.receipts.earnings(options)
    return {
      peerId: this.node.peerId.toString(),
      addrs: this.node.getMultiaddrs().map(String),
      peers: this.node.libp2p.getPeers().length,
      capacityRecords: this.node.capacity.view.size,
      worker: this.#config.worker.enabled,
      payee: await this.settlement.payee(options),
      ...(load !== undefined && earned !== undefined
        ? { work: { ...load, receipted: earned.tasks, earned: earned.amount.toString() } }
        : {}),
    }
  }

  /**
   * Stores `bytes` as a blob (a job's input) and resolves to its CID. It stays as long as a job that names it, and
   * at least a day ({@link UPLOAD_RETENTION_MS}) for the job to be ordered.
   */
  async putBlob(bytes: Uint8Array, options: AbortOptions = {}): Promise<string> {
    const cid = blobCid(bytes).toString()
    await this.holds.hold(cid, UPLOAD, systemClock.now() + UPLOAD_RETENTION_MS, options)
    await this.node.blobs.put(bytes, { ...options, verifiedCid: cid })
    return cid
  }

  /**
   * Orders a job and funds its epoch vault; the job settles in the background once it completes. A job whose order
   * cannot be recorded or funded, or whose `options.signal` aborts before funding starts, is cancelled. A request the
   * control API would refuse is refused alike, with `NODE__API_MALFORMED_REQUEST`.
   */
  async submitJob(request: JobRequest, options: AbortOptions = {}): Promise<{ jobId: string }> {
    // Checked as the control API checks it: an embedder calls this directly, and what the API refuses must not be
    // ordered (and funded) this way.
    const checked = parseJobRequest(request)
    // The restart's settlements are resumed first: a job ordered meanwhile would look like one of them.
    await raceSignal(this.#resuming, options.signal)
    return this.jobs.submit(checked, options)
  }

  /** A job's progress and settlement; rejects with `NODE__JOB_NOT_FOUND` for a job this node did not order. */
  jobStatus(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    return this.jobs.status(jobId, options)
  }

  /** The jobs this node ordered, newest first, at most `limit` of them. */
  listJobs(limit: number, options: AbortOptions = {}): Promise<JobSummary[]> {
    return this.jobs.list(limit, options)
  }

  /** Cancels a job this node ordered, if it is still open, and resolves to its status. */
  cancelJob(jobId: string, options: AbortOptions = {}): Promise<JobStatus> {
    return this.jobs.cancel(jobId, options)
  }

  /** Deletes a job that has ended and settled, with the blobs only it held and the peers it let fetch them. */
  deleteJob(jobId: string, options: AbortOptions = {}): Promise<{ jobId: string; blobsDeleted: number }> {
    return this.jobs.delete(jobId, options)
  }

  /** A completed job's files: frames as PNG (tone-mapped as `output` says) and OpenEXR, or an inference buffer. */
  jobOutput(jobId: string, output: JobOutputOptions = {}, options: AbortOptions = {}): Promise<JobOutput> {
    return this.jobs.output(jobId, output, options)
  }

  /** One file of a completed job's output, as bytes (for a file too large for one JSON reply). */
  jobOutputFile(
    jobId: string,
    name: string,
    output: JobOutputOptions = {},
    options: AbortOptions = {},
  ): Promise<OutputFileReply> {
    return this.jobs.outputFile(jobId, name, output, options)
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
    return { ...this.jobs.retained, settlements: this.settlement.active }
  }
}
