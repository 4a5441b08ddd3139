import {
  Fifo,
  MAX_TILE_PIXELS,
  type Award,
  type Inbound,
  type MessageType,
  type NetworkOutput,
  type Order,
  type Result,
  resultSchema,
  type SansIoMachine,
  type WireMessage,
} from '@tessera/core'
import {
  BIDS_TOPIC,
  DEFAULT_AWARD_GRACE_MS,
  DEFAULT_WORK_TOLERANCE,
  MAX_DEADLINE_AHEAD_MS,
  MAX_REFUSED_ORDERS,
  MAX_TASKS_PER_MESSAGE,
  MAX_WORKER_JOBS,
  ORDER_REFUSAL_CODES,
} from './constants.js'
import { hasFeatures } from './diagnose.js'
import { checkSigner, reject, SchedulerError } from './errors.js'
import type { AbortReason, SkipReason, WorkerEvent } from './events.js'
import type { Tier } from './job.js'
import { MarketView } from './market.js'
import type { PricingStrategy } from './pricing.js'
import { jobIdOfTask, taskAt, taskIdAt, taskIndexOf, type TaskDescriptor } from './split.js'
import { TimerQueue } from './timers.js'
import { isTooLarge, isUnderpriced, paidTaskMs } from './work.js'

/** What a worker offers; the driver's capacity record says the same to the network. */
export interface WorkerProfile {
  memoryMb: number
  features: readonly string[]
  /** Capacity benchmark score, benchmark units. */
  score: number
  /** Tasks it runs at once. */
  slots: number
  /** Tiers it is admitted to (its own claim; creators check it against their policy). */
  tiers: readonly Tier[]
}

/** A task's output commitment, as the executor reports it. */
export type TaskCommitment = Pick<Result, 'root' | 'chunks' | 'output' | 'tolerance' | 'computeMs'>

/** The wire message types a worker machine takes; drivers route only these to it. */
export const WORKER_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['order', 'award', 'capacity'])

/** Inputs of the {@link WorkerMachine}. */
export type WorkerInput =
  /** A verified message from the bus: orders (gossip), awards (direct), capacity records (market depth). */
  | { kind: 'message'; inbound: Inbound }
  /** The driver finished a task it was told to `run`. */
  | { kind: 'task:finished'; taskId: string; output: TaskCommitment }
  /**
   * The driver could not finish a task: it is given back to the creator. With a `code` in `ORDER_REFUSAL_CODES` (the
   * failure's error code), the worker withdraws from the whole job and skips its order from then on.
   */
  | { kind: 'task:failed'; taskId: string; reason?: string; code?: string }
  /** The operator withdraws from a job: every unfinished task is given back. */
  | { kind: 'job:withdraw'; jobId: string }

/** Outputs of the {@link WorkerMachine}. */
export type WorkerOutput =
  | NetworkOutput
  /** Run a task (the driver executes it and reports `task:finished` or `task:failed`). */
  | {
      kind: 'run'
      order: Order
      task: TaskDescriptor
      /** The least the task's receipt may pay per benchmark-hour: the lowest price this worker bid on the job. */
      minPrice: bigint
      /**
       * How long the order's benchmark-hours per task take at this worker's score, ms (`paidTaskMs`): the time the
       * task is paid for, by which a driver may bound how long it lets the task run.
       */
      paidMs: number
    }
  /** Stop a running task; no report is expected for it. */
  | { kind: 'abort'; jobId: string; taskId: string; reason: AbortReason }
  | { kind: 'event'; event: WorkerEvent }

