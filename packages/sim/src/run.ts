import { AbortError, type AbortOptions } from '@tessera/core'
import { CustomProgressEvent } from 'progress-events'
import { EVENTS_PER_SLICE } from './constants.js'
import { Simulation } from './engine/simulation.js'
import { isSimError, SimError } from './errors.js'
import { prepareOutputDir } from './metrics/output-dir.js'
import type { SimProgressEvents } from './progress.js'
import { writeReport, type RunReport } from './report.js'
import { loadScenario } from './scenario/load.js'
import type { Scenario } from './scenario/types.js'
import { World } from './world/world.js'

/** Options of {@link runScenario}. */
export interface RunOptions extends AbortOptions {
  /** Overrides the scenario's seed (an unsigned 32-bit integer). */
  seed?: number
  /** Writes metrics (JSON, CSV) and charts (SVG, PNG) here; nothing is written when absent. */
  outDir?: string
  /** Receives `sim:progress` and `sim:report` events. */
  onProgress?: (event: SimProgressEvents) => void
}

/** What a run produced. */
export interface RunResult {
  seed: number
  report: RunReport
  /** Paths of the files written (empty without `outDir`). */
  files: string[]
  /** Every completed job's completion time (order to last accepted task), ms, ascending: the raw distribution. */
  completionMs: Float64Array
}

/** Lets the event loop breathe between slices, so signals and progress output get through. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs a scenario (a parsed {@link Scenario} or a path to a JSON or YAML file) under virtual time and returns its
 * report; with `outDir`, writes `metrics.json`, CSV tables and SVG/PNG charts there (created, and checked, before
 * the run: `SIM__INVALID_OUT_DIR` when it cannot be written to), removing those of an earlier run this one does not
 * write. The same scenario, seed and code give byte-identical files. A failed run is a `SimError`
 * (`SIM__RUN_FAILED`) whose message and `context.seed` carry the seed.
 *
 * @example
 * ```ts
 * const { report } = await runScenario('examples/scenarios/cheaters.yaml', { seed: 7, outDir: 'out/cheaters' })
 * const { detectionRate } = report.summary.detection
 * ```
 */
export async function runScenario(scenario: Scenario | string, options: RunOptions = {}): Promise<RunResult> {
  const resolved = typeof scenario === 'string' ? await loadScenario(scenario) : scenario
  // Before the run, not after it: an unusable directory is a bad option, not a failed simulation.
  if (options.outDir !== undefined) await prepareOutputDir(options.outDir, 'report')
  const seed = options.seed ?? resolved.seed
  const sim = new Simulation({ seed })
  try {
    const world = new World(sim, resolved)
    world.start()
    const end = sim.start + resolved.durationMs
    const throwIfAborted = (): void => {
      if (options.signal?.aborted === true) throw new AbortError(`simulation aborted (seed ${seed})`, { seed })
    }
    for (;;) {
      throwIfAborted()
      // A slice ends one event past the budget at most, so a run over it stops there, not a slice later.
      sim.run(end, Math.min(EVENTS_PER_SLICE, resolved.maxEvents - sim.fired + 1))
      if (sim.fired > resolved.maxEvents) {
        throw new SimError('SIM__EVENT_LIMIT_EXCEEDED', `more than ${resolved.maxEvents} events`, {
          maxEvents: resolved.maxEvents,
          events: sim.fired,
        })
      }
      const virtualMs = sim.now - sim.start
      options.onProgress?.(
        new CustomProgressEvent('sim:progress', {
          virtualMs,
          durationMs: resolved.durationMs,
          events: sim.fired,
          fraction: Math.min(1, virtualMs / resolved.durationMs),
        }),
      )
      if (sim.nextTime > end) break
      await yieldToEventLoop()
    }
    // An abort heard during the last slice (its progress listener, say) still stops the run.
    throwIfAborted()
    sim.run(end)
    const report = world.report()
    const files =
      options.outDir === undefined
        ? []
        : await writeReport(options.outDir, report, {
            ...options,
            onWrite: (file) => options.onProgress?.(new CustomProgressEvent('sim:report', { file })),
          })
    return { seed, report, files, completionMs: Float64Array.from(world.metrics.completionTimes()).sort() }
  } catch (cause) {
    if (cause instanceof AbortError) throw cause
    const detail = isSimError(cause) ? cause.code : (cause as Error).name
    throw new SimError(
      'SIM__RUN_FAILED',
      `simulation of ${resolved.name} failed at virtual time ${sim.now - sim.start} ms (seed ${seed}): ${detail}: ${(cause as Error).message}`,
      { seed, scenario: resolved.name, virtualMs: sim.now - sim.start },
      { cause },
    )
  }
}
