import type { ComponentLogger, Logger } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import {
  AbortError,
  cryptoRng,
  delay,
  isTesseraError,
  ListenerGuard,
  systemClock,
  TOPICS,
  type AbortOptions,
  type Clock,
  type Inbound,
  type MessageBus,
  type Order,
  type Result,
  type Rng,
  type WireMessage,
} from '@tessera/core'
import { merkleRoot } from '@tessera/proof'
import { concat } from 'uint8arrays/concat'
import {
  CREATOR_MESSAGE_TYPES,
  CreatorMachine,
  type AcceptedTask,
  type CreatorMachineInit,
  type CreatorOutput,
  type JobView,
  type VerifyRequest,
} from '../creator.js'
import { RESULT_RESEND_FIRST_PAUSE_MS, RESULT_RESEND_MS } from '../constants.js'
import type { Diagnostic } from '../diagnose.js'
import { isSchedulerError, SchedulerError } from '../errors.js'
import type { SchedulerEvent, VerdictOutcome } from '../events.js'
import type { JobSpec } from '../job.js'
import { MarketView } from '../market.js'
import { WORKER_MESSAGE_TYPES, WorkerMachine, type WorkerMachineInit, type WorkerOutput } from '../worker.js'
import { assembleOutputs, outputBytesBound, type AssembledOutput } from './assemble.js'
import type { TaskExecution, TaskExecutor } from './executor.js'

/** Where task outputs go and come from: `@tessera/core`'s `node.blobs` fits. */
export interface OutputStore {
  /**
   * Stores `bytes` and returns their content id: `verifiedCid` when given, the id the caller computed over these bytes
   * or checked them against, which spares hashing them again (`BlobPutOptions.verifiedCid` of `@tessera/core`).
   */
  put(bytes: Uint8Array, options?: AbortOptions & { verifiedCid?: string }): Promise<{ toString(): string }>
  /** Fetches (and checks) a blob from the peer that holds it, refusing one over `maxBytes`. */
  fetchFrom(peer: string, cid: string, options?: AbortOptions & { maxBytes?: number }): Promise<Uint8Array>
}

/** What a {@link SchedulerDriver} needs from the node it runs on. */
export interface SchedulerComponents {
  /** The message bus: `node.bus` from `@tessera/core`'s `createNode`. */
  bus: MessageBus
  /** @default systemClock */
  clock?: Clock
  /** @default cryptoRng() */
  rng?: Rng
  /** Needed by a worker (it stores outputs) and by `assemble` (it fetches them): `node.blobs`. */
  blobs?: OutputStore
  /** @default defaultLogger() */
  logger?: ComponentLogger
}

/** `@tessera/proof`'s judgement of a result; absent, results are accepted unverified. */
export type Verifier = (request: VerifyRequest, options: AbortOptions) => Promise<VerdictOutcome>

/** The creator role's options: {@link CreatorMachineInit} less what the driver supplies. */
export type CreatorOptions = Omit<CreatorMachineInit, 'self' | 'rng' | 'market' | 'verify'>
/** The worker role's options: {@link WorkerMachineInit} less what the driver supplies, and the engine to run tasks on. */
export type WorkerOptions = Omit<WorkerMachineInit, 'self' | 'market'> & { executor: TaskExecutor }

/** Which roles a {@link SchedulerDriver} plays and how. */
export interface SchedulerInit {
  /** The creator role (ordering jobs); false turns it off. @default {} */
  creator?: CreatorOptions | false
  /** The worker role (bidding, running tasks); off unless given. */
  worker?: WorkerOptions
  /** Verifies results before they are accepted. @default none: results are accepted as they arrive */
  verify?: Verifier
  /** Commits to a task's output chunks (the result's `root`). @default `merkleRoot` from `@tessera/proof` */
  commit?: (chunks: readonly Uint8Array[]) => Uint8Array
  /** Called for every accepted task (settlement plugs in here). */
  onAccept?: (task: AcceptedTask) => void
  /** The market view both roles read and feed. @default a new MarketView */
  market?: MarketView
}

/** A message the machines refused, with the coded reason; the sender is `inbound.from`. */
export interface MessageRejected {
  type: 'message:rejected'
  error: SchedulerError
  inbound: Inbound
}

