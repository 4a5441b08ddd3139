import { Buffer } from 'node:buffer'
import { open } from 'node:fs/promises'
import { extname } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { MAX_TILE_PIXELS } from '@tessera/core'
import { DEFAULT_MIN_PSNR_DB, DEFAULT_PSNR_OUTLIER_FRACTION } from '@tessera/proof'
import {
  DEFAULT_PRIORITY_REPUTATION,
  jobBudget,
  MAX_AMOUNT,
  MAX_FRAMES_PER_JOB,
  MAX_JOB_TIMEOUT_MS,
} from '@tessera/scheduler'
import {
  DEFAULT_DIVERGED_PIXELS,
  DEFAULT_LOGNORMALS,
  MAX_BENCH_HOURS_PER_TASK,
  MAX_METRICS_ROWS,
  MAX_PEERS,
  MAX_SCENARIO_BYTES,
  MAX_SCENARIO_DEPTH,
  MAX_WORKER_AMOUNT,
  MIN_HEARTBEAT_MS,
  SIMULATED_TIER,
} from '../constants.js'
import { SimError } from '../errors.js'
import { adversaryCounts } from '../world/behaviour.js'
import { minBenchHoursPerTask, mostBenchHoursPerTask } from '../world/job-spec.js'
import { nestingDepth } from './depth.js'
import { formatDuration, parseDuration } from './duration.js'
import { SCENARIO_SCHEMA } from './schema.js'
import type { Adversaries, Lognormal, Scenario, ScenarioInput } from './types.js'

let validator: ReturnType<Ajv['compile']> | undefined

/** The compiled schema, built once (ajv compiles to a function; compiling is the slow part). */
function validate(): ReturnType<Ajv['compile']> {
  validator ??= new Ajv({ useDefaults: true, allErrors: false, strict: true, strictTypes: false }).compile(
    SCENARIO_SCHEMA,
  )
  return validator
}

/** The most telling of ajv's errors: the deepest path, and there the last (a `oneOf` summary beats its branches). */
function mostTelling(errors: readonly ErrorObject[]): ErrorObject {
  let best = errors[0] as ErrorObject
  for (const e of errors) if (e.instancePath.length >= best.instancePath.length) best = e
  return best
}

function describe(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties':
      return `has an unknown field "${String(params.additionalProperty)}"`
    case 'enum':
      return `must be one of ${JSON.stringify(params.allowedValues)}`
    case 'oneOf':
      return 'must be a number of milliseconds or a duration such as "90s", "10m", "6h"'
    case 'required':
      return `is missing the field "${String(params.missingProperty)}"`
    default:
      return e.message ?? 'is invalid'
  }
}

/**
 * A copy of `value` that the schema validator may fill with defaults, and whether it passes the schema. A value that
 * cannot be copied or checked (nested past the stack, or holding a function) is refused with a code, not a bare
 * `RangeError` or `DataCloneError`.
 */
function cloneAndCheck(value: unknown): { input: unknown; valid: boolean; check: ReturnType<Ajv['compile']> } {
  const check = validate()
  try {
    const input = structuredClone(value)
    return { input, valid: check(input) === true, check }
  } catch (cause) {
    throw new SimError(
      'SIM__MALFORMED_SCENARIO',
      `scenario cannot be copied or checked: ${(cause as Error).message.split('\n')[0]}`,
      { error: (cause as Error).name },
      { cause },
    )
  }
}

/**
 * Validates a parsed scenario against {@link SCENARIO_SCHEMA}, fills in defaults and resolves durations.
 * Throws `SIM__INVALID_SCENARIO` with `context.path` (a JSON pointer) naming the failing field, and
 * `SIM__MALFORMED_SCENARIO` for a value that cannot be copied or checked at all.
 */
