import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Order, WireMessage } from '@tessera/core'
import {
  DEFAULT_AWARD_GRACE_MS,
  ENDED_JOB_VERDICT_WAIT_MS,
  fixedPrice,
  MAX_JOB_TIMEOUT_MS,
  isSchedulerError,
  type JobSpec,
  type WorkerMachineInit,
} from '../src/index.js'
import { inbound, Market, renderSpec } from './harness.js'

const TWO_SLOTS = { memoryMb: 8_192, features: [], score: 100, slots: 2, tiers: [3] as const }

/** A market with two workers of two slots each and a 4-task job awarded 2 + 2. */
function twoWorkers(init: ConstructorParameters<typeof Market>[0] = {}) {
  const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, ...init })
  market.addWorker('a', { profile: { ...TWO_SLOTS, tiers: [3] } })
  market.addWorker('b', { profile: { ...TWO_SLOTS, tiers: [3] } })
  const jobId = market.submit(renderSpec({ minBids: 2 }))
  return { market, jobId }
}

/** A market with a cheap worker that wins every task and a dear one whose bid stands. */
function cheapAndDear(
  creator: ConstructorParameters<typeof Market>[0] = {},
  dear: Partial<WorkerMachineInit> = {},
): Market {
  const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, ...creator })
  market.addWorker('cheap', { profile: { memoryMb: 8_192, features: [], score: 100, slots: 4, tiers: [3] } })
  market.addWorker('dear', {
    ...dear,
    pricing: fixedPrice(20n),
    profile: { memoryMb: 8_192, features: [], score: 100, slots: 4, tiers: [3] },
  })
  return market
}

