import { resolve } from 'node:path'
import { integerFlag, parseCommandArgs, type SimCommandIo } from '../command-args.js'
import { isSimError } from '../errors.js'
import { roundNumber } from '../metrics/format.js'
import { progressBar } from '../progress-bar.js'
import { loadScenarioInput } from '../scenario/load.js'
import { SWEEP_METRIC_NAMES, type SweepMetric } from './metrics.js'
import { isSweepFile, parseSweepDefinition, type SweepDefinition } from './file.js'
import { parseSweepParameter, type SweepParameter } from './parameters.js'
import { checkSweepOptions, MAX_REPLICATIONS } from './plan.js'
import type { MetricStats } from './stats.js'
import { runSweep } from './sweep.js'

export const SWEEP_USAGE = `usage: sim sweep <scenario|sweep file> [--set PATH=V1,V2,...]... [--replications N] [--seed N]
                 [--concurrency N] [--chart METRIC,...] [--out DIR] [--quiet]

Runs the scenario at every combination of the --set values (PATH is a dotted field of the scenario file, e.g.
adversaries.cheaters.fraction; values are YAML scalars), each --replications times under seeds N, N+1, ... shared by
all points, in parallel worker threads. Writes sweep.json, runs.csv, summary.csv (mean and 95% confidence interval
per metric and point) and charts of each --chart metric against the first PATH, printed per point too, to DIR (default:
sim-output/<scenario name>-sweep). Same scenario, values, seeds and code give byte-identical files. A sweep file
(YAML or JSON: version: 1, scenario: <path relative to it>, parameters: { PATH: [values] }, replications, seed,
charts) saves a sweep; flags given beside it override its fields, and --set adds or replaces a parameter.

metrics: ${SWEEP_METRIC_NAMES.join(', ')}
`

/** `{ [key]: value }`, or nothing when the value is absent: options leave out what was not asked for. */
const pick = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  value === undefined ? {} : ({ [key]: value } as Record<K, V>)

const fmt = (s: MetricStats): string =>
  !Number.isFinite(s.mean)
    ? 'n/a'
    : `${roundNumber(Number(s.mean.toPrecision(4)))}${Number.isFinite(s.ci95) ? ` ± ${roundNumber(Number(s.ci95.toPrecision(2)))}` : ''}`

/**
 * `tessera sim sweep`: parses arguments, runs the sweep with a progress bar on stderr, prints each point's headline
 * figures on stdout. Returns the exit code (0 ok, 1 a run or the sweep failed, 2 bad arguments, an unusable `--out`
 * among them).
 */
export async function sweepCommand(argv: readonly string[], io: SimCommandIo): Promise<number> {
  const args = parseCommandArgs(
    argv,
    {
      set: { type: 'string', multiple: true },
      replications: { type: 'string', short: 'r' },
      seed: { type: 'string' },
      concurrency: { type: 'string', short: 'j' },
      chart: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
    SWEEP_USAGE,
    io,
  )
  if (typeof args === 'number') return args
  const { file: scenarioPath } = args
  const values = args.values as { set?: string[]; chart?: string; out?: string; quiet?: boolean }
  const replications = integerFlag('replications', args.values.replications, 1, MAX_REPLICATIONS)
  const seed = integerFlag('seed', args.values.seed, 0, 0xffffffff)
  const concurrency = integerFlag('concurrency', args.values.concurrency, 1, 256)
  const charts = values.chart?.split(',').map((m) => m.trim()) as SweepMetric[] | undefined
  const unknownChart = charts?.find((m) => !SWEEP_METRIC_NAMES.includes(m))
  const argError = [replications, seed, concurrency].find((v) => typeof v === 'string')
  if (argError !== undefined || unknownChart !== undefined) {
    io.stderr.write(
      `${argError ?? `--chart: no metric named ${unknownChart}; metrics: ${SWEEP_METRIC_NAMES.join(', ')}`}\n`,
    )
    return 2
  }
  let flagParameters: SweepParameter[]
  try {
    flagParameters = (values.set ?? []).map(parseSweepParameter)
    // As far as the flags alone tell: one --set per path, and seeds and runs in range.
    checkSweepOptions({
      parameters: flagParameters,
      ...pick('replications', replications as number | undefined),
      ...pick('seed', seed as number | undefined),
    })
  } catch (e) {
    io.stderr.write(`${isSimError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`)
    return 2
  }
  const cwd = io.cwd ?? process.cwd()
  const bar = progressBar(io.stderr, values.quiet === true, 'sweep {bar} {value}/{total} runs')
  try {
    const file = resolve(cwd, scenarioPath)
    const raw = await loadScenarioInput(file)
    const saved: SweepDefinition = isSweepFile(raw)
      ? parseSweepDefinition(raw, file)
      : { scenario: file, parameters: [] }
    const input = isSweepFile(raw) ? await loadScenarioInput(saved.scenario) : raw
    const flagged = new Set(flagParameters.map((p) => p.path))
    const parameters = [...saved.parameters.filter((p) => !flagged.has(p.path)), ...flagParameters]
    const name = (input as { name?: unknown } | null)?.name
    const outDir = resolve(cwd, values.out ?? `sim-output/${typeof name === 'string' ? name : 'scenario'}-sweep`)
    let started = false
    const sweep = await runSweep(input, {
      parameters,
      ...pick('replications', (replications as number | undefined) ?? saved.replications),
      ...pick('seed', (seed as number | undefined) ?? saved.seed),
      ...pick('concurrency', concurrency as number | undefined),
      ...pick('charts', charts ?? saved.charts),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      outDir,
      onProgress: (event) => {
        if (event.type !== 'sweep:progress') return
        if (!started) bar?.start(event.detail.total, 0)
        started = true
        bar?.update(event.detail.done)
      },
    })
    bar?.stop()
    const lines = [
      `scenario ${sweep.scenario}: ${sweep.points.length} points x ${sweep.replications} runs (seeds ${sweep.seed}-${sweep.seed + sweep.replications - 1})`,
    ]
    for (const p of sweep.points) {
      const at = Object.entries(p.values)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')
      // The charted metrics, the ones the sweep was asked about.
      const figures = sweep.charts.map((m) => `${m} ${fmt(p.stats[m])}`).join(', ')
      // A budget the planner cannot meet leaves the verifier's default plan in force: say so, or the point looks
      // like its neighbours for no visible reason.
      const fallback = p.stats.budgetMet.mean < 1 ? ' (verification budget not met: default plan in force)' : ''
      lines.push(`${at === '' ? 'as written' : at}: ${figures}${fallback}`)
    }
    lines.push(`wrote ${sweep.files.length} files to ${outDir}`, '')
    io.stdout.write(lines.join('\n'))
    return 0
  } catch (e) {
    bar?.stop()
    io.stderr.write(`sweep failed: ${isSimError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`)
    return isSimError(e, 'SIM__INVALID_OUT_DIR') ? 2 : 1
  }
}
