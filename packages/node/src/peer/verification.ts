import {
  blobCid,
  type AbortOptions,
  type Clock,
  type Inbound,
  type MessageBus,
  type Order,
  type Rng,
  TOPICS,
} from '@tessera/core'
import {
  openResultEnvelope,
  ProverMachine,
  type ProverInput,
  type ProverOutput,
  Reputation,
  VerifierMachine,
  type VerifierEvent,
  type VerifierInput,
  type VerifierOutput,
} from '@tessera/proof'
import type { VerdictOutcome, VerifyRequest } from '@tessera/scheduler'
import type { TaskExecution, TaskExecutor, TaskOutput } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import { concat } from 'uint8arrays/concat'
import { MachineRunner } from './machine-runner.js'

/** A fraud proof upheld against a worker: what the ledger slashes for. */
export interface SlashRecord {
  worker: string
  jobId: string
  taskId: string
  fraudProofHash: Uint8Array
  fraudProof: Uint8Array
  arbitrated: boolean
}

export interface VerificationComponents {
  bus: MessageBus
  clock: Clock
  rng: Rng
  logger: Logger
  /** The order of one of our jobs, to recompute its tasks. */
  orderOf: (jobId: string) => Order | undefined
  /** Recomputes chunks of a task honestly on this peer's engine. */
  recompute: (order: Order, taskId: string, indices: readonly number[], options?: AbortOptions) => Promise<Uint8Array[]>
  /** Called when a worker is caught and the accusation stands. */
  onSlash?: (slash: SlashRecord) => void
  /** Called for every verifier event (accepted, rejected, upheld…). */
  onEvent?: (event: VerifierEvent) => void
}

const RESULT_ENVELOPES_KEPT = 10_000

/**
 * `@tessera/proof`'s machines on a real node. As a creator it verifies results by sampling (the scheduler's
 * `verify` hook): challenge, reveal, recompute on our engine, compare under the task's tolerance class, verdict.
 * As a worker it commits to each output (by wrapping the task executor) and answers challenges.
 */
export class Verification {
  readonly reputation: Reputation
  readonly #c: VerificationComponents
  readonly #verifier: MachineRunner<VerifierInput, VerifierOutput>
  readonly #prover: MachineRunner<ProverInput, ProverOutput>
  /** Signed Result envelopes by task id: fraud proofs quote the worker's own signature. */
  readonly #envelopes = new Map<string, Uint8Array>()
  readonly #pending = new Map<string, (outcome: VerdictOutcome) => void>()
  readonly #unsubscribe: () => void

