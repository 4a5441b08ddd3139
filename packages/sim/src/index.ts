/**
 * @packageDocumentation
 *
 * `@tessera/sim`: a deterministic discrete-event simulator that drives the node's own scheduler, proof and
 * settlement machines under virtual time, with models of latency, loss, partitions, gossip, GPU speed, churn and
 * adversaries. Same scenario, seed and code give byte-identical metrics and charts. See README.md.
 *
 * @example
 * ```ts
 * import { runScenario } from '@tessera/sim'
 *
 * const { report, files } = await runScenario('examples/scenarios/cheaters.yaml', { seed: 7, outDir: 'out/cheaters' })
 * const written = { detectionRate: report.summary.detection.detectionRate, files: files.length }
 * ```
 */
export * from './constants.js'
export * from './errors.js'
export * from './cli.js'
export * from './run.js'
export * from './report.js'
export type * from './progress.js'
export * from './charts/render.js'
export * from './charts/specs.js'
export * from './economics/burn-mint.js'
export * from './economics/gini.js'
export * from './engine/distributions.js'
export * from './engine/event-queue.js'
export * from './engine/simulation.js'
export * from './engine/streams.js'
export * from './metrics/recorder.js'
export * from './models/gpu.js'
export * from './models/output.js'
export * from './net/message-size.js'
export * from './net/network-model.js'
export * from './net/sim-bus.js'
export * from './net/sim-network.js'
export * from './scenario/duration.js'
export * from './scenario/load.js'
export * from './scenario/schema.js'
export type * from './scenario/types.js'
export * from './sweep/charts.js'
export * from './sweep/command.js'
export * from './sweep/file.js'
export * from './sweep/metrics.js'
export * from './sweep/parameters.js'
export * from './sweep/plan.js'
export * from './sweep/pool.js'
export * from './sweep/stats.js'
export * from './sweep/sweep.js'
export { World } from './world/world.js'
