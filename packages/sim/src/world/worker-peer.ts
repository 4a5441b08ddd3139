import { TOPICS, type Capacity, type Inbound, type Order } from '@tessera/core'
import { compareChunks, ProverMachine, type ProverInput, type ProverOutput } from '@tessera/proof'
import {
  fixedPrice,
  demandPrice,
  WorkerMachine,
  type PricingStrategy,
  type TaskDescriptor,
  type WorkerInput,
  type WorkerOutput,
} from '@tessera/scheduler'
import { taskRunMs, type WorkerProfile } from '../models/gpu.js'
import { ChunkKind, taskSeed } from '../models/output.js'
import { messageBytes } from '../net/message-size.js'
import type { SimEndpoint } from '../net/sim-network.js'
import { planTask, type Behaviour, type TaskPlan } from './behaviour.js'
import type { WorldContext } from './context.js'
import type { Earner } from './economy.js'
import { MachineHost } from './machine-host.js'
import { VerifierRole } from './verifier-role.js'

/** The tolerance class simulated outputs are compared under (`@tessera/proof`'s PSNR over RGBA8 pixels). */
export const SIM_TOLERANCE = 'psnr:rgba8'
const GPU = Object.freeze({ vendor: 'sim', architecture: 'modelled', description: 'simulated GPU', backend: 'sim' })
const CLASSES = Object.freeze(['render/wgsl', 'inference/fp32'])
const TIERS = Object.freeze([2, 3] as const)
// One copy of each list for every capacity record (about 3.6 million in the bench): the market only reads them.
const RECORD_CLASSES = CLASSES as unknown as string[]
const RECORD_TIERS = TIERS as unknown as (2 | 3)[]
const NONE = Object.freeze([]) as unknown as never[]
/** Jobs whose inputs a worker keeps fetched (later tasks of the same job skip the download). */
const FETCHED_JOBS = 4

/** Options of a {@link WorkerPeer}. */
export interface WorkerPeerInit {
  id: string
  profile: WorkerProfile
  behaviour: Behaviour
  earner: Earner
  slots: number
  /** Third peers a colluder's verifier may delegate to. */
  verifiers: readonly string[]
}

interface RunningTask {
  peer: WorkerPeer
  order: Order
  taskId: string
  /** How the worker renders it, decided when it starts: a lazy render takes less time. */
  plan: TaskPlan
  computeMs: number
}

/**
 * A simulated worker: `@tessera/scheduler`'s WorkerMachine (bids, leases, heartbeats) and `@tessera/proof`'s
 * ProverMachine (commitments, reveals), driven as the node drives them. The simulator models what the node's
 * engine does: fetching inputs, running tasks on a GPU of the drawn score, and producing outputs as its behaviour
 * dictates. Colluders also host a verifier.
 */
export class WorkerPeer implements SimEndpoint {
  readonly id: string
  readonly region: number
  readonly bandwidthMbps: number
  alive = true
  readonly profile: WorkerProfile
  readonly behaviour: Behaviour
  readonly earner: Earner
  readonly scheduler: MachineHost<WorkerInput, WorkerOutput>
  readonly prover: MachineHost<ProverInput, ProverOutput>
  readonly verifierRole: VerifierRole | undefined
  readonly #ctx: WorldContext
  readonly #running = new Map<string, RunningTask>()
  readonly #fetched: string[] = []
  /** Jobs this worker holds tasks of, with how many are not yet settled, stopped or given back. */
  readonly #leased = new Map<string, number>()
  #committed: { root: Uint8Array; chunks: number } | undefined
  readonly #price: bigint

  constructor(ctx: WorldContext, init: WorkerPeerInit) {
    this.#ctx = ctx
    this.id = init.id
    this.profile = init.profile
    this.region = init.profile.region
    this.bandwidthMbps = init.profile.bandwidthMbps
    this.behaviour = init.behaviour
    this.earner = init.earner
    const { scenario } = ctx
    const base = BigInt(init.profile.price)
    this.#price = base
    const demand = scenario.workers.pricing === 'demand' && !init.behaviour.spamming
    const pricing: PricingStrategy = demand ? demandPrice({ base }) : fixedPrice(base)
    const worker = new WorkerMachine({
      self: init.id,
      profile: {
        memoryMb: init.profile.memoryMb,
        features: [],
        score: init.profile.score,
        slots: init.slots,
        tiers: [...TIERS],
      },
      pricing,
      market: demand ? ctx.market : ctx.ordersOnlyMarket,
      reportSkips: false,
    })
    this.scheduler = new MachineHost(
      ctx.sim,
      worker,
      (o) => this.#onWorkerOutput(o),
      (e) => ctx.rejected(e),
    )
    const prover = new ProverMachine({ self: init.id })
    this.prover = new MachineHost(
      ctx.sim,
      prover,
      (o) => this.#onProverOutput(o),
      (e) => ctx.rejected(e),
    )
    this.verifierRole = init.behaviour.colluding
      ? new VerifierRole(ctx, { peer: this, score: init.profile.score, colluding: true, verifiers: init.verifiers })
      : undefined
  }