export function validateScenario(value: unknown): Scenario {
  const { input, valid, check } = cloneAndCheck(value)
  if (!valid) {
    const error = mostTelling(check.errors ?? [])
    const path =
      error.keyword === 'additionalProperties'
        ? `${error.instancePath}/${String((error.params as Record<string, unknown>).additionalProperty)}`
        : error.instancePath
    throw new SimError('SIM__INVALID_SCENARIO', `scenario ${error.instancePath || '/'} ${describe(error)}`, {
      path: path === '' ? '/' : path,
      keyword: error.keyword,
      params: error.params,
    })
  }
  return resolve(input as ScenarioInput)
}

/**
 * Parses scenario text (JSON or YAML; JSON when `format` says so or the text starts with `{`) without validating
 * it: the scenario as written, for callers that change fields before {@link validateScenario} (a sweep). Text over
 * {@link MAX_SCENARIO_BYTES}, or nested past {@link MAX_SCENARIO_DEPTH} (counted before parsing, which recurses per
 * level), is refused with `SIM__MALFORMED_SCENARIO`.
 */
export function parseScenarioInput(text: string, format?: 'json' | 'yaml'): unknown {
  if (text.length > MAX_SCENARIO_BYTES) {
    throw new SimError('SIM__MALFORMED_SCENARIO', `scenario is larger than ${MAX_SCENARIO_BYTES} bytes`, {
      bytes: text.length,
    })
  }
  const json = format === 'json' || (format === undefined && text.trimStart().startsWith('{'))
  const depth = nestingDepth(text, json ? 'json' : 'yaml')
  if (depth > MAX_SCENARIO_DEPTH) {
    throw new SimError(
      'SIM__MALFORMED_SCENARIO',
      `scenario nests ${depth} levels deep; at most ${MAX_SCENARIO_DEPTH} are allowed`,
      { format: json ? 'json' : 'yaml', depth, limit: MAX_SCENARIO_DEPTH },
    )
  }
  try {
    return json ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 })
  } catch (cause) {
    const line = cause instanceof YAMLParseError ? cause.linePos?.[0].line : undefined
    throw new SimError(
      'SIM__MALFORMED_SCENARIO',
      `scenario is not valid ${json ? 'JSON' : 'YAML'}: ${(cause as Error).message.split('\n')[0]}`,
      { format: json ? 'json' : 'yaml', line },
      { cause },
    )
  }
}

/** Parses scenario text (JSON or YAML; JSON when `format` says so or the text starts with `{`) and validates it. */
export function parseScenario(text: string, format?: 'json' | 'yaml'): Scenario {
  return validateScenario(parseScenarioInput(text, format))
}

function tooLarge(path: string, bytes: number): SimError {
  return new SimError('SIM__MALFORMED_SCENARIO', `scenario ${path} is larger than ${MAX_SCENARIO_BYTES} bytes`, {
    path,
    bytes,
    limit: MAX_SCENARIO_BYTES,
  })
}

/**
 * The text of a scenario file, refused with `SIM__MALFORMED_SCENARIO` past {@link MAX_SCENARIO_BYTES} before it is
 * read whole: `readFile` would buffer a file of any size (or a device that never ends) before the length check in
 * {@link parseScenarioInput} could run. The size `stat` gives is checked first, and the read still stops one byte past
 * the limit, since a pipe or device reports 0 and a file may grow after the `stat`.
 */
async function readScenarioText(path: string): Promise<string> {
  const notFound = (cause: unknown): SimError =>
    new SimError('SIM__SCENARIO_NOT_FOUND', `cannot read scenario ${path}`, { path }, { cause })
  const handle = await open(path, 'r').catch((cause: unknown) => {
    throw notFound(cause)
  })
  try {
    const { size } = await handle.stat().catch((cause: unknown) => {
      throw notFound(cause)
    })
    if (size > MAX_SCENARIO_BYTES) throw tooLarge(path, size)
    const buffer = Buffer.alloc(MAX_SCENARIO_BYTES + 1)
    let bytes = 0
    while (bytes < buffer.length) {
      const { bytesRead } = await handle.read(buffer, bytes, buffer.length - bytes, null).catch((cause: unknown) => {
        throw notFound(cause)
      })
      if (bytesRead === 0) break
      bytes += bytesRead
    }
    if (bytes > MAX_SCENARIO_BYTES) throw tooLarge(path, bytes)
    return buffer.toString('utf8', 0, bytes)
  } finally {
    await handle.close()
  }
}

