import { describe, expect, it } from 'vitest'
import type { Inbound, WireMessage } from '@tessera/core'
import { seededRng } from '@tessera/core'
import {
  CreatorMachine,
  expectedCost,
  fixedPrice,
  isSchedulerError,
  MAX_AMOUNT,
  MAX_BENCH_HOURS_PER_TASK,
  MAX_JOB_TIMEOUT_MS,
  WorkerMachine,
  type SchedulerErrorCode,
} from '../src/index.js'
import { inbound, Market, renderSpec } from './harness.js'

/** Expects `run` to throw a SchedulerError with `code` and to leave the creator's outputs and job unchanged. */
function expectRejected(market: Market, jobId: string | undefined, code: SchedulerErrorCode, run: () => void): void {
  const before = jobId === undefined ? undefined : market.creator.job(jobId)
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  expect(isSchedulerError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true)
  // Refusals are expected answers to peer input: no stack is captured for them, and the global limit is restored.
  expect((thrown as Error).stack).not.toMatch(/\n\s+at /)
  expect(Error.stackTraceLimit).toBeGreaterThan(0)
  expect(market.creator.pollOutput()).toBeUndefined()
  if (jobId !== undefined) expect(market.creator.job(jobId)).toEqual(before)
}

function bid(jobId: string, worker: string, now: number, price = 10n): WireMessage {
  return { type: 'bid', body: { jobId, worker, price, etaMs: 100, score: 100, maxTasks: 4, issuedAt: now } }
}

function result(jobId: string, taskId: string, worker: string, now: number): WireMessage {
  return {
    type: 'result',
    body: {
      jobId,
      taskId,
      worker,
      root: new Uint8Array(32),
      chunks: 1,
      output: 'bafkout',
      tolerance: 'bitwise',
      computeMs: 1,
      issuedAt: now,
    },
  }
}

function deliver(market: Market, message: Inbound): void {
  market.creator.handle({ kind: 'message', inbound: message }, market.now)
}

