import type { Inbound, Result } from '@tessera/core'
import {
  decodeFraudProof,
  Reputation,
  taskKey,
  VerifierMachine,
  type SamplingPlan,
  type VerifierEvent,
  type VerifierInput,
  type VerifierOutput,
} from '@tessera/proof'
import { taskSeed } from '../models/output.js'
import { messageBytes } from '../net/message-size.js'
import type { SimEndpoint } from '../net/sim-network.js'
import type { WorldContext } from './context.js'
import { openSimResult } from './envelopes.js'
import { MachineHost } from './machine-host.js'

/** Bytes of a delegated Result envelope or an escalated fraud proof, beside their payload. */
const FORWARD_OVERHEAD_BYTES = 200

/** Options of a {@link VerifierRole}. */
export interface VerifierRoleInit {
  /** The peer hosting the machine. */
  peer: SimEndpoint
  /** Its GPU's benchmark score: recomputation time scales with it. */
  score: number
  /** Colluders pass each other: their "recomputation" of a fellow colluder's chunks is the revealed chunks. */
  colluding: boolean
  /** Third peers it may delegate to or ask to arbitrate. */
  verifiers: readonly string[]
  /** The verifier's own plan when a job brings none. */
  plan?: SamplingPlan
  /** Shared with the creator's tier gate, when the peer is a creator. */
  reputation?: Reputation
  /** Told about accept and reject decisions on checks this peer owns as creator. */
  onDecision?: (event: Extract<VerifierEvent, { name: 'task:accepted' | 'task:rejected' }>) => void
}

/**
 * A peer's verifying side: `@tessera/proof`'s VerifierMachine, driven as the node drives it. The simulator supplies
 * what a driver supplies: transport for challenges, reveals, delegated checks, fraud proofs and verdicts; the
 * recomputation of challenged chunks (the exact reference, after a modelled GPU time); and the ledger's side of
 * slashes and verification pay.
 */
export class VerifierRole {
  readonly host: MachineHost<VerifierInput, VerifierOutput>
  readonly reputation: Reputation
  readonly #ctx: WorldContext
  readonly #peer: SimEndpoint
  readonly #score: number
  readonly #colluding: boolean
  readonly #onDecision: VerifierRoleInit['onDecision']
  /** Colluders remember what fellow colluders revealed, to echo it back as their "recomputation". */
  readonly #revealed = new Map<string, { indices: readonly number[]; chunks: readonly Uint8Array[] }>()

  constructor(ctx: WorldContext, init: VerifierRoleInit) {
    this.#ctx = ctx
    this.#peer = init.peer
    this.#score = init.score
    this.#colluding = init.colluding
    this.#onDecision = init.onDecision
    this.reputation = init.reputation ?? new Reputation({ stakeOf: (p) => ctx.stakeOf(p) })
    const machine = new VerifierMachine({
      self: init.peer.id,
      rng: ctx.rng.verifiers,
      openResult: openSimResult,
      reputation: this.reputation,
      verifiers: init.verifiers,
      tolerance: ctx.scenario.verifiers.tolerance,
      ...(init.plan === undefined ? {} : { plan: init.plan }),
    })
    this.host = new MachineHost(
      ctx.sim,
      machine,
      (o) => this.#onOutput(o),
      (e) => ctx.rejected(e),
    )
  }