/** Options of a {@link WorkerMachine}. */
export interface WorkerMachineInit {
  /** This worker's peer id string. */
  self: string
  profile: WorkerProfile
  /** Prices bids; see `fixedPrice` and `demandPrice`. */
  pricing: PricingStrategy
  /** The market view to read (depth) and feed; share one between machines. @default a new MarketView */
  market?: MarketView
  /**
   * Time to finish one more task of `order` given `load` tasks already running or queued.
   * @default benchHoursPerTask / score hours per task, times the number of rounds of `slots` ahead of it
   */
  estimateEtaMs?: (order: Order, load: number) => number
  /**
   * Gossip bids on the bids topic (DESIGN.md: bids travel over gossipsub; they ride the mesh's open streams, which
   * in the award benchmark cut the time to the k-th bid several-fold) or send them straight to the creator
   * (sealed bids, a new stream each). @default 'gossip'
   */
  bidChannel?: 'direct' | 'gossip'
  /**
   * Forget a bid that won nothing this long after its window closed, and a leased job this long after its last task
   * ended with nothing left to run (see {@link DEFAULT_AWARD_GRACE_MS}): a creator may award a standing bid, or more
   * tasks, later, when a lease is lost or a verification fails, but a worker that kept every lost bid and finished
   * job until its order's deadline would fill {@link MAX_WORKER_JOBS} and skip new orders as busy. `Infinity` keeps
   * them until the deadline. Each bid says when it is forgotten (`standsUntil`), and so this grace, so creators pass
   * over it then.
   * @default DEFAULT_AWARD_GRACE_MS (ten minutes, the default job timeout)
   */
  awardGraceMs?: number
  /**
   * Skip (reason `underpriced`) an order whose estimated work per task (`estimatedTaskMs`, from the order alone) would
   * take this worker more than this many times the time its `benchHoursPerTask` pays for (`paidTaskMs`). Orders whose
   * work the order does not tell (inference) are never skipped for it. At least 1; `Infinity` takes every order.
   * @default DEFAULT_WORK_TOLERANCE (16)
   */
  workTolerance?: number
  /**
   * Skip (reason `tooLarge`) a render order whose tile has more pixels than this: the tile's output, core's
   * `TILE_BYTES_PER_PIXEL` bytes a pixel, is one storage buffer, which the worker's device must hold. A node sets it
   * from its device's limits; at least 1.
   * @default MAX_TILE_PIXELS (2^23, what every WebGPU device holds)
   */
  maxTilePixels?: number
  /**
   * Codes of a task failure that condemn its order: the worker withdraws from the job and skips the order from then
   * on. A node adds the codes its input parsers refuse an order's inputs with (every task would fail alike).
   * @default ORDER_REFUSAL_CODES
   */
  orderRefusalCodes?: ReadonlySet<string>
  /** Emit `bid:skipped` events (the simulator may turn them off). @default true */
  reportSkips?: boolean
  /** Where this worker is paid, named in every Result it signs (see `Result.payee`). @default none */
  payee?: string
}

const QUEUED = 0
const RUNNING = 1
const DONE = 2
const GIVEN_BACK = 3

interface WorkerJob {
  order: Order
  leased: boolean
  /**
   * Lowest price bid on the job: the least an award, and a receipt for one of its tasks, may pay per benchmark-hour.
   * The creator pays each task the price of its award, the bid the award answers, whichever of this worker's bids that
   * was: bids can be lost or reordered on the way (a bid of a closed window may reach the creator in the next one), so
   * an award at any price this worker bid is taken, and only one below them all is refused.
   */
  minPrice: bigint
  /** `issuedAt` of the order version bid on (a re-opened order is newer). */
  bidIssuedAt: number
  heartbeatMs: number
  /** This worker's tasks of the job, by task index. */
  readonly tasks: Map<number, number>
  unfinished: number
  /** When its last unfinished task ended (finished or given back); read while leased with none unfinished. */
  idleSince: number
  heartbeatArmed: boolean
}

type Timer =
  | { kind: 'heartbeat'; jobId: string }
  | { kind: 'forget'; jobId: string }
  | { kind: 'deadline'; jobId: string }
  | { kind: 'refused'; jobId: string }

/**
 * The market side of a worker: it bids on the orders it can serve (tier, features, memory, free slots, price),
 * runs awarded tasks through its driver (`run` outputs, at most `slots` at once; it declines at once tasks no slot is
 * free for, and queues those awarded again after that), heart-beats its leases, and returns results. Sans-IO, like
 * the creator; `handle` throws a {@link SchedulerError} for every input it refuses (an award not signed by the order's
 * creator, an award for another worker, ...) and changes nothing then.
 */
