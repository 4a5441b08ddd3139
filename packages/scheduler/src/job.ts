import { jobIdOf, MAX_FLOPS_PER_TASK, type Order, type Rng, type Split, type VerificationBudget } from '@tessera/core'
import {
  DEFAULT_BID_WINDOW_MS,
  DEFAULT_JOB_TIMEOUT_MS,
  DEFAULT_MIN_BIDS,
  DEFAULT_VERIFICATION,
  MAX_AMOUNT,
  MAX_BENCH_HOURS_PER_TASK,
  MAX_FIRST_FRAME,
  MAX_FRAMES_PER_JOB,
  MAX_ID_LENGTH,
  MAX_IMAGE_SIDE,
  MAX_JOB_TIMEOUT_MS,
  MAX_INPUTS_PER_ORDER,
  MAX_MIN_BIDS,
  MAX_SAMPLES_PER_PIXEL,
  MAX_INFERENCE_ITEMS,
} from './constants.js'
import { lengthenHorizon } from '@tessera/proof'
import { SchedulerError } from './errors.js'
import { jobBudget } from './pricing.js'
import { checkTaskCount, checkTaskWork, taskChunkCounts, taskCountOf } from './split.js'

/** A reputation tier: 1 trusted partners, 2 priority, 3 economy. */
export type Tier = Order['tier']

/** What a creator asks for; {@link buildOrder} turns it into a wire Order. */
export interface JobSpec {
  kind: 'render' | 'inference'
  /** Content ids of the scene, model or data. */
  inputs: readonly string[]
  /** Frames x tiles (render) or batch ranges (inference); `split.kind` must equal `kind`. */
  split: Split
  tier: Tier
  /** Highest acceptable price per benchmark-hour, token units. */
  maxPrice: bigint
  /** The creator's estimate of benchmark-hours per task, to turn prices into expected cost. */
  benchHoursPerTask: number
  requirements?: { features?: readonly string[]; minMemoryMb?: number }
  /** How long the bid window stays open. @default DEFAULT_BID_WINDOW_MS */
  bidWindowMs?: number
  /** The window closes early once this many bids arrived (k). @default DEFAULT_MIN_BIDS */
  minBids?: number
  /** The job must be complete this long after it is ordered. @default DEFAULT_JOB_TIMEOUT_MS */
  timeoutMs?: number
  /**
   * Handed to `@tessera/proof`'s planner.
   * @default DEFAULT_VERIFICATION, its horizon lengthened to what the job's task sizes allow (`lengthenHorizon`)
   */
  verification?: VerificationBudget
  /** The creator's escrow reference on the ledger. @default '' */
  escrow?: string
}

function invalid(reason: string, context: Record<string, unknown> = {}): SchedulerError {
  return new SchedulerError('SCHEDULER__INVALID_JOB_SPEC', `invalid job spec: ${reason}`, { reason, ...context })
}