  /** Joins: subscribes to orders (and verdicts, when it verifies) and announces its capacity. */
  start(): void {
    const { network } = this.#ctx
    network.add(this)
    network.subscribe(this, TOPICS.orders)
    if (this.verifierRole !== undefined) network.subscribe(this, TOPICS.verdicts)
    this.#announce()
  }

  deliver(inbound: Inbound): void {
    switch (inbound.message.type) {
      case 'order':
      case 'award':
      case 'capacity':
        this.scheduler.feed({ kind: 'message', inbound })
        return
      case 'challenge':
        this.prover.feed({ kind: 'challenge', from: inbound.from, challenge: inbound.message.body })
        return
      case 'reveal':
      case 'verdict':
        this.verifierRole?.deliver(inbound)
        return
      default:
        this.scheduler.feed({ kind: 'message', inbound })
    }
  }

  /** The task was settled: its chunks need not be kept for challenges any longer. */
  release(jobId: string, taskId: string): void {
    if (!this.alive) return
    this.prover.feed({ kind: 'release', jobId, taskId })
    this.#unlease(jobId, 1)
  }

  #unlease(jobId: string, tasks: number): void {
    const left = (this.#leased.get(jobId) ?? 0) - tasks
    if (left > 0) this.#leased.set(jobId, left)
    else this.#leased.delete(jobId)
  }

  /** Stops at once: no goodbye, leases run out. */
  crash(): void {
    this.#stop()
  }

  /** Leaves cleanly: gives back every unfinished task, then goes. */
  leave(): void {
    for (const jobId of this.#leased.keys()) this.scheduler.feed({ kind: 'job:withdraw', jobId })
    this.#stop()
  }

  #stop(): void {
    this.alive = false
    this.scheduler.active = false
    this.prover.active = false
    if (this.verifierRole !== undefined) this.verifierRole.host.active = false
    this.#running.clear()
    this.#ctx.network.remove(this)
  }

