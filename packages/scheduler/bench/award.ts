import { performance } from 'node:perf_hooks'
import { createNode, TOPICS, type TesseraNode } from '@tessera/core'
import { fixedPrice, type JobSpec, type WorkerProfile } from '../src/index.js'
import { cpuWorkload, createScheduler, type SchedulerDriver } from '../src/driver/index.js'

/**
 * Award latency over real libp2p peers on loopback: one creator and `peers - 1` workers in this process. For each of
 * `orders` orders (16 tasks each), the time from `submit` (the order is published) to `job:assigned` (every task
 * awarded). Orders run one after another, each to completion, so every order meets an idle market; a few warm-up
 * orders go first, unmeasured.
 */
export interface AwardBenchResult {
  peers: number
  orders: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  maxMs: number
  meshReadyMs: number
  /** Orders run before measuring, and the slowest of them. */
  warmupOrders: number
  warmupMaxMs: number
}

const PROFILE: WorkerProfile = { memoryMb: 8_192, features: [], score: 100, slots: 4, tiers: [3] }

const JOB: JobSpec = {
  kind: 'render',
  inputs: ['bafkreiawardbench'],
  split: { kind: 'render', firstFrame: 0, frames: 1, width: 64, height: 64, tileWidth: 16, tileHeight: 16, samples: 1 },
  tier: 3,
  maxPrice: 100n,
  benchHoursPerTask: 0.001,
  bidWindowMs: 5_000,
  minBids: 4,
  timeoutMs: 120_000,
}

const WARMUP_ORDERS = 5

/** Orders one job; resolves with the ms from publishing it to every task awarded, once the job has completed. */
async function awardOnce(creator: SchedulerDriver): Promise<number> {
  let assignedAt: number | undefined
  let jobId = ''
  const stop = creator.on('job:assigned', (e) => {
    if (e.jobId === jobId) assignedAt = performance.now()
  })
  const started = performance.now()
  jobId = creator.submit(JOB)
  const done = creator.waitForJob(jobId)
  await until(() => assignedAt !== undefined, `job ${jobId} to be assigned`)
  stop()
  await done
  return (assignedAt as number) - started
}

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

async function until(condition: () => boolean, what: string | (() => string), timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`award bench: timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export async function runAwardBench(peers = 20, orders = 50): Promise<AwardBenchResult> {
  const nodes: TesseraNode[] = []
  const drivers: SchedulerDriver[] = []
  try {
    const creatorNode = await createNode({ logPrefix: 'creator' })
    nodes.push(creatorNode)
    const creator = createScheduler({ bus: creatorNode.bus, blobs: creatorNode.blobs })
    drivers.push(creator)
    const bootstrap = [
      creatorNode
        .getMultiaddrs()
        .find((ma) => !ma.toString().includes('/ws'))
        ?.toString() ?? '',
    ]
    const workers = await Promise.all(
      Array.from({ length: peers - 1 }, (_, i) => createNode({ bootstrap, logPrefix: `worker-${i}` })),
    )
    nodes.push(...workers)
    for (const [i, node] of workers.entries()) {
      drivers.push(
        createScheduler(
          { bus: node.bus, blobs: node.blobs },
          {
            creator: false,
            worker: { profile: PROFILE, pricing: fixedPrice(BigInt(10 + (i % 7))), executor: cpuWorkload() },
          },
        ),
      )
    }
    const meshStarted = performance.now()
    const workerIds = new Set(workers.map((w) => w.peerId.toString()))
    const subscribers = (): number =>
      creatorNode.libp2p.services.pubsub.getSubscribers(TOPICS.orders).filter((p) => workerIds.has(p.toString())).length
    // A bootstrap dial can fail on a loaded machine: dial the creator again from any worker not connected to it.
    const redial = setInterval(() => {
      for (const worker of workers) {
        if (worker.libp2p.getConnections(creatorNode.peerId).length === 0)
          worker.dial(bootstrap[0] as string).catch(() => {})
      }
    }, 2_000)
    try {
      await until(
        () => subscribers() === workerIds.size,
        () => `every worker to subscribe to orders (${subscribers()} did)`,
      )
    } finally {
      clearInterval(redial)
    }
    await until(
      () =>
        workers.every((w) =>
          w.libp2p.services.pubsub.getSubscribers(TOPICS.bids).some((p) => p.equals(creatorNode.peerId)),
        ),
      'every worker to see the creator subscribe to bids',
    )
    const meshReadyMs = performance.now() - meshStarted

    // The first orders pay for JIT compilation and the first streams between peers: run some unmeasured.
    const warmup: number[] = []
    for (let o = 0; o < WARMUP_ORDERS; o++) warmup.push(await awardOnce(creator))

    const latencies: number[] = []
    for (let o = 0; o < orders; o++) latencies.push(await awardOnce(creator))
    latencies.sort((a, b) => a - b)
    return {
      peers,
      orders,
      p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
      meanMs: Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 10) / 10,
      maxMs: Math.round((latencies.at(-1) ?? 0) * 10) / 10,
      meshReadyMs: Math.round(meshReadyMs),
      warmupOrders: WARMUP_ORDERS,
      warmupMaxMs: Math.round(Math.max(...warmup)),
    }
  } finally {
    for (const driver of drivers) driver.stop()
    await Promise.all(nodes.map((n) => n.stop()))
  }
}
