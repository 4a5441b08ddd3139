import {
  Fifo,
  type Bid,
  type Heartbeat,
  type Inbound,
  type MessageType,
  type NetworkOutput,
  type Order,
  type Result,
  type Rng,
  type SansIoMachine,
  type WireMessage,
} from '@tessera/core'
import {
  AWARD_GRACE_MARGIN_MS,
  DEFAULT_AWARD_GRACE_MS,
  ENDED_JOB_VERDICT_WAIT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_REOPENS,
  DEFAULT_RETAIN_MS,
  MAX_BIDS_PER_JOB,
  MAX_CLOCK_SKEW_MS,
  MAX_TASKS_PER_MESSAGE,
  ORDERS_TOPIC,
} from './constants.js'
import { diagnoseOrder, type Diagnostic } from './diagnose.js'
import { checkSigner, reject, SchedulerError } from './errors.js'
import type { CreatorEvent, VerdictOutcome } from './events.js'
import { buildOrder, drawJobNonce, resolveJobSpec, type JobSpec } from './job.js'
import { MarketView } from './market.js'
import { benchMicroHours, expectedCost } from './pricing.js'
import { IndexHeap } from './index-heap.js'
import { compareBids } from './ranking.js'
import { jobIdOfTask, taskCountOf, taskIdAt, taskIndexOf } from './split.js'
import { TierPolicy, type TierPolicyInit, type TierRefusal } from './tiers.js'
import { TimerQueue } from './timers.js'

/** The wire message types a creator machine takes; drivers route only these to it. */
export const CREATOR_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'bid',
  'heartbeat',
  'result',
  'capacity',
  'order',
])

/** Inputs of the {@link CreatorMachine}. */
export type CreatorInput =
  /** A verified message from the bus: bids, heartbeats and results for our jobs; capacity records; others' orders. */
  | { kind: 'message'; inbound: Inbound }
  /** Order a job (the same as {@link CreatorMachine.submit}, which also returns the job id). */
  | { kind: 'job:submit'; spec: JobSpec; held?: boolean }
  /** Cancel a job: unfinished tasks are dropped, accepted ones stay accepted. */
  | { kind: 'job:cancel'; jobId: string }
  /** Let a job ordered `held` award its tasks (see {@link CreatorMachine.release}). */
  | { kind: 'job:release'; jobId: string }
  /**
   * `@tessera/proof`'s judgement of the result `worker` delivered for the task, which the machine handed out in a
   * `verify` output: `refused` when the worker never answered the challenge. Both `fail` and `refused` reject the
   * task; the event says which. A verdict on any other result (another worker's, one decided already) is refused
   * (`SCHEDULER__VERDICT_UNEXPECTED`): a decision about one worker's result must never land on another's.
   */
  | { kind: 'task:verdict'; taskId: string; worker: string; outcome: VerdictOutcome }
  /**
   * Arbitration cleared `worker`, whose result for the task failed its check (`fail`): the accusation was wrong. The
   * task is accepted with that result, at the price of that worker's award, wherever it stands, unless it has been
   * accepted already (see {@link CreatorMachine}).
   */
  | { kind: 'task:overturned'; taskId: string; worker: string }

/** A result to check: the driver hands it to `@tessera/proof` and feeds back a `task:verdict`. */
export interface VerifyRequest {
  kind: 'verify'
  jobId: string
  taskId: string
  worker: string
  result: Result
  order: Order
}

/** An accepted task, for settlement: the worker is owed `amount` from the job's escrow. */
export interface AcceptedTask {
  kind: 'accept'
  jobId: string
  taskId: string
  worker: string
  /** Agreed price per benchmark-hour: the task's award's, the worker's bid when it was awarded the task. */
  price: bigint
  benchHours: number
  /** `expectedCost(price, benchHours)`, token units. */
  amount: bigint
  escrow: string
  result: Result
}

/** Outputs of the {@link CreatorMachine}. */
export type CreatorOutput = NetworkOutput | VerifyRequest | AcceptedTask | { kind: 'event'; event: CreatorEvent }

/** Options of a {@link CreatorMachine}. */
export interface CreatorMachineInit {
  /** This creator's peer id string. */
  self: string
  /** Draws job-id nonces. */
  rng: Rng
  /** Tier policy: trusted partners, reputation look-up, thresholds. */
  tiers?: TierPolicyInit
  /** A peer's stake from an authority (the ledger); the capacity record's figure is used when this returns undefined. */
  stakeOf?: (peerId: string) => bigint | undefined
  /** The market view to read and feed; share one between machines to save memory. @default a new MarketView */
  market?: MarketView
  /** Hand results to verification (`verify` outputs); false accepts results as they arrive (tests). @default true */
  verify?: boolean
  /** A lease with no heartbeat or result for this long is lost. @default DEFAULT_LEASE_MS */
  leaseMs?: number
  /** Heartbeat period asked of workers. @default DEFAULT_HEARTBEAT_MS */
  heartbeatMs?: number
  /**
   * Bid windows re-opened at most this many times per job: the first at once, the next after pauses doubling from the
   * bid window. Used up with nobody to take the tasks, the job expires then (reason `unmatched`).
   * @default DEFAULT_MAX_REOPENS
   */
  maxReopens?: number
  /** Finished jobs are remembered this long. @default DEFAULT_RETAIN_MS */
  retainMs?: number
  /**
   * A bidder that has won nothing is awarded tasks only until its bid's `standsUntil`, less
   * {@link AWARD_GRACE_MARGIN_MS} (less half of the time from its window's close when that is under a minute):
   * workers forget such bids then (the worker's `awardGraceMs`), and an award they refuse costs the job a lease
   * period. Past it the bidder is passed over, and when nobody else can take the tasks the window re-opens. Bids are
   * always awarded when their window closes. This option is the grace assumed for a bid that does not say (a peer of
   * an older version): its window's close plus this. `Infinity` awards such bids until the deadline.
   * @default DEFAULT_AWARD_GRACE_MS
   */
  awardGraceMs?: number
}

/** A job's progress, as {@link CreatorMachine.job} reports it. */
export interface JobView {
  readonly jobId: string
  readonly status: JobStatus
  readonly order: Order
  readonly tasks: number
  readonly pending: number
  readonly assigned: number
  readonly verifying: number
  readonly accepted: number
  readonly bidders: number
  readonly windowOpen: boolean
  readonly reopens: number
  /** Ordered held and not released yet: it takes bids and awards nothing (see {@link CreatorMachine.release}). */
  readonly held: boolean
}

/** Where a job stands: open until it completes, is cancelled or passes its deadline. */
export type JobStatus = 'open' | 'completed' | 'cancelled' | 'expired'

const PENDING = 0
const ASSIGNED = 1
const VERIFYING = 2
const ACCEPTED = 3

