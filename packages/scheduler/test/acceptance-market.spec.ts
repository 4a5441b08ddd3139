import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TesseraNode } from '@tessera/core'
import { splitTasks, type JobSpec, type SchedulerEvent, type WorkerProfile } from '../src/index.js'
import { assembleOutputs, cpuWorkload, createScheduler, type SchedulerDriver } from '../src/driver/index.js'
import { waitFor } from './memory-bus.js'
import { announcement, LocalNetwork, marketReady, subscribed, TOPICS } from './nodes.js'

const PROFILE: WorkerProfile = { memoryMb: 8_192, features: ['shader-f16'], score: 40, slots: 2, tiers: [3] }

const JOB: JobSpec = {
  kind: 'render',
  inputs: ['bafkreiacceptancescene'],
  split: { kind: 'render', firstFrame: 0, frames: 1, width: 96, height: 96, tileWidth: 24, tileHeight: 24, samples: 2 },
  tier: 3,
  maxPrice: 50n,
  benchHoursPerTask: 0.001,
  requirements: { features: ['shader-f16'], minMemoryMb: 4_096 },
  bidWindowMs: 10_000,
  minBids: 5,
  timeoutMs: 120_000,
}

describe('acceptance: a job across six real nodes', () => {
  const net = new LocalNetwork()
  let creatorNode: TesseraNode
  let creator: SchedulerDriver
  let workers: TesseraNode[]
  afterAll(() => net.stop())

  beforeAll(async () => {
    creatorNode = await net.node()
    creator = createScheduler(
      { bus: creatorNode.bus, blobs: creatorNode.blobs },
      { creator: { leaseMs: 10_000, heartbeatMs: 2_000 } },
    )
    net.drivers.push(creator)
    const bootstrap = [LocalNetwork.tcpAddr(creatorNode)]
    workers = await Promise.all(Array.from({ length: 5 }, () => net.node({ bootstrap })))
    await Promise.all(workers.map((node, i) => net.worker(node, PROFILE, BigInt(10 + i))))
    await waitFor(() => marketReady(creatorNode, workers), 'gossip between the creator and every worker')
  })

  it('should award every task of a 16-task job to the five bidders, complete it and assemble the frame', async () => {
    const events: SchedulerEvent[] = []
    for (const type of ['bid:received', 'lease:granted', 'job:assigned', 'task:completed'] as const)
      creator.on(type, (e) => events.push(e))
    const jobId = creator.submit(JOB)
    const results = await creator.waitForJob(jobId)

    const bidders = new Set(events.flatMap((e) => (e.type === 'bid:received' ? [e.worker] : [])))
    expect(bidders).toEqual(new Set(workers.map((w) => w.peerId.toString())))
    expect(events.filter((e) => e.type === 'job:assigned')).toEqual([expect.objectContaining({ jobId, tasks: 16 })])
    const awarded = events.flatMap((e) => (e.type === 'lease:granted' ? e.taskIds : []))
    expect(new Set(awarded).size).toBe(16)
    expect(events.filter((e) => e.type === 'task:completed')).toHaveLength(16)
    expect(results.map((r) => r.taskId)).toEqual(splitTasks({ jobId, split: JOB.split }).map((t) => t.taskId))

    const order = creator.job(jobId)?.order
    if (order === undefined) throw new Error('job vanished')
    const assembled = await creator.assemble(order, results)
    const reference = new Map<string, Uint8Array>()
    for (const task of splitTasks(order)) {
      const output = await cpuWorkload().execute(
        { order, task, minPrice: 0n, paidMs: 0 },
        { signal: new AbortController().signal },
      )
      reference.set(task.taskId, Buffer.concat(output.chunks))
    }
    const expected = assembleOutputs(order, (taskId) => reference.get(taskId) as Uint8Array)
    if (assembled.kind !== 'render' || expected.kind !== 'render') throw new Error('expected frames')
    expect(Buffer.from(assembled.frames[0]?.pixels ?? []).equals(Buffer.from(expected.frames[0]?.pixels ?? []))).toBe(
      true,
    )
  })
})

describe('acceptance: why no bid, over real nodes', () => {
  const net = new LocalNetwork()
  afterAll(() => net.stop())

  it('should explain an order that cannot match with per-reason counts of the capacity records seen', async () => {
    const creatorNode = await net.node()
    const creator = createScheduler(
      { bus: creatorNode.bus, blobs: creatorNode.blobs },
      { creator: { tiers: { minStake: 10n }, maxReopens: 0 } },
    )
    net.drivers.push(creator)
    const bootstrap = [LocalNetwork.tcpAddr(creatorNode)]
    const [noF16, small, dear, unstaked, full, leaving] = await Promise.all(
      Array.from({ length: 6 }, (_, i) => net.node({ bootstrap, ...(i === 5 ? { capacityTtlMs: 3_000 } : {}) })),
    )
    if (
      noF16 === undefined ||
      small === undefined ||
      dear === undefined ||
      unstaked === undefined ||
      full === undefined ||
      leaving === undefined
    ) {
      throw new Error('six nodes')
    }
    const everyone = [noF16, small, dear, unstaked, full, leaving]
    await waitFor(
      () => everyone.every((n) => subscribed(n, TOPICS.capacity, [creatorNode])),
      'the creator to subscribe to capacity',
    )
    // Workers that run a scheduler and announce what they are; each would decline or be refused this order.
    await net.worker(noF16, { ...PROFILE, features: [] }, 10n)
    await net.worker(small, { ...PROFILE, memoryMb: 1_024 }, 10n)
    await net.worker(dear, PROFILE, 80n)
    await net.worker(unstaked, PROFILE, 10n, { stake: 0n })
    // A peer whose slots are all in use, and one whose record expires after it leaves.
    await full.capacity.announce(announcement(PROFILE, 10n, 100n, { busy: PROFILE.slots }))
    await leaving.capacity.announce(announcement(PROFILE, 10n, 100n))
    await waitFor(() => creator.market.recordCount === 6, 'six capacity records at the creator')
    await leaving.stop()
    await waitFor(
      () => (creator.market.capacity(leaving.peerId.toString())?.expiresAt ?? Infinity) <= Date.now(),
      'the record to expire',
    )

    // The breakdown is taken on demand, when the window closes.
    const unmatched: { event: SchedulerEvent; diagnostic: unknown }[] = []
    creator.on('order:unmatched', (event) => unmatched.push({ event, diagnostic: creator.diagnose(event.jobId) }))
    const jobId = creator.submit({ ...JOB, minBids: 1, bidWindowMs: 3_000 })
    await waitFor(() => unmatched.length > 0, 'the bid window to close')
    const expected = {
      jobId,
      seen: 6,
      eligible: 0,
      excluded: { expired: 1, tier: 1, features: 1, memory: 1, tooLarge: 0, underpriced: 0, price: 1, busy: 1 },
      bids: 0,
      needed: 1,
    }
    expect(unmatched).toEqual([
      {
        event: expect.objectContaining({ type: 'order:unmatched', jobId, bids: 0, needed: 1 }),
        diagnostic: expect.objectContaining(expected),
      },
    ])
    expect(creator.diagnose(jobId)).toMatchObject(expected)
    expect(creator.job(jobId)).toMatchObject({ pending: 16, assigned: 0 })
  })
})
