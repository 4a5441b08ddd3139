import { BENCHMARK_WORKLOAD, type Engine, runCapacityBenchmark } from '@tessera/gpu'
import type { Logger } from 'pino'
import type { Datastore } from '../datastore.js'

/**
 * The capacity score a worker announces: measured once (like Nosana's join-time benchmark) and kept until the
 * adapter or the benchmark's workload version changes (a score in another version's units would misprice).
 */
export async function capacityScore(engine: Engine, datastore: Datastore, logger: Logger): Promise<number> {
  const cached = await datastore.get<{ score: unknown; adapter: unknown; workloadVersion: unknown }>(
    'meta',
    'capacity-score',
  )
  const adapter = `${engine.adapter.vendor}/${engine.adapter.architecture}/${engine.adapter.backend}`
  const workloadVersion = BENCHMARK_WORKLOAD.version
  if (
    cached !== undefined &&
    cached.adapter === adapter &&
    cached.workloadVersion === workloadVersion &&
    typeof cached.score === 'number' &&
    Number.isFinite(cached.score) &&
    cached.score > 0
  )
    return cached.score
  const { score, cv } = await runCapacityBenchmark(engine, { runs: 1 })
  await datastore.put('meta', 'capacity-score', { score, adapter, workloadVersion })
  logger.info({ score, cv, adapter }, 'bench:measured')
  return score
}