/** A worker's bid on one job, and its lease once awarded. */
interface Bidder {
  readonly index: number
  readonly peer: string
  /** Price of the latest bid: what tasks awarded from now on pay. */
  price: bigint
  etaMs: number
  maxTasks: number
  reputation: number
  /** Window number of the latest bid. */
  window: number
  /**
   * Past this, a latest bid that won nothing is not awarded: its worker has forgotten it, or is about to (its
   * `standsUntil` less a margin for the award's journey).
   */
  awardableUntil: number
  /**
   * How long after its last task came back (`lastSeen`, with none in flight) its worker keeps the job waiting for
   * another award: the award grace its latest bid tells (`standsUntil` less the window's close), or Infinity when
   * that bid stands to the deadline or does not say (a worker of an older version keeps a lease to the deadline).
   */
  idleGraceMs: number
  /** Tasks awarded and not yet resulted. */
  inFlight: number
  /**
   * Tasks awarded that no heartbeat of the worker has listed yet, with when each was awarded: an award is sent once,
   * and one lost on the way shows as a task its worker's heartbeats leave out (see {@link CreatorMachine}).
   */
  unconfirmed: Map<number, number> | undefined
  /**
   * Declined an award at once, having no slot free (its bids on other orders won too): passed over until it returns a
   * Result here or bids again, unless nobody else can take what it declined.
   */
  full: boolean
  /** Last heartbeat, result or fresh award. */
  lastSeen: number
  leased: boolean
  /** Lost its lease or withdrew: never awarded again in this job. */
  out: boolean
  /**
   * Said it leaves the job while it still held tasks (a Result overtaken by its leaving heartbeat): awarded nothing
   * more, and out once it holds nothing, by whichever path its last task comes back.
   */
  leaving: boolean
  leaseTimerArmed: boolean
}

interface CreatorJob {
  order: Order
  readonly taskCount: number
  readonly microHours: bigint
  readonly bidWindowMs: number
  status: JobStatus
  windowOpen: boolean
  window: number
  windowBids: number
  reopens: number
  readonly state: Uint8Array
  /** Index of the bidder holding (or last holding) each task; -1 for none. */
  readonly holder: Int32Array
  /**
   * Price of each task's latest award, per benchmark-hour: what its worker is paid. A bid made later (a re-opened
   * window) prices the tasks awarded after it, not those its worker holds already.
   */
  readonly price: BigUint64Array
  pending: number
  /** The pending task indices, lowest first. */
  readonly pendingHeap: IndexHeap
  accepted: number
  assignedOnce: boolean
  bidders: Bidder[]
  byPeer: Map<string, number>
  ranked: Bidder[] | undefined
  results: Map<number, Result>
  /** Bidders barred from single tasks (failed verification, gave the task back). */
  exclusions: Map<number, Set<number>> | undefined
  /**
   * Bidders that declined single tasks at once for want of a slot, by task: they get such a task back, to queue it,
   * when nobody else takes it; one that gives it back again is barred from it.
   */
  declined: Map<number, Set<number>> | undefined
  /** The tasks of `declined` pending now: what is looked at for awarding back, without a scan of the job. */
  declinedPending: Set<number> | undefined
  /**
   * Results that failed their check, by task and bidder, each with the price of its award: arbitration may clear
   * one (`task:overturned`) until its task is accepted.
   */
  failed: Map<number, Map<number, FailedResult>> | undefined
  /** Ended unfinished with results still in verification: how, reported once their verdicts are in. */
  ending?: 'cancelled' | 'expired'
  /** Ended (expired) before its deadline: its re-openings were used up and nobody could take its tasks. */
  unmatched?: true
  /** When its window re-opens: it pauses between re-openings (see {@link CreatorMachine}). */
  reopenAt?: number
  /** Ordered held: bids are taken, and no task is awarded until {@link CreatorMachine.release}. */
  held?: boolean
}

/** A result that failed its check, kept in case arbitration clears it. */
interface FailedResult {
  readonly result: Result
  readonly price: bigint
}

type Timer =
  | { kind: 'window'; jobId: string; window: number }
  | { kind: 'deadline'; jobId: string }
  | { kind: 'lease'; jobId: string; bidder: number }
  | { kind: 'forget'; jobId: string }
  | { kind: 'verdicts'; jobId: string }
  | { kind: 'reopen'; jobId: string; window: number }

/**
 * The market side of a creator, for any number of jobs: it orders jobs, runs each job's reverse auction, awards
 * tasks, keeps leases alive by heartbeats, re-auctions what lost leases and failed verifications leave behind,
 * and hands accepted tasks to settlement. Sans-IO: it reads no clock and does no I/O.
 *
 * **Errors.** `handle` throws a {@link SchedulerError} for every input it refuses (a message for an unknown job,
 * a late bid, a result from a peer the task is not awarded to, ...) and a refused input changes nothing. Drivers
 * catch, log and may penalise `inbound.from`.
 *
 * **Auction.** A job's bid window closes at `order.bidDeadline` or as soon as `order.minBids` valid bids arrived.
 * Tasks then go, in task order, to the best bidders with room (a bid's `maxTasks` bounds the tasks it holds at
 * once), best first by {@link compareBids}: expected cost, then reputation (higher first), then ETA, then peer id.
 * Each task pays the price of its award: its worker's bid when it was awarded. Tasks freed later (a lost lease, a withdrawal, a failed verification) go to
 * the next best bidder with room; if nobody could ever take them, the window re-opens (`maxReopens` times, with
 * pauses doubling from the bid window after the first), and once those are used up the job expires then.
 *
 * **Declined awards.** A worker's bids on several orders may all win; it gives back at once the tasks it has no slot
 * for, before any heartbeat listed them. They go to the next best bidders with room, the worker passed over in the
 * job until it returns a Result or bids again; one nobody else can take goes back to a worker that declined it, which
 * queues it. Given back again, or once listed, a task bars its worker as a failure does.
 *
 * **Lost awards.** An award is sent once. A worker's heartbeats list the tasks it holds: an awarded task they leave out
 * a lease period after its award never reached the worker, and neither did one a worker held alone when it went quiet,
 * if it had been heard from since the award (holding it, it would have sent heartbeats). Such tasks go back to the
 * auction (`award:lost`) and the worker, alive, stays in the job; a worker that went quiet holding a task it listed
 * loses its lease as usual.
 *
 * **Verification.** Each verdict names the worker whose result it judges, and is taken only for that worker's result
 * under check. A failed result is kept until its task is accepted: when arbitration clears its worker afterwards
 * (`task:overturned`), the task is accepted with it and that worker paid its award's price, and whoever holds the task
 * by then (a new award, or a result under check) is not paid for it. A task is paid once: a worker cleared after its
 * task was accepted is not paid (`SCHEDULER__VERDICT_UNEXPECTED`, reason `accepted`), nor one cleared after its job's
 * end was reported (`SCHEDULER__JOB_CLOSED`).
 */
export class CreatorMachine implements SansIoMachine<CreatorInput, CreatorOutput> {
  readonly self: string
  readonly market: MarketView
  readonly #rng: Rng
  readonly #policy: TierPolicy
  readonly #stakeOf: ((peerId: string) => bigint | undefined) | undefined
  readonly #verify: boolean
  readonly #leaseMs: number
  readonly #heartbeatMs: number
  readonly #maxReopens: number
  readonly #retainMs: number
  /** How long after its window's close a bid that does not say (`standsUntil`) is taken to stand. */
  readonly #assumedGraceMs: number
  readonly #jobs = new Map<string, CreatorJob>()
  readonly #timers = new TimerQueue<Timer>()
  /** Whether a timer still refers to a job this creator keeps. */
  readonly #isLive = (timer: Timer): boolean => this.#jobs.has(timer.jobId)
  readonly #outputs = new Fifo<CreatorOutput>()
  #now = 0

