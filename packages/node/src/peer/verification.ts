import {
  type AbortOptions,
  type Arbitrate,
  type Assign,
  blobCid,
  type Challenge,
  type Clock,
  type Inbound,
  type MessageBus,
  type Order,
  type Rng,
  TOPICS,
  type WireMessage,
  withTimeout,
} from '@tessera/core'
import {
  type AdaptiveSampler,
  checkKey,
  type Commitment,
  DEFAULT_RECOMPUTE_TIMEOUT_MS,
  openResultEnvelope,
  type PlanChoice,
  planFor,
  ProverMachine,
  type ProverInput,
  type ProverOutput,
  Reputation,
  type ResultShape,
  type SamplingPlan,
  taskKey,
  type ToleranceOptions,
  VerifierMachine,
  type VerifierEvent,
  type VerifierInput,
  type VerifierOutput,
} from '@tessera/proof'
import { SchedulerError, type VerdictOutcome, type VerifyRequest } from '@tessera/scheduler'
import type { TaskExecution, TaskExecutor, TaskOutput } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import { concat } from 'uint8arrays/concat'
import { SERVED_REQUESTS_PER_PEER, SERVED_REQUESTS_TOTAL } from './constants.js'
import { arbitratedOrder, assignedResult } from './delegation.js'
import { errorFields } from './error-fields.js'
import type { RestoredCommitment } from './restored-commitment.js'
import { MachineRunner } from './machine-runner.js'
import { RequestBudget } from './request-budget.js'
import { proofHex } from './slash-book.js'

/** A fraud proof upheld against a worker by arbitration: what the ledger slashes for. */
export interface SlashRecord {
  worker: string
  jobId: string
  taskId: string
  /** The job's creator: it holds the worker's bond, so only its own records forfeit it. */
  creator: string
  fraudProofHash: Uint8Array
  /** Absent when this peer is the creator and learnt of the accusation from its delegate's verdicts (their hash). */
  fraudProof?: Uint8Array
  /** Always true: an accusation no arbiter answered is never handed on to slash (see `slash:unarbitrated`). */
  arbitrated: boolean
}

/** Verification work this peer did for another creator, which that creator owes it for. */
export interface VerificationPayment {
  payer: string
  jobId: string
  taskId: string
  role: 'verify' | 'arbitrate'
  /** Chunks recomputed. */
  chunks: number
}

/** A task's output, with the commitment to its chunks when its executor built one already (`workerExecutor`). */
export interface CommittingTaskOutput extends TaskOutput {
  /** `commitOutput(chunks)`, so the prover does not build the Merkle tree over the output again. @default none */
  readonly commitment?: Commitment
}

/** A worker's executor as {@link Verification.wrapExecutor} wraps it: a `TaskExecutor` that may commit too. */
export interface CommittingExecutor {
  execute(execution: TaskExecution, options: Required<AbortOptions>): Promise<CommittingTaskOutput>
}

