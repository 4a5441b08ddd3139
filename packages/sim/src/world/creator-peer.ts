import { TOPICS, type Inbound } from '@tessera/core'
import { planFor, Reputation } from '@tessera/proof'
import {
  CreatorMachine,
  type CreatorEvent,
  type CreatorInput,
  type CreatorOutput,
  type JobSpec,
} from '@tessera/scheduler'
import { SEEN_VERDICTS_PER_CREATOR } from '../constants.js'
import { COL } from '../metrics/recorder.js'
import { messageBytes } from '../net/message-size.js'
import type { SimEndpoint } from '../net/sim-network.js'
import type { WorldContext } from './context.js'
import { sealSimResult } from './envelopes.js'
import { MachineHost } from './machine-host.js'
import type { Earner } from './economy.js'
import { SettlementRole } from './settlement.js'
import { VerifierRole } from './verifier-role.js'

/** Options of a {@link CreatorPeer}. */
export interface CreatorPeerInit {
  id: string
  region: number
  bandwidthMbps: number
  score: number
  /** False for creators who never pay: their accepted work is owed, not paid. */
  pays: boolean
  verifiers: readonly string[]
}

/**
 * A simulated creator: `@tessera/scheduler`'s CreatorMachine (orders, auctions, awards, leases) with
 * `@tessera/proof`'s VerifierMachine checking its workers' results, sharing one Reputation as the node does.
 * Settlement of accepted tasks goes to the economy.
 */
export class CreatorPeer implements SimEndpoint {
  readonly id: string
  readonly region: number
  readonly bandwidthMbps: number
  alive = true
  readonly pays: boolean
  readonly scheduler: MachineHost<CreatorInput, CreatorOutput>
  readonly verifierRole: VerifierRole
  readonly settlement: SettlementRole
  readonly #ctx: WorldContext

  constructor(ctx: WorldContext, init: CreatorPeerInit, wallets: Map<string, Earner>) {
    this.#ctx = ctx
    this.id = init.id
    this.region = init.region
    this.bandwidthMbps = init.bandwidthMbps
    this.pays = init.pays
    const { scenario } = ctx
    const reputation = new Reputation({ stakeOf: (p) => ctx.stakeOf(p), maxSeen: SEEN_VERDICTS_PER_CREATOR })
    const creator = new CreatorMachine({
      self: init.id,
      rng: ctx.sim.rng(`creator/${init.id}`),
      market: ctx.market,
      tiers: { reputation: (p) => reputation.score(p) },
      stakeOf: (p) => ctx.stakeOf(p),
      leaseMs: scenario.scheduler.leaseMs,
      heartbeatMs: scenario.scheduler.heartbeatMs,
      maxReopens: scenario.scheduler.maxReopens,
    })
    this.scheduler = new MachineHost(
      ctx.sim,
      creator,
      (o) => this.#onOutput(o),
      (e) => ctx.rejected(e),
    )
    this.settlement = new SettlementRole(ctx, init.id, init.pays, wallets)
    this.verifierRole = new VerifierRole(ctx, {
      peer: this,
      score: init.score,
      colluding: false,
      verifiers: init.verifiers,
      reputation,
      // Each decision names the worker whose result it judges: an overturned accusation clears a worker whose task
      // may since have gone to another, whose own result must not be taken for it.
      onDecision: (event) =>
        this.scheduler.feed(
          event.name === 'task:accepted' && event.overturned === true
            ? { kind: 'task:overturned', taskId: event.taskId, worker: event.worker }
            : {
                kind: 'task:verdict',
                taskId: event.taskId,
                worker: event.worker,
                outcome: event.name === 'task:accepted' ? 'pass' : event.outcome,
              },
        ),
    })
  }

  start(): void {
    this.#ctx.network.add(this)
    this.#ctx.network.subscribe(this, TOPICS.bids)
    this.#ctx.network.subscribe(this, TOPICS.verdicts)
  }

  /** Orders a job. */
  submit(spec: JobSpec): void {
    this.scheduler.feed({ kind: 'job:submit', spec })
  }

