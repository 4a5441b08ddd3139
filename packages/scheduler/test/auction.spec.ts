import { describe, expect, it } from 'vitest'
import { seededRng, type Order, type WireMessage } from '@tessera/core'
import { CreatorMachine, compareBids, fixedPrice, MAX_CLOCK_SKEW_MS, rankBids, type RankableBid } from '../src/index.js'
import { capacity, inbound, Market, renderSpec } from './harness.js'

describe('auction', () => {
  it('should close the bid window at its deadline when fewer than k bids arrive', () => {
    const market = new Market()
    market.addWorker('w1')
    const jobId = market.submit(renderSpec({ minBids: 3, bidWindowMs: 1_000 }))
    expect(market.eventsOf('bid:received')).toHaveLength(1)
    expect(market.eventsOf('lease:granted')).toHaveLength(0)

    market.advance(999)
    expect(market.eventsOf('auction:closed')).toHaveLength(0)
    market.advance(1)
    expect(market.eventsOf('auction:closed')).toEqual([expect.objectContaining({ jobId, bids: 1, reason: 'deadline' })])
    expect(market.eventsOf('order:unmatched')).toHaveLength(1)
    expect(market.eventsOf('lease:granted').map((e) => e.worker)).toEqual(['w1'])
  })

  it('should take bids for a job ordered held and award nothing until it is released', () => {
    const market = new Market()
    market.addWorker('w1')
    market.addWorker('w2')
    const jobId = market.creator.submit(renderSpec({ minBids: 2, bidWindowMs: 1_000 }), market.now, { held: true })
    market.flush()
    expect(market.eventsOf('auction:closed')).toEqual([expect.objectContaining({ jobId, bids: 2 })])
    market.advance(5_000)
    expect(market.eventsOf('lease:granted')).toHaveLength(0)
    expect(market.running.get('w1')?.size).toBe(0)
    market.creator.release(jobId, market.now)
    market.flush()
    expect(
      market
        .eventsOf('lease:granted')
        .map((e) => e.worker)
        .sort(),
    ).toEqual(['w1'])
    expect(market.running.get('w1')?.size).toBe(4)
    // Released once: a second release changes nothing.
    market.creator.release(jobId, market.now)
    market.flush()
    expect(market.eventsOf('lease:granted')).toHaveLength(1)
  })

  it('should publish a held job again when its bids went stale before its release, whatever maxReopens says', () => {
    const market = new Market({ maxReopens: 0 })
    market.addWorker('w1', { awardGraceMs: 1_000 })
    const jobId = market.creator.submit(renderSpec({ minBids: 1, bidWindowMs: 1_000 }), market.now, { held: true })
    market.flush()
    // Held past the time its worker keeps the bid.
    market.advance(10_000)
    market.creator.release(jobId, market.now)
    market.flush()
    expect(market.eventsOf('order:reopened')).toEqual([expect.objectContaining({ jobId, reopens: 0 })])
    market.advance(1_000)
    expect(market.eventsOf('lease:granted').map((e) => e.worker)).toEqual(['w1'])
  })

  it('should award nothing of a held job cancelled before its release, and refuse the release', () => {
    const market = new Market()
    market.addWorker('w1')
    const jobId = market.creator.submit(renderSpec({ minBids: 1 }), market.now, { held: true })
    market.flush()
    market.creator.cancel(jobId, market.now)
    market.flush()
    expect(() => market.creator.release(jobId, market.now)).toThrow(
      expect.objectContaining({ code: expect.any(String) }),
    )
    market.advance(60_000)
    expect(market.eventsOf('lease:granted')).toEqual([])
  })

  it('should close the bid window as soon as k bids arrive', () => {
    const market = new Market()
    market.addWorker('w1')
    market.addWorker('w2')
    market.addWorker('w3')
    const jobId = market.submit(renderSpec({ minBids: 2, bidWindowMs: 10_000 }))
    const closed = market.eventsOf('auction:closed')
    expect(closed).toEqual([expect.objectContaining({ jobId, bids: 2, reason: 'count' })])
    expect(closed[0]?.at).toBe(market.now)
    // The third bid came after the window closed and was refused.
    expect(market.rejections.map((r) => (r.error as { code: string }).code)).toEqual(['SCHEDULER__BID_WINDOW_CLOSED'])
    expect(market.eventsOf('order:unmatched')).toHaveLength(0)
  })

  it('should award every task to the cheapest bidders with room, paying each its own bid', () => {
    const market = new Market()
    market.addWorker('dear', {
      pricing: fixedPrice(50n),
      profile: { memoryMb: 8_192, features: [], score: 100, slots: 2, tiers: [3] },
    })
    market.addWorker('cheap', {
      pricing: fixedPrice(20n),
      profile: { memoryMb: 8_192, features: [], score: 100, slots: 2, tiers: [3] },
    })
    market.submit(renderSpec({ minBids: 2 }))
    const grants = market.eventsOf('lease:granted')
    expect(grants.map((g) => [g.worker, g.taskIds.length, g.price])).toEqual([
      ['cheap', 2, 20n],
      ['dear', 2, 50n],
    ])
    expect(market.eventsOf('job:assigned')).toHaveLength(1)
  })

  it('should pay a task the price of its award, not a bid its worker made after', () => {
    const market = new Market({ verify: true })
    let price = 10n
    market.addWorker('a', { pricing: () => price })
    // Two tiles of one frame: two tasks, both to the one bidder.
    const split = { kind: 'render', firstFrame: 1, frames: 1, width: 64, height: 32, tileWidth: 32, tileHeight: 32 }
    const spec = renderSpec({ minBids: 1, maxPrice: 1_000n })
    const jobId = market.submit({ ...spec, split: { ...spec.split, ...split } as typeof spec.split })
    expect(market.eventsOf('lease:granted').map((g) => [g.worker, g.taskIds.length, g.price])).toEqual([['a', 2, 10n]])
    market.finishAll()
    const [first, second] = market.verifies.map((v) => v.taskId)
    if (first === undefined || second === undefined) throw new Error('both tasks are in verification')
    // The first fails its check: nobody else can take it, so the order re-opens and the worker bids again, dearer.
    price = 1_000n
    market.advance(5_000)
    market.creator.handle({ kind: 'task:verdict', taskId: first, worker: 'a', outcome: 'fail' }, market.now)
    market.flush()
    expect(market.eventsOf('bid:received').map((b) => b.price)).toEqual([10n, 1_000n])
    market.creator.handle({ kind: 'task:verdict', taskId: second, worker: 'a', outcome: 'pass' }, market.now)
    market.flush()
    expect(market.accepts.map((a) => [a.taskId, a.price, a.amount])).toEqual([[second, 10n, 5n]])
    expect(market.creator.job(jobId)?.accepted).toBe(1)
  })

  it('should break ties by reputation, then ETA, then peer id', () => {
    const reputation: Record<string, number> = { a: 0.5, b: 0.9, c: 0.5, d: 0.5 }
    const market = new Market({ tiers: { reputation: (peer) => reputation[peer] ?? 0 } })
    const one = { memoryMb: 8_192, features: [], slots: 1, tiers: [3] as const }
    // Same price for all; b has the best reputation; among a, c, d (equal reputation) d is fastest; a and c tie on
    // everything but the peer id.
    market.addWorker('c', { profile: { ...one, score: 100, tiers: [3] } })
    market.addWorker('a', { profile: { ...one, score: 100, tiers: [3] } })
    market.addWorker('d', { profile: { ...one, score: 400, tiers: [3] } })
    market.addWorker('b', { profile: { ...one, score: 100, tiers: [3] } })
    const jobId = market.submit(renderSpec({ minBids: 4 }))
    const holders = market.eventsOf('lease:granted').map((g) => [g.worker, g.taskIds])
    expect(holders).toEqual([
      ['b', [`${jobId}/f1/t0_0`]],
      ['d', [`${jobId}/f1/t1_0`]],
      ['a', [`${jobId}/f1/t0_1`]],
      ['c', [`${jobId}/f1/t1_1`]],
    ])
  })

  it('should rank by expected cost first and never call two distinct bids equal', () => {
    const bids: RankableBid[] = [
      { peer: 'x', price: 10n, etaMs: 5, reputation: 0 },
      { peer: 'y', price: 9n, etaMs: 50, reputation: 0 },
      { peer: 'z', price: 10n, etaMs: 5, reputation: 0 },
      { peer: 'w', price: 10n, etaMs: 1, reputation: 0 },
    ]
    expect(rankBids(bids, 500_000n).map((b) => b.peer)).toEqual(['y', 'w', 'x', 'z'])
    // With zero benchmark-hours every cost is zero, so price no longer decides.
    expect(rankBids(bids, 0n).map((b) => b.peer)).toEqual(['w', 'x', 'z', 'y'])
    expect(compareBids(bids[0] as RankableBid, bids[2] as RankableBid, 1n)).toBeLessThan(0)
  })

  it('should derive the same job id from the same seed and a new one per submission', () => {
    const a = new CreatorMachine({ self: 'creator', rng: seededRng(3) })
    const b = new CreatorMachine({ self: 'creator', rng: seededRng(3) })
    const idA = a.submit(renderSpec(), 0)
    expect(b.submit(renderSpec(), 0)).toBe(idA)
    expect(a.submit(renderSpec(), 0)).not.toBe(idA)
    expect(idA).toMatch(/^[0-9a-f]{32}$/)
    const published = a.pollOutput()
    expect(published).toMatchObject({ kind: 'publish', topic: '/tessera/1/orders', message: { type: 'order' } })
  })

  it('should re-open the window when nobody bid, and award to a late bidder', () => {
    const market = new Market({ maxReopens: 1 })
    const jobId = market.submit(renderSpec({ minBids: 1, bidWindowMs: 500 }))
    market.advance(500)
    expect(market.eventsOf('order:unmatched')).toHaveLength(1)
    expect(market.eventsOf('order:reopened')).toEqual([expect.objectContaining({ jobId, reopens: 1 })])

    // A worker joins and sees the re-published order (gossip repeats it to newcomers in this harness by hand).
    const late = market.addWorker('late')
    const order = market.creator.job(jobId)?.order
    if (order === undefined) throw new Error('job vanished')
    late.handle(
      {
        kind: 'message',
        inbound: { from: 'creator', message: { type: 'order', body: order }, expiresAt: market.now + 60_000 },
      },
      market.now,
    )
    market.flush()
    expect(market.eventsOf('lease:granted').map((g) => g.worker)).toEqual(['late'])
    market.finishAll()
    expect(market.eventsOf('job:completed')).toHaveLength(1)
  })

  it('should refuse a bid of a closed window: issued before this one opened, by more than clocks differ', () => {
    const market = new Market({ maxReopens: 1 })
    const jobId = market.submit(renderSpec({ minBids: 1, bidWindowMs: MAX_CLOCK_SKEW_MS + 1_000 }))
    const first = market.creator.job(jobId)?.order as Order
    market.advance(MAX_CLOCK_SKEW_MS + 1_000)
    expect(market.eventsOf('order:reopened')).toHaveLength(1)
    const bid = (issuedAt: number): WireMessage => ({
      type: 'bid',
      body: { jobId, worker: 'w', price: 10n, etaMs: 1_000, score: 100, maxTasks: 4, issuedAt },
    })
    // Made in the first window and delayed past its close: it would be counted in this one and close it.
    const bidAt = (issuedAt: number) => () =>
      market.creator.handle({ kind: 'message', inbound: inbound('w', bid(issuedAt), market.now) }, market.now)
    expect(bidAt(first.issuedAt)).toThrow(expect.objectContaining({ code: 'SCHEDULER__BID_WINDOW_CLOSED' }))
    expect(market.creator.job(jobId)?.windowOpen).toBe(true)
    // One that seems a little early is a clock that runs behind, and is taken.
    bidAt(market.now - MAX_CLOCK_SKEW_MS)()
    market.flush()
    expect(market.eventsOf('bid:received')).toEqual([expect.objectContaining({ worker: 'w' })])
  })

  it('should pause between re-openings, doubling from the bid window, and end the job once they are used up', () => {
    const market = new Market({ maxReopens: 3 })
    const start = market.now
    const jobId = market.submit(renderSpec({ minBids: 1, bidWindowMs: 500, timeoutMs: 60_000 }))
    market.advance(10_000)
    // Once at once, then after 500 and 1,000 ms: the windows span a while of a busy market, not 2 s back to back.
    expect(market.eventsOf('order:reopened').map((e) => [e.at - start, e.reopens])).toEqual([
      [500, 1],
      [1_500, 2],
      [3_000, 3],
    ])
    expect(market.eventsOf('order:unmatched')).toHaveLength(4)
    // Nobody holds work and no window will open: it ends when its last window closes, not at its deadline.
    expect(market.eventsOf('job:expired')).toEqual([
      expect.objectContaining({ jobId, at: start + 3_500, accepted: 0, total: 4, reason: 'unmatched' }),
    ])
    expect(market.creator.job(jobId)?.status).toBe('expired')
    expect(market.creator.diagnose(jobId)).toMatchObject({ jobId, bids: 0 })
  })

  it('should award a worker that is free by a later, paused re-opening', () => {
    const market = new Market()
    const worker = market.addWorker('w', {
      profile: { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] },
    })
    const oneTile = { ...renderSpec().split, width: 32, height: 32 } as ReturnType<typeof renderSpec>['split']
    const busy = market.submit(renderSpec({ minBids: 1, split: oneTile }))
    const jobId = market.submit(renderSpec({ minBids: 1, bidWindowMs: 2_000, timeoutMs: 600_000 }))
    expect(market.eventsOf('bid:skipped')).toEqual([expect.objectContaining({ jobId, reason: 'busy' })])
    // Busy for 10 s: the re-openings back to back would all have passed by then.
    market.advance(10_000)
    market.finish('w', [...(market.running.get('w')?.keys() ?? [])][0] as string)
    expect(market.creator.job(busy)?.status).toBe('completed')
    expect(market.eventsOf('order:reopened')).toHaveLength(2)
    market.advance(5_000)
    expect(market.eventsOf('order:reopened')).toHaveLength(3)
    for (let i = 0; i < 4; i++) {
      market.advance(1_000)
      market.finishAll()
    }
    expect(market.creator.job(jobId)?.status).toBe('completed')
    expect(worker.load.running).toBe(0)
  })
})