/** What a {@link Verification} needs from its peer. */
export interface VerificationComponents {
  bus: MessageBus
  clock: Clock
  rng: Rng
  logger: Logger
  /**
   * Third peers this peer may ask to verify its workers' Results and to arbitrate its accusations; weighted by
   * their reputation. Change them later with {@link Verification.setVerifiers}.
   * @default []
   */
  verifiers?: readonly string[]
  /**
   * Weight of checking a task ourselves against the third peers' weights: 0 always delegates when a verifier is known.
   * @default 1
   */
  selfVerifyWeight?: number
  /**
   * Verify and arbitrate for other creators when they ask.
   * @default true
   */
  serve?: boolean
  /** The verifier's thresholds (PSNR bar, outlier share, relative error); `@tessera/proof`'s defaults otherwise. */
  tolerance?: ToleranceOptions
  /** The order of one of our jobs, to recompute its tasks. */
  orderOf: (jobId: string) => Order | undefined
  /**
   * What an honest Result for a task of `order` looks like (tolerance class, chunk count), from the order alone:
   * every check holds the worker's Result to it. Undefined when the order has no such task.
   */
  shapeOf: (order: Order, taskId: string) => ResultShape | undefined
  /** Recomputes chunks of a task honestly on this peer's engine. */
  recompute: (order: Order, taskId: string, indices: readonly number[], options?: AbortOptions) => Promise<Uint8Array[]>
  /**
   * Called when a worker is caught and arbitration upholds the accusation: on the accuser, and on a creator whose
   * delegate's accusation it watched upheld (only the creator holds the worker's bond). An accusation no arbiter answered (none
   * known, or all silent) stands on this peer's word alone, which may come from a wrong engine: its task is rejected
   * and the worker's score drops, but its stake is not slashed (logged as `slash:unarbitrated`).
   */
  onSlash?: (slash: SlashRecord) => void
  /** Called for every verifier event (accepted, rejected, upheld…). */
  onEvent?: (event: VerifierEvent) => void
  /**
   * Called when arbitration clears a worker whose result our check failed (and `verify` answered `fail`): the
   * accusation was wrong, and the creator accepts the result after all if its task is not accepted yet (the scheduler
   * driver's `overturn`). `options.signal` aborts when this stops.
   */
  onOverturn?: (request: VerifyRequest, options: Required<AbortOptions>) => void
  /** Called when this peer has verified or arbitrated for another creator, which owes it for the work. */
  onPayment?: (payment: VerificationPayment) => void
  /**
   * Called when a creator's delegate asks us to arbitrate: the delegate holds the order's inputs for us, since the
   * creator serves them only to peers it knows (`InputRelays`).
   */
  onRelay?: (order: Order, relay: string) => void
  /** What this peer knows of others' results (kept across restarts by a `ReputationStore`). @default a new one */
  reputation?: Reputation
  /**
   * Its workers' valid-result streaks, which set how often their results are checked (kept across restarts by a
   * `ReputationStore`). @default a new one at the default plan's floor
   */
  sampler?: AdaptiveSampler
  /**
   * Worker side: a result committed to before a restart, rebuilt from disk for a challenge that names it
   * (`restoreCommitment`); without it such a challenge goes unanswered.
   */
  restoreCommitment?: (
    jobId: string,
    taskId: string,
    root: Uint8Array,
    options?: AbortOptions,
  ) => Promise<RestoredCommitment | undefined>
}

const RESULT_ENVELOPES_KEPT = 10_000
/** Failed checks kept while their arbitration may clear the worker: as many as Result envelopes. */
const DISPUTES_KEPT = RESULT_ENVELOPES_KEPT
/** Other creators' orders and assignments kept, to recompute their tasks and to forward an accusation. */
const FOREIGN_JOBS_KEPT = 1_000

/**
 * `@tessera/proof`'s machines on a real node. As a creator it verifies results by sampling (the scheduler's
 * `verify` hook): challenge, reveal, recompute on our engine, compare under the task's tolerance class, verdict,
 * or it hands the check to a third peer (an `assign` message) and takes that peer's verdict. A failure with a fraud
 * proof goes to further peers to arbitrate (`arbitrate` messages) before the worker is slashed. As a third peer it
 * does the same checks for other creators. As a worker it commits to each output (by wrapping the task executor)
 * and answers challenges from whichever verifier the creator chose.
 */