  /** Publishes a fresh capacity record and re-publishes at half its time to live, as core's announcer does. */
  #announce(): void {
    if (!this.alive) return
    const { sim, scenario, market } = this.#ctx
    const now = sim.now
    const load = (this.scheduler.machine as WorkerMachine).load
    const record: Capacity = {
      peer: this.id,
      addrs: NONE,
      gpu: GPU,
      memoryMb: this.profile.memoryMb,
      features: NONE,
      score: this.profile.score,
      price: this.#price,
      tiers: RECORD_TIERS,
      stake: BigInt(this.earner.stake),
      classes: RECORD_CLASSES,
      slots: load.slots,
      busy: Math.min(load.slots, load.running + load.queued),
      issuedAt: now,
    }
    // Every machine reads one shared market view, so one write stands for the gossip reaching them all.
    market.noteCapacity(record, now + scenario.scheduler.capacityTtlMs, now)
    sim.after(scenario.scheduler.capacityTtlMs / 2, announce, this)
  }

  /** @internal */
  static announce(peer: WorkerPeer): void {
    peer.#announce()
  }

  #onWorkerOutput(output: WorkerOutput): void {
    const { network } = this.#ctx
    switch (output.kind) {
      case 'send':
        // A bid spammer never heart-beats the leases it wins: it wants them, not the work.
        if (this.behaviour.spamming && output.message.type === 'heartbeat') return
        network.send(this, output.to, output.message, messageBytes(output.message))
        return
      case 'publish': {
        const m = output.message
        // A bid matters to its job's creator only; every other creator refuses it unchanged.
        const creator = m.type === 'bid' ? this.#ctx.jobs.get(m.body.jobId)?.creator : undefined
        network.publish(this, output.topic, m, messageBytes(m), creator === undefined ? undefined : [creator], 0)
        return
      }
      case 'run':
        if (!this.behaviour.spamming) this.#run(output.order, output.task)
        return
      case 'abort':
        this.#running.delete(output.taskId)
        return
      case 'event':
        switch (output.event.type) {
          case 'award:received':
            this.#leased.set(
              output.event.jobId,
              (this.#leased.get(output.event.jobId) ?? 0) + output.event.taskIds.length,
            )
            return
          case 'task:aborted':
            this.#unlease(output.event.jobId, 1)
            return
          case 'job:withdrawn':
            this.#leased.delete(output.event.jobId)
            return
          default:
            return
        }
    }
  }

  #onProverOutput(output: ProverOutput): void {
    switch (output.kind) {
      case 'send':
        // The WorkerMachine sends the Result with the lease bookkeeping; the prover's copy would be a duplicate.
        if (output.message.type === 'result') return
        this.#ctx.network.send(this, output.to, output.message, messageBytes(output.message))
        return
      case 'publish':
        this.#ctx.network.publish(this, output.topic, output.message, messageBytes(output.message))
        return
      case 'event':
        if (output.event.name === 'task:committed') {
          this.#committed = { root: output.event.root, chunks: output.event.chunks }
        }
        return
    }
  }

  /**
   * The engine: fetch the job's inputs (once per job), run the task (in the share of a full render's time that the
   * samples it takes call for), upload the output.
   */
  #run(order: Order, task: TaskDescriptor): void {
    const ctx = this.#ctx
    const { scenario } = ctx
    const creator = ctx.network.get(order.creator)
    const creatorMbps = creator?.bandwidthMbps ?? this.bandwidthMbps
    let fetchMs = 0
    if (!this.#fetched.includes(order.jobId)) {
      fetchMs = ctx.network.model.transferMs(scenario.jobs.inputMb * 1e6, this.bandwidthMbps, creatorMbps)
      if (creator !== undefined) fetchMs += 2 * ctx.network.model.latency(this.region, creator.region)
      this.#fetched.push(order.jobId)
      if (this.#fetched.length > FETCHED_JOBS) this.#fetched.shift()
    }
    const plan = planTask(this.behaviour, scenario.jobs.chunksPerTask, ctx.rng.behaviour)
    const computeMs = taskRunMs(
      ctx.rng.tasks,
      order.benchHoursPerTask * plan.samples,
      this.profile.score,
      scenario.workers.runVariability,
    )
    const uploadMs = ctx.network.model.transferMs(scenario.jobs.outputMb * 1e6, this.bandwidthMbps, creatorMbps)
    const running: RunningTask = { peer: this, order, taskId: task.taskId, plan, computeMs }
    this.#running.set(task.taskId, running)
    ctx.sim.after(fetchMs + computeMs + uploadMs, finish, running)
  }

  /** @internal */
  static finish(running: RunningTask): void {
    running.peer.#finish(running)
  }

  /** The task is done: produce its chunks as the behaviour says, commit (prover), report (scheduler). */
  #finish(running: RunningTask): void {
    if (!this.alive || this.#running.get(running.taskId) !== running) return
    this.#running.delete(running.taskId)
    const ctx = this.#ctx
    const { order, taskId, plan } = running
    const chunkCount = plan.kinds.length
    const seed = taskSeed(taskId)
    const chunks: Uint8Array[] = []
    let bad = false
    for (let i = 0; i < chunkCount; i++) {
      const kind = plan.kinds[i] as ChunkKind
      const chunk = ctx.outputs.produce(seed, i, kind, ctx.rng.tasks, this.behaviour.lazyNoise, ctx.rng.divergence)
      chunks.push(chunk)
      // Ground truth, measured with proof's own comparison: is this chunk outside tolerance of the honest result?
      if (kind !== ChunkKind.Honest && !bad)
        bad = !compareChunks(ctx.tolerance, chunk, ctx.outputs.reference(seed, i)).ok
    }
    ctx.truth.commit(this.id, taskId, this.behaviour.role, bad)
    const output = `sim:${seed.toString(16)}`
    this.#committed = undefined
    this.prover.feed({
      kind: 'commit',
      jobId: order.jobId,
      taskId,
      creator: order.creator,
      chunks,
      output,
      tolerance: SIM_TOLERANCE,
      computeMs: running.computeMs,
    })
    const committed = this.#committed as { root: Uint8Array; chunks: number } | undefined
    if (committed === undefined) {
      // The prover refused (it holds too many tasks): give the task back rather than send an unprovable result.
      this.scheduler.feed({ kind: 'task:failed', taskId, reason: 'commit refused' })
      return
    }
    this.scheduler.feed({
      kind: 'task:finished',
      taskId,
      output: {
        // The schema checks `instanceof Uint8Array`; only the static type of a hash view is narrower.
        root: committed.root as Uint8Array<ArrayBuffer>,
        chunks: committed.chunks,
        output,
        tolerance: SIM_TOLERANCE,
        computeMs: running.computeMs,
      },
    })
  }
}

function announce(peer: WorkerPeer): void {
  WorkerPeer.announce(peer)
}

function finish(running: RunningTask): void {
  WorkerPeer.finish(running)
}
