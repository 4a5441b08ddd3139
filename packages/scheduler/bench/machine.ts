import { performance } from 'node:perf_hooks'
import { seededRng, type Capacity, type Inbound, type WireMessage } from '@tessera/core'
import { CreatorMachine, MarketView, type JobSpec } from '../src/index.js'

/**
 * The creator machine alone, in memory: 10,000 capacity records in its market view, 1,000 orders of 16 tasks each,
 * five bids per order (the fifth closes the window by count and triggers the awards), a heartbeat per lease and a
 * result per task. A decision is one input handled, with the outputs it produces drained.
 */
export interface MachineBenchResult {
  capacityRecords: number
  orders: number
  decisions: number
  seconds: number
  decisionsPerSec: number
  diagnoseMs: number
}

const RECORDS = 10_000
const ORDERS = 1_000
const BIDS_PER_ORDER = 5
const TASKS_PER_ORDER = 16

function record(peer: string, i: number): Capacity {
  return {
    peer,
    addrs: [],
    gpu: { vendor: 'mesa', architecture: 'llvmpipe', description: 'lavapipe', backend: 'vulkan' },
    memoryMb: 4_096 + (i % 8) * 1_024,
    features: i % 3 === 0 ? ['shader-f16'] : [],
    score: 50 + (i % 100),
    price: BigInt(5 + (i % 20)),
    tiers: [3],
    stake: BigInt(i % 50),
    classes: ['render/wgsl'],
    slots: 4,
    busy: i % 5,
    issuedAt: 1,
  }
}

const spec: JobSpec = {
  kind: 'render',
  inputs: ['bafkreibenchscene'],
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
  minBids: BIDS_PER_ORDER,
  timeoutMs: 3_600_000,
}

/** The best of `runs` runs (the machine is shared: the best run is the one least disturbed). */
export function runMachineBench(runs = 3): MachineBenchResult {
  let best: MachineBenchResult | undefined
  for (let r = 0; r < runs; r++) {
    const result = runOnce()
    if (best === undefined || result.decisionsPerSec > best.decisionsPerSec) best = result
  }
  return best as MachineBenchResult
}

function runOnce(): MachineBenchResult {
  const market = new MarketView()
  const creator = new CreatorMachine({ self: 'creator', rng: seededRng(1), market, verify: false })
  const peers = Array.from({ length: RECORDS }, (_, i) => `peer-${i.toString().padStart(5, '0')}`)
  let now = 1_000
  const handle = (from: string, message: WireMessage): void => {
    const inbound: Inbound = { from, message, expiresAt: now + 600_000 }
    creator.handle({ kind: 'message', inbound }, now)
  }
  const drain = (): void => {
    while (creator.pollOutput() !== undefined);
  }

  let decisions = 0
  const started = performance.now()
  for (const [i, peer] of peers.entries()) {
    handle(peer, { type: 'capacity', body: record(peer, i) })
    decisions++
  }
  const jobs: string[] = []
  for (let o = 0; o < ORDERS; o++) jobs.push(creator.submit(spec, now))
  drain()
  decisions += ORDERS
  for (const [o, jobId] of jobs.entries()) {
    now += 1
    for (let b = 0; b < BIDS_PER_ORDER; b++) {
      const worker = peers[(o * BIDS_PER_ORDER + b) % RECORDS] as string
      handle(worker, {
        type: 'bid',
        body: {
          jobId,
          worker,
          price: BigInt(5 + ((o + b) % 20)),
          etaMs: 1_000 + b,
          score: 100,
          maxTasks: 4,
          issuedAt: now,
        },
      })
      decisions++
    }
  }
  // Every lease heart-beats once, then every task returns a result.
  const awards: { worker: string; jobId: string; taskIds: string[] }[] = []
  for (let out = creator.pollOutput(); out !== undefined; out = creator.pollOutput()) {
    if (out.kind === 'send' && out.message.type === 'award') {
      awards.push({ worker: out.to, jobId: out.message.body.jobId, taskIds: out.message.body.taskIds })
    }
  }
  for (const award of awards) {
    now += 1
    handle(award.worker, {
      type: 'heartbeat',
      body: { jobId: award.jobId, worker: award.worker, taskIds: award.taskIds, issuedAt: now },
    })
    decisions++
  }
  const root = new Uint8Array(32)
  for (const award of awards) {
    for (const taskId of award.taskIds) {
      handle(award.worker, {
        type: 'result',
        body: {
          jobId: award.jobId,
          taskId,
          worker: award.worker,
          root,
          chunks: 4,
          output: 'bafkout',
          tolerance: 'bitwise',
          computeMs: 1,
          issuedAt: now,
        },
      })
      decisions++
    }
    drain()
  }
  const seconds = (performance.now() - started) / 1_000
  const completed = jobs.filter((jobId) => creator.job(jobId)?.status === 'completed').length
  if (completed !== ORDERS || awards.reduce((n, a) => n + a.taskIds.length, 0) !== ORDERS * TASKS_PER_ORDER) {
    throw new Error(`machine bench went wrong: ${completed} of ${ORDERS} jobs completed`)
  }

  // The why-no-bid diagnostic scans the whole view: time it separately.
  const unmatched = creator.submit({ ...spec, maxPrice: 1n }, now)
  drain()
  const diagnoseStarted = performance.now()
  creator.diagnose(unmatched, now)
  const diagnoseMs = performance.now() - diagnoseStarted

  return {
    capacityRecords: RECORDS,
    orders: ORDERS,
    decisions,
    seconds,
    decisionsPerSec: Math.round(decisions / seconds),
    diagnoseMs,
  }
}
