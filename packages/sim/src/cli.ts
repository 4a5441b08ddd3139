import { resolve } from 'node:path'
import { integerFlag, parseCommandArgs, type SimCommandIo } from './command-args.js'
import { isSimError, SimError } from './errors.js'
import { progressBar } from './progress-bar.js'
import type { RunReport } from './report.js'
import { runScenario } from './run.js'
import { loadScenario } from './scenario/load.js'
import { sweepCommand } from './sweep/command.js'

export type { SimCommandIo } from './command-args.js'

export const SIM_USAGE = `usage: sim run <scenario.yaml|json> [--seed N] [--out DIR] [--quiet]
       sim sweep <scenario.yaml|json> [--set PATH=V1,V2,...]... [--replications N] ... (sim sweep --help)

Runs a scenario under virtual time and writes metrics (metrics.json, *.csv) and charts (*.svg, *.png) to DIR
(default: sim-output/<scenario name>). The same scenario, seed and code give byte-identical files.
`

/** How the run's verifiers sampled: the plan for the scenario's budget, over a longer horizon when it cannot be met. */
function verificationLine(plan: RunReport['summary']['verificationPlan']): string {
  const sampling = `p >= ${Number(plan.p.toPrecision(4))}, ${plan.challengeChunks} of ${plan.chunks} chunks per challenge`
  return plan.budgetMet
    ? `verification plan: ${sampling}`
    : `verification budget cannot be met (${plan.infeasible}); met within ${plan.withinTasks} tasks instead: ${sampling}`
}

/** What the machines refused, by code: the one place a job its creator refused to order shows. */
function rejectionsLine(rejections: RunReport['summary']['rejections']): string {
  const codes = Object.entries(rejections.byCode).map(([code, n]) => `${code} ${n}`)
  return `refused inputs: ${rejections.total}${codes.length === 0 ? '' : ` (${codes.join(', ')})`}`
}

/**
 * `tessera sim run` (the default) and `tessera sim sweep` (see {@link sweepCommand}). `run` parses arguments, runs the scenario with a progress bar on stderr, prints a summary on
 * stdout. Returns the exit code (0 ok, 1 the run failed, 2 bad arguments, an unusable `--out` among them); a failure
 * prints the seed to replay.
 * The node package mounts this under its `tessera` CLI; `npm run sim -w @tessera/sim -- <scenario>` runs it alone.
 */
export async function simCommand(argv: readonly string[], io: SimCommandIo): Promise<number> {
  if (argv[0] === 'sweep') return sweepCommand(argv.slice(1), io)
  // `run` is the default subcommand and may be left out.
  const args = parseCommandArgs(
    argv[0] === 'run' ? argv.slice(1) : argv,
    { seed: { type: 'string' }, out: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
    SIM_USAGE,
    io,
  )
  if (typeof args === 'number') return args
  const { file: scenarioPath } = args
  const values = args.values as { seed?: string; out?: string; quiet?: boolean }
  const seed = integerFlag('seed', values.seed, 0, 0xffffffff)
  if (typeof seed === 'string') {
    io.stderr.write(`${seed}\n`)
    return 2
  }
  const cwd = io.cwd ?? process.cwd()
  const bar = progressBar(
    io.stderr,
    values.quiet === true,
    'sim {bar} {percentage}% | {virtual} virtual | {events} events',
  )
  try {
    const scenarioFile = resolve(cwd, scenarioPath)
    const scenario = await loadScenario(scenarioFile)
    const outDir = resolve(cwd, values.out ?? `sim-output/${scenario.name}`)
    bar?.start(100, 0, { virtual: '0h', events: 0 })
    const result = await runScenario(scenario, {
      ...(seed === undefined ? {} : { seed }),
      outDir,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      onProgress: (event) => {
        if (event.type === 'sim:progress') {
          bar?.update(Math.floor(event.detail.fraction * 100), {
            virtual: `${(event.detail.virtualMs / 3_600_000).toFixed(1)}h`,
            events: event.detail.events,
          })
        }
      },
    })
    bar?.stop()
    const s = result.report.summary
    io.stdout.write(
      [
        `scenario ${scenario.name}, seed ${result.seed}: ${s.events} events over ${s.virtualHours} virtual hours`,
        `jobs: ${s.jobs.completed}/${s.jobs.submitted} completed, p50 ${s.jobs.completionMinutes.p50.toFixed(1)} min, p90 ${s.jobs.completionMinutes.p90.toFixed(1)} min`,
        `verification: ${s.detection.checks} checks, ${s.detection.detected} bad tasks caught, ${s.detection.escaped} escaped, ${s.detection.falsePositives} false positives, ${s.detection.unanswered} honest tasks rejected unanswered`,
        verificationLine(s.verificationPlan),
        rejectionsLine(s.rejections),
        `earnings Gini ${s.economics.gini.toFixed(3)}; wrote ${result.files.length} files to ${outDir}`,
        '',
      ].join('\n'),
    )
    return 0
  } catch (e) {
    bar?.stop()
    const seedHint = isSimError(e) && e.context.seed !== undefined ? '' : seed === undefined ? '' : ` (seed ${seed})`
    const code = e instanceof SimError ? `${e.code}: ` : ''
    io.stderr.write(`sim failed${seedHint}: ${code}${(e as Error).message}\n`)
    return isSimError(e, 'SIM__INVALID_OUT_DIR') ? 2 : 1
  }
}