  constructor(init: CreatorMachineInit) {
    this.self = init.self
    this.#rng = init.rng
    this.#policy = new TierPolicy(init.tiers)
    this.#stakeOf = init.stakeOf
    this.market = init.market ?? new MarketView()
    this.#verify = init.verify ?? true
    this.#leaseMs = init.leaseMs ?? DEFAULT_LEASE_MS
    this.#heartbeatMs = init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    this.#maxReopens = init.maxReopens ?? DEFAULT_MAX_REOPENS
    this.#retainMs = init.retainMs ?? DEFAULT_RETAIN_MS
    const awardGraceMs = init.awardGraceMs ?? DEFAULT_AWARD_GRACE_MS
    if (!(awardGraceMs >= 0)) {
      throw new SchedulerError('SCHEDULER__INVALID_CONFIG', `awardGraceMs must be at least 0, not ${awardGraceMs}`, {
        option: 'awardGraceMs',
        value: awardGraceMs,
      })
    }
    this.#assumedGraceMs = awardGraceMs
    if (!(this.#heartbeatMs > 0 && this.#leaseMs > this.#heartbeatMs)) {
      throw new SchedulerError(
        'SCHEDULER__INVALID_CONFIG',
        `leaseMs (${this.#leaseMs}) must exceed heartbeatMs (${this.#heartbeatMs}) > 0`,
        { leaseMs: this.#leaseMs, heartbeatMs: this.#heartbeatMs },
      )
    }
  }

  handle(input: CreatorInput, now: number): void {
    this.#now = Math.max(this.#now, now)
    switch (input.kind) {
      case 'message':
        this.#onMessage(input.inbound, now)
        return
      case 'job:submit':
        this.submit(input.spec, now, input.held === true ? { held: true } : {})
        return
      case 'job:cancel':
        this.cancel(input.jobId, now)
        return
      case 'job:release':
        this.release(input.jobId, now)
        return
      case 'task:verdict':
        this.#onVerdict(input.taskId, input.worker, input.outcome, now)
        return
      case 'task:overturned':
        this.#onOverturned(input.taskId, input.worker, now)
        return
    }
  }

  handleTimeout(now: number): void {
    this.#now = Math.max(this.#now, now)
    for (let timer = this.#timers.popDue(now); timer !== undefined; timer = this.#timers.popDue(now)) {
      const job = this.#jobs.get(timer.jobId)
      if (job === undefined) continue
      switch (timer.kind) {
        case 'window':
          if (job.status === 'open' && job.windowOpen && job.window === timer.window)
            this.#closeWindow(job, now, 'deadline')
          break
        case 'deadline':
          if (job.status === 'open') this.#end(job, 'expired', now)
          break
        case 'lease':
          this.#checkLease(job, timer.bidder, now)
          break
        case 'forget':
          this.#jobs.delete(timer.jobId)
          // Its deadline timer, a month away at most, would otherwise stay in the heap until then.
          this.#timers.noteForgotten(this.#jobs.size, this.#isLive)
          break
        case 'verdicts':
          if (job.ending !== undefined) this.#abandonVerdicts(job, job.ending, now)
          break
        case 'reopen':
          if (job.status === 'open' && job.reopenAt !== undefined && job.window === timer.window) {
            job.reopenAt = undefined
            // Still nobody to take what is pending (a verdict or a re-ranking may have changed that meanwhile).
            if (job.pending > 0 && !job.bidders.some((b) => !b.out && b.inFlight > 0)) this.#openWindow(job, now, false)
          }
          break
      }
    }
  }

  pollOutput(): CreatorOutput | undefined {
    return this.#outputs.shift()
  }

  pollTimeout(): number | undefined {
    return this.#timers.peek()
  }

  /**
   * Orders a job at `now`: validates the spec, derives the job id, publishes the order. Returns the job id. With
   * `held`, the job takes bids (its window closes as usual) but awards nothing until {@link release}: a creator
   * funds the job's escrow first, so no worker runs a task nobody can pay for.
   */
  submit(spec: JobSpec, now: number, options: { held?: boolean } = {}): string {
    this.#now = Math.max(this.#now, now)
    const resolved = resolveJobSpec(spec)
    let order: Order
    do order = buildOrder(resolved, this.self, drawJobNonce(this.#rng), now)
    while (this.#jobs.has(order.jobId))
    const jobId = order.jobId
    const taskCount = taskCountOf(order.split)
    const job: CreatorJob = {
      order,
      taskCount,
      microHours: benchMicroHours(order.benchHoursPerTask),
      bidWindowMs: resolved.bidWindowMs,
      status: 'open',
      windowOpen: true,
      window: 0,
      windowBids: 0,
      reopens: 0,
      state: new Uint8Array(taskCount),
      holder: new Int32Array(taskCount).fill(-1),
      price: new BigUint64Array(taskCount),
      pending: taskCount,
      pendingHeap: new IndexHeap(taskCount, taskCount),
      accepted: 0,
      assignedOnce: false,
      bidders: [],
      byPeer: new Map(),
      ranked: undefined,
      results: new Map(),
      exclusions: undefined,
      declined: undefined,
      declinedPending: undefined,
      failed: undefined,
      ...(options.held === true ? { held: true } : {}),
    }
    this.#jobs.set(jobId, job)
    this.#timers.push(order.bidDeadline, { kind: 'window', jobId, window: 0 })
    this.#timers.push(order.deadline, { kind: 'deadline', jobId })
    this.market.noteOrder(order, now)
    this.#publishOrder(order)
    this.#emit({ type: 'job:ordered', at: now, jobId, tasks: taskCount, order })
    return jobId
  }

  /**
   * Lets a job ordered held award its tasks from `now`: to the bids of a window that closed meanwhile at once, else
   * when its window closes. When no bid taken meanwhile can be awarded any longer (none came, or their workers have
   * forgotten them while the job was held), the order is published again without counting against `maxReopens`:
   * the wait was the creator's, not the market's. Releasing a job not held changes nothing.
   */
  release(jobId: string, now: number): void {
    this.#now = Math.max(this.#now, now)
    const job = this.#openJob(jobId)
    if (job.held !== true) return
    job.held = undefined
    this.#assignPending(job, now, true)
  }

  /** Cancels a job at `now` (see the `job:cancel` input). */
  cancel(jobId: string, now: number): void {
    this.#now = Math.max(this.#now, now)
    const job = this.#openJob(jobId)
    this.#end(job, 'cancelled', now)
    this.#publishOrder({ ...job.order, cancelled: true, issuedAt: now })
  }

  /** The why-no-bid diagnostic of a job, against the capacity records seen so far. */
  diagnose(jobId: string, now: number = this.#now): Diagnostic {
    const job = this.#knownJob(jobId)
    return diagnoseOrder(job.order, this.market.records(), this.#policy, now, job.windowBids, this.#stakeOf)
  }

  /** A job's progress, or undefined when the job is unknown (or forgotten). */
  job(jobId: string): JobView | undefined {
    const job = this.#jobs.get(jobId)
    if (job === undefined) return undefined
    let assigned = 0
    let verifying = 0
    for (const s of job.state) {
      if (s === ASSIGNED) assigned++
      else if (s === VERIFYING) verifying++
    }
    return Object.freeze({
      jobId,
      status: job.status,
      order: job.order,
      tasks: job.taskCount,
      pending: job.pending,
      assigned,
      verifying,
      accepted: job.accepted,
      bidders: job.bidders.length,
      windowOpen: job.windowOpen,
      reopens: job.reopens,
      held: job.held === true,
    })
  }

  /** Jobs held (open ones and finished ones not yet forgotten). */
  get jobCount(): number {
    return this.#jobs.size
  }

  #onMessage(inbound: Inbound, now: number): void {
    const message: WireMessage = inbound.message
    switch (message.type) {
      case 'bid':
        this.#onBid(inbound, message.body, now)
        return
      case 'heartbeat':
        this.#onHeartbeat(inbound, message.body, now)
        return
      case 'result':
        this.#onResult(inbound, message.body, now)
        return
      case 'capacity':
        checkSigner(inbound.from, message.body.peer, 'capacity')
        this.market.noteCapacity(message.body, inbound.expiresAt, now)
        return
      case 'order':
        // Others' orders only feed market depth; our own come back from gossip and are already known.
        checkSigner(inbound.from, message.body.creator, 'order')
        if (message.body.creator !== this.self) this.market.noteOrder(message.body, now)
        return
      default:
        reject('SCHEDULER__UNEXPECTED_MESSAGE', `a creator does not take ${message.type} messages`, {
          type: message.type,
          from: inbound.from,
        })
    }
  }

  #knownJob(jobId: string, from?: string): CreatorJob {
    const job = this.#jobs.get(jobId)
    if (job === undefined) reject('SCHEDULER__ORDER_NOT_FOUND', `no job ${jobId} here`, { jobId, from })
    return job
  }

  #openJob(jobId: string, from?: string): CreatorJob {
    const job = this.#knownJob(jobId, from)
    if (job.status !== 'open') {
      reject('SCHEDULER__JOB_CLOSED', `job ${jobId} is ${job.status}`, { jobId, status: job.status, from })
    }
    return job
  }

  #onBid(inbound: Inbound, bid: Bid, now: number): void {
    checkSigner(inbound.from, bid.worker, 'bid')
    const job = this.#jobs.get(bid.jobId)
    if (job === undefined) {
      // A bid gossiped for another creator's order is none of our business; a direct one is an error.
      if (inbound.topic !== undefined) return
      reject('SCHEDULER__ORDER_NOT_FOUND', `bid for unknown job ${bid.jobId}`, { jobId: bid.jobId, from: bid.worker })
    }
    const { order } = job
    if (job.status !== 'open' || !job.windowOpen || now >= order.bidDeadline) {
      reject('SCHEDULER__BID_WINDOW_CLOSED', `the bid window of job ${bid.jobId} is closed`, {
        jobId: bid.jobId,
        from: bid.worker,
        bidDeadline: order.bidDeadline,
        status: job.status,
      })
    }
    // A bid of a window that closed, delayed on the way, is not counted in this one (it would close it early and take
    // the place of its worker's bid here). By the worker's clock, so only one older than clocks may differ tells.
    if (bid.issuedAt + MAX_CLOCK_SKEW_MS < order.issuedAt) {
      reject('SCHEDULER__BID_WINDOW_CLOSED', `the bid was issued before the bid window of job ${bid.jobId} opened`, {
        jobId: bid.jobId,
        from: bid.worker,
        issuedAt: bid.issuedAt,
        openedAt: order.issuedAt,
      })
    }
    const known = job.byPeer.get(bid.worker)
    const held = known === undefined ? undefined : job.bidders[known]
    if (held?.out === true || held?.leaving === true) {
      reject('SCHEDULER__WORKER_EXCLUDED', `${bid.worker} lost or left its lease on job ${bid.jobId}`, {
        jobId: bid.jobId,
        from: bid.worker,
      })
    }
    if (held !== undefined && held.window === job.window) {
      reject('SCHEDULER__DUPLICATE_BID', `${bid.worker} already bid in this window of job ${bid.jobId}`, {
        jobId: bid.jobId,
        from: bid.worker,
      })
    }
    if (bid.price > order.maxPrice) {
      reject('SCHEDULER__BID_PRICE_EXCEEDED', `bid price ${bid.price} exceeds the order's maximum ${order.maxPrice}`, {
        jobId: bid.jobId,
        from: bid.worker,
        price: bid.price,
        maxPrice: order.maxPrice,
      })
    }
    const refusal = this.#tierRefusal(order, bid.worker)
    if (refusal !== undefined) {
      reject('SCHEDULER__WORKER_INELIGIBLE', `${bid.worker} is not admitted to tier ${order.tier} (${refusal})`, {
        jobId: bid.jobId,
        from: bid.worker,
        tier: order.tier,
        reason: refusal,
      })
    }
    if (held === undefined && job.bidders.length >= MAX_BIDS_PER_JOB) {
      reject('SCHEDULER__BID_LIMIT_EXCEEDED', `job ${bid.jobId} holds ${MAX_BIDS_PER_JOB} bids already`, {
        jobId: bid.jobId,
        from: bid.worker,
      })
    }
    const bidder: Bidder = held ?? {
      index: job.bidders.length,
      peer: bid.worker,
      price: 0n,
      etaMs: 0,
      maxTasks: 0,
      reputation: 0,
      window: job.window,
      awardableUntil: 0,
      idleGraceMs: 0,
      inFlight: 0,
      unconfirmed: undefined,
      full: false,
      lastSeen: now,
      leased: false,
      out: false,
      leaving: false,
      leaseTimerArmed: false,
    }
    bidder.price = bid.price
    bidder.full = false
    bidder.etaMs = bid.etaMs
    bidder.maxTasks = Math.min(bid.maxTasks, job.taskCount)
    bidder.reputation = this.#reputationOf(bid.worker)
    bidder.window = job.window
    bidder.awardableUntil = this.#awardableUntil(order, bid.standsUntil)
    bidder.idleGraceMs =
      bid.standsUntil === undefined || bid.standsUntil >= order.deadline
        ? Number.POSITIVE_INFINITY
        : Math.max(0, bid.standsUntil - order.bidDeadline)
    if (held === undefined) {
      job.bidders.push(bidder)
      job.byPeer.set(bid.worker, bidder.index)
    }
    job.ranked = undefined
    job.windowBids++
    this.#emit({
      type: 'bid:received',
      at: now,
      jobId: bid.jobId,
      worker: bid.worker,
      price: bid.price,
      etaMs: bid.etaMs,
    })
    if (job.windowBids >= order.minBids) this.#closeWindow(job, now, 'count')
  }