/** The cheap worker's lease was lost and the dear one's bid passed over: a second auction gives it every task. */
function expectReauctionedToDear(market: Market, jobId: string): void {
  expect(market.eventsOf('auction:closed')).toHaveLength(1)
  market.advance(60_000)
  expect(market.rejections).toEqual([])
  expect(market.eventsOf('auction:closed')).toHaveLength(2)
  expect(market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual(Array(4).fill(['cheap', 'dear']))
  market.finishAll()
  expect(market.creator.job(jobId)?.status).toBe('completed')
}

describe('leases', () => {
  it('should keep a lease alive while heartbeats arrive', () => {
    const { market, jobId } = twoWorkers()
    market.advance(20_000)
    expect(market.eventsOf('lease:lost')).toHaveLength(0)
    expect(market.creator.job(jobId)?.assigned).toBe(4)
  })

  it('should take unfinished tasks from a silent worker, keep its finished ones, and reassign the rest', () => {
    const { market, jobId } = twoWorkers()
    const [doneTask, lostTask] = [...(market.running.get('a')?.keys() ?? [])]
    if (doneTask === undefined || lostTask === undefined) throw new Error('a holds two tasks')
    market.finish('a', doneTask)
    market.down.add('a')
    market.advance(2_999)
    expect(market.eventsOf('lease:lost')).toHaveLength(0)
    market.advance(1)
    expect(market.eventsOf('lease:lost')).toEqual([
      expect.objectContaining({ jobId, worker: 'a', taskIds: [lostTask], reason: 'heartbeat' }),
    ])
    // b holds two tasks (its maxTasks); it takes the lost one once it has room.
    expect(market.eventsOf('task:reassigned')).toHaveLength(0)
    market.finishAll()
    expect(market.eventsOf('task:reassigned')).toEqual([
      expect.objectContaining({ taskId: lostTask, from: 'a', to: 'b' }),
    ])
    expect(market.eventsOf('job:completed')).toHaveLength(1)
    expect(market.accepts.map((a) => [a.taskId, a.worker]).sort()).toEqual(
      [[doneTask, 'a'], ...market.accepts.filter((x) => x.worker === 'b').map((x) => [x.taskId, 'b'])].sort(),
    )
    expect(new Set(market.accepts.map((a) => a.taskId)).size).toBe(4)
  })

  it('should award a standing bid long after the window when the winner’s lease is lost', () => {
    const market = cheapAndDear()
    const jobId = market.submit(renderSpec({ minBids: 2 }))
    expect(market.eventsOf('lease:granted').map((g) => g.worker)).toEqual(['cheap'])
    market.advance(30_000)
    market.down.add('cheap')
    market.advance(3_000)
    expect(market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual(Array(4).fill(['cheap', 'dear']))
    expect(market.rejections).toEqual([])
    market.finishAll()
    expect(market.creator.job(jobId)?.status).toBe('completed')
  })

  it('should pass over a bid its worker has forgotten, and re-open the window rather than send an award it refuses', () => {
    const market = cheapAndDear()
    const jobId = market.submit(renderSpec({ minBids: 2, timeoutMs: 3_600_000 }))
    expect(market.eventsOf('lease:granted').map((g) => g.worker)).toEqual(['cheap'])
    // Past the award grace, the dear worker has forgotten the bid that won nothing.
    market.advance(DEFAULT_AWARD_GRACE_MS + 1_000)
    market.down.add('cheap')
    market.advance(3_000)
    expect(market.eventsOf('lease:lost')).toHaveLength(1)
    // No award is sent to it: the window re-opens, it bids again and wins the tasks when the window closes.
    expectReauctionedToDear(market, jobId)
  })

  it('should pass over a bid when its worker says it forgets it, whatever grace the creator assumes', () => {
    // The dear worker keeps lost bids a minute; the creator assumes the default ten.
    const market = cheapAndDear({}, { awardGraceMs: 60_000 })
    const jobId = market.submit(renderSpec({ minBids: 2, timeoutMs: 3_600_000 }))
    market.advance(120_000)
    market.down.add('cheap')
    market.advance(3_000)
    // No award it would refuse: the window re-opens, and the dear worker wins the tasks with a fresh bid.
    expectReauctionedToDear(market, jobId)
  })

  it('should award a bid its worker keeps past the grace the creator assumes, with no second auction', () => {
    const market = cheapAndDear({}, { awardGraceMs: Number.POSITIVE_INFINITY })
    const jobId = market.submit(renderSpec({ minBids: 2, timeoutMs: 3_600_000 }))
    market.advance(DEFAULT_AWARD_GRACE_MS + 1_000)
    market.down.add('cheap')
    market.advance(3_000)
    expect(market.rejections).toEqual([])
    expect(market.eventsOf('auction:closed')).toHaveLength(1)
    expect(market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual(Array(4).fill(['cheap', 'dear']))
    market.finishAll()
    expect(market.creator.job(jobId)?.status).toBe('completed')
  })

  it('should assume its own award grace for a bid that does not say how long it stands', () => {
    // A peer of an older version sends no `standsUntil`; the creator assumes a minute.
    const market = cheapAndDear({ awardGraceMs: 60_000 })
    market.rewrite.set('dear', (message: WireMessage) => {
      if (message.type !== 'bid') return message
      const { standsUntil: _, ...body } = message.body
      return { type: 'bid', body }
    })
    market.submit(renderSpec({ minBids: 2, timeoutMs: 3_600_000 }))
    market.advance(120_000)
    market.down.add('cheap')
    market.advance(3_000)
    // Past the assumed minute the standing bid is passed over and the window re-opens.
    expect(market.eventsOf('task:reassigned')).toEqual([])
    market.advance(60_000)
    expect(market.eventsOf('auction:closed')).toHaveLength(2)
    expect(market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual(Array(4).fill(['cheap', 'dear']))
  })

  it('should award bids at their window’s close however short the creator’s award grace', () => {
    for (const awardGraceMs of [0, 1_000, 40_000]) {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, awardGraceMs })
      market.addWorker('a')
      // One bid of two needed: the window closes at its deadline, and the bid is awarded then.
      const jobId = market.submit(renderSpec({ minBids: 2 }))
      market.advance(10_000)
      expect(
        market.eventsOf('lease:granted').map((g) => g.worker),
        `grace ${awardGraceMs}`,
      ).toEqual(['a'])
      expect(market.rejections).toEqual([])
      market.finishAll()
      expect(market.creator.job(jobId)?.status).toBe('completed')
    }
  })

  it('should award more to a worker that finished its tasks while it keeps the job, and after, re-open the order', () => {
    const ONE_SLOT = { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] as const }
    /** a finishes its task and idles `idleMs`; then b, holding the other task, goes silent. */
    const run = (idleMs: number) => {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
      const a = market.addWorker('a', { profile: ONE_SLOT })
      market.addWorker('b', { profile: { ...ONE_SLOT, tiers: [3] }, pricing: fixedPrice(20n) })
      const split = { ...renderSpec().split, height: 32 } as ReturnType<typeof renderSpec>['split']
      const jobId = market.submit(renderSpec({ minBids: 2, split, timeoutMs: 3_600_000 }))
      for (const taskId of [...(market.running.get('a')?.keys() ?? [])]) market.finish('a', taskId)
      market.advance(idleMs)
      const jobsKept = a.jobCount
      market.down.add('b')
      market.advance(3_000)
      expect(market.eventsOf('lease:lost')).toEqual([expect.objectContaining({ worker: 'b', reason: 'heartbeat' })])
      return { market, jobsKept, jobId }
    }
    // Within its grace, a still keeps the job: it is awarded the task at once.
    const kept = run(DEFAULT_AWARD_GRACE_MS - 60_000)
    expect(kept.jobsKept).toBe(1)
    expect(kept.market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual([['b', 'a']])
    expect(kept.market.eventsOf('order:reopened')).toEqual([])
    // Past it (and its bid's, which stands a window longer), a has forgotten the job: the creator sends no award it would refuse, and re-opens the order.
    const forgotten = run(DEFAULT_AWARD_GRACE_MS + 1_000)
    expect(forgotten.jobsKept).toBe(0)
    expect(forgotten.market.eventsOf('task:reassigned')).toEqual([])
    expect(forgotten.market.eventsOf('order:reopened')).toHaveLength(1)
    // a bids afresh, and wins the task when the window closes.
    forgotten.market.advance(2_000)
    expect(forgotten.market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual([['b', 'a']])
    for (const { market, jobId } of [kept, forgotten]) {
      market.finishAll()
      expect(market.rejections).toEqual([])
      expect(market.creator.job(jobId)?.status).toBe('completed')
    }
  })

  it('should refuse a result from a worker whose lease was lost', () => {
    const { market, jobId } = twoWorkers()
    const lostTask = [...(market.running.get('a')?.keys() ?? [])][0] as string
    market.down.add('a')
    market.advance(3_000)
    market.down.delete('a')
    market.finish('a', lostTask)
    expect(market.rejections.map((r) => (r.error as { code: string }).code)).toContain('SCHEDULER__TASK_NOT_AWARDED')
    expect(market.accepts.filter((x) => x.worker === 'a')).toHaveLength(0)
    market.finishAll()
    expect(market.creator.job(jobId)?.status).toBe('completed')
    expect(market.accepts.map((a) => a.taskId).sort()).toEqual([...new Set(market.accepts.map((a) => a.taskId))].sort())
  })

  it('should re-auction the tasks of a worker that withdraws and bar it from the job', () => {
    const { market, jobId } = twoWorkers()
    const held = [...(market.running.get('a')?.keys() ?? [])]
    market.workers.get('a')?.handle({ kind: 'job:withdraw', jobId }, market.now)
    market.flush()
    expect(market.aborted.sort()).toEqual([...held].sort())
    expect(market.eventsOf('task:withdrawn')).toEqual([
      expect.objectContaining({ worker: 'a', taskIds: expect.arrayContaining(held) }),
    ])
    expect(market.eventsOf('lease:lost')).toEqual([expect.objectContaining({ worker: 'a', reason: 'withdrawn' })])
    market.finishAll()
    expect(market.eventsOf('job:completed')).toHaveLength(1)
    expect(market.accepts.every((x) => x.worker === 'b')).toBe(true)
  })

  it('should give a failed task back and run it elsewhere', () => {
    const { market } = twoWorkers()
    // It ran a while (a heartbeat listed it), then failed.
    market.advance(1_000)
    const failed = [...(market.running.get('a')?.keys() ?? [])][0] as string
    market.running.get('a')?.delete(failed)
    market.workers.get('a')?.handle({ kind: 'task:failed', taskId: failed, reason: 'device lost' }, market.now)
    market.flush()
    expect(market.eventsOf('task:withdrawn')).toEqual([expect.objectContaining({ worker: 'a', taskIds: [failed] })])
    market.finishAll()
    expect(market.accepts.find((x) => x.taskId === failed)?.worker).toBe('b')
    expect(market.eventsOf('job:completed')).toHaveLength(1)
  })

  it('should keep a one-slot worker in the job when its only task overruns, and award it another', () => {
    const ONE_SLOT = { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] as const }
    const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
    market.addWorker('a', { profile: ONE_SLOT })
    market.addWorker('b', { profile: { ...ONE_SLOT, tiers: [3] }, pricing: fixedPrice(20n) })
    const jobId = market.submit(renderSpec({ minBids: 2 }))
    market.advance(1_000)
    const failed = [...(market.running.get('a')?.keys() ?? [])][0] as string
    market.running.get('a')?.delete(failed)
    const code = 'NODE__TASK_OVERRAN'
    market.workers.get('a')?.handle({ kind: 'task:failed', taskId: failed, reason: code, code }, market.now)
    market.flush()
    // It gave back its only task, which is no leaving: the next task goes to it, the failed one to b in its turn.
    expect(market.eventsOf('task:withdrawn')).toEqual([expect.objectContaining({ worker: 'a', taskIds: [failed] })])
    expect(market.eventsOf('lease:lost')).toEqual([])
    expect([...(market.running.get('a')?.keys() ?? [])]).toHaveLength(1)
    expect(market.running.get('a')?.has(failed)).toBe(false)
    market.finishAll()
    expect(market.rejections).toEqual([])
    expect(market.creator.job(jobId)?.status).toBe('completed')
    expect(market.accepts.find((x) => x.taskId === failed)?.worker).toBe('b')
    expect(market.accepts.filter((x) => x.worker === 'a').length).toBeGreaterThan(0)
  })

  describe('bids on several orders that all win', () => {
    const ONE_SLOT = { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] as const }
    const oneTile = { ...renderSpec().split, width: 32, height: 32 } as ReturnType<typeof renderSpec>['split']
    /** Orders `count` one-task jobs at once: every worker bids on each before any award. */
    const orderAtOnce = (market: Market, count: number, minBids: number): string[] => {
      const jobs = Array.from({ length: count }, () =>
        market.creator.submit(renderSpec({ minBids, split: oneTile }), market.now),
      )
      market.flush()
      return jobs
    }

    it('should run elsewhere what a worker declines for want of a slot, not queue it there while others idle', () => {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
      market.addWorker('cheap', { profile: ONE_SLOT })
      market.addWorker('idle', { profile: { ...ONE_SLOT, slots: 4 }, pricing: fixedPrice(11n) })
      const jobs = orderAtOnce(market, 5, 2)
      // The cheap one-slot worker wins all five, runs one and declines four, which go to the idle worker at once.
      expect(market.eventsOf('lease:granted').filter((e) => e.worker === 'cheap')).toHaveLength(5)
      expect(market.running.get('cheap')?.size).toBe(1)
      expect(market.running.get('idle')?.size).toBe(4)
      expect(market.eventsOf('task:reassigned').map((e) => [e.from, e.to])).toEqual(Array(4).fill(['cheap', 'idle']))
      expect(market.workers.get('cheap')?.load.queued).toBe(0)
      market.finishAll()
      expect(jobs.map((id) => market.creator.job(id)?.status)).toEqual(Array(5).fill('completed'))
      expect(market.eventsOf('lease:lost')).toEqual([])
      expect(market.rejections).toEqual([])
    })

    it('should award a declined task back to its worker, which queues it, when nobody else can take it', () => {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
      const worker = market.addWorker('w', { profile: ONE_SLOT })
      const jobs = orderAtOnce(market, 2, 1)
      expect(worker.load).toEqual({ running: 1, queued: 1, slots: 1 })
      market.finishAll()
      expect(jobs.map((id) => market.creator.job(id)?.status)).toEqual(['completed', 'completed'])
      expect(market.rejections).toEqual([])
    })

    it('should bar a worker from a task it gives back again after it was awarded it back', () => {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
      const worker = market.addWorker('w', { profile: ONE_SLOT })
      const [, second] = orderAtOnce(market, 2, 1) as [string, string]
      const grants = () => market.eventsOf('lease:granted').filter((e) => e.jobId === second).length
      // Its award, and its award back once it declined it with nobody else to take it.
      expect(grants()).toBe(2)
      const queued = `${second}/f1/t0_0`
      // The queued task fails as it starts, before a heartbeat could list it: this time it failed here.
      market.finish('w', [...(market.running.get('w')?.keys() ?? [])][0] as string)
      market.running.get('w')?.delete(queued)
      worker.handle({ kind: 'task:failed', taskId: queued, reason: 'device lost' }, market.now)
      market.flush()
      market.advance(60_000)
      expect(grants()).toBe(2)
      expect(market.eventsOf('job:expired')).toEqual([expect.objectContaining({ jobId: second, reason: 'unmatched' })])
    })
  })

  describe('an award lost on the way', () => {
    /** A two-slot worker alone on a 4-task job; the award that follows its first Result is lost. */
    function lostAward() {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
      market.addWorker('w', { profile: TWO_SLOTS })
      const jobId = market.submit(renderSpec({ minBids: 1 }))
      const [first, second] = [...(market.running.get('w')?.keys() ?? [])] as [string, string]
      let lost: string[] = []
      market.lose = (message) => {
        if (message.type !== 'award' || lost.length > 0) return false
        lost = [...message.body.taskIds]
        return true
      }
      market.finish('w', first)
      market.lose = undefined
      expect(lost).toHaveLength(1)
      return { market, jobId, second, lost: lost[0] as string }
    }

    it('should award again a task its worker’s heartbeats leave out a lease period after, and keep the worker', () => {
      const { market, jobId, second, lost } = lostAward()
      const awardedAt = market.now
      // Its heartbeats list the task it runs, not the one it never got.
      market.advance(3_000 - 1)
      expect(market.eventsOf('award:lost')).toEqual([])
      market.advance(1_000)
      expect(market.eventsOf('award:lost')).toEqual([expect.objectContaining({ worker: 'w', taskIds: [lost] })])
      expect(market.eventsOf('award:lost')[0]?.at).toBeGreaterThanOrEqual(awardedAt + 3_000)
      expect(market.running.get('w')?.has(lost)).toBe(true)
      expect(market.running.get('w')?.has(second)).toBe(true)
      market.finishAll()
      expect(market.creator.job(jobId)?.status).toBe('completed')
      expect(market.eventsOf('lease:lost')).toEqual([])
      expect(market.rejections).toEqual([])
    })

    it('should award again the tasks of a worker gone idle without them, not bar it', () => {
      const { market, jobId, second, lost } = lostAward()
      // It finishes what it got and goes quiet before any heartbeat could tell: its lease lapses holding only the lost
      // task, which it never listed, and it was heard from (its Result) after that award was sent.
      market.advance(500)
      market.finish('w', second)
      market.advance(3_000)
      expect(market.eventsOf('lease:lost')).toEqual([])
      expect(market.eventsOf('award:lost')).toEqual([expect.objectContaining({ worker: 'w', taskIds: [lost] })])
      market.finishAll()
      expect(market.creator.job(jobId)?.status).toBe('completed')
      expect(market.rejections).toEqual([])
    })

    it('should still take the lease of a worker gone quiet holding a task it listed', () => {
      const { market } = lostAward()
      market.advance(1_500)
      // It dies: it listed the task it ran, so its silence is no lost award.
      market.down.add('w')
      market.advance(5_000)
      expect(market.eventsOf('lease:lost')).toEqual([expect.objectContaining({ worker: 'w', reason: 'heartbeat' })])
      expect(market.eventsOf('award:lost')).toEqual([])
    })
  })

  it('should bar a worker whose heartbeat says it leaves, even with nothing to give back', () => {
    const { market, jobId } = twoWorkers()
    for (const taskId of [...(market.running.get('a')?.keys() ?? [])]) market.finish('a', taskId)
    market.workers.get('a')?.handle({ kind: 'job:withdraw', jobId }, market.now)
    market.flush()
    expect(market.eventsOf('lease:lost')).toEqual([
      expect.objectContaining({ worker: 'a', taskIds: [], reason: 'withdrawn' }),
    ])
  })

  it('should bar a worker whose leaving heartbeat overtook its last Result once that Result arrives', () => {
    const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
    const w = market.addWorker('w', { profile: TWO_SLOTS })
    market.addWorker('x', { profile: { ...TWO_SLOTS, slots: 1 }, pricing: fixedPrice(20n) })
    const jobId = market.submit(renderSpec({ minBids: 2 }))
    const [first] = [...(market.running.get('w')?.keys() ?? [])] as [string]
    // w finishes a task and leaves the job; its Result is held up on the way, and the leaving heartbeat goes first.
    market.running.get('w')?.delete(first)
    const output = { root: new Uint8Array(32), chunks: 1, output: 'bafkout', tolerance: 'bitwise', computeMs: 5 }
    w.handle({ kind: 'task:finished', taskId: first, output } as const, market.now)
    let result: WireMessage | undefined
    for (let out = w.pollOutput(); out !== undefined; out = w.pollOutput()) {
      if (out.kind === 'send' && out.message.type === 'result') result = out.message
    }
    w.handle({ kind: 'job:withdraw', jobId }, market.now)
    market.flush()
    expect(market.eventsOf('lease:lost')).toEqual([])
    market.creator.handle({ kind: 'message', inbound: inbound('w', result as WireMessage, market.now) }, market.now)
    market.flush()
    expect(market.accepts.map((a) => [a.taskId, a.worker])).toEqual([[first, 'w']])
    expect(market.eventsOf('lease:lost')).toEqual([
      expect.objectContaining({ worker: 'w', taskIds: [], reason: 'withdrawn' }),
    ])
    // What is left goes to x as it frees its slot, never to w, which has forgotten the job and would refuse it.
    market.finishAll()
    expect(market.creator.job(jobId)?.status).toBe('completed')
    expect(market.eventsOf('lease:granted').filter((e) => e.worker === 'w')).toHaveLength(1)
    expect(market.rejections).toEqual([])
  })

  it('should leave the whole job and skip its order from then on when a task fails with a code that condemns it', () => {
    const { market, jobId } = twoWorkers()
    const [a, b] = [market.workers.get('a'), market.workers.get('b')]
    // The tasks ran a while (heartbeats listed them) before they failed.
    market.advance(1_000)
    const fail = (peer: 'a' | 'b', code: string) => {
      const taskId = [...(market.running.get(peer)?.keys() ?? [])][0] as string
      market.running.get(peer)?.delete(taskId)
      market.workers.get(peer)?.handle({ kind: 'task:failed', taskId, reason: code, code }, market.now)
      market.flush()
      return taskId
    }
    // An overrun condemns only its task: one tile may cost more than the job's average.
    fail('b', 'NODE__TASK_OVERRAN')
    expect(b?.jobCount).toBe(1)
    expect(market.running.get('b')?.size).toBe(1)
    expect(market.aborted).toEqual([])
    // A model costing more than the order declared runs every task: the worker gives them all back and leaves.
    const held = [...(market.running.get('a')?.keys() ?? [])]
    const failed = fail('a', 'SCHEDULER__DECLARED_WORK_MISMATCH')
    expect(market.aborted).toEqual(held.filter((t) => t !== failed))
    expect(market.eventsOf('job:withdrawn')).toEqual([
      expect.objectContaining({ jobId, taskIds: held, code: 'SCHEDULER__DECLARED_WORK_MISMATCH' }),
    ])
    expect(market.eventsOf('lease:lost')).toEqual([expect.objectContaining({ worker: 'a', reason: 'withdrawn' })])
    expect(a?.load).toEqual({ running: 0, queued: 0, slots: 2 })
    expect(a?.jobCount).toBe(0)
    // The creator re-opening the order draws no bid from it.
    const order = market.creator.job(jobId)?.order as Order
    const reopened = { ...order, issuedAt: market.now, bidDeadline: market.now + 1_000 }
    a?.handle(
      {
        kind: 'message',
        inbound: { from: order.creator, message: { type: 'order', body: reopened }, expiresAt: market.now + 1_000 },
      },
      market.now,
    )
    market.flush()
    expect(market.eventsOf('bid:skipped')).toEqual([expect.objectContaining({ jobId, reason: 'refused' })])
    expect(a?.jobCount).toBe(0)
  })
})

describe('job lifecycle', () => {
  it('should cancel a job: workers stop, late results are refused, accepted tasks stay accepted', () => {
    const { market, jobId } = twoWorkers()
    const first = [...(market.running.get('b')?.keys() ?? [])][0] as string
    market.finish('b', first)
    const stillRunning = [...(market.running.get('a')?.keys() ?? [])]
    market.creator.cancel(jobId, market.now)
    market.flush()
    expect(market.eventsOf('job:cancelled')).toEqual([expect.objectContaining({ jobId, accepted: 1, total: 4 })])
    // What it accepted comes with it, for a partial output.
    expect(market.eventsOf('job:cancelled')[0]?.results.map((r) => r.taskId)).toEqual([first])
    expect(market.aborted).toEqual(expect.arrayContaining(stillRunning))
    expect(market.workers.get('a')?.load.running).toBe(0)
    expect(market.accepts).toHaveLength(1)
    expect(() => market.creator.cancel(jobId, market.now)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__JOB_CLOSED' }),
    )
  })

  it('should let the verdicts of results in verification decide them when a job ends, and report its end after', () => {
    for (const end of ['cancelled', 'expired'] as const) {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, verify: true })
      market.addWorker('a')
      const jobId = market.submit(renderSpec({ minBids: 1, timeoutMs: 5_000 }))
      const [passed, failed] = [...(market.running.get('a')?.keys() ?? [])] as [string, string]
      market.finish('a', passed)
      market.finish('a', failed)
      expect(market.verifies.map((v) => v.taskId)).toEqual([passed, failed])
      if (end === 'cancelled') market.creator.cancel(jobId, market.now)
      else market.advance(5_000)
      market.flush()
      // Closed to new results and bids, but its end waits for the two checks under way.
      expect(market.creator.job(jobId)?.status, end).toBe(end)
      expect(market.eventsOf(`job:${end}`), end).toEqual([])
      // Delivered in time and verified, a result is accepted and paid though the job has ended.
      market.creator.handle({ kind: 'task:verdict', taskId: passed, worker: 'a', outcome: 'pass' }, market.now)
      market.flush()
      expect(
        market.accepts.map((a) => a.taskId),
        end,
      ).toEqual([passed])
      expect(market.eventsOf(`job:${end}`), end).toEqual([])
      // A failed one is not awarded again: the job has ended, and now says so.
      market.creator.handle({ kind: 'task:verdict', taskId: failed, worker: 'a', outcome: 'fail' }, market.now)
      market.flush()
      expect(market.eventsOf('task:reassigned'), end).toEqual([])
      const [ended] = market.eventsOf(`job:${end}`)
      expect(ended, end).toMatchObject({ jobId, accepted: 1, total: 4 })
      expect(
        ended?.results.map((r) => r.taskId),
        end,
      ).toEqual([passed])
      // Forgotten a retention time after its end was reported, not after it closed.
      market.advance(60_000)
      expect(market.creator.job(jobId), end).toBeUndefined()
    }
  })

  it('should complete a job whose last tasks are accepted by verdicts that land after its deadline', () => {
    for (const end of ['cancelled', 'expired'] as const) {
      const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, verify: true })
      market.addWorker('a')
      const jobId = market.submit(renderSpec({ minBids: 1, timeoutMs: 5_000 }))
      const tasks = [...(market.running.get('a')?.keys() ?? [])]
      for (const task of tasks) market.finish('a', task)
      const [first, ...rest] = tasks as [string, ...string[]]
      market.creator.handle({ kind: 'task:verdict', taskId: first, worker: 'a', outcome: 'pass' }, market.now)
      if (end === 'cancelled') market.creator.cancel(jobId, market.now)
      else market.advance(5_000)
      for (const task of rest) {
        market.creator.handle({ kind: 'task:verdict', taskId: task, worker: 'a', outcome: 'pass' }, market.now)
      }
      market.flush()
      // Every task was delivered in time and is accepted and paid.
      expect(market.accepts, end).toHaveLength(4)
      if (end === 'expired') {
        // Finished, not ended unfinished: it is no less done than a job whose last verdict came before its deadline.
        expect(market.eventsOf('job:expired')).toEqual([])
        expect(market.eventsOf('job:completed')[0]?.results.map((r) => r.taskId)).toEqual(tasks)
        expect(market.creator.job(jobId)?.status).toBe('completed')
      } else {
        // Its creator stopped it: it stays cancelled, with every result.
        expect(market.eventsOf('job:completed')).toEqual([])
        expect(market.eventsOf('job:cancelled')).toEqual([expect.objectContaining({ accepted: 4, total: 4 })])
      }
      // Reported once, and forgotten a retention time after: the backstop for missing verdicts stays quiet.
      market.advance(ENDED_JOB_VERDICT_WAIT_MS)
      expect(market.creator.job(jobId), end).toBeUndefined()
      expect([...market.eventsOf('job:completed'), ...market.eventsOf(`job:${end}`)], end).toHaveLength(1)
    }
  })

  it('should end a job without the verdicts that never come, after ENDED_JOB_VERDICT_WAIT_MS', () => {
    const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, verify: true })
    market.addWorker('a')
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    const [task] = [...(market.running.get('a')?.keys() ?? [])] as [string]
    market.finish('a', task)
    market.creator.cancel(jobId, market.now)
    market.advance(ENDED_JOB_VERDICT_WAIT_MS - 1)
    expect(market.eventsOf('job:cancelled')).toEqual([])
    market.advance(1)
    expect(market.eventsOf('job:cancelled')).toEqual([expect.objectContaining({ jobId, accepted: 0, results: [] })])
    expect(market.accepts).toEqual([])
    // The verdict that comes after is refused: the task is no longer being checked.
    expect(() =>
      market.creator.handle({ kind: 'task:verdict', taskId: task, worker: 'a', outcome: 'pass' }, market.now),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__VERDICT_UNEXPECTED' }))
  })

  it('should expire a job at its deadline, and workers drop its tasks', () => {
    const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
    market.addWorker('a')
    const jobId = market.submit(renderSpec({ minBids: 1, timeoutMs: 5_000 }))
    expect(market.running.get('a')?.size).toBe(4)
    market.advance(5_000)
    expect(market.eventsOf('job:expired')).toEqual([expect.objectContaining({ jobId, accepted: 0, total: 4 })])
    expect(market.aborted).toHaveLength(4)
    expect(market.workers.get('a')?.jobCount).toBe(0)
  })

  it('should forget a finished job after the retention time', () => {
    const market = new Market({ retainMs: 1_000 })
    market.addWorker('a')
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    market.finishAll()
    expect(market.creator.job(jobId)?.status).toBe('completed')
    market.advance(1_000)
    expect(market.creator.job(jobId)).toBeUndefined()
    expect(() => market.creator.diagnose(jobId)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__ORDER_NOT_FOUND' }),
    )
  })

  it("should drop a forgotten job's timers, not hold its deadline a month", () => {
    const market = new Market({ retainMs: 1_000, maxReopens: 0 })
    const worker = market.addWorker('w', { awardGraceMs: 1_000 })
    const oneTile = { ...renderSpec().split, width: 32, height: 32 } as JobSpec['split']
    const month = renderSpec({ minBids: 1, split: oneTile, timeoutMs: MAX_JOB_TIMEOUT_MS })
    const jobs = [0, 1, 2].map(() => market.submit(month))
    market.finishAll()
    expect(market.eventsOf('job:completed')).toHaveLength(jobs.length)
    market.advance(60_000)
    expect(market.creator.jobCount).toBe(0)
    expect(worker.jobCount).toBe(0)
    // Nothing is left to time: neither machine keeps the deadlines, which would wake them in a month to do nothing.
    expect(market.creator.pollTimeout()).toBeUndefined()
    expect(worker.pollTimeout()).toBeUndefined()
  })

  it('should reject a task whose worker never answered the challenge, and say so', () => {
    const { market } = twoWorkers({ verify: true })
    market.finishAll()
    const [unanswered] = market.verifies
    if (unanswered === undefined) throw new Error('a result to verify')
    market.creator.handle(
      { kind: 'task:verdict', taskId: unanswered.taskId, worker: unanswered.worker, outcome: 'refused' },
      market.now,
    )
    market.flush()
    expect(market.eventsOf('task:rejected')).toEqual([
      expect.objectContaining({ taskId: unanswered.taskId, worker: unanswered.worker, outcome: 'refused' }),
    ])
    expect(market.eventsOf('task:verified')).toEqual([])
    // Like a failed check, it goes to the other worker.
    expect(market.eventsOf('task:reassigned')).toEqual([
      expect.objectContaining({ taskId: unanswered.taskId, from: unanswered.worker }),
    ])
  })

  it('should hand results to verification and accept only on a pass', () => {
    const { market, jobId } = twoWorkers({ verify: true })
    market.finishAll()
    expect(market.verifies).toHaveLength(4)
    expect(market.accepts).toHaveLength(0)
    const [pass, fail, ...rest] = market.verifies
    if (pass === undefined || fail === undefined) throw new Error('four results')
    market.creator.handle(
      { kind: 'task:verdict', taskId: pass.taskId, worker: pass.worker, outcome: 'pass' },
      market.now,
    )
    market.creator.handle(
      { kind: 'task:verdict', taskId: fail.taskId, worker: fail.worker, outcome: 'fail' },
      market.now,
    )
    market.flush()
    expect(market.eventsOf('task:verified').map((e) => e.taskId)).toEqual([pass.taskId])
    expect(market.eventsOf('task:rejected')).toEqual([
      expect.objectContaining({ taskId: fail.taskId, worker: fail.worker, outcome: 'fail' }),
    ])
    // The failed task goes to the other worker, never back to the one that failed it.
    const other = fail.worker === 'a' ? 'b' : 'a'
    expect(market.eventsOf('task:reassigned')).toEqual([
      expect.objectContaining({ taskId: fail.taskId, from: fail.worker, to: other }),
    ])
    market.finishAll()
    for (const request of [...rest, ...market.verifies.slice(4)]) {
      market.creator.handle(
        { kind: 'task:verdict', taskId: request.taskId, worker: request.worker, outcome: 'pass' },
        market.now,
      )
    }
    market.flush()
    expect(market.creator.job(jobId)?.status).toBe('completed')
    expect(market.accepts.map((a) => a.taskId).sort()).toEqual([...new Set(market.accepts.map((a) => a.taskId))].sort())
    expect(market.accepts).toHaveLength(4)
    const completed = market.eventsOf('job:completed')[0]
    expect(completed?.results.map((r) => r.taskId)).toEqual([
      `${jobId}/f1/t0_0`,
      `${jobId}/f1/t1_0`,
      `${jobId}/f1/t0_1`,
      `${jobId}/f1/t1_1`,
    ])
    expect(() =>
      market.creator.handle(
        { kind: 'task:verdict', taskId: pass.taskId, worker: pass.worker, outcome: 'pass' },
        market.now,
      ),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__VERDICT_UNEXPECTED' }))
  })

  it('should settle each accepted task at the worker’s bid times the estimated benchmark-hours', () => {
    const market = new Market()
    market.addWorker('a')
    market.submit(renderSpec({ minBids: 1, benchHoursPerTask: 0.25 }))
    market.finishAll()
    expect(market.accepts.map((a) => a.amount)).toEqual([2n, 2n, 2n, 2n])
    expect(market.accepts[0]).toMatchObject({ price: 10n, benchHours: 0.25, escrow: '' })
  })
})

