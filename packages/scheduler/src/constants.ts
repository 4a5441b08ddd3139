import type {
  MAX_ID_LENGTH as CORE_MAX_ID_LENGTH,
  MAX_INPUTS_PER_ORDER as CORE_MAX_INPUTS_PER_ORDER,
  MAX_TASKS_PER_JOB as CORE_MAX_TASKS_PER_JOB,
  MAX_INFERENCE_ITEMS as CORE_MAX_INFERENCE_ITEMS,
  MAX_TASKS_PER_MESSAGE as CORE_MAX_TASKS_PER_MESSAGE,
  MAX_FRAMES_PER_JOB as CORE_MAX_FRAMES_PER_JOB,
  MAX_FIRST_FRAME as CORE_MAX_FIRST_FRAME,
  MAX_IMAGE_SIDE as CORE_MAX_IMAGE_SIDE,
  MAX_SAMPLES_PER_PIXEL as CORE_MAX_SAMPLES_PER_PIXEL,
  TOPICS,
  VerificationBudget,
} from '@tessera/core'
import { DEFAULT_BUDGET } from '@tessera/proof'

/**
 * Bounds and defaults for `@tessera/scheduler`.
 *
 * The scheduler imports only types from `@tessera/core` (it must stay free of libp2p so the simulator can load
 * it), so core's wire bounds and topic names are restated here and pinned to core's literal types: if core
 * changes one, this file stops type checking.
 */

/** Wire bounds, pinned to `@tessera/core`'s values. */
export const MAX_ID_LENGTH: typeof CORE_MAX_ID_LENGTH = 128
export const MAX_INPUTS_PER_ORDER: typeof CORE_MAX_INPUTS_PER_ORDER = 64
export const MAX_TASKS_PER_JOB: typeof CORE_MAX_TASKS_PER_JOB = 65_536
export const MAX_INFERENCE_ITEMS: typeof CORE_MAX_INFERENCE_ITEMS = 67_108_864
export const MAX_TASKS_PER_MESSAGE: typeof CORE_MAX_TASKS_PER_MESSAGE = 4_096
export const MAX_FRAMES_PER_JOB: typeof CORE_MAX_FRAMES_PER_JOB = 10_000
export const MAX_FIRST_FRAME: typeof CORE_MAX_FIRST_FRAME = 999_990_000
export const MAX_IMAGE_SIDE: typeof CORE_MAX_IMAGE_SIDE = 16_384
export const MAX_SAMPLES_PER_PIXEL: typeof CORE_MAX_SAMPLES_PER_PIXEL = 65_536
/** Largest `minBids` an order may ask for (core's order schema). */
export const MAX_MIN_BIDS = 1_024
/** Largest token amount (u64 on chain). */
export const MAX_AMOUNT = 0xffff_ffff_ffff_ffffn
/**
 * A job spec's `benchHoursPerTask` is below this: 114,000 years of the reference device, so any real task fits, and
 * in micro-benchmark-hours (`BENCH_HOUR_SCALE`) a safe integer, so costs are exact. What a job may cost in all is
 * bounded apart: its budget, `maxPrice` x `benchHoursPerTask` x its tasks, is at most {@link MAX_AMOUNT}.
 */
export const MAX_BENCH_HOURS_PER_TASK = 1e9

/** Gossip topics the machines publish on, pinned to `@tessera/core`'s `TOPICS`. */
export const ORDERS_TOPIC: (typeof TOPICS)['orders'] = '/tessera/1/orders'
export const BIDS_TOPIC: (typeof TOPICS)['bids'] = '/tessera/1/bids'
export const CAPACITY_TOPIC: (typeof TOPICS)['capacity'] = '/tessera/1/capacity'

/** How long an order's bid window stays open when the job spec does not say. @default 2_000 */
export const DEFAULT_BID_WINDOW_MS = 2_000
/** Bids that close a window early when the job spec does not say (the `k` of "time or k bids"). @default 3 */
export const DEFAULT_MIN_BIDS = 3
/** How long a job may run when the job spec does not say. @default 600_000 */
export const DEFAULT_JOB_TIMEOUT_MS = 10 * 60 * 1000
/**
 * Longest a job may run, and so its bid window: a deadline any later is not a time a peer can check (a safe integer
 * in ms), and a month outlives every lease and receipt retry anyway.
 */
export const MAX_JOB_TIMEOUT_MS = 30 * 24 * 60 * 60 * 1000
/** A lease with no sign of life (heartbeat or result) for this long is lost. @default 15_000 */
export const DEFAULT_LEASE_MS = 15_000
/** Workers heart-beat this often; a third of the lease, so two may be lost before the lease is. @default 5_000 */
export const DEFAULT_HEARTBEAT_MS = 5_000
/**
 * A worker's Result that could not be sent is sent again, after pauses doubling from RESULT_RESEND_FIRST_PAUSE_MS,
 * for this long: a lease outlives a creator briefly out of reach (heartbeats keep it while other tasks run), and a
 * Result never sent leaves its task unpaid and awarded again.
 */