export class Verification {
  /** Peers' scores from verdicts: tier 2 admits workers by them, and checks go to third peers weighted by them. */
  readonly reputation: Reputation
  readonly #c: VerificationComponents
  readonly #verifier: MachineRunner<VerifierInput, VerifierOutput>
  readonly #prover: MachineRunner<ProverInput, ProverOutput>
  /** The prover itself, for how many tasks it holds. */
  readonly #proverMachine: ProverMachine
  /**
   * Signed Result envelopes by task and worker: fraud proofs quote the worker's own signature, and a task re-awarded
   * after a failed check has a second worker's Result while the first is still being arbitrated.
   */
  readonly #envelopes = new Map<string, Uint8Array>()
  /** Work other peers ask of us, per peer and in all, per recompute timeout (see {@link RequestBudget}). */
  readonly #served = new RequestBudget({
    perPeer: SERVED_REQUESTS_PER_PEER,
    total: SERVED_REQUESTS_TOTAL,
    windowMs: DEFAULT_RECOMPUTE_TIMEOUT_MS,
    peers: 10_000,
  })
  /** The scheduler's verify calls waiting for a decision, by task and worker (a repeated call waits with the first). */
  readonly #pending = new Map<string, { request: VerifyRequest; waiting: ((outcome: VerdictOutcome) => void)[] }>()
  /**
   * Results our check failed with a fraud proof, by task and worker, while arbitration may still clear their worker
   * (then {@link VerificationComponents.onOverturn}); the oldest are forgotten first.
   */
  readonly #disputed = new Map<string, VerifyRequest>()
  /** Orders of other creators' jobs we verify or arbitrate, by job id. */
  readonly #foreignOrders = new Map<string, Order>()
  /** Creators' signed assignments by task key: an accusation we forward to an arbiter quotes one. */
  readonly #assignments = new Map<string, Uint8Array>()
  readonly #unsubscribe: () => void
  /** Aborted on stop: recomputations still running stop with it, rather than hold the engine for nothing. */
  readonly #lifetime = new AbortController()
  /** Plan choices whose infeasible budget was logged already: one error per budget and chunk count, not per task. */
  readonly #infeasibleLogged = new WeakSet<PlanChoice>()
  /** Results being rebuilt from disk for a challenge, by task key. */
  readonly #restoring = new Map<string, Promise<void>>()

  constructor(components: VerificationComponents) {
    this.#c = components
    const self = components.bus.self
    this.reputation = components.reputation ?? new Reputation()
    const now = () => components.clock.now()
    const onError = (e: unknown, input: { kind: string }) =>
      components.logger.warn({ ...errorFields(e), input: input.kind }, 'verification:rejected')
    this.#verifier = new MachineRunner<VerifierInput, VerifierOutput>(
      new VerifierMachine({
        self,
        rng: components.rng,
        openResult: openResultEnvelope,
        reputation: this.reputation,
        ...(components.sampler === undefined ? {} : { sampler: components.sampler }),
        verifiers: components.verifiers ?? [],
        ...(components.selfVerifyWeight === undefined ? {} : { selfVerifyWeight: components.selfVerifyWeight }),
        ...(components.tolerance === undefined ? {} : { tolerance: components.tolerance }),
      }),
      now,
      (out) => this.#onVerifierOutput(out),
      onError,
    )
    this.#proverMachine = new ProverMachine({ self })
    this.#prover = new MachineRunner<ProverInput, ProverOutput>(
      this.#proverMachine,
      now,
      (out) => this.#onProverOutput(out),
      onError,
    )
    components.bus.subscribe(TOPICS.verdicts)
    this.#unsubscribe = components.bus.onMessage((inbound) => this.#onMessage(inbound))
  }

  /** Stops the machines and stops listening to the network. */
  stop(): void {
    this.#lifetime.abort()
    this.#unsubscribe()
    this.#verifier.stop()
    this.#prover.stop()
  }

  /** Replaces the third peers this peer may delegate checks to and ask to arbitrate. */
  setVerifiers(peers: readonly string[]): void {
    this.#verifier.feed({ kind: 'verifiers', peers })
  }

  /** The scheduler's verify hook: resolves once the verifier accepts or rejects the task. */
  verify = (request: VerifyRequest): Promise<VerdictOutcome> => {
    const key = checkKey(request.jobId, request.taskId, request.worker)
    const envelope = this.#envelopes.get(key)
    const order = this.#c.orderOf(request.jobId)
    const shape = order === undefined ? undefined : this.#c.shapeOf(order, request.taskId)
    if (envelope === undefined || shape === undefined) return Promise.resolve('fail')
    const plan = this.#planOf(order as Order, shape.chunks ?? request.result.chunks)
    return new Promise((resolve) => {
      const pending = this.#pending.get(key)
      if (pending !== undefined) return void pending.waiting.push(resolve)
      this.#pending.set(key, { request, waiting: [resolve] })
      // A check the verifier will not start (as many in flight as it may hold, say) would leave the task in
      // verification for good: it fails instead, so the creator awards it again. The refusal is logged with its code.
      if (!this.#verifier.feed({ kind: 'result', result: request.result, envelope, ...shape, ...plan })) {
        this.#decide(key, 'fail')
      }
    })
  }

  /** Settles the verify calls waiting on a check. */
  #decide(key: string, outcome: VerdictOutcome): void {
    const pending = this.#pending.get(key)
    this.#pending.delete(key)
    for (const resolve of pending?.waiting ?? []) resolve(outcome)
  }

  /** Worker side: tasks whose output is held to answer challenges. */
  get proving(): number {
    return this.#proverMachine.size
  }

  /**
   * Worker side: a task is paid for (its receipt countersigned), so its output need not be held for challenges any
   * longer. Releasing a task not held changes nothing.
   */
  release(jobId: string, taskId: string): void {
    this.#prover.feed({ kind: 'release', jobId, taskId })
  }

  /**
   * Wraps a worker's executor so each output is committed to (and kept to answer challenges). An output the prover
   * refuses (a chunk over `MAX_CHUNK_BYTES`, a task committed already) fails the task with the prover's coded
   * error: reported finished, it would leave the creator waiting for a Result that never comes. The commitment an
   * inner executor built already goes to the prover as it is, and no further: the scheduler needs only its root.
   */
  wrapExecutor(inner: CommittingExecutor): TaskExecutor {
    return {
      execute: async (execution: TaskExecution, options): Promise<TaskOutput> => {
        const { commitment, ...output } = await inner.execute(execution, options)
        this.#prover.submit({
          kind: 'commit',
          jobId: execution.order.jobId,
          taskId: execution.task.taskId,
          creator: execution.order.creator,
          chunks: output.chunks,
          // The worker's executor hashed the output for its hold already (`workerExecutor`).
          output: output.committed?.cid ?? blobCid(concat([...output.chunks])).toString(),
          tolerance: output.tolerance,
          computeMs: output.computeMs ?? 0,
          commitment,
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
          this.#envelopes.set(checkKey(message.body.jobId, message.body.taskId, message.body.worker), inbound.envelope)
        }
        return
      case 'challenge':
        if (this.#proverMachine.holds(message.body.jobId, message.body.taskId)) {
          this.#prover.feed({ kind: 'challenge', from: inbound.from, challenge: message.body })
        } else void this.#restoreThenAnswer(inbound.from, message.body)
        return
      case 'reveal':
        this.#verifier.feed({ kind: 'reveal', from: inbound.from, reveal: message.body })
        return
      case 'verdict':
        if (inbound.from !== this.#c.bus.self)
          this.#verifier.feed({ kind: 'verdict', from: inbound.from, verdict: message.body })
        return
      case 'assign':
        if (this.#serves(inbound) && inbound.envelope !== undefined) this.#onAssign(message.body, inbound.envelope)
        return
      case 'arbitrate':
        if (this.#serves(inbound)) this.#onArbitrate(message.body)
        return
      default:
        return
    }
  }

  /**
   * Answers a challenge to a result the prover does not hold, once it is rebuilt from disk when it was committed
   * before a restart (one rebuild per task at a time); the prover refuses it, logged, when there is nothing to
   * rebuild. Only a challenge naming this worker is worth the disk read.
   */
  async #restoreThenAnswer(from: string, challenge: Challenge): Promise<void> {
    const restore = this.#c.restoreCommitment
    if (restore !== undefined && challenge.worker === this.#c.bus.self) {
      const key = taskKey(challenge.jobId, challenge.taskId)
      let restoring = this.#restoring.get(key)
      if (restoring === undefined) {
        restoring = (async () => {
          try {
            const commitment = await restore(challenge.jobId, challenge.taskId, challenge.root, {
              signal: this.#lifetime.signal,
            })
            if (commitment === undefined || this.#proverMachine.holds(challenge.jobId, challenge.taskId)) return
            this.#prover.submit({ kind: 'commit', ...commitment })
            this.#c.logger.info({ jobId: challenge.jobId, taskId: challenge.taskId }, 'commitment:restored')
          } catch (e) {
            this.#c.logger.warn({ ...errorFields(e), taskId: challenge.taskId }, 'commitment:restore-failed')
          } finally {
            this.#restoring.delete(key)
          }
        })()
        this.#restoring.set(key, restoring)
      }
      await restoring
    }
    if (this.#lifetime.signal.aborted) return
    this.#prover.feed({ kind: 'challenge', from, challenge })
  }

  /**
   * Whether to take on work another peer asks of us (a check, an arbitration): when serving, and within the budget,
   * counted before anything is decoded, so a flood costs only this.
   */
  #serves(inbound: Inbound): boolean {
    if (this.#c.serve === false) return false
    if (this.#served.admit(inbound.from, this.#c.clock.now())) return true
    this.#c.logger.warn({ from: inbound.from, type: inbound.message.type }, 'verification:busy')
    return false
  }

  /** A creator asks us to check one of its workers' Results. */
  #onAssign(assign: Assign, envelope: Uint8Array): void {
    const result = this.#admit(assign.creator, () => assignedResult(assign))
    const shape = this.#admit(assign.creator, () => this.#shapeOf(assign.order, assign.taskId))
    if (result === undefined || shape === undefined) return
    this.#remember(assign.order, taskKey(assign.jobId, assign.taskId), envelope)
    const plan = this.#planOf(assign.order, shape.chunks ?? result.chunks)
    this.#verifier.feed({ kind: 'assigned', from: assign.creator, result, envelope: assign.result, ...shape, ...plan })
  }

  /**
   * The plan a job's tasks of `chunks` chunks are checked by: the one its order's verification budget asks for
   * (`planFor`, made once per budget and chunk count). A budget no plan meets (this node refuses to order one, other
   * creators may not) is met over a longer horizon (as in the simulator), logged as a warning once per budget and
   * chunk count: refusing the check would leave the task undecided, and checking every chunk would cost what the
   * creator's overhead cap refused.
   */
  #planOf(order: Order, chunks: number): { plan: SamplingPlan } {
    const choice = planFor(order.verification, chunks)
    if (choice.plan === undefined && !this.#infeasibleLogged.has(choice)) {
      this.#infeasibleLogged.add(choice)
      const { p, challengeChunks, budget } = choice.inForce
      this.#c.logger.warn(
        {
          jobId: order.jobId,
          chunks,
          budget: order.verification,
          code: choice.code,
          reason: choice.infeasible,
          inForce: { p, challengeChunks, withinTasks: budget.withinTasks },
        },
        'verification:budget-infeasible',
      )
    }
    return { plan: choice.inForce }
  }

  /** An accuser asks us to arbitrate its fraud proof. */
  #onArbitrate(arbitrate: Arbitrate): void {
    const order = this.#admit(arbitrate.accuser, () => arbitratedOrder(arbitrate))
    const shape = order && this.#admit(arbitrate.accuser, () => this.#shapeOf(order, arbitrate.taskId))
    if (order === undefined || shape === undefined) return
    this.#remember(order)
    if (arbitrate.accuser !== arbitrate.creator) this.#c.onRelay?.(order, arbitrate.accuser)
    this.#verifier.feed({
      kind: 'arbitrate',
      from: arbitrate.accuser,
      creator: arbitrate.creator,
      round: arbitrate.round,
      fraudProof: arbitrate.fraudProof,
      ...shape,
    })
  }

  /** The shape of a task's honest Result; throws when the order has no such task (a request naming one is bogus). */
  #shapeOf(order: Order, taskId: string): ResultShape {
    const shape = this.#c.shapeOf(order, taskId)
    if (shape === undefined) {
      throw new SchedulerError('SCHEDULER__TASK_NOT_FOUND', `job ${order.jobId} has no task ${taskId}`, {
        jobId: order.jobId,
        taskId,
      })
    }
    return shape
  }

  /** Runs the checks on a third party's request: a request that fails them is logged and dropped. */
  #admit<T>(from: string, check: () => T): T | undefined {
    try {
      return check()
    } catch (e) {
      this.#c.logger.warn({ ...errorFields(e), from }, 'verification:rejected')
      return undefined
    }
  }

  /** Keeps another creator's order (and the assignment that vouches for it), the oldest forgotten first. */
  #remember(order: Order, key?: string, assignment?: Uint8Array): void {
    if (this.#c.orderOf(order.jobId) !== undefined) return
    this.#foreignOrders.delete(order.jobId)
    this.#foreignOrders.set(order.jobId, order)
    if (this.#foreignOrders.size > FOREIGN_JOBS_KEPT)
      this.#foreignOrders.delete(this.#foreignOrders.keys().next().value as string)
    if (key === undefined || assignment === undefined) return
    this.#assignments.set(key, assignment)
    if (this.#assignments.size > FOREIGN_JOBS_KEPT)
      this.#assignments.delete(this.#assignments.keys().next().value as string)
  }

  #orderOf(jobId: string): Order | undefined {
    return this.#c.orderOf(jobId) ?? this.#foreignOrders.get(jobId)
  }

  #sendTo(to: string, message: WireMessage): void {
    this.#send({ kind: 'send', to, message })
  }

  #send(out: { kind: 'publish' | 'send' } & Record<string, unknown>): void {
    const { bus, logger } = this.#c
    // Stopped with this peer: a send may first fetch a job's inputs for an arbiter (`audienceBus`).
    const options = { signal: this.#lifetime.signal }
    const sent =
      out.kind === 'publish'
        ? bus.publish(out.topic as never, out.message as never, options)
        : bus.send(out.to as string, out.message as never, options)
    sent.catch((e: unknown) => logger.warn(errorFields(e), 'verification:send-failed'))
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
        if (!out.arbitrated) {
          const fields = { worker: out.worker, jobId: out.jobId, taskId: out.taskId }
          this.#c.logger.warn({ ...fields, fraudProofHash: proofHex(out.fraudProofHash) }, 'slash:unarbitrated')
          return
        }
        this.#c.onSlash?.({
          worker: out.worker,
          jobId: out.jobId,
          taskId: out.taskId,
          creator: out.creator,
          fraudProofHash: out.fraudProofHash,
          ...(out.fraudProof === undefined ? {} : { fraudProof: out.fraudProof }),
          arbitrated: out.arbitrated,
        })
        return
      case 'delegate': {
        const order = this.#c.orderOf(out.jobId)
        // Without the order the delegate could not recompute: the machine checks the task itself once its wait ends.
        if (order === undefined) return void this.#c.logger.warn({ jobId: out.jobId }, 'order:unknown')
        return this.#sendTo(out.to, {
          type: 'assign',
          body: {
            jobId: out.jobId,
            taskId: out.taskId,
            creator: out.creator,
            result: out.envelope as Assign['result'],
            order,
            issuedAt: this.#c.clock.now(),
          },
        })
      }
      case 'escalate':
        return this.#escalate(out)
      case 'payment':
        this.#c.onPayment?.({
          payer: out.payer,
          jobId: out.jobId,
          taskId: out.taskId,
          role: out.role,
          chunks: out.chunks,
        })
        return
      case 'event':
        this.#onEvent(out.event)
        return
    }
  }

  /** Asks an arbiter to judge our fraud proof, with what vouches for the order it must recompute from. */
  #escalate(out: Extract<VerifierOutput, { kind: 'escalate' }>): void {
    const ours = out.creator === this.#c.bus.self
    const order = ours ? this.#c.orderOf(out.jobId) : undefined
    const assignment = ours ? undefined : this.#assignments.get(taskKey(out.jobId, out.taskId))
    if (order === undefined && assignment === undefined) {
      // Nothing vouches for the order, so the arbiter could not recompute: the machine moves on when its wait ends.
      this.#c.logger.warn({ jobId: out.jobId, taskId: out.taskId }, 'order:unknown')
      return
    }
    const body: Arbitrate = {
      jobId: out.jobId,
      taskId: out.taskId,
      accuser: this.#c.bus.self,
      creator: out.creator,
      round: out.round,
      fraudProof: out.fraudProof as Arbitrate['fraudProof'],
      ...(order !== undefined ? { order } : { assignment: assignment as Arbitrate['assignment'] }),
      issuedAt: this.#c.clock.now(),
    }
    this.#sendTo(out.to, { type: 'arbitrate', body })
  }

  #onEvent(event: VerifierEvent): void {
    this.#c.onEvent?.(event)
    const key = checkKey(event.jobId, event.taskId, event.worker)
    switch (event.name) {
      case 'task:rejected': {
        // A fraud proof goes to arbitration, which may clear the worker after its task was rejected.
        const request = this.#pending.get(key)?.request
        if (event.fraudProofHash !== undefined && request !== undefined) this.#dispute(key, request)
        return this.#decide(key, event.outcome)
      }
      case 'task:accepted': {
        const disputed = event.overturned === true ? this.#disputed.get(key) : undefined
        if (disputed === undefined) return this.#decide(key, 'pass')
        // The verify call was answered `fail` long ago: the scheduler hears of the overturn apart.
        this.#disputed.delete(key)
        return this.#c.onOverturn?.(disputed, { signal: this.#lifetime.signal })
      }
      case 'proof:upheld':
        this.#disputed.delete(key)
        return
      default:
        return
    }
  }

  #dispute(key: string, request: VerifyRequest): void {
    this.#disputed.delete(key)
    this.#disputed.set(key, request)
    if (this.#disputed.size > DISPUTES_KEPT) this.#disputed.delete(this.#disputed.keys().next().value as string)
  }

  async #recompute(jobId: string, taskId: string, worker: string, indices: number[]): Promise<void> {
    const order = this.#orderOf(jobId)
    if (order === undefined) return
    // The verifier gives up on a recomputation after its timeout: the engine stops then too.
    const signal = withTimeout(this.#lifetime.signal, DEFAULT_RECOMPUTE_TIMEOUT_MS)
    try {
      const chunks = await this.#c.recompute(order, taskId, indices, { signal })
      this.#verifier.feed({ kind: 'recomputed', jobId, taskId, worker, chunks })
    } catch (e) {
      this.#c.logger.warn({ ...errorFields(e), jobId, taskId }, 'verification:recompute-failed')
    }
  }
}