describe('no double counting', () => {
  it('should accept every task exactly once whatever workers die, withdraw or fail verification', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('kill' as const), worker: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ kind: fc.constant('withdraw' as const), worker: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ kind: fc.constant('finish' as const), worker: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ kind: fc.constant('verdict' as const), pass: fc.boolean() }),
            fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 100, max: 4_000 }) }),
          ),
          { maxLength: 40 },
        ),
        (steps) => {
          const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000, verify: true, maxReopens: 0 })
          const peers = ['w0', 'w1', 'w2', 'w3']
          for (const peer of peers) market.addWorker(peer, { profile: { ...TWO_SLOTS, tiers: [3] } })
          const jobId = market.submit(
            renderSpec({
              minBids: 4,
              split: {
                kind: 'render',
                firstFrame: 0,
                frames: 2,
                width: 64,
                height: 64,
                tileWidth: 32,
                tileHeight: 32,
                samples: 1,
              },
            }),
          )
          let verified = 0
          for (const step of steps) {
            const peer = peers[step.kind === 'verdict' || step.kind === 'wait' ? 0 : step.worker] as string
            if (step.kind === 'kill') market.down.add(peer)
            else if (step.kind === 'withdraw') {
              try {
                market.workers.get(peer)?.handle({ kind: 'job:withdraw', jobId }, market.now)
              } catch (e) {
                if (!isSchedulerError(e, 'SCHEDULER__ORDER_NOT_FOUND')) throw e
              }
              market.flush()
            } else if (step.kind === 'finish') {
              if (!market.down.has(peer))
                for (const taskId of [...(market.running.get(peer)?.keys() ?? [])]) market.finish(peer, taskId)
            } else if (step.kind === 'verdict') {
              const next = market.verifies[verified]
              if (next !== undefined) {
                verified++
                market.creator.handle(
                  {
                    kind: 'task:verdict',
                    taskId: next.taskId,
                    worker: next.worker,
                    outcome: step.pass ? 'pass' : 'fail',
                  },
                  market.now,
                )
                market.flush()
              }
            } else market.advance(step.ms)
          }
          // Then the survivors work honestly until the job ends.
          for (let round = 0; round < 30 && market.creator.job(jobId)?.status === 'open'; round++) {
            market.finishAll()
            for (const next of market.verifies.slice(verified)) {
              verified++
              market.creator.handle(
                { kind: 'task:verdict', taskId: next.taskId, worker: next.worker, outcome: 'pass' },
                market.now,
              )
            }
            market.flush()
            market.advance(1_000)
          }
          const taskIds = market.accepts.map((a) => a.taskId)
          expect(new Set(taskIds).size).toBe(taskIds.length)
          const completed = market.eventsOf('job:completed')
          expect(completed.length).toBeLessThanOrEqual(1)
          if (completed.length === 1) expect(taskIds).toHaveLength(8)
          // A worker that was never killed and never withdrew carries the job to the end, unless failed verifications
          // barred the survivors from some task.
          const quitters = new Set(steps.flatMap((s) => (s.kind === 'kill' || s.kind === 'withdraw' ? [s.worker] : [])))
          if (quitters.size < peers.length && market.eventsOf('task:rejected').length === 0)
            expect(completed).toHaveLength(1)
          expect(market.creator.job(jobId)?.accepted).toBe(taskIds.length)
          // Only codes that describe a late or stale message may appear: nothing here is malicious.
          for (const { error } of market.rejections) {
            expect((error as { code: string }).code).toMatch(
              /TASK_NOT_AWARDED|LEASE_NOT_FOUND|BID_WINDOW_CLOSED|ORDER_NOT_FOUND|JOB_CLOSED/,
            )
          }
        },
      ),
      { numRuns: 200, seed: 4 },
    )
  })

  it("should leave a job on the codes it is told condemn an order, besides the scheduler's own", () => {
    const market = new Market({ leaseMs: 3_000, heartbeatMs: 1_000 })
    market.addWorker('a', {
      profile: { ...TWO_SLOTS, tiers: [3] },
      orderRefusalCodes: new Set(['SCHEDULER__DECLARED_WORK_MISMATCH', 'GPU__MALFORMED_SCENE']),
    })
    market.addWorker('b', { profile: { ...TWO_SLOTS, tiers: [3] } })
    const jobId = market.submit(renderSpec({ minBids: 2 }))
    const fail = (peer: 'a' | 'b') => {
      const taskId = [...(market.running.get(peer)?.keys() ?? [])][0] as string
      market.running.get(peer)?.delete(taskId)
      market.workers
        .get(peer)
        ?.handle({ kind: 'task:failed', taskId, reason: 'bad scene', code: 'GPU__MALFORMED_SCENE' }, market.now)
      market.flush()
    }
    // Worker b keeps the default codes: the failure condemns only its task.
    fail('b')
    expect(market.workers.get('b')?.jobCount).toBe(1)
    fail('a')
    expect(market.eventsOf('job:withdrawn')).toEqual([expect.objectContaining({ jobId, code: 'GPU__MALFORMED_SCENE' })])
    expect(market.workers.get('a')?.jobCount).toBe(0)
  })
})