export const RESULT_RESEND_MS = 60_000
/** The first pause before a Result that could not be sent is sent again. */
export const RESULT_RESEND_FIRST_PAUSE_MS = 500
/**
 * Times a job's bid window is re-opened when tasks are left with nobody to take them: the first at once, the next
 * after pauses doubling from the bid window. @default 3
 */
export const DEFAULT_MAX_REOPENS = 3
/** A finished job is remembered this long, to reject late and duplicate messages with a precise code. @default 60_000 */
export const DEFAULT_RETAIN_MS = 60_000
/** Tier 2 (priority) admits workers whose reputation is at least this. @default 0.8 */
export const DEFAULT_PRIORITY_REPUTATION = 0.8
/** Tier 3 (economy) admits workers with at least this stake, token units. @default 0n */
export const DEFAULT_MIN_STAKE = 0n
/**
 * The verification budget an order carries when the job spec does not say (`@tessera/proof`'s `DEFAULT_BUDGET`: catch
 * a 10% cheater with 99.9% within 200 tasks, at most 10% overhead), its horizon lengthened for tasks too small to meet
 * it (`lengthenHorizon`; tasks under 32 rows or items).
 */
export const DEFAULT_VERIFICATION: VerificationBudget = DEFAULT_BUDGET

/**
 * How long after an order's bid window a worker keeps a bid that won nothing, and how long after its last task of a
 * job ended (finished or given back) it keeps a lease with nothing left to run. A creator awards a standing bid, or
 * more tasks to a worker it leased, later, when a lease is lost or a task fails its check, at any time until the job
 * ends; an award for a forgotten job is refused and costs the job a lease period. Kept as long as a job of the default
 * timeout ({@link DEFAULT_JOB_TIMEOUT_MS}) runs, a standing bid serves such a job to its end, while a longer job's lost
 * bids and finished leases are forgotten after it: a worker keeping them until deadlines hours or a month away would
 * fill {@link MAX_WORKER_JOBS} and skip new orders as busy. @default 600_000
 */
export const DEFAULT_AWARD_GRACE_MS = DEFAULT_JOB_TIMEOUT_MS

/**
 * A creator stops awarding a bid that won nothing, or a lease with nothing left to run, this long before its worker
 * forgets it (see {@link DEFAULT_AWARD_GRACE_MS}): an award takes a moment to arrive, and one arriving just after is
 * refused.
 * @default 30_000
 */
export const AWARD_GRACE_MARGIN_MS = 30_000

/** Most jobs a worker tracks at once (bids outstanding and leases); beyond it the worker reports itself busy. */
export const MAX_WORKER_JOBS = 4_096

/**
 * A worker skips (`bid:skipped`, reason `tooLong`) an order whose deadline is further ahead than this: no creator
 * orders a job longer than {@link MAX_JOB_TIMEOUT_MS}, and the minute more allows for clocks that differ (core allows
 * 30 s of skew). A forged one would hold one of {@link MAX_WORKER_JOBS} until its deadline.
 */
export const MAX_DEADLINE_AHEAD_MS = MAX_JOB_TIMEOUT_MS + 60_000

/**
 * Codes of a task failure that condemn its order, not the task or the worker: every task of the job would fail alike,
 * so the worker withdraws from the whole job and skips the order from then on (`bid:skipped`, reason `refused`).
 * `SCHEDULER__DECLARED_WORK_MISMATCH`: the model costs more than the order declared, and one model runs every task.
 * Not `NODE__TASK_OVERRAN`: one tile may cost far more than the job's average (a scene's detail is uneven) and a
 * worker may run slow for its own reasons (load, a stale benchmark), so a later task may well finish in time.
 */
export const ORDER_REFUSAL_CODES: ReadonlySet<string> = new Set(['SCHEDULER__DECLARED_WORK_MISMATCH'])
/**
 * Most orders a worker remembers refusing (see {@link ORDER_REFUSAL_CODES}), each until its deadline; past it the
 * oldest is forgotten first, and at worst bid on and refused once more.
 */
export const MAX_REFUSED_ORDERS = MAX_WORKER_JOBS

/** Capacity records a market view keeps at most; past it, records of unknown peers are dropped. */
export const MAX_CAPACITY_RECORDS = 200_000
/** Open orders a market view keeps at most (for market depth). */
export const MAX_OPEN_ORDERS = 200_000
/** An expired capacity record stays visible (counted as `expired` in diagnostics) this long. @default 300_000 */
export const CAPACITY_RETAIN_MS = 5 * 60 * 1000
/**
 * A market view drops expired records and closed orders at most this often, on the next record or order it is fed
 * (a scan of the view), so a long-running node's view holds the peers seen lately, not every peer ever seen.
 * @default 60_000
 */
