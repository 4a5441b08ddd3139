/** Defaults and bounds for `@tessera/sim`. */

/** Virtual time starts here (2026-01-01T00:00:00Z), so machines see plausible wall-clock timestamps. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1)

/** Events fired between two looks at the abort signal and two progress reports. */
export const EVENTS_PER_SLICE = 250_000

/** A run stops with `SIM__EVENT_LIMIT_EXCEEDED` after this many events unless the scenario says otherwise. */
export const DEFAULT_MAX_EVENTS = 2_000_000_000

/** Messages are handed to machines with this time to live, as the real node seals envelopes. */
export const DEFAULT_MESSAGE_TTL_MS = 5 * 60 * 1000

/** Gossipsub's default mesh degree (D). */
export const DEFAULT_MESH_DEGREE = 6

/** Size estimates of signed envelopes by message type, bytes (body + 64-byte signature + envelope header). */
export const MESSAGE_BYTES = Object.freeze({
  capacity: 520,
  order: 664,
  bid: 260,
  award: 300,
  heartbeat: 220,
  result: 380,
  challenge: 330,
  reveal: 400,
  verdict: 320,
  receipt: 420,
  /** Header and the order; the quoted Result is added per message. */
  assign: 924,
  /** Header; the fraud proof and any quoted assignment are added per message. */
  arbitrate: 300,
})

/** Bytes per task id in messages that list tasks. */
export const TASK_ID_BYTES = 24

/** Largest scenario file read, bytes. */
export const MAX_SCENARIO_BYTES = 1024 * 1024

/**
 * Deepest nesting a scenario's text may have, counted before it is parsed (`nestingDepth`): the deepest legitimate
 * scenario nests 7 levels, and the parsers and `structuredClone` recurse once per level, so a few thousand overflow the
 * stack and a 1 MiB flow of brackets costs seconds and hundreds of MB.
 */
export const MAX_SCENARIO_DEPTH = 64

/**
 * Longest duration a scenario may give (the run, and every other duration in it), ms: a year. Validation would
 * otherwise pass a run of any length, and time series, epochs and timers all grow with it.
 */
export const MAX_SCENARIO_DURATION_MS = 365 * 86_400_000

/**
 * Most rows a run's time series (duration / metricsInterval) or burn-and-mint epochs (duration / bme.epoch) may
 * have. Rows are held until the report and then written as JSON, CSV and per-point charts, so a short interval over a
 * long run (1 ms over 200 days: 1.7e10 rows) exhausted the heap instead of failing with a coded error. Measured with
 * outputs written: 52,560 rows (a year at the default 10 minutes) peak near 2 GB, 100,000 near 3.8 GB (inside Node's
 * default 4 GB heap), 200,000 run out of it; a million do not fit.
 */
export const MAX_METRICS_ROWS = 100_000

/** Bounds a scenario may not exceed (the bench runs at 100,000 peers and 1,000,000 jobs). */
export const MAX_PEERS = 1_000_000
export const MAX_JOBS = 10_000_000
export const MAX_REGIONS = 64
/**
 * Largest `regions[].weight`: weights are relative, and past this a region's weights summed (at most
 * {@link MAX_REGIONS} of them) stay exact; two weights of 1e308 summed to Infinity and put every peer in the last region.
 */
export const MAX_REGION_WEIGHT = 1_000_000
export const MAX_PARTITIONS = 256
export const MAX_PRICE_POINTS = 10_000

/**
 * Bounds of the burn-and-mint inputs, so that every total stays a finite number: an emission of 1e308 summed to
 * Infinity and a supply of NaN, and a Gini of NaN. A run pays at most {@link MAX_JOBS} budgets of 2^64 - 1 quoted
 * units (1.8e26), worth at most 1.8e32 USD at {@link MAX_USD_PER_TOKEN_UNIT}, which buys at most 1.8e44 tokens at
 * {@link MIN_TOKEN_PRICE_USD}; it mints at most {@link MAX_BME_TOKENS} an epoch for {@link MAX_METRICS_ROWS} epochs
 * (1e23). Every figure and every sum of a million of them stays far below Number.MAX_VALUE (1.8e308). The bounds
 * themselves are far past any real token's: supplies of 1e9 to 1e15 tokens, prices of 1e-9 to 1e5 USD.
 */
export const MAX_BME_TOKENS = 1e18
/** Largest USD value of a quoted token unit (`economics.bme.usdPerTokenUnit`); see {@link MAX_BME_TOKENS}. */
export const MAX_USD_PER_TOKEN_UNIT = 1e6
/** Bounds of a point of the token's price series, USD (`economics.bme.price[].usd`); see {@link MAX_BME_TOKENS}. */
export const MIN_TOKEN_PRICE_USD = 1e-12
export const MAX_TOKEN_PRICE_USD = 1e12

