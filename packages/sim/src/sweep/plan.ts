import { MAX_SWEEP_RUNS } from '../constants.js'
import { isSimError, SimError } from '../errors.js'
import { validateScenario } from '../scenario/load.js'
import type { Scenario } from '../scenario/types.js'
import { checkParameter, withOverride, type SweepParameter, type SweepValue } from './parameters.js'

/** Replications one sweep may ask for at most. */
export const MAX_REPLICATIONS = 1000

/** One combination of the swept values, and the scenario it makes. */
export interface SweepPoint {
  index: number
  /** The swept values by path, in the order the parameters were given. */
  values: Record<string, SweepValue>
  scenario: Scenario
}

/** One run: a point under one seed. */
export interface SweepRun {
  index: number
  point: number
  /** 0-based replicate number; the run's seed is the sweep's base seed plus it. */
  replicate: number
  seed: number
}

/** Options of {@link planSweep}. */
export interface SweepPlanOptions {
  parameters: readonly SweepParameter[]
  /** Runs per point, each under its own seed. @default 1 */
  replications?: number
  /** First seed; replicate r runs under seed + r. @default the scenario's seed */
  seed?: number
}

/** Every run of a sweep, planned and validated before any runs. */
export interface SweepPlan {
  scenario: string
  parameters: SweepParameter[]
  replications: number
  seed: number
  points: SweepPoint[]
  runs: SweepRun[]
}

function invalid(message: string, context: Record<string, unknown>): never {
  throw new SimError('SIM__INVALID_SWEEP', message, context)
}

/** The cartesian product of the parameters' values, the first parameter varying slowest. */
function combinations(parameters: readonly SweepParameter[]): Record<string, SweepValue>[] {
  let out: Record<string, SweepValue>[] = [{}]
  for (const p of parameters) out = out.flatMap((prefix) => p.values.map((v) => ({ ...prefix, [p.path]: v })))
  return out
}

/** Refuses seeds `seed` to `seed + replications - 1` unless all fit a run's seed, [0, 2^32). */
function checkSeeds(seed: number, replications: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed + replications - 1 > 0xffffffff) {
    invalid(`seeds ${seed} to ${seed + replications - 1} do not all fit in [0, 2^32)`, { seed, replications })
  }
}

/**
 * Checks, with `SIM__INVALID_SWEEP`, what a sweep's options say without its scenario: each parameter, no two on
 * overlapping paths, replications in range, at most {@link MAX_SWEEP_RUNS} runs, and the seeds when `seed` is given.
 * `sim sweep` checks its flags so before it reads a file, a bad one exiting 2 as its other bad flags do; a
 * {@link planSweep} checks its whole sweep so. Returns the checked parameters.
 */
export function checkSweepOptions(options: SweepPlanOptions): SweepParameter[] {
  const parameters = options.parameters.map(checkParameter)
  const paths = new Set<string>()
  for (const p of parameters) {
    if ([...paths].some((q) => q === p.path || q.startsWith(`${p.path}.`) || p.path.startsWith(`${q}.`))) {
      invalid(`sweep parameter ${p.path} overlaps another parameter's path`, { path: p.path })
    }
    paths.add(p.path)
  }
  const replications = options.replications ?? 1
  if (!Number.isInteger(replications) || replications < 1 || replications > MAX_REPLICATIONS) {
    invalid(`replications must be an integer in [1, ${MAX_REPLICATIONS}], got ${replications}`, { replications })
  }
  const points = parameters.reduce((n, p) => n * p.values.length, 1)
  if (points * replications > MAX_SWEEP_RUNS) {
    invalid(`the sweep plans ${points * replications} runs; at most ${MAX_SWEEP_RUNS}`, { points, replications })
  }
  if (options.seed !== undefined) checkSeeds(options.seed, replications)
  return parameters
}

/**
 * Plans a sweep over a scenario as written (see `loadScenarioInput`): every combination of the parameters' values
 * is a point, validated as a scenario of its own (an invalid combination fails here, naming its values, before
 * anything runs), and every point runs under the same seeds, `seed` to `seed + replications - 1`. Sharing seeds
 * across points (common random numbers) makes differences between points reflect the parameters more than the draws.
 */
export function planSweep(input: unknown, options: SweepPlanOptions): SweepPlan {
  const parameters = checkSweepOptions(options)
  const replications = options.replications ?? 1
  const combos = combinations(parameters)
  const points = combos.map((values, index): SweepPoint => {
    let raw = input
    for (const [path, value] of Object.entries(values)) raw = withOverride(raw, path, value)
    try {
      return { index, values, scenario: validateScenario(raw) }
    } catch (e) {
      // With no parameter the scenario as written failed: its own message says it all.
      if (!isSimError(e, 'SIM__INVALID_SCENARIO') || parameters.length === 0) throw e
      const at = Object.entries(values)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')
      throw new SimError(
        'SIM__INVALID_SCENARIO',
        `${e.message} (at ${at})`,
        { ...e.context, sweep: values },
        { cause: e },
      )
    }
  })
  const first = points[0] as SweepPoint
  const seed = options.seed ?? first.scenario.seed
  checkSeeds(seed, replications)
  const runs: SweepRun[] = []
  for (const point of points) {
    for (let replicate = 0; replicate < replications; replicate++) {
      runs.push({ index: runs.length, point: point.index, replicate, seed: seed + replicate })
    }
  }
  return { scenario: first.scenario.name, parameters, replications, seed, points, runs }
}
