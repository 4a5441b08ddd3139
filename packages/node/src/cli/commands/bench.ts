import { createEngine, runCapacityBenchmark } from '@tessera/gpu'
import type { AbortOptions } from '@tessera/core'
import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { MAX_BENCH_RUNS, parseBenchRuns } from '../parse.js'

/** `tessera bench`: the capacity score a worker announces, in benchmark units. */
export function registerBench(program: Command, io: CliIo, options: AbortOptions = {}): void {
  program
    .command('bench')
    .description("measure this machine's capacity score (benchmark units; the market prices per benchmark-hour)")
    .option('--runs <n>', `measured runs (at most ${MAX_BENCH_RUNS})`, parseBenchRuns, 3)
    .option('--json', 'print JSON')
    .action(async (flags: { runs: number; json?: boolean }) => {
      const engine = await createEngine(options)
      try {
        const result = await runCapacityBenchmark(engine, { ...options, runs: flags.runs })
        const adapter = `${engine.adapter.vendor} ${engine.adapter.architecture} (${engine.adapter.backend})`
        const { score, cv, tileSide, matmulN, workloadVersion } = result
        io.stdout(
          flags.json === true
            ? `${JSON.stringify({ adapter, score, cv, runs: result.runs.length, workloadVersion, tileSide, matmulN })}\n`
            : `adapter: ${adapter}\nscore: ${score.toFixed(1)} benchmark units (cv ${(cv * 100).toFixed(1)}% over ${result.runs.length} runs; workload v${workloadVersion} at a ${tileSide} px tile and ${matmulN}x${matmulN} matmul)\n`,
        )
      } finally {
        engine.destroy()
      }
    })
}