  constructor(components: VerificationComponents) {
    this.#c = components
    const self = components.bus.self
    this.reputation = new Reputation()
    const now = () => components.clock.now()
    const onError = (e: unknown, input: { kind: string }) =>
      components.logger.warn({ err: String(e), input: input.kind }, 'verification:rejected')
    this.#verifier = new MachineRunner<VerifierInput, VerifierOutput>(
      new VerifierMachine({ self, rng: components.rng, openResult: openResultEnvelope, reputation: this.reputation }),
      now,
      (out) => this.#onVerifierOutput(out),
      onError,
    )
    this.#prover = new MachineRunner<ProverInput, ProverOutput>(
      new ProverMachine({ self }),
      now,
      (out) => this.#onProverOutput(out),
      onError,
    )
    components.bus.subscribe(TOPICS.verdicts)
    this.#unsubscribe = components.bus.onMessage((inbound) => this.#onMessage(inbound))
  }

  stop(): void {
    this.#unsubscribe()
    this.#verifier.stop()
    this.#prover.stop()
  }

  /** The scheduler's verify hook: resolves once the verifier accepts or rejects the task. */
  verify = (request: VerifyRequest): Promise<VerdictOutcome> => {
    const envelope = this.#envelopes.get(request.taskId)
    if (envelope === undefined) return Promise.resolve('fail')
    return new Promise((resolve) => {
      this.#pending.set(request.taskId, resolve)
      this.#verifier.feed({ kind: 'result', result: request.result, envelope })
    })
  }

  /** Wraps a worker's executor so each output is committed to (and kept to answer challenges). */
  wrapExecutor(inner: TaskExecutor): TaskExecutor {
    return {
      execute: async (execution: TaskExecution, options): Promise<TaskOutput> => {
        const output = await inner.execute(execution, options)
        this.#prover.feed({
          kind: 'commit',
          jobId: execution.order.jobId,
          taskId: execution.task.taskId,
          creator: execution.order.creator,
          chunks: output.chunks,
          output: blobCid(concat([...output.chunks])).toString(),
          tolerance: output.tolerance,
          computeMs: output.computeMs ?? 0,
        })
        return output
      },
    }
  }

  #onMessage(inbound: Inbound): void {
    const { message } = inbound
    switch (message.type) {
      case 'result':
        if (inbound.envelope !== undefined) {
          if (this.#envelopes.size >= RESULT_ENVELOPES_KEPT)
            this.#envelopes.delete(this.#envelopes.keys().next().value as string)
          this.#envelopes.set(message.body.taskId, inbound.envelope)
        }
        return
      case 'challenge':
        return this.#prover.feed({ kind: 'challenge', from: inbound.from, challenge: message.body })
      case 'reveal':
        return this.#verifier.feed({ kind: 'reveal', from: inbound.from, reveal: message.body })
      case 'verdict':
        if (inbound.from !== this.#c.bus.self)
          this.#verifier.feed({ kind: 'verdict', from: inbound.from, verdict: message.body })
        return
      default:
        return
    }
  }

  #send(out: { kind: 'publish' | 'send' } & Record<string, unknown>): void {
    const { bus, logger } = this.#c
    const sent =
      out.kind === 'publish'
        ? bus.publish(out.topic as never, out.message as never)
        : bus.send(out.to as string, out.message as never)
    sent.catch((e: unknown) => logger.warn({ err: String(e) }, 'verification:send-failed'))
  }

  #onProverOutput(out: ProverOutput): void {
    // The scheduler's worker already sent this task's Result (same chunks, same Merkle root): skip the copy.
    if (out.kind === 'send' && out.message.type === 'result') return
    if (out.kind === 'publish' || out.kind === 'send') this.#send(out)
  }

  #onVerifierOutput(out: VerifierOutput): void {
    switch (out.kind) {
      case 'publish':
      case 'send':
        return this.#send(out)
      case 'recompute':
        return void this.#recompute(out.jobId, out.taskId, out.worker, out.indices)
      case 'slash':
        this.#c.onSlash?.({
          worker: out.worker,
          jobId: out.jobId,
          taskId: out.taskId,
          fraudProofHash: out.fraudProofHash,
          fraudProof: out.fraudProof,
          arbitrated: out.arbitrated,
        })
        return
      case 'event':
        this.#onEvent(out.event)
        return
      default:
        // Delegation, escalation and verifier payments need third-party verifiers, which this peer does not name.
        this.#c.logger.debug({ kind: out.kind }, 'verification:output-ignored')
    }
  }

  #onEvent(event: VerifierEvent): void {
    this.#c.onEvent?.(event)
    if (event.name === 'task:accepted' || event.name === 'task:rejected') {
      const resolve = this.#pending.get(event.taskId)
      this.#pending.delete(event.taskId)
      resolve?.(event.name === 'task:accepted' ? 'pass' : event.outcome)
    }
  }

  async #recompute(jobId: string, taskId: string, worker: string, indices: number[]): Promise<void> {
    const order = this.#c.orderOf(jobId)
    if (order === undefined) return
    try {
      const chunks = await this.#c.recompute(order, taskId, indices)
      this.#verifier.feed({ kind: 'recomputed', jobId, taskId, worker, chunks })
    } catch (e) {
      this.#c.logger.warn({ err: String(e), taskId }, 'verification:recompute-failed')
    }
  }
}