/** Reads a scenario file (`.json`, `.yaml` or `.yml`) as written, unvalidated (see {@link parseScenarioInput}). */
export async function loadScenarioInput(path: string): Promise<unknown> {
  const text = await readScenarioText(path)
  const ext = extname(path).toLowerCase()
  return parseScenarioInput(text, ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined)
}

/** Reads and validates a scenario file (`.json`, `.yaml` or `.yml`). */
export async function loadScenario(path: string): Promise<Scenario> {
  return validateScenario(await loadScenarioInput(path))
}

function invalid(path: string, message: string, context: Record<string, unknown> = {}): never {
  throw new SimError('SIM__INVALID_SCENARIO', `scenario ${path} ${message}`, { path, ...context })
}

/** Refuses an interval that cuts the run into more than {@link MAX_METRICS_ROWS} rows or epochs. */
function tooManyRows(path: string, durationMs: number, intervalMs: number, what: 'rows' | 'epochs' = 'rows'): void {
  const rows = Math.ceil(durationMs / intervalMs)
  if (rows > MAX_METRICS_ROWS) {
    throw new SimError(
      'SIM__INVALID_SCENARIO',
      `scenario ${path} cuts the duration into ${rows} ${what}; at most ${MAX_METRICS_ROWS} are allowed: use a longer interval or a shorter duration`,
      { path, rows, limit: MAX_METRICS_ROWS, durationMs, intervalMs },
    )
  }
}

/** A distribution as resolved. YAML's `.nan` passes every bound of the schema, so finiteness is checked here. */
function lognormal(value: Partial<Lognormal> | undefined, path: string, defaults: Lognormal): Lognormal {
  const resolved = { median: value?.median ?? defaults.median, sigma: value?.sigma ?? defaults.sigma }
  for (const key of ['median', 'sigma'] as const) {
    if (!Number.isFinite(resolved[key])) invalid(`${path}/${key}`, 'must be a finite number')
  }
  return resolved
}

/**
 * Holds the jobs to what `@tessera/scheduler`'s `resolveJobSpec` takes, by the scheduler's own bounds: a creator
 * refuses an order it cannot take, every order of the scenario alike, and a run of refused orders measures an empty
 * market. Benchmark-hours are bounded by what workers bid for and by {@link MAX_BENCH_HOURS_PER_TASK} (`simJobSpec`
 * cuts the distribution's tails to the same bounds), and a job's budget, `maxPrice` x the most benchmark-hours a task
 * may declare x the most tasks, by u64 (the scheduler's `jobBudget`).
 */