/** Every event a {@link SchedulerDriver} dispatches: the machines' events and its own refusals. */
export type SchedulerDriverEvent = SchedulerEvent | MessageRejected

type EventOf<T extends SchedulerDriverEvent['type']> = Extract<SchedulerDriverEvent, { type: T }>

/** setTimeout's longest delay; longer timers are re-armed when they fire. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Runs a {@link CreatorMachine} and/or a {@link WorkerMachine} over a {@link MessageBus} with a real clock: it routes
 * inbound messages to the machine that takes them, carries out their outputs (publish, send, run, verify, accept),
 * fires their timers with `setTimeout`, and re-emits their events as DOM events of the same name.
 */
export class SchedulerDriver extends EventTarget {
  readonly creator: CreatorMachine | undefined
  readonly worker: WorkerMachine | undefined
  readonly market: MarketView
  readonly #bus: MessageBus
  readonly #clock: Clock
  readonly #blobs: OutputStore | undefined
  readonly #log: Logger
  readonly #executor: TaskExecutor | undefined
  readonly #verify: Verifier | undefined
  readonly #commit: (chunks: readonly Uint8Array[]) => Uint8Array
  readonly #onAccept: ((task: AcceptedTask) => void) | undefined
  readonly #runs = new Map<string, AbortController>()
  /** Rejects the pending `waitForJob` calls when the driver stops. */
  readonly #waiting = new Set<(error: AbortError) => void>()
  #lifetime: AbortController | undefined
  #unsubscribe: (() => void) | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #listeners = new ListenerGuard((error, event) =>
    this.#log.error('a listener of %s threw - %e', event.type, error),
  )

  constructor(components: SchedulerComponents, init: SchedulerInit = {}) {
    super()
    this.#bus = components.bus
    this.#clock = components.clock ?? systemClock
    this.#blobs = components.blobs
    this.#log = (components.logger ?? defaultLogger()).forComponent('tessera:scheduler')
    this.market = init.market ?? new MarketView()
    this.#verify = init.verify
    this.#commit = init.commit ?? merkleRoot
    this.#onAccept = init.onAccept
    const self = components.bus.self
    if (init.creator !== false) {
      this.creator = new CreatorMachine({
        ...init.creator,
        self,
        rng: components.rng ?? cryptoRng(),
        market: this.market,
        verify: init.verify !== undefined,
      })
    }
    if (init.worker !== undefined) {
      if (components.blobs === undefined) {
        throw new SchedulerError('SCHEDULER__INVALID_CONFIG', 'a worker needs `blobs` to store its task outputs', {})
      }
      const { executor, ...worker } = init.worker
      this.#executor = executor
      this.worker = new WorkerMachine({ ...worker, self, market: this.market })
    }
  }

  /** This peer's id, as the bus knows it. */
  get self(): string {
    return this.#bus.self
  }

  /** Whether it handles messages and timers: started and not stopped since. */
  get isStarted(): boolean {
    return this.#lifetime !== undefined
  }

  /** Subscribes to the market's topics and starts handling messages and timers. Idempotent. */
  start(): void {
    if (this.#lifetime !== undefined) return
    this.#lifetime = new AbortController()
    this.#unsubscribe = this.#bus.onMessage((inbound) => this.#onInbound(inbound))
    this.#bus.subscribe(TOPICS.capacity)
    if (this.worker !== undefined) this.#bus.subscribe(TOPICS.orders)
    if (this.creator !== undefined) this.#bus.subscribe(TOPICS.bids)
    this.#step()
  }

  /** Stops handling messages and timers, aborts running tasks and rejects pending `waitForJob` calls. Idempotent. */
  stop(): void {
    for (const fail of [...this.#waiting]) fail(new AbortError('the scheduler stopped'))
    if (this.#lifetime === undefined) return
    this.#lifetime.abort(new AbortError('the scheduler stopped'))
    this.#lifetime = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const run of this.#runs.values()) run.abort(new AbortError('the scheduler stopped'))
    this.#runs.clear()
  }

  /**
   * Orders a job now; returns its id. With `held`, it awards nothing until {@link release} (its escrow funded
   * first, say).
   */
  submit(spec: JobSpec, options: { held?: boolean } = {}): string {
    const jobId = this.#creatorRole().submit(spec, this.#clock.now(), options)
    this.#step()
    return jobId
  }

  /** Lets a job ordered held award its tasks. */
  release(jobId: string): void {
    this.#creatorRole().release(jobId, this.#clock.now())
    this.#step()
  }

  /** Cancels one of this creator's jobs. */
  cancel(jobId: string): void {
    this.#creatorRole().cancel(jobId, this.#clock.now())
    this.#step()
  }

  /**
   * Accepts after all the result of `worker` for `taskId` that failed its check, arbitration having cleared the worker
   * (the machine's `task:overturned` input). Throws the machine's refusal: `SCHEDULER__VERDICT_UNEXPECTED` when the
   * task was accepted meanwhile (a task is paid once) or the result is unknown here.
   */
  overturn(taskId: string, worker: string): void {
    this.#creatorRole().handle({ kind: 'task:overturned', taskId, worker }, this.#clock.now())
    this.#step()
  }

  /** Gives back every unfinished task this worker holds in a job. */
  withdraw(jobId: string): void {
    const worker = this.worker
    if (worker === undefined)
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', 'this scheduler has no worker role', {})
    worker.handle({ kind: 'job:withdraw', jobId }, this.#clock.now())
    this.#step()
  }

  /** The why-no-bid diagnostic of one of this creator's jobs. */
  diagnose(jobId: string): Diagnostic {
    return this.#creatorRole().diagnose(jobId, this.#clock.now())
  }

  /** One of this creator's jobs' progress, or undefined when it is unknown or forgotten. */
  job(jobId: string): JobView | undefined {
    return this.creator?.job(jobId)
  }

  /**
   * Resolves with the job's accepted results, in task order, once it completes; rejects with
   * `SCHEDULER__JOB_UNFINISHED` if it is cancelled or expires, or with an AbortError when `options.signal` aborts
   * or the driver stops first (the job can no longer finish here).
   */
  waitForJob(jobId: string, options: AbortOptions = {}): Promise<readonly Result[]> {
    this.#creatorRole()
    return new Promise((resolve, reject) => {
      const stops: (() => void)[] = []
      const done = (): void => stops.forEach((stop) => stop())
      stops.push(
        this.on('job:completed', (e) => {
          if (e.jobId !== jobId) return
          done()
          resolve(e.results)
        }),
      )
      for (const type of ['job:cancelled', 'job:expired'] as const) {
        stops.push(
          this.on(type, (e) => {
            if (e.jobId !== jobId) return
            done()
            reject(
              new SchedulerError('SCHEDULER__JOB_UNFINISHED', `job ${jobId} ended unfinished (${type})`, {
                jobId,
                event: type,
              }),
            )
          }),
        )
      }
      const onStop = (error: AbortError): void => {
        done()
        reject(error)
      }
      this.#waiting.add(onStop)
      stops.push(() => this.#waiting.delete(onStop))
      const signal = options.signal
      if (signal !== undefined) {
        const onAbort = (): void => {
          done()
          reject(new AbortError())
        }
        if (signal.aborted) onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
        stops.push(() => signal.removeEventListener('abort', onAbort))
      }
    })
  }

  /** Fetches every result's output from its worker and assembles them (frames or one inference buffer). */
  async assemble(order: Order, results: readonly Result[], options: AbortOptions = {}): Promise<AssembledOutput> {
    const blobs = this.#blobs
    if (blobs === undefined)
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', 'assembling needs `blobs` to fetch outputs', {})
    const outputs = new Map<string, Uint8Array>()
    await Promise.all(
      results.map(async (result) => {
        const maxBytes = outputBytesBound(order, result.taskId, result.chunks)
        outputs.set(result.taskId, await blobs.fetchFrom(result.worker, result.output, { ...options, maxBytes }))
      }),
    )
    return assembleOutputs(order, (taskId) => {
      const output = outputs.get(taskId)
      if (output === undefined)
        throw new SchedulerError('SCHEDULER__TASK_NOT_FOUND', `no result for task ${taskId}`, { taskId })
      return output
    })
  }

  /**
   * Adds a listener; one that throws (or whose promise rejects) is caught and logged, so it does not end the process
   * (see `ListenerGuard`).
   */
  override addEventListener(
    type: string,
    listener: Parameters<EventTarget['addEventListener']>[1],
    options?: Parameters<EventTarget['addEventListener']>[2],
  ): void {
    super.addEventListener(type, this.#listeners.wrap(listener), options)
  }

  override removeEventListener(
    type: string,
    listener: Parameters<EventTarget['removeEventListener']>[1],
    options?: Parameters<EventTarget['removeEventListener']>[2],
  ): void {
    super.removeEventListener(type, this.#listeners.registered(listener), options)
  }

  /** Listens to one event type; returns a function that stops listening. */
  on<T extends SchedulerDriverEvent['type']>(type: T, handler: (event: EventOf<T>) => void): () => void {
    const listener = (event: Event): void => handler((event as CustomEvent<EventOf<T>>).detail)
    this.addEventListener(type, listener)
    return () => this.removeEventListener(type, listener)
  }

  #creatorRole(): CreatorMachine {
    if (this.creator === undefined)
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', 'this scheduler has no creator role', {})
    return this.creator
  }

  #onInbound(inbound: Inbound): void {
    const type = inbound.message.type
    // Both roles share one market view: a capacity record or an order is fed to it once.
    const toCreator =
      this.creator !== undefined && CREATOR_MESSAGE_TYPES.has(type) && !(type === 'order' && this.worker !== undefined)
    const toWorker = this.worker !== undefined && WORKER_MESSAGE_TYPES.has(type) && !(type === 'capacity' && toCreator)
    const now = this.#clock.now()
    if (toCreator) this.#handle(inbound, () => this.creator?.handle({ kind: 'message', inbound }, now))
    if (toWorker) this.#handle(inbound, () => this.worker?.handle({ kind: 'message', inbound }, now))
    if (toCreator || toWorker) this.#step()
  }

  #handle(inbound: Inbound, run: () => void): void {
    try {
      run()
    } catch (error) {
      if (!isSchedulerError(error)) {
        this.#log.error('handling a %s from %s failed - %e', inbound.message.type, inbound.from, error)
        return
      }
      this.#log('refused a %s from %s: %s', inbound.message.type, inbound.from, error.code)
      this.dispatchEvent(new CustomEvent('message:rejected', { detail: { type: 'message:rejected', error, inbound } }))
    }
  }

  /** Carries out every pending output, then re-arms the timer. */
  #step(): void {
    if (this.#lifetime === undefined) return
    for (;;) {
      const out: CreatorOutput | WorkerOutput | undefined = this.creator?.pollOutput() ?? this.worker?.pollOutput()
      if (out === undefined) break
      this.#carryOut(out)
    }
    this.#arm()
  }

  /**
   * Sends a worker's Result, again after pauses doubling from RESULT_RESEND_FIRST_PAUSE_MS for RESULT_RESEND_MS when
   * a send fails (the creator out of reach, a reset stream): it is the task's claim to pay, sent once by the machine,
   * and the creator ignores a copy it already has. Stops with the driver.
   */
  async #sendResult(to: string, message: WireMessage, signal: AbortSignal | undefined): Promise<void> {
    for (let pause = RESULT_RESEND_FIRST_PAUSE_MS, waited = 0; ; pause *= 2) {
      try {
        await this.#bus.send(to, message, { signal })
        return
      } catch (e) {
        if (signal?.aborted === true || waited >= RESULT_RESEND_MS) {
          this.#log('sending a result to %s failed - %e', to, e)
          return
        }
        this.#log('sending a result to %s failed, sending it again in %d ms - %e', to, pause, e)
      }
      const stopped = await delay(pause, signal).then(
        () => false,
        () => true,
      )
      if (stopped) return
      waited += pause
    }
  }

  #carryOut(out: CreatorOutput | WorkerOutput): void {
    const signal = this.#lifetime?.signal
    switch (out.kind) {
      case 'publish':
        this.#bus
          .publish(out.topic, out.message, { signal })
          .catch((e) => this.#log('publishing a %s failed - %e', out.message.type, e))
        return
      case 'send':
        if (out.message.type === 'result') return void this.#sendResult(out.to, out.message, signal)
        this.#bus
          .send(out.to, out.message, { signal })
          .catch((e) => this.#log('sending a %s to %s failed - %e', out.message.type, out.to, e))
        return
      case 'event':
        this.dispatchEvent(new CustomEvent(out.event.type, { detail: out.event }))
        return
      case 'verify':
        this.#verifyResult(out)
        return
      case 'accept':
        try {
          this.#onAccept?.(out)
        } catch (e) {
          this.#log.error('onAccept threw for %s - %e', out.taskId, e)
        }
        return
      case 'run':
        this.#run({ order: out.order, task: out.task, minPrice: out.minPrice, paidMs: out.paidMs })
        return
      case 'abort':
        this.#runs.get(out.taskId)?.abort(new AbortError(`task ${out.taskId} ${out.reason}`))
        this.#runs.delete(out.taskId)
        return
    }
  }

  #verifyResult(request: VerifyRequest): void {
    const verify = this.#verify
    if (verify === undefined) return
    const decide = (outcome: VerdictOutcome): void => {
      if (this.#lifetime === undefined) return
      const { taskId, worker } = request
      this.creator?.handle({ kind: 'task:verdict', taskId, worker, outcome }, this.#clock.now())
      this.#step()
    }
    verify(request, { signal: this.#lifetime?.signal })
      .then(decide, (e: unknown) => {
        // A check that could not be carried out fails: the task is awarded again rather than left in verification
        // for good, where it would also hold up the end of a job that is cancelled or expires.
        this.#log.error('verifying %s failed; it counts as failed - %e', request.taskId, e)
        decide('fail')
      })
      .catch((e: unknown) => this.#log.error('the verdict on %s was refused - %e', request.taskId, e))
  }

  #run(execution: TaskExecution): void {
    const { task } = execution
    const executor = this.#executor
    const blobs = this.#blobs
    if (executor === undefined || blobs === undefined) return
    const controller = new AbortController()
    this.#runs.set(task.taskId, controller)
    const { signal } = controller
    const started = this.#clock.now()
    void (async () => {
      try {
        const output = await executor.execute(execution, { signal })
        // What the executor computed already is not computed again: a large output's every byte is hashed twice.
        const { committed } = output
        const bytes = committed?.blob ?? concat([...output.chunks])
        const cid = await blobs.put(
          bytes,
          committed === undefined ? { signal } : { signal, verifiedCid: committed.cid },
        )
        // A copy, so the root owns a plain ArrayBuffer as the wire schema types it.
        const root = new Uint8Array(committed?.root ?? this.#commit(output.chunks))
        signal.throwIfAborted()
        this.#reportToWorker({
          kind: 'task:finished',
          taskId: task.taskId,
          output: {
            root,
            chunks: output.chunks.length,
            output: cid.toString(),
            tolerance: output.tolerance,
            computeMs: output.computeMs ?? this.#clock.now() - started,
          },
        })
      } catch (e) {
        if (signal.aborted) return
        this.#log('task %s failed - %e', task.taskId, e)
        // The code tells the worker whether the failure condemns the order (ORDER_REFUSAL_CODES), not just the task.
        const code = isTesseraError(e) ? e.code : undefined
        this.#reportToWorker({
          kind: 'task:failed',
          taskId: task.taskId,
          reason: String(e),
          ...(code === undefined ? {} : { code }),
        })
      } finally {
        if (this.#runs.get(task.taskId) === controller) this.#runs.delete(task.taskId)
      }
    })()
  }

  #reportToWorker(input: Parameters<WorkerMachine['handle']>[0]): void {
    if (this.#lifetime === undefined) return
    try {
      this.worker?.handle(input, this.#clock.now())
    } catch (e) {
      // The job may have been cancelled or expired while the task ran.
      this.#log('the worker refused a task report - %e', e)
    }
    this.#step()
  }

  #arm(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const times = [this.creator?.pollTimeout(), this.worker?.pollTimeout()].filter((t): t is number => t !== undefined)
    if (times.length === 0 || this.#lifetime === undefined) return
    const delay = Math.min(Math.max(0, Math.min(...times) - this.#clock.now()), MAX_TIMER_MS)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const now = this.#clock.now()
      this.creator?.handleTimeout(now)
      this.worker?.handleTimeout(now)
      this.#step()
    }, delay)
  }
}