describe('rejected messages', () => {
  it('should refuse a direct bid for an unknown order, and ignore a gossiped one', () => {
    const market = new Market()
    expectRejected(market, undefined, 'SCHEDULER__ORDER_NOT_FOUND', () =>
      deliver(market, inbound('w', bid('feedface', 'w', market.now), market.now)),
    )
    expect(() =>
      deliver(market, inbound('w', bid('feedface', 'w', market.now), market.now, '/tessera/1/bids')),
    ).not.toThrow()
  })

  it('should refuse a bid after the window, a duplicate bid, a bid above the maximum price, and a forged bid', () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 3, maxPrice: 50n }))
    deliver(market, inbound('w1', bid(jobId, 'w1', market.now), market.now))
    market.flush()
    expectRejected(market, jobId, 'SCHEDULER__DUPLICATE_BID', () =>
      deliver(market, inbound('w1', bid(jobId, 'w1', market.now), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__BID_PRICE_EXCEEDED', () =>
      deliver(market, inbound('w2', bid(jobId, 'w2', market.now, 51n), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__SIGNER_MISMATCH', () =>
      deliver(market, inbound('mallory', bid(jobId, 'w2', market.now), market.now)),
    )
    market.advance(1_000)
    expectRejected(market, jobId, 'SCHEDULER__BID_WINDOW_CLOSED', () =>
      deliver(market, inbound('w3', bid(jobId, 'w3', market.now), market.now)),
    )
  })

  it('should refuse an award not signed by the order’s creator, or addressed to someone else', () => {
    const market = new Market()
    const worker = market.addWorker('w1')
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const award = (creator: string, to: string): WireMessage => ({
      type: 'award',
      body: {
        jobId,
        creator,
        worker: to,
        taskIds: [`${jobId}/f1/t0_0`],
        price: 10n,
        leaseMs: 3_000,
        heartbeatMs: 1_000,
        issuedAt: market.now,
      },
    })
    const attempt = (from: string, message: WireMessage) => () =>
      worker.handle({ kind: 'message', inbound: inbound(from, message, market.now) }, market.now)
    expect(attempt('mallory', award('mallory', 'w1'))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__SIGNER_MISMATCH' }),
    )
    expect(attempt('mallory', award('creator', 'w1'))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__SIGNER_MISMATCH' }),
    )
    expect(attempt('creator', award('creator', 'w2'))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__WORKER_MISMATCH' }),
    )
    expect(
      attempt('creator', {
        ...award('creator', 'w1'),
        body: { ...award('creator', 'w1').body, jobId: 'cafe' },
      } as WireMessage),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__ORDER_NOT_FOUND' }))
    const cheap = award('creator', 'w1')
    if (cheap.type === 'award') cheap.body.price = 9n
    expect(attempt('creator', cheap)).toThrow(expect.objectContaining({ code: 'SCHEDULER__PRICE_MISMATCH' }))
    const bogus = award('creator', 'w1')
    if (bogus.type === 'award') bogus.body.taskIds = [`${jobId}/f1/t9_9`]
    expect(attempt('creator', bogus)).toThrow(expect.objectContaining({ code: 'SCHEDULER__TASK_NOT_FOUND' }))
    expect(worker.pollOutput()).toBeUndefined()
    expect(worker.load).toEqual({ running: 0, queued: 0, slots: 4 })
    // The genuine award is taken once; the same award again is a duplicate.
    attempt('creator', award('creator', 'w1'))()
    expect(worker.load.running).toBe(1)
    expect(attempt('creator', award('creator', 'w1'))).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__DUPLICATE_AWARD' }),
    )
  })

  it('should refuse a cancellation of a job signed by anyone but its creator', () => {
    const market = new Market()
    const worker = market.addWorker('w1')
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    const order = market.creator.job(jobId)?.order
    if (order === undefined) throw new Error('job vanished')
    const forged: WireMessage = {
      type: 'order',
      body: { ...order, creator: 'mallory', cancelled: true, issuedAt: market.now + 1 },
    }
    expect(() =>
      worker.handle(
        { kind: 'message', inbound: inbound('mallory', forged, market.now, '/tessera/1/orders') },
        market.now,
      ),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__SIGNER_MISMATCH' }))
    expect(worker.load.running).toBe(4)
    expect(worker.pollOutput()).toBeUndefined()
  })

  it('should refuse a result for a task not awarded to the sender, for an unknown task, and a duplicate result', () => {
    const market = new Market({ verify: true })
    market.addWorker('w1', { profile: { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] } })
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    const held = [...(market.running.get('w1')?.keys() ?? [])][0] as string
    const other = `${jobId}/f1/t1_1`
    expect(held).not.toBe(other)
    expectRejected(market, jobId, 'SCHEDULER__TASK_NOT_AWARDED', () =>
      deliver(market, inbound('w1', result(jobId, other, 'w1', market.now), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__TASK_NOT_AWARDED', () =>
      deliver(market, inbound('w9', result(jobId, held, 'w9', market.now), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__TASK_NOT_FOUND', () =>
      deliver(market, inbound('w1', result(jobId, `${jobId}/f2/t0_0`, 'w1', market.now), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__TASK_NOT_FOUND', () =>
      deliver(market, inbound('w1', result(jobId, `${jobId}/f01/t0_0`, 'w1', market.now), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__SIGNER_MISMATCH', () =>
      deliver(market, inbound('w9', result(jobId, held, 'w1', market.now), market.now)),
    )
    expectRejected(market, undefined, 'SCHEDULER__ORDER_NOT_FOUND', () =>
      deliver(market, inbound('w1', result('beef', 'beef/b0-1', 'w1', market.now), market.now)),
    )
    market.finish('w1', held)
    expect(market.verifies).toHaveLength(1)
    expectRejected(market, jobId, 'SCHEDULER__DUPLICATE_RESULT', () =>
      deliver(market, inbound('w1', result(jobId, held, 'w1', market.now), market.now)),
    )
    expect(market.verifies).toHaveLength(1)
    expect(market.eventsOf('task:completed')).toHaveLength(1)
  })

  it('should refuse a heartbeat from a stranger and a withdrawal of a task the sender does not hold', () => {
    const market = new Market()
    market.addWorker('w1', { profile: { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] } })
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    const heartbeat = (worker: string, withdrawn?: string[]): WireMessage => ({
      type: 'heartbeat',
      body: { jobId, worker, taskIds: [], ...(withdrawn === undefined ? {} : { withdrawn }), issuedAt: market.now },
    })
    expectRejected(market, jobId, 'SCHEDULER__LEASE_NOT_FOUND', () =>
      deliver(market, inbound('stranger', heartbeat('stranger'), market.now)),
    )
    expectRejected(market, jobId, 'SCHEDULER__TASK_NOT_AWARDED', () =>
      deliver(market, inbound('w1', heartbeat('w1', [`${jobId}/f1/t1_1`]), market.now)),
    )
    expectRejected(market, undefined, 'SCHEDULER__ORDER_NOT_FOUND', () =>
      deliver(
        market,
        inbound(
          'w1',
          { type: 'heartbeat', body: { jobId: 'nope', worker: 'w1', taskIds: [], issuedAt: 0 } },
          market.now,
        ),
      ),
    )
  })

  it('should refuse messages of types a creator does not take', () => {
    const market = new Market()
    const verdict: WireMessage = {
      type: 'verdict',
      body: {
        jobId: 'j',
        taskId: 'j/b0-1',
        worker: 'w',
        verifier: 'v',
        root: new Uint8Array(32),
        outcome: 'pass',
        round: 0,
        issuedAt: 0,
      },
    }
    expectRejected(market, undefined, 'SCHEDULER__UNEXPECTED_MESSAGE', () =>
      deliver(market, inbound('v', verdict, market.now)),
    )
  })

  it('should refuse an invalid job spec with the field at fault', () => {
    const market = new Market()
    expect(() => market.creator.submit(renderSpec({ kind: 'inference' }), 0)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_JOB_SPEC',
        context: expect.objectContaining({ field: 'split.kind' }),
      }),
    )
    expect(() => market.creator.submit(renderSpec({ maxPrice: -1n }), 0)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__INVALID_JOB_SPEC' }),
    )
    expect(() => market.creator.submit(renderSpec({ timeoutMs: 500, bidWindowMs: 1_000 }), 0)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__INVALID_JOB_SPEC' }),
    )
    // A deadline past a month out: no longer a time every peer can check.
    expect(() => market.creator.submit(renderSpec({ timeoutMs: MAX_JOB_TIMEOUT_MS + 1 }), 0)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_JOB_SPEC',
        context: expect.objectContaining({ field: 'timeoutMs' }),
      }),
    )
    expect(new Market().creator.submit(renderSpec({ timeoutMs: MAX_JOB_TIMEOUT_MS }), 0)).toMatch(/^[0-9a-f]+$/)
    expect(() =>
      market.creator.submit(
        renderSpec({
          split: {
            kind: 'render',
            firstFrame: 0,
            frames: 10_000,
            width: 1024,
            height: 1024,
            tileWidth: 64,
            tileHeight: 64,
            samples: 1,
          },
        }),
        0,
      ),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__TASK_LIMIT_EXCEEDED' }))
    expect(market.creator.jobCount).toBe(0)
    expect(market.creator.pollOutput()).toBeUndefined()
  })

  it('should refuse a job whose budget, maxPrice x benchHoursPerTask x tasks, passes u64', () => {
    const market = new Market()
    // Each bound alone is met; their product is not, so an accepted task's pay could never go in a receipt.
    const overflowing = renderSpec({ maxPrice: MAX_AMOUNT, benchHoursPerTask: 3 })
    expect(() => market.creator.submit(overflowing, 0)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_JOB_SPEC',
        context: expect.objectContaining({ field: 'maxPrice', limit: MAX_AMOUNT }),
      }),
    )
    // Four tasks whose pay each fits in u64 but whose escrow, all four at maxPrice, would not.
    const perTask = MAX_AMOUNT / 4n
    const refused = renderSpec({ maxPrice: perTask + 1n, benchHoursPerTask: 1 })
    expect(expectedCost(refused.maxPrice, 1)).toBeLessThan(MAX_AMOUNT)
    expect(() => market.creator.submit(refused, 0)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_JOB_SPEC',
        context: expect.objectContaining({ field: 'maxPrice', budget: (perTask + 1n) * 4n }),
      }),
    )
    expect(market.creator.submit(renderSpec({ maxPrice: perTask, benchHoursPerTask: 1 }), 0)).toMatch(/^[0-9a-f]+$/)
    expect(() => market.creator.submit(renderSpec({ benchHoursPerTask: MAX_BENCH_HOURS_PER_TASK }), 0)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_JOB_SPEC',
        context: { field: 'benchHoursPerTask', reason: expect.any(String) },
      }),
    )
  })

  it('should refuse a machine configured out of range with a coded error naming the option', () => {
    const profile = { memoryMb: 1, features: [], score: 1, slots: 1, tiers: [3 as const] }
    const worker = (over: Partial<typeof profile>) => () =>
      new WorkerMachine({ self: 'w', profile: { ...profile, ...over }, pricing: fixedPrice(1n) })
    for (const [run, option] of [
      [worker({ slots: 0 }), 'profile.slots'],
      [worker({ slots: 1.5 }), 'profile.slots'],
      [worker({ score: 0 }), 'profile.score'],
      [worker({ score: Number.POSITIVE_INFINITY }), 'profile.score'],
    ] as const) {
      expect(run).toThrow(
        expect.objectContaining({ code: 'SCHEDULER__INVALID_CONFIG', context: expect.objectContaining({ option }) }),
      )
    }
    expect(() => new CreatorMachine({ self: 'c', rng: seededRng(1), leaseMs: 1_000, heartbeatMs: 1_000 })).toThrow(
      expect.objectContaining({
        code: 'SCHEDULER__INVALID_CONFIG',
        context: { leaseMs: 1_000, heartbeatMs: 1_000 },
      }),
    )
    for (const awardGraceMs of [-1, Number.NaN]) {
      expect(() => new CreatorMachine({ self: 'c', rng: seededRng(1), awardGraceMs })).toThrow(
        expect.objectContaining({
          code: 'SCHEDULER__INVALID_CONFIG',
          context: { option: 'awardGraceMs', value: awardGraceMs },
        }),
      )
    }
  })
})