  #onHeartbeat(inbound: Inbound, heartbeat: Heartbeat, now: number): void {
    checkSigner(inbound.from, heartbeat.worker, 'heartbeat')
    const job = this.#openJob(heartbeat.jobId, heartbeat.worker)
    const bidder = this.#leaseOf(job, heartbeat.worker)
    const withdrawn = this.#withdrawnTasks(job, bidder, heartbeat.withdrawn ?? [])
    bidder.lastSeen = now
    for (const index of withdrawn) {
      this.#makePending(job, index)
      // Given back before any heartbeat listed it: declined on arrival, no slot being free. The task is fine and so is
      // the worker; given back again, or after it ran, it failed here.
      const declined =
        bidder.unconfirmed?.delete(index) === true && job.declined?.get(index)?.has(bidder.index) !== true
      if (declined) this.#decline(job, index, bidder)
      else this.#exclude(job, index, bidder.index)
    }
    bidder.inFlight -= withdrawn.length
    const { jobId } = job.order
    const taskIds = withdrawn.map((i) => taskIdAt(job.order, i))
    if (taskIds.length > 0) this.#emit({ type: 'task:withdrawn', at: now, jobId, worker: bidder.peer, taskIds })
    // Only a worker that says so leaves: one that gave back its only task (an overrun) is as empty-handed, and stays.
    // It leaves once it holds nothing: a withdrawal of more tasks than a heartbeat carries ends with its last heartbeat,
    // and one whose leaving heartbeat overtook a Result ends with that Result.
    if (heartbeat.leaving === true && !bidder.leaving) {
      bidder.leaving = true
      job.ranked = undefined
    }
    const lost = heartbeat.leaving === true ? 0 : this.#confirmAwards(job, bidder, heartbeat.taskIds, now)
    const left = this.#leaveIfDone(job, bidder, taskIds, now)
    if (taskIds.length > 0 || lost > 0 || left) this.#assignPending(job, now)
  }

  /**
   * Checks the tasks awarded to `bidder` against those its heartbeat lists (`listed`: every task it holds, unless
   * there are more than a heartbeat carries). One listed is confirmed; one left out a lease period after its award
   * never reached the worker (or reached it so late that a heartbeat sent since would list it), and goes back to the
   * auction without barring the worker, which is alive. Returns how many went back.
   */
  #confirmAwards(job: CreatorJob, bidder: Bidder, listed: readonly string[], now: number): number {
    const unconfirmed = bidder.unconfirmed
    if (unconfirmed === undefined || unconfirmed.size === 0) return 0
    const complete = listed.length < MAX_TASKS_PER_MESSAGE
    const held = new Set(listed)
    const lost: number[] = []
    for (const [task, awardedAt] of unconfirmed) {
      if (job.state[task] !== ASSIGNED || job.holder[task] !== bidder.index) unconfirmed.delete(task)
      else if (held.has(taskIdAt(job.order, task))) unconfirmed.delete(task)
      else if (complete && now - awardedAt >= this.#leaseMs) lost.push(task)
    }
    this.#returnLostAwards(job, bidder, lost, now)
    return lost.length
  }

  /** Puts tasks whose award never reached `bidder` back to the auction; the bidder stays in the job. */
  #returnLostAwards(job: CreatorJob, bidder: Bidder, tasks: readonly number[], now: number): void {
    if (tasks.length === 0) return
    for (const task of tasks) {
      bidder.unconfirmed?.delete(task)
      this.#makePending(job, task)
    }
    bidder.inFlight -= tasks.length
    const taskIds = tasks.map((task) => taskIdAt(job.order, task))
    this.#emit({ type: 'award:lost', at: now, jobId: job.order.jobId, worker: bidder.peer, taskIds })
    this.#leaveIfDone(job, bidder, [], now)
  }

  /**
   * Marks a bidder that said it leaves out of the job once it holds nothing (`lease:lost`, reason `withdrawn`, with
   * `taskIds` given back last); returns whether it did.
   */
  #leaveIfDone(job: CreatorJob, bidder: Bidder, taskIds: readonly string[], now: number): boolean {
    if (!bidder.leaving || bidder.out || bidder.inFlight > 0) return false
    bidder.out = true
    job.ranked = undefined
    const { jobId } = job.order
    this.#emit({ type: 'lease:lost', at: now, jobId, worker: bidder.peer, taskIds, reason: 'withdrawn' })
    return true
  }

  #leaseOf(job: CreatorJob, peer: string): Bidder {
    const index = job.byPeer.get(peer)
    const bidder = index === undefined ? undefined : job.bidders[index]
    if (bidder === undefined || !bidder.leased || bidder.out) {
      reject('SCHEDULER__LEASE_NOT_FOUND', `${peer} holds no lease on job ${job.order.jobId}`, {
        jobId: job.order.jobId,
        from: peer,
      })
    }
    return bidder
  }

  /** Resolves and checks withdrawn task ids before anything changes. */
  #withdrawnTasks(job: CreatorJob, bidder: Bidder, taskIds: readonly string[]): number[] {
    const indices = new Set<number>()
    for (const taskId of taskIds) {
      const index = this.#taskIndex(job, taskId, bidder.peer)
      if (job.state[index] !== ASSIGNED || job.holder[index] !== bidder.index) {
        reject('SCHEDULER__TASK_NOT_AWARDED', `task ${taskId} is not awarded to ${bidder.peer}`, {
          jobId: job.order.jobId,
          taskId,
          from: bidder.peer,
        })
      }
      indices.add(index)
    }
    return [...indices]
  }

  #taskIndex(job: CreatorJob, taskId: string, from?: string): number {
    const index = taskIndexOf(job.order, taskId)
    if (index < 0) {
      reject('SCHEDULER__TASK_NOT_FOUND', `job ${job.order.jobId} has no task ${taskId}`, {
        jobId: job.order.jobId,
        taskId,
        from,
      })
    }
    return index
  }

  #onResult(inbound: Inbound, result: Result, now: number): void {
    checkSigner(inbound.from, result.worker, 'result')
    const job = this.#knownJob(result.jobId, result.worker)
    const index = this.#taskIndex(job, result.taskId, result.worker)
    const bidderIndex = job.byPeer.get(result.worker) ?? -2
    const state = job.state[index]
    if (job.holder[index] === bidderIndex && (state === VERIFYING || state === ACCEPTED)) {
      reject('SCHEDULER__DUPLICATE_RESULT', `task ${result.taskId} already has a result from ${result.worker}`, {
        jobId: result.jobId,
        taskId: result.taskId,
        from: result.worker,
      })
    }
    if (job.status !== 'open') {
      reject('SCHEDULER__JOB_CLOSED', `job ${result.jobId} is ${job.status}`, {
        jobId: result.jobId,
        taskId: result.taskId,
        from: result.worker,
        status: job.status,
      })
    }
    if (state !== ASSIGNED || job.holder[index] !== bidderIndex) {
      reject('SCHEDULER__TASK_NOT_AWARDED', `task ${result.taskId} is not awarded to ${result.worker}`, {
        jobId: result.jobId,
        taskId: result.taskId,
        from: result.worker,
      })
    }
    const bidder = job.bidders[bidderIndex] as Bidder
    bidder.lastSeen = now
    bidder.inFlight--
    bidder.unconfirmed?.delete(index)
    bidder.full = false
    this.#leaveIfDone(job, bidder, [], now)
    job.results.set(index, result)
    this.#emit({ type: 'task:completed', at: now, jobId: result.jobId, taskId: result.taskId, worker: result.worker })
    if (this.#verify) {
      job.state[index] = VERIFYING
      this.#outputs.push({
        kind: 'verify',
        jobId: result.jobId,
        taskId: result.taskId,
        worker: result.worker,
        result,
        order: job.order,
      })
      this.#assignPending(job, now)
    } else {
      this.#accept(job, index, now)
      if (job.status === 'open') this.#assignPending(job, now)
    }
  }

  #onVerdict(taskId: string, worker: string, outcome: VerdictOutcome, now: number): void {
    const job = this.#knownJob(jobIdOfTask(taskId))
    const index = this.#taskIndex(job, taskId)
    const holder = job.holder[index] as number
    if (job.state[index] !== VERIFYING || job.bidders[holder]?.peer !== worker) {
      reject('SCHEDULER__VERDICT_UNEXPECTED', `task ${taskId} has no result from ${worker} awaiting verification`, {
        jobId: job.order.jobId,
        taskId,
        worker,
        outcome,
      })
    }
    if (outcome === 'pass') {
      this.#emit({ type: 'task:verified', at: now, jobId: job.order.jobId, taskId, worker })
      this.#accept(job, index, now)
    } else {
      if (outcome === 'fail') this.#keepFailed(job, index, holder)
      job.results.delete(index)
      this.#makePending(job, index)
      this.#exclude(job, index, holder)
      this.#emit({ type: 'task:rejected', at: now, jobId: job.order.jobId, taskId, worker, outcome })
      this.#assignPending(job, now)
    }
    if (job.ending !== undefined && !job.state.includes(VERIFYING)) this.#ended(job, job.ending, now)
  }

  #keepFailed(job: CreatorJob, index: number, bidder: number): void {
    job.failed ??= new Map()
    let byBidder = job.failed.get(index)
    if (byBidder === undefined) job.failed.set(index, (byBidder = new Map()))
    byBidder.set(bidder, { result: job.results.get(index) as Result, price: job.price[index] as bigint })
  }

  /**
   * Accepts after all a result whose check failed and whose accuser arbitration overturned, taking the task from
   * wherever it stands: pending, awarded again (the new holder's result will be refused) or another worker's result
   * under check (its verdict will be refused). The cleared worker did the work first and did it right; a task is paid
   * once (the ledger takes one receipt per task, and the escrow holds one price per task), so the other is not.
   */
  #onOverturned(taskId: string, worker: string, now: number): void {
    const job = this.#knownJob(jobIdOfTask(taskId), worker)
    const index = this.#taskIndex(job, taskId, worker)
    const context = { jobId: job.order.jobId, taskId, worker }
    if (job.state[index] === ACCEPTED) {
      reject(
        'SCHEDULER__VERDICT_UNEXPECTED',
        `task ${taskId} was accepted before ${worker} was cleared: a task is paid once, and not again for its result`,
        { ...context, reason: 'accepted' },
      )
    }
    const cleared = job.byPeer.get(worker) ?? -1
    const failed = job.failed?.get(index)?.get(cleared)
    if (failed === undefined) {
      reject('SCHEDULER__VERDICT_UNEXPECTED', `task ${taskId} has no failed result from ${worker} to clear`, {
        ...context,
        reason: 'unknown',
      })
    }
    if (job.status !== 'open' && job.ending === undefined) {
      reject('SCHEDULER__JOB_CLOSED', `job ${job.order.jobId} is ${job.status}`, { ...context, status: job.status })
    }
    const state = job.state[index]
    let displaced: Bidder | undefined
    if (state === PENDING) {
      job.pendingHeap.remove(index)
      job.pending--
    } else {
      displaced = job.bidders[job.holder[index] as number] as Bidder
      if (state === ASSIGNED) {
        displaced.inFlight--
        this.#leaveIfDone(job, displaced, [], now)
      }
    }
    job.holder[index] = cleared
    job.price[index] = failed.price
    job.results.set(index, failed.result)
    this.#emit({
      type: 'task:verified',
      at: now,
      jobId: job.order.jobId,
      taskId,
      worker,
      overturned: true,
      ...(displaced === undefined ? {} : { displaced: displaced.peer }),
    })
    this.#accept(job, index, now)
    if (job.ending !== undefined) {
      if (!job.state.includes(VERIFYING)) this.#ended(job, job.ending, now)
    } else {
      this.#assignPending(job, now)
    }
  }

  #accept(job: CreatorJob, index: number, now: number): void {
    const bidder = job.bidders[job.holder[index] as number] as Bidder
    const result = job.results.get(index) as Result
    const price = job.price[index] as bigint
    job.state[index] = ACCEPTED
    job.accepted++
    job.failed?.delete(index)
    job.declined?.delete(index)
    job.declinedPending?.delete(index)
    const { order } = job
    this.#outputs.push({
      kind: 'accept',
      jobId: order.jobId,
      taskId: result.taskId,
      worker: bidder.peer,
      price,
      benchHours: order.benchHoursPerTask,
      amount: expectedCost(price, order.benchHoursPerTask),
      escrow: order.escrow,
      result,
    })
    // A job that expired with results in verification completes when their verdicts accept its last tasks: every task
    // was delivered in time and is paid, so it is no less finished than one whose last verdict came first. A cancelled
    // one stays cancelled: its creator stopped it.
    if (job.accepted === job.taskCount && (job.status === 'open' || job.ending === 'expired')) this.#complete(job, now)
  }

  #complete(job: CreatorJob, now: number): void {
    const results: Result[] = new Array(job.taskCount)
    for (let i = 0; i < job.taskCount; i++) results[i] = job.results.get(i) as Result
    job.ending = undefined
    this.#close(job, 'completed')
    this.#timers.push(now + this.#retainMs, { kind: 'forget', jobId: job.order.jobId })
    // Nothing more can be owed or awarded: keep only what rejects late messages precisely.
    job.results = new Map()
    job.bidders = []
    job.ranked = undefined
    job.exclusions = undefined
    job.declined = undefined
    job.declinedPending = undefined
    job.failed = undefined
    this.#emit({ type: 'job:completed', at: now, jobId: job.order.jobId, results })
  }

  /**
   * Ends a job unfinished. Results in verification were delivered in time: their verdicts still decide them (a pass
   * is accepted and paid, so a creator cannot cancel its way out of paying for work it has), and the end is reported
   * once the last verdict is in.
   */
  #end(job: CreatorJob, status: 'cancelled' | 'expired', now: number): void {
    this.#close(job, status)
    if (job.state.includes(VERIFYING)) {
      job.ending = status
      this.#timers.push(now + ENDED_JOB_VERDICT_WAIT_MS, { kind: 'verdicts', jobId: job.order.jobId })
    } else {
      this.#ended(job, status, now)
    }
  }

  /** Reports the end of a job whose verdicts did not all come in time: the results still unchecked are not accepted. */
  #abandonVerdicts(job: CreatorJob, status: 'cancelled' | 'expired', now: number): void {
    for (let i = 0; i < job.taskCount; i++) {
      if (job.state[i] !== VERIFYING) continue
      job.results.delete(i)
      this.#makePending(job, i)
    }
    this.#ended(job, status, now)
  }

  /** Reports the end of a job that ended unfinished, with the results it accepted. */
  #ended(job: CreatorJob, status: 'cancelled' | 'expired', now: number): void {
    job.ending = undefined
    this.#timers.push(now + this.#retainMs, { kind: 'forget', jobId: job.order.jobId })
    const results: Result[] = []
    for (let i = 0; i < job.taskCount; i++) {
      if (job.state[i] === ACCEPTED) results.push(job.results.get(i) as Result)
    }
    const event = {
      at: now,
      jobId: job.order.jobId,
      accepted: job.accepted,
      total: job.taskCount,
      results,
    }
    this.#emit(
      status === 'cancelled'
        ? { type: 'job:cancelled', ...event }
        : { type: 'job:expired', ...event, reason: job.unmatched === true ? 'unmatched' : 'deadline' },
    )
  }

  /** Closes a job to bids and results; it is forgotten {@link CreatorMachineInit.retainMs} after its end is reported. */
  #close(job: CreatorJob, status: Exclude<JobStatus, 'open'>): void {
    job.status = status
    job.windowOpen = false
    this.market.forgetOrder(job.order.jobId)
  }

  #closeWindow(job: CreatorJob, now: number, reason: 'deadline' | 'count'): void {
    job.windowOpen = false
    this.market.forgetOrder(job.order.jobId)
    this.#emit({ type: 'auction:closed', at: now, jobId: job.order.jobId, bids: job.windowBids, reason })
    if (job.windowBids < job.order.minBids) {
      this.#emit({
        type: 'order:unmatched',
        at: now,
        jobId: job.order.jobId,
        bids: job.windowBids,
        needed: job.order.minBids,
      })
    }
    this.#assignPending(job, now)
  }

  #ranked(job: CreatorJob): Bidder[] {
    if (job.ranked === undefined) {
      job.ranked = job.bidders.filter((b) => !b.out && !b.leaving).sort((a, b) => compareBids(a, b, job.microHours))
    }
    return job.ranked
  }

  #makePending(job: CreatorJob, task: number): void {
    job.state[task] = PENDING
    job.pending++
    job.pendingHeap.push(task)
    if (job.declined?.has(task) === true) (job.declinedPending ??= new Set()).add(task)
  }

  /** Notes that `bidder` declined `task` for want of a slot (see {@link CreatorJob.declined}). */
  #decline(job: CreatorJob, task: number, bidder: Bidder): void {
    bidder.full = true
    job.declined ??= new Map()
    let decliners = job.declined.get(task)
    if (decliners === undefined) job.declined.set(task, (decliners = new Set()))
    decliners.add(bidder.index)
    job.declinedPending ??= new Set()
    job.declinedPending.add(task)
  }

  #exclude(job: CreatorJob, task: number, bidder: number): void {
    job.exclusions ??= new Map()
    let barred = job.exclusions.get(task)
    if (barred === undefined) job.exclusions.set(task, (barred = new Set()))
    barred.add(bidder)
  }

  /**
   * When a bid on `order` stops being worth an award: the time its worker forgets it, less
   * {@link AWARD_GRACE_MARGIN_MS} for the award's journey. A short grace keeps half of itself, so that the margin
   * never passes over bids at their own window's close. A bid that stands to the deadline is awardable while the job
   * is.
   */
  #awardableUntil(order: Order, standsUntil: number | undefined): number {
    const until = standsUntil ?? order.bidDeadline + this.#assumedGraceMs
    if (until >= order.deadline) return Number.POSITIVE_INFINITY
    return until - Math.min(AWARD_GRACE_MARGIN_MS, Math.max(0, until - order.bidDeadline) / 2)
  }

  /**
   * Whether an award would find the bidder's worker still keeping the job: while it holds tasks of it, until its
   * latest bid is forgotten (`awardableUntil`), and, leased, until its award grace after its last task came
   * back, less the same margin: the worker forgets a job it has nothing left to run in then.
   */
  #awardable(bidder: Bidder, now: number): boolean {
    if (bidder.inFlight > 0 || now <= bidder.awardableUntil) return true
    if (!bidder.leased) return false
    const grace = bidder.idleGraceMs
    return now <= bidder.lastSeen + grace - Math.min(AWARD_GRACE_MARGIN_MS, grace / 2)
  }

  /** Why `peer` may not work on `order` now, by its stake (the ledger's, else its capacity record's) and reputation. */
  #tierRefusal(order: Order, peer: string): TierRefusal | undefined {
    const stake = this.#stakeOf?.(peer) ?? this.market.capacity(peer)?.record.stake
    return this.#policy.refusal(order.tier, peer, stake)
  }

  /**
   * Takes each bidder's reputation afresh and ranks the bids again when one changed: a failed check lowers a worker's
   * reputation after it bid, and a ranking of the bids as they came would keep preferring it.
   */
  #rerank(job: CreatorJob): void {
    for (const bidder of job.bidders) {
      if (bidder.out) continue
      const reputation = this.#reputationOf(bidder.peer)
      if (reputation === bidder.reputation) continue
      bidder.reputation = reputation
      job.ranked = undefined
    }
  }

  #reputationOf(peer: string): number {
    const reputation = this.#policy.reputation(peer)
    return Number.isFinite(reputation) ? reputation : 0
  }

  /**
   * Awards pending tasks, in task order, to the best bidders with room; re-opens the window if nobody can. Bidders
   * are ranked and held to the order's tier as they stand now, not as they bid: a worker whose stake was slashed or
   * whose reputation fell since (a failed check) is passed over, though it keeps the tasks it holds.
   */
  #assignPending(job: CreatorJob, now: number, freeReopen = false): void {
    if (job.status !== 'open' || job.windowOpen || job.pending === 0 || job.held === true) return
    this.#rerank(job)
    for (const bidder of this.#ranked(job)) {
      if (job.pendingHeap.size === 0) break
      const room = bidder.maxTasks - bidder.inFlight
      if (room <= 0 || bidder.full) continue
      // Its worker has forgotten the job by now, and would refuse the award.
      if (!this.#awardable(bidder, now)) continue
      if (this.#tierRefusal(job.order, bidder.peer) !== undefined) continue
      const taken: number[] = []
      const barred: number[] = []
      while (taken.length < room && job.pendingHeap.size > 0) {
        const task = job.pendingHeap.pop()
        if (job.exclusions?.get(task)?.has(bidder.index) === true) barred.push(task)
        else taken.push(task)
      }
      for (const task of barred) job.pendingHeap.push(task)
      if (taken.length > 0) this.#award(job, bidder, taken, now)
    }
    this.#awardDeclined(job, now)
    if (job.pending === 0) {
      if (!job.assignedOnce) {
        job.assignedOnce = true
        const workers = new Set<number>()
        for (const holder of job.holder) workers.add(holder)
        this.#emit({
          type: 'job:assigned',
          at: now,
          jobId: job.order.jobId,
          tasks: job.taskCount,
          workers: workers.size,
        })
      }
      return
    }
    // Tasks are left. If some bidder still holds work it will free room when it finishes; otherwise nobody here can
    // take them, so ask the market again.
    if (!job.bidders.some((b) => !b.out && b.inFlight > 0)) this.#reopen(job, now, freeReopen)
  }

  /**
   * Awards each pending task that bidders declined for want of a slot, and that nobody else took, back to the best of
   * them that may still take it: it queues the task (a worker takes a task awarded again whatever its load), which
   * beats leaving it to a re-opened window when nobody is free.
   */
  #awardDeclined(job: CreatorJob, now: number): void {
    if (job.declinedPending === undefined || job.declinedPending.size === 0) return
    const awards = new Map<Bidder, number[]>()
    for (const task of job.declinedPending) {
      const decliners = job.declined?.get(task)
      if (decliners === undefined) continue
      const bidder = this.#ranked(job).find(
        (b) =>
          decliners.has(b.index) &&
          job.exclusions?.get(task)?.has(b.index) !== true &&
          this.#awardable(b, now) &&
          this.#tierRefusal(job.order, b.peer) === undefined,
      )
      if (bidder === undefined) continue
      job.pendingHeap.remove(task)
      const tasks = awards.get(bidder)
      if (tasks === undefined) awards.set(bidder, [task])
      else tasks.push(task)
    }
    for (const [bidder, tasks] of awards) this.#award(job, bidder, tasks, now)
  }

  #award(job: CreatorJob, bidder: Bidder, tasks: number[], now: number): void {
    const { order } = job
    const taskIds: string[] = new Array(tasks.length)
    for (let k = 0; k < tasks.length; k++) {
      const task = tasks[k] as number
      const previous = job.holder[task] as number
      job.state[task] = ASSIGNED
      job.declinedPending?.delete(task)
      job.holder[task] = bidder.index
      job.price[task] = bidder.price
      const taskId = taskIdAt(order, task)
      taskIds[k] = taskId
      if (previous >= 0 && previous !== bidder.index) {
        const from = (job.bidders[previous] as Bidder).peer
        this.#emit({ type: 'task:reassigned', at: now, jobId: order.jobId, taskId, from, to: bidder.peer })
      }
    }
    job.pending -= tasks.length
    // The lease clock starts afresh when a worker that held nothing is given work.
    if (bidder.inFlight === 0) bidder.lastSeen = now
    bidder.inFlight += tasks.length
    bidder.unconfirmed ??= new Map()
    for (const task of tasks) bidder.unconfirmed.set(task, now)
    bidder.leased = true
    for (let start = 0; start < taskIds.length; start += MAX_TASKS_PER_MESSAGE) {
      this.#outputs.push({
        kind: 'send',
        to: bidder.peer,
        message: {
          type: 'award',
          body: {
            jobId: order.jobId,
            creator: this.self,
            worker: bidder.peer,
            taskIds: taskIds.slice(start, start + MAX_TASKS_PER_MESSAGE),
            price: bidder.price,
            leaseMs: this.#leaseMs,
            heartbeatMs: this.#heartbeatMs,
            issuedAt: now,
          },
        },
      })
    }
    this.#emit({
      type: 'lease:granted',
      at: now,
      jobId: order.jobId,
      worker: bidder.peer,
      taskIds,
      price: bidder.price,
    })
    if (!bidder.leaseTimerArmed) {
      bidder.leaseTimerArmed = true
      this.#timers.push(bidder.lastSeen + this.#leaseMs, { kind: 'lease', jobId: order.jobId, bidder: bidder.index })
    }
  }

  #checkLease(job: CreatorJob, index: number, now: number): void {
    const bidder = job.bidders[index]
    if (bidder === undefined) return
    bidder.leaseTimerArmed = false
    if (job.status !== 'open' || bidder.out || bidder.inFlight === 0) return
    const due = bidder.lastSeen + this.#leaseMs
    if (now < due) {
      bidder.leaseTimerArmed = true
      this.#timers.push(due, { kind: 'lease', jobId: job.order.jobId, bidder: index })
      return
    }
    const lost = this.#lostAwards(job, bidder)
    if (lost === undefined) {
      this.#loseLease(job, bidder, now)
      return
    }
    this.#returnLostAwards(job, bidder, lost, now)
    this.#assignPending(job, now)
  }

  /**
   * The tasks of a bidder gone quiet when they are all awards it never got: none was ever listed in a heartbeat, and
   * it was heard from (a heartbeat or a Result) after each was sent, so it was alive then, and holding any of them
   * would have sent heartbeats since. It went idle without them; undefined when it may have died holding work.
   */
  #lostAwards(job: CreatorJob, bidder: Bidder): number[] | undefined {
    const unconfirmed = bidder.unconfirmed
    if (unconfirmed === undefined) return undefined
    const lost: number[] = []
    for (const [task, awardedAt] of unconfirmed) {
      if (job.state[task] !== ASSIGNED || job.holder[task] !== bidder.index) continue
      if (awardedAt >= bidder.lastSeen) return undefined
      lost.push(task)
    }
    return lost.length === bidder.inFlight ? lost : undefined
  }

  #loseLease(job: CreatorJob, bidder: Bidder, now: number): void {
    const taskIds: string[] = []
    for (let i = 0; i < job.taskCount; i++) {
      if (job.state[i] === ASSIGNED && job.holder[i] === bidder.index) {
        this.#makePending(job, i)
        taskIds.push(taskIdAt(job.order, i))
      }
    }
    bidder.inFlight = 0
    bidder.unconfirmed = undefined
    bidder.out = true
    job.ranked = undefined
    this.#emit({
      type: 'lease:lost',
      at: now,
      jobId: job.order.jobId,
      worker: bidder.peer,
      taskIds,
      reason: 'heartbeat',
    })
    this.#assignPending(job, now)
  }

  /**
   * Publishes the order again with a new window: at once the first time, then after a pause of `bidWindowMs`, doubling
   * before each next, so that `maxReopens` spans a while of a market too busy to bid rather than a few windows back to
   * back; a pause never puts the window past the deadline. Once the re-openings are used up the job ends then
   * (`job:expired`, reason `unmatched`): nobody holds work to free room, and no window will bring a bid. `free` (see
   * {@link release}) opens a window at once, without counting against `maxReopens`.
   */
  #reopen(job: CreatorJob, now: number, free = false): void {
    const { order } = job
    if (now >= order.deadline || job.reopenAt !== undefined) return
    if (free) {
      this.#openWindow(job, now, true)
      return
    }
    if (job.reopens >= this.#maxReopens) {
      job.unmatched = true
      this.#end(job, 'expired', now)
      return
    }
    const pause = job.reopens === 0 ? 0 : job.bidWindowMs * 2 ** (job.reopens - 1)
    const at = Math.min(now + pause, order.deadline - job.bidWindowMs)
    if (at <= now) {
      this.#openWindow(job, now, false)
      return
    }
    job.reopenAt = at
    this.#timers.push(at, { kind: 'reopen', jobId: order.jobId, window: job.window })
  }

  /** Opens a new bid window and publishes the order with it; `free`, without counting against `maxReopens`. */
  #openWindow(job: CreatorJob, now: number, free: boolean): void {
    const { order } = job
    if (!free) job.reopens++
    job.window++
    job.windowBids = 0
    job.windowOpen = true
    job.order = Object.freeze({ ...order, bidDeadline: Math.min(now + job.bidWindowMs, order.deadline), issuedAt: now })
    this.#timers.push(job.order.bidDeadline, { kind: 'window', jobId: order.jobId, window: job.window })
    this.market.noteOrder(job.order, now)
    this.#publishOrder(job.order)
    this.#emit({
      type: 'order:reopened',
      at: now,
      jobId: order.jobId,
      bidDeadline: job.order.bidDeadline,
      reopens: job.reopens,
    })
  }

  #publishOrder(order: Order): void {
    this.#outputs.push({ kind: 'publish', topic: ORDERS_TOPIC, message: { type: 'order', body: order } })
  }

  #emit(event: CreatorEvent): void {
    this.#outputs.push({ kind: 'event', event })
  }
}