describe('tiers', () => {
  it('should admit only trusted partners to tier 1', () => {
    const market = new Market({ tiers: { trustedPartners: ['partner'] } })
    market.addWorker('partner')
    market.addWorker('stranger')
    market.submit(renderSpec({ tier: 1, minBids: 5 }))
    expect(market.eventsOf('bid:received').map((e) => e.worker)).toEqual(['partner'])
    expect(market.rejections).toEqual([
      {
        peer: 'creator',
        error: expect.objectContaining({
          code: 'SCHEDULER__WORKER_INELIGIBLE',
          context: expect.objectContaining({ reason: 'allowlist' }),
        }),
      },
    ])
  })

  it('should admit to tier 2 only reputation at or above the threshold', () => {
    const market = new Market({ tiers: { reputation: (p) => (p === 'good' ? 0.8 : 0.79), priorityReputation: 0.8 } })
    market.addWorker('good')
    market.addWorker('meh')
    market.submit(renderSpec({ tier: 2, minBids: 5 }))
    expect(market.eventsOf('bid:received').map((e) => e.worker)).toEqual(['good'])
    expect((market.rejections[0]?.error as { context: { reason: string } }).context.reason).toBe('reputation')
  })

  it('should admit to tier 3 only stake at or above the minimum, from the ledger when it knows', () => {
    const market = new Market({ tiers: { minStake: 50n }, stakeOf: (p) => (p === 'ledgered' ? 50n : undefined) })
    market.addWorker('rich')
    market.addWorker('poor')
    market.addWorker('ledgered')
    market.addWorker('unknown')
    market.feedCapacity(capacity('rich', { stake: 60n }))
    market.feedCapacity(capacity('poor', { stake: 49n }))
    market.submit(renderSpec({ tier: 3, minBids: 5 }))
    expect(
      market
        .eventsOf('bid:received')
        .map((e) => e.worker)
        .sort(),
    ).toEqual(['ledgered', 'rich'])
    expect(market.rejections.map((r) => (r.error as { context: { reason: string } }).context.reason)).toEqual([
      'stake',
      'stake',
    ])
  })

  it('should pass over a worker demoted since it bid, by reputation or stake, leaving it the tasks it holds', () => {
    for (const demotion of ['reputation', 'stake'] as const) {
      const reputation = new Map([
        ['w', 0.9],
        ['v', 0.85],
      ])
      const stake = new Map([
        ['w', 100n],
        ['v', 100n],
      ])
      const market = new Market({
        tiers: { minStake: 100n, priorityReputation: 0.8, reputation: (p) => reputation.get(p) ?? 0 },
        stakeOf: (p) => stake.get(p),
      })
      const one = { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [2] as const }
      market.addWorker('w', { pricing: fixedPrice(10n), profile: one })
      market.addWorker('v', { pricing: fixedPrice(50n), profile: one })
      const jobId = market.submit(renderSpec({ tier: 2, minBids: 2 }))
      const task = (i: number) => `${jobId}/f1/t${i % 2}_${i >> 1}`
      market.finish('w', task(0))
      // A failed check since: its reputation fell below tier 2's bar, or its stake was slashed below the minimum.
      if (demotion === 'reputation') reputation.set('w', 0.1)
      else stake.set('w', 0n)
      market.finish('w', task(2))
      market.finish('v', task(1))
      expect(
        market.eventsOf('lease:granted').map((g) => [g.worker, g.taskIds]),
        demotion,
      ).toEqual([
        ['w', [task(0)]],
        ['v', [task(1)]],
        ['w', [task(2)]],
        ['v', [task(3)]],
      ])
      // The task it held when demoted was awarded while it was admitted: it is accepted and paid.
      expect(
        market.accepts.filter((a) => a.worker === 'w').map((a) => a.taskId),
        demotion,
      ).toEqual([task(0), task(2)])
    }
  })

  it('should rank bids by reputation as it stands when tasks are awarded, not as it stood at the bid', () => {
    const reputation = new Map([
      ['a', 0.9],
      ['b', 0.5],
    ])
    const market = new Market({ tiers: { reputation: (p) => reputation.get(p) ?? 0 } })
    const one = { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] as const }
    market.addWorker('a', { profile: one })
    market.addWorker('b', { profile: one })
    market.addWorker('c', { pricing: fixedPrice(20n), profile: { ...one, slots: 2 } })
    const jobId = market.submit(renderSpec({ minBids: 3 }))
    const task = (i: number) => `${jobId}/f1/t${i % 2}_${i >> 1}`
    market.finish('a', task(0))
    market.finish('b', task(1))
    reputation.set('a', 0.1)
    reputation.set('b', 0.9)
    // c's lease lapses: its two tasks go to a and b, both idle at one price, the better reputation first.
    market.down.add('c')
    market.advance(20_000)
    expect(market.eventsOf('task:reassigned').map((r) => [r.taskId, r.to])).toEqual([
      [task(2), 'b'],
      [task(3), 'a'],
    ])
  })

  it('should keep workers off orders of tiers they do not claim', () => {
    const market = new Market()
    market.addWorker('economy', { profile: { memoryMb: 8_192, features: [], score: 100, slots: 4, tiers: [3] } })
    market.submit(renderSpec({ tier: 2, minBids: 1 }))
    expect(market.eventsOf('bid:skipped')).toEqual([expect.objectContaining({ reason: 'tier' })])
    expect(market.eventsOf('bid:received')).toHaveLength(0)
  })
})