function checkJobs(jobs: Scenario['jobs']): void {
  if (jobs.kind === 'render' && jobs.tasks.max > MAX_FRAMES_PER_JOB) {
    invalid(
      '/jobs/tasks/max',
      `must be at most ${MAX_FRAMES_PER_JOB} for render jobs: a simulated render task is one frame, and the scheduler takes at most ${MAX_FRAMES_PER_JOB} frames a job`,
      { limit: MAX_FRAMES_PER_JOB },
    )
  }
  if (jobs.tier !== SIMULATED_TIER) {
    // Every job of a scenario has its tier, so an order no simulated worker may take would leave the market empty.
    invalid(
      '/jobs/tier',
      `must be ${SIMULATED_TIER}: the simulated market serves economy work only. Tier 1 admits a creator's trusted partners, and simulated creators name none; tier 2 admits workers of reputation at least ${DEFAULT_PRIORITY_REPUTATION}, which they earn only from verdicts on other work, and a scenario's jobs are all of one tier, so no order would be awarded`,
      { limit: SIMULATED_TIER },
    )
  }
  if (jobs.bidWindowMs < 1) invalid('/jobs/bidWindow', 'must be longer than zero')
  if (jobs.deadlineMs <= jobs.bidWindowMs) invalid('/jobs/deadline', 'must be longer than the bid window')
  if (jobs.deadlineMs > MAX_JOB_TIMEOUT_MS) {
    invalid('/jobs/deadline', `must be at most ${formatDuration(MAX_JOB_TIMEOUT_MS)}, the longest a job may run`, {
      limit: MAX_JOB_TIMEOUT_MS,
    })
  }
  if (BigInt(jobs.maxPrice) > MAX_AMOUNT) {
    invalid('/jobs/maxPrice', `must be at most ${MAX_AMOUNT} (a u64 token amount)`, { limit: MAX_AMOUNT.toString() })
  }
  const least = minBenchHoursPerTask(jobs.kind)
  const { median } = jobs.benchHoursPerTask
  if (!(median >= least && median <= MAX_BENCH_HOURS_PER_TASK)) {
    invalid(
      '/jobs/benchHoursPerTask/median',
      `must be in [${least}, ${MAX_BENCH_HOURS_PER_TASK}] for ${jobs.kind} jobs: workers skip a task that pays for less (a render task's tile shows its work), and a longer one outlasts any job`,
      { limit: [least, MAX_BENCH_HOURS_PER_TASK] },
    )
  }
  const hours = mostBenchHoursPerTask(jobs)
  const budget = jobBudget(BigInt(jobs.maxPrice), hours, jobs.tasks.max)
  if (budget > MAX_AMOUNT) {
    invalid(
      '/jobs/maxPrice',
      `times the most benchmark-hours a task may declare (${hours}) and the most tasks a job may have (${jobs.tasks.max}) is ${budget}, past ${MAX_AMOUNT} (u64): the scheduler refuses a job whose budget is, since its escrow and pay are u64 token amounts`,
      { limit: MAX_AMOUNT.toString(), budget: budget.toString() },
    )
  }
}

/**
 * Refuses a scenario whose peers, with the joins churn adds over the run on average, pass {@link MAX_PEERS}: each is
 * a set of machines in memory, and an unbounded join rate never let the run end.
 */
function checkPeers(s: ScenarioInput, durationMs: number, adversaries: Partial<Adversaries>): void {
  const initial =
    s.workers.count +
    s.creators.count +
    (s.verifiers?.count ?? 0) +
    (adversaries.sybils?.identities ?? 0) +
    (adversaries.bidSpammers?.count ?? 0)
  const joinsPerHour = s.churn?.joinsPerHour ?? 0
  const joins = (joinsPerHour * durationMs) / 3_600_000
  if (!(initial + joins <= MAX_PEERS)) {
    const peers = `${initial} peers (workers, creators, verifiers, Sybils, spammers)`
    invalid(
      joinsPerHour > 0 ? '/churn/joinsPerHour' : '/workers/count',
      joinsPerHour > 0
        ? `adds ${joins} joins over the run to ${peers}; at most ${MAX_PEERS} peers are allowed`
        : `with the other peers makes ${peers}; at most ${MAX_PEERS} are allowed`,
      { limit: MAX_PEERS },
    )
  }
}