function checkInt(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in [${min}, ${max}]`, { field: name, value })
  }
}

function checkUnit(value: unknown, name: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw invalid(`${name} must be a probability in [0, 1]`, { field: name, value })
  }
}

function checkSplit(kind: JobSpec['kind'], split: Split): void {
  if (split === null || typeof split !== 'object' || split.kind !== kind) {
    throw invalid(`split.kind must be '${kind}'`, { field: 'split.kind' })
  }
  if (split.kind === 'render') {
    checkInt(split.firstFrame, 'split.firstFrame', 0, MAX_FIRST_FRAME)
    checkInt(split.frames, 'split.frames', 1, MAX_FRAMES_PER_JOB)
    checkInt(split.width, 'split.width', 1, MAX_IMAGE_SIDE)
    checkInt(split.height, 'split.height', 1, MAX_IMAGE_SIDE)
    checkInt(split.tileWidth, 'split.tileWidth', 1, MAX_IMAGE_SIDE)
    checkInt(split.tileHeight, 'split.tileHeight', 1, MAX_IMAGE_SIDE)
    checkInt(split.samples, 'split.samples', 1, MAX_SAMPLES_PER_PIXEL)
  } else {
    checkInt(split.items, 'split.items', 1, MAX_INFERENCE_ITEMS)
    checkInt(split.itemsPerTask, 'split.itemsPerTask', 1, MAX_INFERENCE_ITEMS)
    if (split.flopsPerItem !== undefined) checkInt(split.flopsPerItem, 'split.flopsPerItem', 1, MAX_FLOPS_PER_TASK)
  }
  checkTaskCount(split)
  checkTaskWork(split)
}

/** A job spec with every default filled in, validated; throws `SCHEDULER__INVALID_JOB_SPEC`. */
export type ResolvedJobSpec = Required<Omit<JobSpec, 'requirements'>> & {
  requirements: { features: readonly string[]; minMemoryMb: number }
}

/** Checks a job spec and fills in defaults. */
export function resolveJobSpec(spec: JobSpec): ResolvedJobSpec {
  if (spec === null || typeof spec !== 'object') throw invalid('the spec must be an object')
  if (spec.kind !== 'render' && spec.kind !== 'inference') throw invalid("kind must be 'render' or 'inference'")
  checkSplit(spec.kind, spec.split)
  if (!Array.isArray(spec.inputs) || spec.inputs.length < 1 || spec.inputs.length > MAX_INPUTS_PER_ORDER) {
    throw invalid(`inputs must hold 1 to ${MAX_INPUTS_PER_ORDER} content ids`, { field: 'inputs' })
  }
  for (const cid of spec.inputs) {
    if (typeof cid !== 'string' || cid.length < 1 || cid.length > MAX_ID_LENGTH) {
      throw invalid('every input must be a content id string', { field: 'inputs' })
    }
  }
  if (spec.tier !== 1 && spec.tier !== 2 && spec.tier !== 3) throw invalid('tier must be 1, 2 or 3', { field: 'tier' })
  if (typeof spec.maxPrice !== 'bigint' || spec.maxPrice < 0n || spec.maxPrice > MAX_AMOUNT) {
    throw invalid('maxPrice must be a bigint in the u64 range', { field: 'maxPrice' })
  }
  const hours = spec.benchHoursPerTask
  if (typeof hours !== 'number' || !(hours >= 0 && hours < MAX_BENCH_HOURS_PER_TASK)) {
    throw invalid(`benchHoursPerTask must be a non-negative number below ${MAX_BENCH_HOURS_PER_TASK}`, {
      field: 'benchHoursPerTask',
    })
  }
  // Settlement pays a task in one u64 receipt from an escrow funded with the job's budget: past u64, neither exists.
  const tasks = taskCountOf(spec.split)
  const budget = jobBudget(spec.maxPrice, hours, tasks)
  if (budget > MAX_AMOUNT) {
    throw invalid(
      `maxPrice x benchHoursPerTask x tasks is ${budget}, past ${MAX_AMOUNT} (u64): lower maxPrice or split the job`,
      { field: 'maxPrice', budget, limit: MAX_AMOUNT },
    )
  }
  const features = spec.requirements?.features ?? []
  if (
    !Array.isArray(features) ||
    features.length > 32 ||
    features.some((f) => typeof f !== 'string' || f.length > 64)
  ) {
    throw invalid('requirements.features must hold at most 32 labels of at most 64 characters', { field: 'features' })
  }
  const minMemoryMb = spec.requirements?.minMemoryMb ?? 0
  checkInt(minMemoryMb, 'requirements.minMemoryMb', 0, Number.MAX_SAFE_INTEGER)
  const bidWindowMs = spec.bidWindowMs ?? DEFAULT_BID_WINDOW_MS
  checkInt(bidWindowMs, 'bidWindowMs', 1, MAX_JOB_TIMEOUT_MS - 1)
  const minBids = spec.minBids ?? DEFAULT_MIN_BIDS
  checkInt(minBids, 'minBids', 1, MAX_MIN_BIDS)
  const timeoutMs = spec.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS
  checkInt(timeoutMs, 'timeoutMs', bidWindowMs + 1, MAX_JOB_TIMEOUT_MS)
  const verification = spec.verification ?? lengthenHorizon(DEFAULT_VERIFICATION, taskChunkCounts(spec.split))
  checkUnit(verification.detect, 'verification.detect')
  checkUnit(verification.cheatRate, 'verification.cheatRate')
  checkUnit(verification.maxOverhead, 'verification.maxOverhead')
  checkInt(verification.withinTasks, 'verification.withinTasks', 1, Number.MAX_SAFE_INTEGER)
  const escrow = spec.escrow ?? ''
  if (typeof escrow !== 'string' || escrow.length > MAX_ID_LENGTH) {
    throw invalid(`escrow must be a string of at most ${MAX_ID_LENGTH} characters`, { field: 'escrow' })
  }
  return Object.freeze({
    kind: spec.kind,
    inputs: Object.freeze([...spec.inputs]),
    split: Object.freeze({ ...spec.split }),
    tier: spec.tier,
    maxPrice: spec.maxPrice,
    benchHoursPerTask: spec.benchHoursPerTask,
    requirements: Object.freeze({ features: Object.freeze([...features]), minMemoryMb }),
    bidWindowMs,
    minBids,
    timeoutMs,
    verification: Object.freeze({ ...verification }),
    escrow,
  })
}

/** Draws the 64-bit nonce that makes two identical specs from one creator two jobs. */
export function drawJobNonce(rng: Rng): string {
  const hi = rng.nextU32()
  const lo = rng.nextU32()
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')
}

/**
 * The signed-ready wire Order for a resolved spec, issued at `now`. Its job id is derived from its content and
 * `nonce` (core's `jobIdOf`), so every peer can check that the id names this order and no other.
 */
export function buildOrder(spec: ResolvedJobSpec, creator: string, nonce: string, now: number): Order {
  const content = {
    creator,
    nonce,
    kind: spec.kind,
    inputs: [...spec.inputs],
    split: { ...spec.split },
    tier: spec.tier,
    maxPrice: spec.maxPrice,
    benchHoursPerTask: spec.benchHoursPerTask,
    requirements: { features: [...spec.requirements.features], minMemoryMb: spec.requirements.minMemoryMb },
    minBids: spec.minBids,
    deadline: now + spec.timeoutMs,
    verification: { ...spec.verification },
    escrow: spec.escrow,
  }
  return Object.freeze({ jobId: jobIdOf(content), ...content, bidDeadline: now + spec.bidWindowMs, issuedAt: now })
}