export class WorkerMachine implements SansIoMachine<WorkerInput, WorkerOutput> {
  readonly self: string
  readonly profile: Readonly<WorkerProfile>
  readonly market: MarketView
  readonly #pricing: PricingStrategy
  readonly #estimateEtaMs: (order: Order, load: number) => number
  readonly #bidChannel: 'direct' | 'gossip'
  /** Undefined: lost bids are kept until the deadline. */
  readonly #awardGraceMs: number | undefined
  readonly #workTolerance: number
  readonly #maxTilePixels: number
  readonly #orderRefusalCodes: ReadonlySet<string>
  readonly #reportSkips: boolean
  readonly #payee: string | undefined
  readonly #jobs = new Map<string, WorkerJob>()
  /** Orders a task's failure condemned (see `ORDER_REFUSAL_CODES`), by job id, oldest first: skipped till forgotten. */
  readonly #refused = new Set<string>()
  readonly #queue = new Fifo<{ jobId: string; index: number }>()
  readonly #timers = new TimerQueue<Timer>()
  /** Whether a timer still refers to something this worker keeps. */
  readonly #isLive = (timer: Timer): boolean =>
    timer.kind === 'refused' ? this.#refused.has(timer.jobId) : this.#jobs.has(timer.jobId)
  readonly #outputs = new Fifo<WorkerOutput>()
  #running = 0
  #queued = 0