  deliver(inbound: Inbound): void {
    const type = inbound.message.type
    if (type === 'reveal' || type === 'verdict') this.verifierRole.deliver(inbound)
    else this.scheduler.feed({ kind: 'message', inbound })
  }

  #onOutput(output: CreatorOutput): void {
    const ctx = this.#ctx
    switch (output.kind) {
      case 'send':
        ctx.network.send(this, output.to, output.message, messageBytes(output.message))
        return
      case 'publish':
        ctx.network.publish(this, output.topic, output.message, messageBytes(output.message))
        return
      case 'verify': {
        const plan = planFor(output.order.verification, output.result.chunks).inForce
        this.verifierRole.host.feed({
          kind: 'result',
          result: output.result,
          envelope: sealSimResult(output.result),
          ...ctx.resultShape,
          plan,
        })
        return
      }
      case 'accept': {
        const worker = ctx.worker(output.worker)
        if (worker !== undefined) {
          ctx.economy.accept(output.amount)
          if (ctx.economy.bme === undefined) this.settlement.receipt(output, worker.earner, ctx.epoch())
          else ctx.economy.burnForTask(worker.earner, output.amount, output.benchHours, this.pays, ctx.elapsed())
          worker.release(output.jobId, output.taskId)
        }
        return
      }
      case 'event':
        this.#onEvent(output.event)
        return
    }
  }

  #onEvent(event: CreatorEvent): void {
    const { metrics, jobs, truth } = this.#ctx
    switch (event.type) {
      case 'job:ordered':
        metrics.add(COL.jobsSubmitted)
        jobs.set(event.jobId, {
          creator: this.id,
          orderedAt: event.at,
          benchHoursPerTask: event.order.benchHoursPerTask,
          maxPrice: Number(event.order.maxPrice),
          tasks: event.tasks,
        })
        return
      case 'lease:granted':
        metrics.add(COL.tasksAwarded, event.taskIds.length)
        return
      case 'task:reassigned':
        metrics.add(COL.tasksReassigned)
        return
      case 'task:completed':
        metrics.add(COL.tasksCompleted)
        return
      case 'task:verified':
        if (event.overturned === true) truth.overturned(event.worker, event.taskId)
        else truth.accepted(event.worker, event.taskId)
        // Taken from the worker that held it when an overturned accusation cleared the first: it is not paid for it.
        if (event.displaced !== undefined) this.#ctx.worker(event.displaced)?.release(event.jobId, event.taskId)
        return
      case 'task:rejected':
        truth.rejected(event.worker, event.taskId, event.outcome, event.at)
        return
      case 'job:completed': {
        const job = jobs.get(event.jobId)
        metrics.add(COL.jobsCompleted)
        if (job !== undefined) metrics.completion(event.at - job.orderedAt)
        jobs.delete(event.jobId)
        return
      }
      case 'job:expired':
      case 'job:cancelled':
        metrics.add(COL.jobsFailed)
        jobs.delete(event.jobId)
        return
      default:
        return
    }
  }
}

/** A peer that only verifies for others (and arbitrates): a VerifierMachine on a GPU. */
export class VerifierPeer implements SimEndpoint {
  readonly id: string
  readonly region: number
  readonly bandwidthMbps: number
  alive = true
  readonly verifierRole: VerifierRole
  readonly #ctx: WorldContext

  constructor(ctx: WorldContext, init: Omit<CreatorPeerInit, 'pays'>) {
    this.#ctx = ctx
    this.id = init.id
    this.region = init.region
    this.bandwidthMbps = init.bandwidthMbps
    this.verifierRole = new VerifierRole(ctx, {
      peer: this,
      score: init.score,
      colluding: false,
      verifiers: init.verifiers,
    })
  }

  start(): void {
    this.#ctx.network.add(this)
    this.#ctx.network.subscribe(this, TOPICS.verdicts)
  }

  deliver(inbound: Inbound): void {
    this.verifierRole.deliver(inbound)
  }
}
