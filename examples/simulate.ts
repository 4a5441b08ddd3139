/**
 * Simulate the market: run a scenario with `@tessera/sim` and print its headline metrics.
 *
 * The simulator drives the node's own scheduler and proof state machines under virtual time with modelled
 * latency, GPUs, churn and adversaries; the same scenario, seed and code give the same numbers every time. The
 * default scenario has 60 workers, 15% of them cheaters and 10% lazy, serving 400 render jobs over six virtual
 * hours, and runs in a few seconds.
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/simulate.ts \
 *     [--scenario examples/scenarios/cheaters.yaml] [--seed 7] [--out <dir>]
 *
 *   --scenario FILE   a JSON or YAML scenario (default examples/scenarios/cheaters.yaml; see examples/scenarios/)
 *   --seed N          overrides the scenario's seed
 *   --out DIR         also write metrics.json, CSV tables and SVG/PNG charts there
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runScenario } from '@tessera/sim'
import { wholeNumberFlag } from './lib/flags.js'

const here = dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: join(here, 'scenarios', 'cheaters.yaml') },
    seed: { type: 'string' },
    out: { type: 'string' },
  },
})
const seed = values.seed === undefined ? undefined : wholeNumberFlag('seed', values.seed, 0, 0xffff_ffff)

const started = Date.now()
const { report, files } = await runScenario(resolve(values.scenario), {
  ...(seed !== undefined ? { seed } : {}),
  ...(values.out !== undefined ? { outDir: resolve(values.out) } : {}),
})
const { summary } = report
const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const minutes = (x: number) => `${x.toFixed(1)} min`

console.log(
  `scenario ${report.scenario}, seed ${report.seed}: ${summary.events.toLocaleString('en')} events over ${summary.virtualHours} virtual hours in ${((Date.now() - started) / 1000).toFixed(1)} s`,
)
console.log(
  `peers: ${summary.peers.workers} workers, ${summary.peers.creators} creators, ${summary.peers.verifiers} verifiers (${summary.peers.joined} joined, ${summary.peers.left} left, ${summary.peers.crashed} crashed)`,
)
console.log(
  `jobs: ${summary.jobs.completed}/${summary.jobs.submitted} completed, ${summary.jobs.failed} failed; completion p50 ${minutes(summary.jobs.completionMinutes.p50)}, p90 ${minutes(summary.jobs.completionMinutes.p90)}`,
)
console.log(
  `tasks: ${summary.tasks.awarded} awarded, ${summary.tasks.accepted} accepted, ${summary.tasks.rejected} rejected, ${summary.tasks.reassigned} reassigned`,
)
const d = summary.detection
console.log(
  `verification: ${d.checks} checks, ${d.badTasks} bad tasks, ${d.detected} caught, ${d.escaped} escaped (detection rate ${pct(d.detectionRate)}), ${d.falsePositives} false positives (${pct(d.falsePositiveRate)})`,
)
const e = summary.economics
console.log(
  `economics: ${(e.paid - e.fees).toLocaleString('en')} paid to workers, ${e.fees.toLocaleString('en')} in fees, ${e.slashed.toLocaleString('en')} slashed, earnings Gini ${e.gini.toFixed(2)}`,
)
console.log(
  `network: ${summary.network.delivered.toLocaleString('en')} of ${summary.network.sent.toLocaleString('en')} messages delivered`,
)
console.table(
  Object.fromEntries(
    Object.entries(summary.roles)
      .filter(([, r]) => r.workers > 0)
      .map(([role, r]) => [
        role,
        {
          workers: r.workers,
          tasks: r.tasksCompleted,
          bad: r.tasksBad,
          caught: r.detected,
          escaped: r.escaped,
          earned: r.earned,
          slashed: r.slashed,
        },
      ]),
  ),
)
if (files.length > 0) console.log(`wrote ${files.length} files to ${resolve(values.out ?? '.')}`)
