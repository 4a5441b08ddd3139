import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { seededRng } from '@tessera/core'
import { CreatorMachine, fixedPrice, MarketView, WorkerMachine, type JobSpec } from '../src/index.js'

/**
 * Heap cost of the machines, for the simulator's budget (100,000 peers and 1,000,000 jobs in 4 GB): bytes per idle
 * worker machine (sharing one market view) and per open 16-task job held by a creator (order published, window
 * open, no bids yet).
 */
export interface MemoryBenchResult {
  bytesPerIdleWorker: number
  bytesPerOpenJob: number
}

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const spec: JobSpec = {
  kind: 'render',
  inputs: ['bafkreimemorybenchscene'],
  split: {
    kind: 'render',
    firstFrame: 0,
    frames: 1,
    width: 256,
    height: 256,
    tileWidth: 64,
    tileHeight: 64,
    samples: 16,
  },
  tier: 3,
  maxPrice: 30n,
  benchHoursPerTask: 0.01,
  bidWindowMs: 60_000,
  minBids: 3,
  timeoutMs: 3_600_000,
}

export function runMemoryBench(workers = 100_000, jobs = 100_000): MemoryBenchResult {
  const market = new MarketView()
  const before = heapUsed()
  const machines: WorkerMachine[] = []
  for (let i = 0; i < workers; i++) {
    machines.push(
      new WorkerMachine({
        self: `peer-${i}`,
        profile: { memoryMb: 8_192, features: ['shader-f16'], score: 100, slots: 4, tiers: [3] },
        pricing: fixedPrice(10n),
        market,
      }),
    )
  }
  const afterWorkers = heapUsed()
  const creator = new CreatorMachine({ self: 'creator', rng: seededRng(1), market: new MarketView() })
  for (let j = 0; j < jobs; j++) creator.submit(spec, 1_000)
  while (creator.pollOutput() !== undefined);
  const afterJobs = heapUsed()
  if (machines.length !== workers || creator.jobCount !== jobs) throw new Error('memory bench lost machines')
  return {
    bytesPerIdleWorker: Math.round((afterWorkers - before) / workers),
    bytesPerOpenJob: Math.round((afterJobs - afterWorkers) / jobs),
  }
}
