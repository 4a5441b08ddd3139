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
import { fixedPrice, demandPrice, type PricingStrategy } from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver } from '@tessera/scheduler/driver'
import { LevelDatastore } from 'datastore-level'
import type { Logger } from 'pino'
import type { JobOutput, JobRequest, JobStatus, NodeOperations, NodeStatus, WalletInfo } from '../api/contract.js'
import type { NodeConfig } from '../config.js'
import type { DataDir } from '../data-dir.js'
import { Datastore } from '../datastore.js'
import { NodeError } from '../errors.js'
import { NodeMetrics } from '../metrics.js'
import { DEFAULT_MEMORY_MB, DEFAULT_SCORE } from './constants.js'
import { GpuWorkload } from './gpu-workload.js'
import { InputCache } from './inputs.js'
import { assembleJobOutput } from './job-output.js'
import { jobSpecOf } from './job-request.js'
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
  return config.worker.pricing === 'demand' ? demandPrice({ base: config.worker.price }) : fixedPrice(config.worker.price)
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
  /** Fraud proofs upheld by this peer, newest last. */
  readonly slashes: readonly SlashRecord[]
  readonly #ownsEngine: boolean
  /** Accepted results of this peer's finished jobs. */
  readonly #finished = new Map<string, { order: Order; results: readonly Result[] }>()
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
    slashes: readonly SlashRecord[]
    libp2pStore: LevelDatastore
    config: NodeConfig
    logger: Logger
  }) {
    this.slashes = parts.slashes
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
    const workload = new GpuWorkload(engine, new InputCache(node.blobs), config.worker.fault)
    const score = init.score ?? DEFAULT_SCORE
    const slashes: SlashRecord[] = []
    let scheduler: SchedulerDriver | undefined
    // Registered on the bus before the scheduler, so a Result's signed envelope is kept before it is verified.
    const verification = new Verification({
      bus: node.bus,
      clock: systemClock,
      rng: cryptoRng(),
      logger: init.logger,
      orderOf: (jobId) => scheduler?.job(jobId)?.order,
      recompute: (order, taskId, indices, options) => workload.recompute(order, taskId, indices, options),
      onSlash: (slash) => {
        slashes.push(slash)
        metrics.verdicts.inc({ outcome: 'slash' })
        init.logger.warn({ worker: slash.worker, taskId: slash.taskId }, 'proof:upheld')
      },
      onEvent: (event) => {
        if (event.name === 'task:accepted') metrics.verdicts.inc({ outcome: 'pass' })
        if (event.name === 'task:rejected') metrics.verdicts.inc({ outcome: event.outcome })
      },
    })
    scheduler = createScheduler(
      { bus: node.bus, blobs: node.blobs },
      {
        verify: verification.verify,
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
                executor: verification.wrapExecutor(workload),
              },
            }
          : {}),
      },
    )
    const peer = new Peer({
      node,
      scheduler,
      datastore,
      metrics,
      engine,
      ownsEngine: init.engine === undefined,
      verification,
      slashes,
      libp2pStore,
      config,
      logger: init.logger,
    })
    if (config.worker.enabled) await peer.#announce(score)
    init.logger.info({ peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) }, 'peer:started')
    return peer
  }

  async #announce(score: number): Promise<void> {
    await this.node.capacity.announce({
      gpu: { vendor: 'cpu', architecture: 'workload', description: 'deterministic CPU workload', backend: 'cpu' },
      memoryMb: DEFAULT_MEMORY_MB,
      features: [],
      score,
      price: this.#config.worker.price,
      tiers: this.#config.worker.tiers,
      stake: this.#config.worker.stake,
      classes: ['render', 'inference'],
      slots: this.#config.worker.slots,
      busy: 0,
    })
  }

  async stop(): Promise<void> {
    this.scheduler.stop()
    this.verification.stop()
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
    await this.datastore.put('jobs', jobId, { request: JSON.stringify(request), order })
    this.scheduler.waitForJob(jobId).then(
      async (results) => {
        if (order === undefined) return
        this.#finished.set(jobId, { order, results })
        this.metrics.jobsCompleted.inc()
        this.metrics.tasksCompleted.inc({ role: 'creator' }, results.length)
        await this.datastore.put('jobs', jobId, { request: JSON.stringify(request), order, results })
        this.#log.info({ jobId, tasks: results.length }, 'job:completed')
      },
      (e: unknown) => this.#log.warn({ jobId, err: String(e) }, 'job:unfinished'),
    )
    return { jobId }
  }

  async jobStatus(jobId: string): Promise<JobStatus> {
    const job = this.scheduler.job(jobId)
    if (job === undefined) {
      const stored = await this.#storedJob(jobId)
      if (stored === undefined) throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${jobId} on this node`, { jobId })
      const tasks = stored.results.length
      return { jobId, state: 'completed', tasks, completed: tasks, verified: tasks, reassigned: 0 }
    }
    const state = job.status === 'open' ? (job.assigned + job.verifying + job.accepted > 0 ? 'running' : 'bidding') : job.status
    return {
      jobId,
      state,
      tasks: job.tasks,
      completed: job.accepted + job.verifying,
      verified: job.accepted,
      reassigned: job.reopens,
    }
  }

  async jobOutput(jobId: string): Promise<JobOutput> {
    const finished = this.#finished.get(jobId) ?? (await this.#storedJob(jobId))
    if (finished === undefined) {
      throw new NodeError('NODE__JOB_NOT_COMPLETE', `job ${jobId} has not completed; see \`tessera job status ${jobId}\``, {
        jobId,
      })
    }
    return assembleJobOutput(finished.order, finished.results, this.node.blobs)
  }

  async #storedJob(jobId: string): Promise<{ order: Order; results: readonly Result[] } | undefined> {
    const stored = await this.datastore.get<{ order?: Order; results?: Result[] }>('jobs', jobId)
    if (stored?.order === undefined || stored.results === undefined) return undefined
    return { order: stored.order, results: stored.results }
  }

  async wallet(): Promise<WalletInfo> {
    throw new NodeError('NODE__INVALID_CONFIG', 'no ledger configured', {})
  }

  async airdrop(): Promise<WalletInfo> {
    return this.wallet()
  }

  async prometheusText(): Promise<string> {
    return this.metrics.text()
  }
}