  /** Routes the verification messages of the peer's inbox. */
  deliver(inbound: Inbound): void {
    const { message } = inbound
    if (message.type === 'reveal') {
      if (this.#colluding && this.#ctx.worker(inbound.from)?.behaviour.colluding === true) {
        this.#revealed.set(taskKey(message.body.jobId, message.body.taskId), {
          indices: message.body.indices,
          chunks: message.body.chunks,
        })
      }
      this.host.feed({ kind: 'reveal', from: inbound.from, reveal: message.body })
    } else if (message.type === 'verdict') {
      this.host.feed({ kind: 'verdict', from: inbound.from, verdict: message.body })
    }
  }

  /** A creator asks this peer to check a Result (the forwarded envelope arrived). */
  assigned(from: string, envelope: Uint8Array): void {
    let result: Result
    try {
      result = openSimResult(envelope)
    } catch (e) {
      this.#ctx.rejected(e)
      return
    }
    this.host.feed({ kind: 'assigned', from, result, envelope, ...this.#ctx.resultShape })
  }

  /** An accuser asks this peer to arbitrate its fraud proof. */
  arbitrate(from: string, creator: string, round: number, fraudProof: Uint8Array): void {
    if (this.#colluding) {
      try {
        const proof = decodeFraudProof(fraudProof)
        const result = openSimResult(proof.commitment)
        if (this.#ctx.worker(result.worker)?.behaviour.colluding === true) {
          this.#revealed.set(taskKey(result.jobId, result.taskId), { indices: [proof.index], chunks: [proof.chunk] })
        }
      } catch (e) {
        this.#ctx.rejected(e)
      }
    }
    this.host.feed({ kind: 'arbitrate', from, creator, round, fraudProof, ...this.#ctx.resultShape })
  }

  #onOutput(output: VerifierOutput): void {
    const ctx = this.#ctx
    switch (output.kind) {
      case 'send':
        if (output.message.type === 'challenge') {
          const role = ctx.worker(output.to)?.behaviour.role
          if (role !== undefined) ctx.truth.checked(output.to, output.message.body.taskId, role)
        }
        ctx.network.send(this.#peer, output.to, output.message, messageBytes(output.message))
        return
      case 'publish': {
        const m = output.message
        const audience = m.type === 'verdict' ? ctx.verdictAudience(m.body.jobId, m.body.taskId) : undefined
        ctx.network.publish(
          this.#peer,
          output.topic,
          m,
          messageBytes(m),
          audience,
          ctx.scenario.network.gossip.verdictAudience,
        )
        return
      }
      case 'recompute':
        this.#recompute(output.jobId, output.taskId, output.worker, output.indices)
        return
      case 'delegate': {
        const { jobId, taskId, to, envelope } = output
        ctx.involve(jobId, taskId, [output.creator, to])
        const from = this.#peer.id
        ctx.network.transfer(this.#peer, to, envelope.byteLength + FORWARD_OVERHEAD_BYTES, () =>
          ctx.verifier(to)?.assigned(from, envelope),
        )
        return
      }
      case 'escalate': {
        const { jobId, taskId, to, creator, round, fraudProof } = output
        const from = this.#peer.id
        ctx.involve(jobId, taskId, [from, to, creator])
        ctx.network.transfer(this.#peer, to, fraudProof.byteLength + FORWARD_OVERHEAD_BYTES, () =>
          ctx.verifier(to)?.arbitrate(from, creator, round, fraudProof),
        )
        return
      }
      case 'slash': {
        // The creator holds the worker's bond: a delegate's record of the same accusation forfeits nothing more.
        if (output.creator !== this.#peer.id) return
        const worker = ctx.worker(output.worker)
        if (worker !== undefined) ctx.economy.slash(worker.earner)
        return
      }
      case 'payment': {
        const job = ctx.jobs.get(output.jobId)
        const perChunk =
          job === undefined ? 0 : (job.maxPrice * job.benchHoursPerTask) / ctx.scenario.jobs.chunksPerTask
        const amount = output.chunks * perChunk * ctx.scenario.economics.verifierShare
        ctx.economy.payVerifier(amount, ctx.pays(output.payer))
        return
      }
      case 'event':
        if (output.event.name === 'task:accepted' || output.event.name === 'task:rejected')
          this.#onDecision?.(output.event)
        return
    }
  }

  /**
   * The engine's part: recompute the challenged chunks. Partial recomputation costs its share of the task's work on
   * this peer's GPU; the result is the exact reference, except that a colluder echoes a fellow colluder's chunks.
   */
  #recompute(jobId: string, taskId: string, worker: string, indices: readonly number[]): void {
    const ctx = this.#ctx
    const { scenario } = ctx
    const benchHours = ctx.jobs.get(jobId)?.benchHoursPerTask ?? scenario.jobs.benchHoursPerTask.median
    const delay = ((indices.length / scenario.jobs.chunksPerTask) * benchHours * 3_600_000) / this.#score
    ctx.sim.after(
      delay,
      () => {
        if (!this.#peer.alive) return
        const key = taskKey(jobId, taskId)
        const echoed = this.#revealed.get(key)
        this.#revealed.delete(key)
        const seed = taskSeed(taskId)
        const chunks = indices.map((index) => {
          const k = echoed?.indices.indexOf(index) ?? -1
          return k >= 0 ? (echoed?.chunks[k] as Uint8Array) : ctx.outputs.reference(seed, index)
        })
        this.host.feed({ kind: 'recomputed', jobId, taskId, worker, chunks })
      },
      undefined,
    )
  }
}