/**
 * Each lognormal distribution's default. A field given only its median takes the default's sigma (the schema fills
 * it in), not a sigma of 0.
 */
export const DEFAULT_LOGNORMALS = Object.freeze({
  bandwidthMbps: Object.freeze({ median: 100, sigma: 0.5 }),
  score: Object.freeze({ median: 300, sigma: 0.5 }),
  memoryMb: Object.freeze({ median: 16384, sigma: 0.4 }),
  price: Object.freeze({ median: 100, sigma: 0.2 }),
  stake: Object.freeze({ median: 10000, sigma: 0.5 }),
  benchHoursPerTask: Object.freeze({ median: 5, sigma: 0.5 }),
})

/**
 * Largest price or stake a simulated worker has, token units: 2^53 - 1, a whole number a JavaScript number holds
 * exactly (the economy sums amounts as numbers) and far inside the u64 the machines and the wire take. The medians of
 * `workers.price` and `workers.stake` (times a spammer's `priceFactor`), and a Sybil's stake, are at most this; a
 * lognormal draw past it is cut to it, since with a sigma up to 5 a tail reaches 10^18 times the median.
 */
export const MAX_WORKER_AMOUNT = Number.MAX_SAFE_INTEGER

/**
 * Bounds of the median benchmark score (`workers.score.median`): from 10,000 times slower to 10,000 times faster than
 * the capacity benchmark's reference device (score 100). Within them, and the lognormal sigma's bound, every drawn
 * score is positive and finite, as a `WorkerMachine` requires, and every task time is a finite number of milliseconds.
 */
export const MIN_SCORE_MEDIAN = 0.01
export const MAX_SCORE_MEDIAN = 1_000_000

/**
 * Most benchmark-hours a simulated task may take: 140 days on a score-300 GPU, longer than any job may run (the
 * scheduler's `MAX_JOB_TIMEOUT_MS`, 30 days), and a thousandth of what `resolveJobSpec` takes (the scheduler's own
 * `MAX_BENCH_HOURS_PER_TASK`, 1e9; `test/job-limits.spec.ts` holds it there). A larger value models nothing a longer
 * task would not, and lognormal tails past it are cut to it. A job's budget is bounded apart (`/jobs/maxPrice`).
 */
export const MAX_BENCH_HOURS_PER_TASK = 1_000_000

/**
 * The only reputation tier a scenario's jobs may have: economy work, which any staked worker may take. Tier 1 admits
 * only a creator's trusted partners and tier 2 only workers of high reputation, earned from verdicts on earlier work;
 * simulated creators name no partners and a scenario's jobs share one tier, so either would leave every order
 * unawarded. Simulated workers advertise tiers 2 and 3 (`world/worker-peer.ts`), as a node does.
 */
export const SIMULATED_TIER = 3

/**
 * Shortest heartbeat period a scenario may ask of workers, ms. Every lease holder sends one message a period, so a
 * run's events grow as its inverse: at 1 ms, an hour of a dozen workers did not finish in 20 s of wall time.
 */
export const MIN_HEARTBEAT_MS = 100

/**
 * How long a task's verdict audience is remembered, ms. Arbitration ends within its timeouts (reveal, recompute and
 * verdict: under half an hour a round); an hour, not more, because at 100,000 peers this holds every task of the window.
 */
export const INVOLVED_RETAIN_MS = 3_600_000

/**
 * Unsolicited gossiped verdicts each creator's Reputation counts and remembers (never evicted, so a verdict counts
 * once; past it such gossip counts no more, while its delegates' and arbiters' answers still do). A thousand creators
 * each remembering the proof package's default ten thousand would hold gigabytes.
 */
export const SEEN_VERDICTS_PER_CREATOR = 1_000

/** Values one swept parameter may take at most. */
export const MAX_SWEEP_VALUES = 64

/** Runs one sweep may plan at most (points times replications). */
export const MAX_SWEEP_RUNS = 10_000

/**
 * Outputs: the share of an honest render's pixels that another driver's rounding sent down another path.
 * `@tessera/gpu` measured 6 to 13 of 16,384 pixels (about 0.04% to 0.08%) off by more than 0.01 between Dawn's two
 * lavapipe backends on a panorama-lit scene at 1 to 16 spp; the model gives each such pixel an unrelated value.
 */
export const DEFAULT_DIVERGED_PIXELS = 0.0005