export const MARKET_PRUNE_INTERVAL_MS = 60_000
/** Market depth is recomputed at most this often (it scans the view). @default 1_000 */
export const DEPTH_REFRESH_MS = 1_000

/**
 * How far peers' clocks may differ: core's `MAX_CLOCK_SKEW_MS`, restated (core writes it as a product, so its type
 * cannot pin it). A bid issued this much before its window opened answers a window that closed, delayed on the way.
 */
export const MAX_CLOCK_SKEW_MS = 30_000

/** Most bidders one job keeps: bounds what a flood of bids can cost the creator. */
export const MAX_BIDS_PER_JOB = 1_024

/** One benchmark-hour is the work a device scoring 1 benchmark unit does in an hour. */
export const MS_PER_HOUR = 3_600_000
/**
 * Least benchmark-hours `benchHoursOf` declares per task, and what it declares when the order tells no work to
 * estimate from: a job's budget is its maximum price times this, so a small task still pays its worker something.
 */
export const DEFAULT_BENCH_HOURS_PER_TASK = 1
/**
 * Rays per second of a device scoring one benchmark unit: `@tessera/gpu`'s capacity benchmark scores 100 for 2.4 M
 * rays/s of path tracing (its `BENCHMARK_REFERENCE`, with 9.6 GFLOP/s of matmul), so a benchmark-hour of rendering is
 * 86.4 M rays. Restated here since the scheduler does not depend on the engine; a `@tessera/node` test holds the two
 * equal.
 */
export const RAYS_PER_SEC_PER_BENCH_UNIT = 24_000
/**
 * FLOPs per second of a device scoring one benchmark unit: the capacity benchmark scores 100 for 9.6 GFLOP/s of fp32
 * matmul (its `BENCHMARK_REFERENCE`), so a benchmark-hour of inference is 346 GFLOP. What an inference order's
 * declared `flopsPerItem` is priced at; restated, like {@link RAYS_PER_SEC_PER_BENCH_UNIT}, and held equal by the same
 * `@tessera/node` test.
 */
export const FLOPS_PER_SEC_PER_BENCH_UNIT = 96_000_000
/**
 * How far a model's FLOPs per item, as a worker counts them once it has loaded the model, may pass what its order
 * declares before the worker refuses the order as understating its work (`checkDeclaredWork`): twice, what a creator
 * counting multiply-adds instead of FLOPs declares. Any more is underpayment a worker could not see when it bid.
 */
export const DECLARED_WORK_SLACK = 2
/**
 * Rays one pixel-sample casts on the capacity benchmark's own scene: the camera ray, then a bounce and a shadow ray
 * per vertex (at most `@tessera/gpu`'s 8 bounces, Russian roulette from the third). The CPU tracer measures 5.56 on
 * the benchmark's tiles; a scene as hard as the benchmark's costs this, harder ones more (within
 * {@link DEFAULT_WORK_TOLERANCE}).
 */
export const RAYS_PER_PIXEL_SAMPLE = 5.5
/**
 * A worker skips an order (`bid:skipped`, reason `underpriced`) whose work per task, estimated from the order alone
 * (a render tile's pixel-samples at {@link RAYS_PER_PIXEL_SAMPLE}; see `estimatedTaskMs`), would take it more than this
 * many times the time the order's `benchHoursPerTask` pays for. Generous: the estimate knows neither the scene nor
 * the device's balance of ray and matmul speed, and a creator's estimate may be rough; what it stops is an order
 * that pays nothing (0 benchmark-hours) or a sliver for hours of work. Every order of the demo, the examples and the
 * simulator's scenarios is far inside it (the closest, the simulator's validation market, estimates 0.4 times what
 * it pays). A `WorkerMachine` option (`workTolerance`). @default 16
 */
export const DEFAULT_WORK_TOLERANCE = 16
/** Fixed-point scale for benchmark-hours in settlement amounts (micro-benchmark-hours). */
export const BENCH_HOUR_SCALE = 1_000_000n
/** Fixed-point scale for price multipliers (parts per million). */
export const PRICE_MULTIPLIER_SCALE = 1_000_000n

/**
 * A job that ends (cancelled, expired) with results in verification waits this long for their verdicts before it
 * reports its end without them: a backstop for a verify hook that never answers (the node's checks end by their own
 * deadlines well within it). @default 3_600_000
 */
export const ENDED_JOB_VERDICT_WAIT_MS = 60 * 60_000