/** Applies what the schema cannot say: durations, cross-field rules, region names. */
function resolve(s: ScenarioInput): Scenario {
  const durationMs = parseDuration(s.duration, '/duration')
  if (durationMs === 0) invalid('/duration', 'must be longer than zero')
  // The recorder keeps one row object per interval until the report: bounded here, not by the heap running out.
  const metricsIntervalMs = Math.max(1, parseDuration(s.metricsInterval ?? '10m', '/metricsInterval'))
  tooManyRows('/metricsInterval', durationMs, metricsIntervalMs)
  const regionNames = s.regions.map((r) => r.name)
  if (new Set(regionNames).size !== regionNames.length) invalid('/regions', 'names a region twice')
  const known = new Set(regionNames)
  const checkMatrix = (m: Record<string, Record<string, number>> | undefined, path: string): void => {
    for (const [a, row] of Object.entries(m ?? {})) {
      if (!known.has(a)) invalid(`${path}/${a}`, `names an undeclared region "${a}"`)
      for (const [b, value] of Object.entries(row)) {
        if (!known.has(b)) invalid(`${path}/${a}/${b}`, `names an undeclared region "${b}"`)
        // The matrix is symmetric: the network model would keep whichever direction it read last.
        const reverse = m?.[b]?.[a]
        if (reverse !== undefined && reverse !== value) {
          invalid(`${path}/${a}/${b}`, `is ${value} but ${path}/${b}/${a} is ${reverse}: give each pair once`)
        }
      }
    }
  }
  checkMatrix(s.network.latencyMs, '/network/latencyMs')
  checkMatrix(s.network.loss, '/network/loss')
  for (const a of regionNames) {
    for (const b of regionNames) {
      if (s.network.latencyMs[a]?.[b] === undefined && s.network.latencyMs[b]?.[a] === undefined) {
        invalid(`/network/latencyMs/${a}/${b}`, 'is missing: give a latency for every region pair')
      }
    }
  }
  const partitions = (s.network.partitions ?? []).map((p, i) => {
    const start = parseDuration(p.start, `/network/partitions/${i}/start`)
    const end = parseDuration(p.end, `/network/partitions/${i}/end`)
    if (end <= start) invalid(`/network/partitions/${i}/end`, 'must be after start')
    // A region in two groups would be cut off from one of them depending on which group the model read last.
    const named = new Set<string>()
    p.groups.forEach((g, j) =>
      g.forEach((r, k) => {
        const path = `/network/partitions/${i}/groups/${j}/${k}`
        if (!known.has(r)) invalid(path, `names an undeclared region "${r}"`)
        if (named.has(r)) invalid(path, `names region "${r}" again: a region belongs to one group, named once`)
        named.add(r)
      }),
    )
    return { start, end, groups: p.groups }
  })
  const tasks = { min: s.jobs.tasks?.min ?? 1, max: s.jobs.tasks?.max ?? 8 }
  if (tasks.min > tasks.max) invalid('/jobs/tasks/min', 'must not exceed max')
  const submitWindowMs =
    s.jobs.submitWindow === undefined
      ? Math.floor(durationMs / 2)
      : parseDuration(s.jobs.submitWindow, '/jobs/submitWindow')
  if (submitWindowMs > durationMs) invalid('/jobs/submitWindow', 'must not exceed duration')
  const adversaries = (s.adversaries ?? {}) as Partial<Adversaries>
  if ((adversaries.cheaters?.fraction ?? 0) + (adversaries.lazy?.fraction ?? 0) > 1) {
    invalid('/adversaries/lazy/fraction', 'plus cheaters.fraction must not exceed 1')
  }
  const roles = adversaryCounts(s.workers.count, adversaries)
  if (roles.colluder > s.workers.count) {
    invalid('/adversaries/colluders/count', 'must not exceed workers.count (colluders are workers)')
  }
  // Roles are dealt colluders first, then cheaters, then lazy workers; one that does not fit is named.
  if (roles.colluder + roles.cheater > s.workers.count) {
    invalid(
      '/adversaries/cheaters/fraction',
      `makes ${roles.cheater} cheaters, more than the ${s.workers.count - roles.colluder} workers left beside the colluders`,
    )
  }
  if (roles.colluder + roles.cheater + roles.lazy > s.workers.count) {
    invalid(
      '/adversaries/lazy/fraction',
      `makes ${roles.lazy} lazy workers, more than the ${s.workers.count - roles.colluder - roles.cheater} workers left beside the colluders and cheaters`,
    )
  }
  checkPeers(s, durationMs, adversaries)
  const taskPixels = (s.outputs?.pixelsPerChunk ?? 64) * (s.jobs.chunksPerTask ?? 64)
  if (taskPixels > MAX_TILE_PIXELS) {
    // Each task's chunks are made and held in memory (and by its worker's prover until settled).
    invalid(
      '/outputs/pixelsPerChunk',
      `times jobs.chunksPerTask makes tasks of ${taskPixels} pixels; a task's output is a tile of at most ${MAX_TILE_PIXELS} (core's MAX_TILE_PIXELS)`,
      { limit: MAX_TILE_PIXELS },
    )
  }
  const spammers = adversaries.bidSpammers
  const spamPriceMedian = (s.workers.price?.median ?? DEFAULT_LOGNORMALS.price.median) * (spammers?.priceFactor ?? 0)
  if (spamPriceMedian > MAX_WORKER_AMOUNT) {
    invalid(
      '/adversaries/bidSpammers/priceFactor',
      `times workers.price.median must be at most ${MAX_WORKER_AMOUNT}, the largest price a simulated worker asks`,
      { limit: MAX_WORKER_AMOUNT },
    )
  }
  const heartbeat = parseDuration(s.scheduler?.heartbeat ?? '5s', '/scheduler/heartbeat')
  if (heartbeat < MIN_HEARTBEAT_MS) {
    invalid('/scheduler/heartbeat', `must be at least ${MIN_HEARTBEAT_MS} ms`, { limit: MIN_HEARTBEAT_MS })
  }
  if (parseDuration(s.scheduler?.lease ?? '15s', '/scheduler/lease') <= heartbeat) {
    invalid('/scheduler/lease', 'must be longer than the heartbeat period')
  }
  if (parseDuration(s.scheduler?.capacityTtl ?? '2m', '/scheduler/capacityTtl') < 2000) {
    invalid('/scheduler/capacityTtl', 'must be at least 2s')
  }
  const settlementEpochMs = parseDuration(s.economics?.settlementEpoch ?? '1h', '/economics/settlementEpoch')
  if (settlementEpochMs < 1000) invalid('/economics/settlementEpoch', 'must be at least 1s')
  // Every creator closes every epoch, and its settlement machine works through each one: bounded as rows are.
  tooManyRows('/economics/settlementEpoch', durationMs, settlementEpochMs, 'epochs')
  const uptime = s.churn?.meanUptime
  const bme = s.economics?.bme
  let resolvedBme: Scenario['economics']['bme']
  if (bme !== undefined) {
    const price = bme.price.map((p, i) => ({ atMs: parseDuration(p.at, `/economics/bme/price/${i}/at`), usd: p.usd }))
    for (let i = 1; i < price.length; i++) {
      if ((price[i] as { atMs: number }).atMs <= (price[i - 1] as { atMs: number }).atMs) {
        invalid(`/economics/bme/price/${i}/at`, 'must be later than the point before it')
      }
    }
    resolvedBme = {
      epochMs: parseDuration(bme.epoch ?? '1h', '/economics/bme/epoch'),
      emissionPerEpoch: bme.emissionPerEpoch,
      initialSupply: bme.initialSupply ?? 1e9,
      usdPerTokenUnit: bme.usdPerTokenUnit ?? 0.01,
      price,
    }
    if (resolvedBme.epochMs === 0) invalid('/economics/bme/epoch', 'must be longer than zero')
    // The burn-and-mint model keeps one record per closed epoch, as the recorder keeps one row per interval.
    tooManyRows('/economics/bme/epoch', durationMs, resolvedBme.epochMs, 'epochs')
  }
  const jobs: Scenario['jobs'] = {
    count: s.jobs.count,
    arrival: s.jobs.arrival ?? 'poisson',
    submitWindowMs,
    kind: s.jobs.kind ?? 'render',
    tasks,
    benchHoursPerTask: lognormal(
      s.jobs.benchHoursPerTask,
      '/jobs/benchHoursPerTask',
      DEFAULT_LOGNORMALS.benchHoursPerTask,
    ),
    chunksPerTask: s.jobs.chunksPerTask ?? 64,
    inputMb: s.jobs.inputMb ?? 20,
    outputMb: s.jobs.outputMb ?? 5,
    tier: s.jobs.tier ?? 3,
    maxPrice: s.jobs.maxPrice ?? 200,
    bidWindowMs: parseDuration(s.jobs.bidWindow ?? '5s', '/jobs/bidWindow'),
    minBids: s.jobs.minBids ?? 3,
    deadlineMs: parseDuration(s.jobs.deadline ?? '1d', '/jobs/deadline'),
    verification: {
      detect: s.jobs.verification?.detect ?? 0.999,
      withinTasks: s.jobs.verification?.withinTasks ?? 200,
      cheatRate: s.jobs.verification?.cheatRate ?? 0.1,
      maxOverhead: s.jobs.verification?.maxOverhead ?? 0.1,
    },
  }
  checkJobs(jobs)
  const w = s.workers
  return {
    version: 1,
    name: s.name,
    description: s.description ?? '',
    seed: s.seed ?? 1,
    durationMs,
    metricsIntervalMs,
    maxEvents: s.maxEvents ?? 2_000_000_000,
    regions: s.regions.map((r) => ({ name: r.name, weight: r.weight ?? 1 })),
    network: {
      latencyMs: s.network.latencyMs,
      jitter: s.network.jitter ?? 0.1,
      lossRate: s.network.lossRate ?? 0,
      ...(s.network.loss === undefined ? {} : { loss: s.network.loss }),
      gossipLossRate: s.network.gossipLossRate ?? 0,
      bandwidthMbps: lognormal(s.network.bandwidthMbps, '/network/bandwidthMbps', DEFAULT_LOGNORMALS.bandwidthMbps),
      gossip: {
        meshDegree: s.network.gossip?.meshDegree ?? 6,
        hopDelayMs: s.network.gossip?.hopDelayMs ?? 15,
        audience: s.network.gossip?.audience ?? 0,
        verdictAudience: s.network.gossip?.verdictAudience ?? s.network.gossip?.audience ?? 0,
      },
      partitions,
    },
    workers: {
      count: w.count,
      score: lognormal(w.score, '/workers/score', DEFAULT_LOGNORMALS.score),
      memoryMb: lognormal(w.memoryMb, '/workers/memoryMb', DEFAULT_LOGNORMALS.memoryMb),
      price: lognormal(w.price, '/workers/price', DEFAULT_LOGNORMALS.price),
      stake: lognormal(w.stake, '/workers/stake', DEFAULT_LOGNORMALS.stake),
      slots: w.slots ?? 1,
      runVariability: w.runVariability ?? 0.1,
      pricing: w.pricing ?? 'fixed',
    },
    creators: { count: s.creators.count },
    jobs,
    scheduler: {
      heartbeatMs: parseDuration(s.scheduler?.heartbeat ?? '5s', '/scheduler/heartbeat'),
      leaseMs: parseDuration(s.scheduler?.lease ?? '15s', '/scheduler/lease'),
      capacityTtlMs: parseDuration(s.scheduler?.capacityTtl ?? '2m', '/scheduler/capacityTtl'),
      maxReopens: s.scheduler?.maxReopens ?? 3,
    },
    outputs: {
      pixelsPerChunk: s.outputs?.pixelsPerChunk ?? 64,
      honestNoise: s.outputs?.honestNoise ?? 0.5,
      renderNoise: s.outputs?.renderNoise ?? 26,
      divergedPixels: s.outputs?.divergedPixels ?? DEFAULT_DIVERGED_PIXELS,
    },
    verifiers: {
      count: s.verifiers?.count ?? 0,
      tolerance: {
        minPsnrDb: s.verifiers?.minPsnrDb ?? DEFAULT_MIN_PSNR_DB,
        psnrOutlierFraction: s.verifiers?.psnrOutlierFraction ?? DEFAULT_PSNR_OUTLIER_FRACTION,
      },
    },
    churn: {
      joinsPerHour: s.churn?.joinsPerHour ?? 0,
      meanUptimeMs: uptime === undefined ? undefined : parseDuration(uptime, '/churn/meanUptime'),
      crashFraction: s.churn?.crashFraction ?? 0.5,
    },
    adversaries,
    economics: {
      feeBps: s.economics?.feeBps ?? 100,
      settlementEpochMs,
      slashFraction: s.economics?.slashFraction ?? 1,
      verifierShare: s.economics?.verifierShare ?? 0.05,
      bme: resolvedBme,
    },
  }
}