  constructor(init: WorkerMachineInit) {
    const { profile } = init
    // Every Result names it: one creators' schemas refuse would leave every task of this worker unpaid.
    if (init.payee !== undefined && !resultSchema.shape.payee.safeParse(init.payee).success) {
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', 'payee must be a base58 Solana address', {
        option: 'payee',
        value: init.payee.slice(0, 100),
      })
    }
    if (!(Number.isInteger(profile.slots) && profile.slots >= 1)) {
      throw new SchedulerError(
        'SCHEDULER__INVALID_CONFIG',
        `profile.slots must be a positive integer, not ${profile.slots}`,
        {
          option: 'profile.slots',
          value: profile.slots,
        },
      )
    }
    if (!(profile.score > 0 && Number.isFinite(profile.score))) {
      throw new SchedulerError(
        'SCHEDULER__INVALID_CONFIG',
        `profile.score must be finite and positive, not ${profile.score}`,
        {
          option: 'profile.score',
          value: profile.score,
        },
      )
    }
    this.self = init.self
    this.profile = Object.freeze({ ...profile, features: [...profile.features], tiers: [...profile.tiers] })
    this.market = init.market ?? new MarketView()
    this.#pricing = init.pricing
    this.#estimateEtaMs = init.estimateEtaMs ?? ((order, load) => this.#defaultEta(order, load))
    this.#bidChannel = init.bidChannel ?? 'gossip'
    const awardGraceMs = init.awardGraceMs ?? DEFAULT_AWARD_GRACE_MS
    if (!(awardGraceMs >= 0)) {
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', `awardGraceMs must be at least 0, not ${awardGraceMs}`, {
        option: 'awardGraceMs',
        value: awardGraceMs,
      })
    }
    this.#awardGraceMs = awardGraceMs === Number.POSITIVE_INFINITY ? undefined : awardGraceMs
    const workTolerance = init.workTolerance ?? DEFAULT_WORK_TOLERANCE
    if (!(workTolerance >= 1)) {
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', `workTolerance must be at least 1, not ${workTolerance}`, {
        option: 'workTolerance',
        value: workTolerance,
      })
    }
    this.#workTolerance = workTolerance
    const maxTilePixels = init.maxTilePixels ?? MAX_TILE_PIXELS
    if (!(maxTilePixels >= 1)) {
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', `maxTilePixels must be at least 1, not ${maxTilePixels}`, {
        option: 'maxTilePixels',
        value: maxTilePixels,
      })
    }
    this.#maxTilePixels = maxTilePixels
    this.#orderRefusalCodes = init.orderRefusalCodes ?? ORDER_REFUSAL_CODES
    this.#reportSkips = init.reportSkips ?? true
    this.#payee = init.payee
  }

  /** Tasks running, tasks queued, and slots. */
  get load(): { running: number; queued: number; slots: number } {
    return { running: this.#running, queued: this.#queued, slots: this.profile.slots }
  }

  /**
   * Jobs tracked: bids awaiting an award, and leases until their deadline or, once nothing is left to run in them,
   * until no award for them can come.
   */
  get jobCount(): number {
    return this.#jobs.size
  }

  handle(input: WorkerInput, now: number): void {
    switch (input.kind) {
      case 'message':
        this.#onMessage(input.inbound, now)
        return
      case 'task:finished':
        this.#onFinished(input.taskId, input.output, now)
        return
      case 'task:failed':
        this.#onFailed(input.taskId, input.code, now)
        return
      case 'job:withdraw':
        this.#withdraw(input.jobId, now)
        return
    }
  }

  handleTimeout(now: number): void {
    for (let timer = this.#timers.popDue(now); timer !== undefined; timer = this.#timers.popDue(now)) {
      if (timer.kind === 'refused') {
        this.#refused.delete(timer.jobId)
        continue
      }
      const job = this.#jobs.get(timer.jobId)
      if (job === undefined) continue
      switch (timer.kind) {
        case 'heartbeat':
          job.heartbeatArmed = false
          if (job.unfinished > 0) {
            this.#sendHeartbeat(job, undefined, now)
            this.#armHeartbeat(job, now)
          }
          break
        case 'forget':
          if (job.unfinished === 0 && now >= this.#keptUntil(job)) this.#forget(timer.jobId)
          break
        case 'deadline':
          this.#drop(job, 'expired', now)
          break
      }
    }
  }

  pollOutput(): WorkerOutput | undefined {
    return this.#outputs.shift()
  }

  pollTimeout(): number | undefined {
    return this.#timers.peek()
  }

  #onMessage(inbound: Inbound, now: number): void {
    const message: WireMessage = inbound.message
    switch (message.type) {
      case 'order':
        checkSigner(inbound.from, message.body.creator, 'order')
        this.#onOrder(message.body, now)
        return
      case 'award':
        this.#onAward(inbound, message.body, now)
        return
      case 'capacity':
        checkSigner(inbound.from, message.body.peer, 'capacity')
        this.market.noteCapacity(message.body, inbound.expiresAt, now)
        return
      default:
        reject('SCHEDULER__UNEXPECTED_MESSAGE', `a worker does not take ${message.type} messages`, {
          type: message.type,
          from: inbound.from,
        })
    }
  }

  #onOrder(order: Order, now: number): void {
    if (order.creator === this.self) return
    const known = this.#jobs.get(order.jobId)
    // Only the job's own creator may cancel or re-open it: a copy signed by anyone else is forged.
    if (known !== undefined && order.creator !== known.order.creator) {
      reject('SCHEDULER__SIGNER_MISMATCH', `order ${order.jobId} re-published by ${order.creator}, not its creator`, {
        jobId: order.jobId,
        from: order.creator,
        creator: known.order.creator,
      })
    }
    this.market.noteOrder(order, now)
    if (order.cancelled === true) {
      if (known !== undefined) this.#drop(known, 'cancelled', now)
      return
    }
    // Gossip delivers copies; only a newer version (a re-opened window) is news.
    if (known !== undefined && order.issuedAt <= known.bidIssuedAt) return
    const load = this.#running + this.#queued
    const free = this.profile.slots - load
    const skip = this.#skipReason(order, free, known !== undefined, now)
    if (skip !== undefined) {
      if (this.#reportSkips) this.#emit({ type: 'bid:skipped', at: now, jobId: order.jobId, reason: skip })
      return
    }
    const price = this.#pricing({ order, utilisation: load / this.profile.slots, depth: this.#depth(free, now), now })
    if (price > order.maxPrice) {
      if (this.#reportSkips) this.#emit({ type: 'bid:skipped', at: now, jobId: order.jobId, reason: 'price' })
      return
    }
    const etaMs = Math.max(0, Math.round(this.#estimateEtaMs(order, load)))
    const message: WireMessage = {
      type: 'bid',
      body: {
        jobId: order.jobId,
        worker: this.self,
        price,
        etaMs,
        score: this.profile.score,
        maxTasks: free,
        issuedAt: now,
        // Tells the creator when this bid is forgotten (the `forget` timer below), so that it never sends an award
        // this worker would refuse, whatever grace either side is configured with; and so the grace for which this
        // worker keeps a leased job once its last task ended (`#keptUntil`).
        standsUntil:
          this.#awardGraceMs === undefined
            ? order.deadline
            : Math.min(order.deadline, order.bidDeadline + this.#awardGraceMs),
      },
    }
    this.#outputs.push(
      this.#bidChannel === 'direct'
        ? { kind: 'send', to: order.creator, message }
        : { kind: 'publish', topic: BIDS_TOPIC, message },
    )
    if (known === undefined) {
      this.#jobs.set(order.jobId, {
        order,
        leased: false,
        minPrice: price,
        bidIssuedAt: order.issuedAt,
        heartbeatMs: 0,
        tasks: new Map(),
        unfinished: 0,
        idleSince: now,
        heartbeatArmed: false,
      })
      // With an award grace, the `forget` timer forgets a lost bid soon; the deadline timer waits for an award,
      // so a lost bid does not hold a timer until the job's deadline (an hour or more).
      if (this.#awardGraceMs === undefined) this.#timers.push(order.deadline, { kind: 'deadline', jobId: order.jobId })
    } else {
      known.order = order
      if (price < known.minPrice) known.minPrice = price
      known.bidIssuedAt = order.issuedAt
    }
    if (this.#awardGraceMs !== undefined) {
      this.#timers.push(order.bidDeadline + this.#awardGraceMs, { kind: 'forget', jobId: order.jobId })
    }
    this.#emit({ type: 'bid:sent', at: now, jobId: order.jobId, price, etaMs, maxTasks: free })
  }

  #skipReason(order: Order, free: number, known: boolean, now: number): SkipReason | undefined {
    if (now >= order.bidDeadline || now >= order.deadline) return 'expired'
    // No creator orders a job this long: one that says so would hold a slot of MAX_WORKER_JOBS as long.
    if (order.deadline - now > MAX_DEADLINE_AHEAD_MS) return 'tooLong'
    if (this.#refused.has(order.jobId)) return 'refused'
    if (!this.profile.tiers.includes(order.tier)) return 'tier'
    if (!hasFeatures(order.requirements.features, this.profile.features)) return 'features'
    if (this.profile.memoryMb < order.requirements.minMemoryMb) return 'memory'
    // Before the price: awarded, the task would fail on the device once it ran, and the creator would award it again.
    if (isTooLarge(order, this.#maxTilePixels)) return 'tooLarge'
    if (this.#underpriced(order)) return 'underpriced'
    if (free <= 0 || (!known && this.#jobs.size >= MAX_WORKER_JOBS)) return 'busy'
    return undefined
  }

  /**
   * True when a task's work, estimated from the order, would take this worker more than `workTolerance` times what
   * the order pays for: an order declaring 0 benchmark-hours for a 4096x4096 tile at 256 samples pays nothing for
   * hours of work. Both times are at this worker's score.
   */
  #underpriced(order: Order): boolean {
    return isUnderpriced(order, this.profile.score, this.#workTolerance)
  }

  /** Market depth counting this worker's own free slots, which its view lacks unless its record came back to it. */
  #depth(free: number, now: number): number {
    const { openTasks, freeSlots } = this.market.depth(now)
    const own = this.market.capacity(this.self) === undefined ? free : 0
    return openTasks / Math.max(1, freeSlots + own)
  }

  #defaultEta(order: Order, load: number): number {
    return paidTaskMs(order, this.profile.score) * (Math.floor(load / this.profile.slots) + 1)
  }

  #onAward(inbound: Inbound, award: Award, now: number): void {
    const job = this.#jobs.get(award.jobId)
    if (job === undefined) {
      reject('SCHEDULER__ORDER_NOT_FOUND', `award for job ${award.jobId}, which this worker did not bid on`, {
        jobId: award.jobId,
        from: inbound.from,
      })
    }
    const creator = job.order.creator
    if (inbound.from !== creator || award.creator !== creator) {
      reject('SCHEDULER__SIGNER_MISMATCH', `award for job ${award.jobId} not signed by its creator ${creator}`, {
        jobId: award.jobId,
        from: inbound.from,
        creator,
      })
    }
    if (award.worker !== this.self) {
      reject('SCHEDULER__WORKER_MISMATCH', `award for ${award.worker} delivered to ${this.self}`, {
        jobId: award.jobId,
        from: inbound.from,
        worker: award.worker,
      })
    }
    if (award.price < job.minPrice) {
      reject('SCHEDULER__PRICE_MISMATCH', `award price ${award.price} is below every bid, the lowest ${job.minPrice}`, {
        jobId: award.jobId,
        from: inbound.from,
        price: award.price,
        bid: job.minPrice,
      })
    }
    const indices = new Set<number>()
    for (const taskId of award.taskIds) {
      const index = taskIndexOf(job.order, taskId)
      if (index < 0) {
        reject('SCHEDULER__TASK_NOT_FOUND', `job ${award.jobId} has no task ${taskId}`, {
          jobId: award.jobId,
          taskId,
          from: inbound.from,
        })
      }
      // A task it finished or gave back may be awarded again: the creator never got its Result (lost on the way), or
      // took it for an award that never arrived (its heartbeats left it out), and wants it run.
      const state = job.tasks.get(index)
      if (state === QUEUED || state === RUNNING || indices.has(index)) {
        reject('SCHEDULER__DUPLICATE_AWARD', `task ${taskId} was already awarded to this worker`, {
          jobId: award.jobId,
          taskId,
          from: inbound.from,
        })
      }
      indices.add(index)
    }
    if (!job.leased && this.#awardGraceMs !== undefined) {
      this.#timers.push(job.order.deadline, { kind: 'deadline', jobId: award.jobId })
    }
    job.leased = true
    job.heartbeatMs = award.heartbeatMs
    // Each bid offers every free slot, and bids on several orders may all win: tasks beyond the slots free now are
    // given back at once, for the creator to award to a worker with room. One awarded again after that (or after it
    // ran here) is taken whatever the load: the creator found nobody else for it, and a queue beats no worker.
    let free = this.profile.slots - this.#running - this.#queued
    const declined: string[] = []
    let taken = 0
    for (const index of indices) {
      const again = job.tasks.has(index)
      if (!again && free <= 0) {
        job.tasks.set(index, GIVEN_BACK)
        declined.push(taskIdAt(job.order, index))
        continue
      }
      free--
      taken++
      job.tasks.set(index, QUEUED)
      this.#queue.push({ jobId: award.jobId, index })
    }
    this.#queued += taken
    job.unfinished += taken
    this.#emit({ type: 'award:received', at: now, jobId: award.jobId, taskIds: award.taskIds, price: award.price })
    if (declined.length > 0) {
      this.#sendHeartbeat(job, declined, now)
      this.#emit({ type: 'award:declined', at: now, jobId: award.jobId, taskIds: declined })
      if (job.unfinished === 0) this.#idle(job, now)
    }
    if (!job.heartbeatArmed) this.#armHeartbeat(job, now)
    this.#pump(now)
  }

  #armHeartbeat(job: WorkerJob, now: number): void {
    job.heartbeatArmed = true
    this.#timers.push(now + job.heartbeatMs, { kind: 'heartbeat', jobId: job.order.jobId })
  }

  /** Starts queued tasks while slots are free. */
  #pump(now: number): void {
    while (this.#running < this.profile.slots) {
      const next = this.#queue.shift()
      if (next === undefined) return
      const job = this.#jobs.get(next.jobId)
      if (job === undefined || job.tasks.get(next.index) !== QUEUED) continue
      job.tasks.set(next.index, RUNNING)
      this.#queued--
      this.#running++
      const task = taskAt(job.order, next.index) as TaskDescriptor
      const paidMs = paidTaskMs(job.order, this.profile.score)
      this.#outputs.push({ kind: 'run', order: job.order, task, minPrice: job.minPrice, paidMs })
      this.#emit({ type: 'task:started', at: now, jobId: next.jobId, taskId: task.taskId })
    }
  }

  #runningTask(taskId: string): { job: WorkerJob; index: number } {
    const job = this.#jobs.get(jobIdOfTask(taskId))
    const index = job === undefined ? -1 : taskIndexOf(job.order, taskId)
    if (job === undefined || job.tasks.get(index) !== RUNNING) {
      reject('SCHEDULER__TASK_NOT_RUNNING', `task ${taskId} is not running here`, { taskId })
    }
    return { job, index }
  }

  #onFinished(taskId: string, output: TaskCommitment, now: number): void {
    const { job, index } = this.#runningTask(taskId)
    job.tasks.set(index, DONE)
    this.#running--
    job.unfinished--
    const { order } = job
    this.#outputs.push({
      kind: 'send',
      to: order.creator,
      message: {
        type: 'result',
        body: {
          jobId: order.jobId,
          taskId,
          worker: this.self,
          root: output.root,
          chunks: output.chunks,
          output: output.output,
          tolerance: output.tolerance,
          computeMs: Math.max(0, Math.round(output.computeMs)),
          issuedAt: now,
          ...(this.#payee !== undefined ? { payee: this.#payee } : {}),
        },
      },
    })
    this.#emit({ type: 'result:sent', at: now, jobId: order.jobId, taskId })
    if (job.unfinished === 0) this.#idle(job, now)
    this.#pump(now)
  }

  #onFailed(taskId: string, code: string | undefined, now: number): void {
    const { job, index } = this.#runningTask(taskId)
    job.tasks.set(index, GIVEN_BACK)
    this.#running--
    job.unfinished--
    if (code !== undefined && this.#orderRefusalCodes.has(code)) {
      // Its other tasks would fail alike, and a standing bid would win it more of them: leave the job, and bid on
      // the order no more (a re-opened copy included) until its deadline.
      this.#refuse(job.order)
      this.#withdraw(job.order.jobId, now, [taskId], code)
      return
    }
    this.#sendHeartbeat(job, [taskId], now)
    if (job.unfinished === 0) this.#idle(job, now)
    this.#pump(now)
  }

  /**
   * A leased job with nothing left to run here is forgotten once no award for it can come (`#keptUntil`), so that
   * finished jobs do not count against {@link MAX_WORKER_JOBS} until their deadlines (a month at most). Its Results
   * are out already (the driver sends them again without the job), and its receipts and challenges are not the
   * scheduler's. Forgotten, its order re-opened draws a fresh bid, and an award for it is refused (`ORDER_NOT_FOUND`),
   * which the creator, knowing the grace from the bid, does not send.
   */
  #idle(job: WorkerJob, now: number): void {
    job.idleSince = now
    if (this.#awardGraceMs === undefined) return
    const at = this.#keptUntil(job)
    // Kept as long, the deadline timer drops it.
    if (at < job.order.deadline) this.#timers.push(at, { kind: 'forget', jobId: job.order.jobId })
  }

  /**
   * Until when a job with nothing to run here waits for an award: its latest bid's `standsUntil`, and for a leased job
   * the award grace after its last task ended, whichever is later. With no grace, until the deadline.
   */
  #keptUntil(job: WorkerJob): number {
    if (this.#awardGraceMs === undefined) return job.order.deadline
    const bidStands = job.order.bidDeadline + this.#awardGraceMs
    return job.leased ? Math.max(bidStands, job.idleSince + this.#awardGraceMs) : bidStands
  }

  /**
   * Forgets a job. Its timers are ignored when they fire; the queue drops them in batches before, so that a job
   * forgotten long before its deadline (a month at most) does not hold its deadline timer until then.
   */
  #forget(jobId: string): void {
    this.#jobs.delete(jobId)
    this.#timers.noteForgotten(this.#jobs.size + this.#refused.size, this.#isLive)
  }

  #refuse(order: Order): void {
    this.#refused.delete(order.jobId)
    this.#refused.add(order.jobId)
    if (this.#refused.size > MAX_REFUSED_ORDERS) {
      for (const oldest of this.#refused) {
        this.#refused.delete(oldest)
        this.#timers.noteForgotten(this.#jobs.size + this.#refused.size, this.#isLive)
        break
      }
    }
    this.#timers.push(order.deadline, { kind: 'refused', jobId: order.jobId })
  }

  /**
   * Gives back every unfinished task of a job and leaves it; `failed` are tasks already given back (by their failure)
   * that the leaving heartbeat names too, `code` the failure's that condemned the order.
   */
  #withdraw(jobId: string, now: number, failed: readonly string[] = [], code?: string): void {
    const job = this.#jobs.get(jobId)
    if (job === undefined) reject('SCHEDULER__ORDER_NOT_FOUND', `no job ${jobId} here`, { jobId })
    const taskIds = [...failed, ...this.#stop(job, 'withdrawn', now)]
    // Heartbeats marked `leaving` tell the creator this worker left the job: it awards it nothing more there.
    if (job.leased) {
      let start = 0
      do {
        this.#sendHeartbeat(job, taskIds.slice(start, start + MAX_TASKS_PER_MESSAGE), now, [], true)
        start += MAX_TASKS_PER_MESSAGE
      } while (start < taskIds.length)
    }
    this.#forget(jobId)
    this.#emit({ type: 'job:withdrawn', at: now, jobId, taskIds, ...(code === undefined ? {} : { code }) })
    this.#pump(now)
  }

  /** Forgets a job that was cancelled or ran past its deadline, stopping its tasks. */
  #drop(job: WorkerJob, reason: 'cancelled' | 'expired', now: number): void {
    this.#stop(job, reason, now)
    this.#forget(job.order.jobId)
    this.#pump(now)
  }

  /** Stops every unfinished task of `job` (aborting running ones); returns their ids. */
  #stop(job: WorkerJob, reason: AbortReason, now: number): string[] {
    const stopped: string[] = []
    for (const [index, state] of job.tasks) {
      if (state !== QUEUED && state !== RUNNING) continue
      const taskId = taskIdAt(job.order, index)
      stopped.push(taskId)
      job.tasks.set(index, GIVEN_BACK)
      if (state === QUEUED) {
        this.#queued--
        continue
      }
      this.#running--
      this.#outputs.push({ kind: 'abort', jobId: job.order.jobId, taskId, reason })
      this.#emit({ type: 'task:aborted', at: now, jobId: job.order.jobId, taskId, reason })
    }
    job.unfinished = 0
    return stopped
  }

  /**
   * Sends a heartbeat listing the tasks in progress (unless given) and, when given, tasks given back; `leaving` says
   * this worker leaves the job.
   */
  #sendHeartbeat(
    job: WorkerJob,
    withdrawn: readonly string[] | undefined,
    now: number,
    inProgress?: readonly string[],
    leaving = false,
  ): void {
    let taskIds = inProgress
    if (taskIds === undefined) {
      const ids: string[] = []
      for (const [index, state] of job.tasks) {
        if ((state === QUEUED || state === RUNNING) && ids.length < MAX_TASKS_PER_MESSAGE)
          ids.push(taskIdAt(job.order, index))
      }
      taskIds = ids
    }
    this.#outputs.push({
      kind: 'send',
      to: job.order.creator,
      message: {
        type: 'heartbeat',
        body: {
          jobId: job.order.jobId,
          worker: this.self,
          taskIds: [...taskIds],
          ...(withdrawn === undefined ? {} : { withdrawn: [...withdrawn] }),
          ...(leaving ? { leaving: true } : {}),
          issuedAt: now,
        },
      },
    })
  }

  #emit(event: WorkerEvent): void {
    this.#outputs.push({ kind: 'event', event })
  }
}
