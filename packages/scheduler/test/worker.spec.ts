import { describe, expect, it } from 'vitest'
import { jobIdOf, type Order, type WireMessage } from '@tessera/core'
import {
  DEFAULT_AWARD_GRACE_MS,
  MAX_DEADLINE_AHEAD_MS,
  MAX_JOB_TIMEOUT_MS,
  estimatedTaskMs,
  fixedPrice,
  type JobSpec,
  splitTasks,
  WorkerMachine,
  type WorkerMachineInit,
  type WorkerOutput,
} from '../src/index.js'
import { Market, renderSpec } from './harness.js'

function drain(worker: WorkerMachine): WorkerOutput[] {
  const outputs: WorkerOutput[] = []
  for (let out = worker.pollOutput(); out !== undefined; out = worker.pollOutput()) outputs.push(out)
  return outputs
}

function orderOf(market: Market, jobId: string): Order {
  const order = market.creator.job(jobId)?.order
  if (order === undefined) throw new Error(`no job ${jobId}`)
  return order
}

describe('WorkerMachine', () => {
  it('should run at most `slots` tasks at once, decline more, and queue those awarded again', () => {
    const market = new Market()
    const worker = market.addWorker('w', {
      profile: { memoryMb: 8_192, features: [], score: 100, slots: 2, tiers: [3] },
    })
    // maxTasks is the free slots (2), so a 4-task job needs two workers' worth: award by hand beyond the bid.
    const jobId = market.submit(renderSpec({ minBids: 1 }))
    expect(worker.load).toEqual({ running: 2, queued: 0, slots: 2 })
    const more = [`${jobId}/f1/t0_1`, `${jobId}/f1/t1_1`]
    const award = (taskIds: string[]) =>
      worker.handle(
        {
          kind: 'message',
          inbound: {
            from: 'creator',
            message: {
              type: 'award',
              body: {
                jobId,
                creator: 'creator',
                worker: 'w',
                taskIds,
                price: 10n,
                leaseMs: 15_000,
                heartbeatMs: 5_000,
                issuedAt: market.now,
              },
            },
            expiresAt: market.now + 1_000,
          },
        },
        market.now,
      )
    const given: string[][] = []
    award(more)
    for (const out of drain(worker)) {
      if (out.kind === 'send' && out.message.type === 'heartbeat') given.push([...(out.message.body.withdrawn ?? [])])
    }
    // No slot is free: both are given back at once, for the creator to award to a worker with room.
    expect(given).toEqual([more])
    expect(worker.load).toEqual({ running: 2, queued: 0, slots: 2 })
    // Awarded again, the creator found nobody else: they queue.
    award(more)
    expect(worker.load).toEqual({ running: 2, queued: 2, slots: 2 })
    market.flush()
    const first = [...(market.running.get('w')?.keys() ?? [])][0] as string
    market.finish('w', first)
    expect(worker.load).toEqual({ running: 2, queued: 1, slots: 2 })
    expect(market.eventsOf('task:started')).toHaveLength(3)
  })

  it('should heart-beat every heartbeatMs while it holds unfinished tasks, and stop after', () => {
    const market = new Market({ heartbeatMs: 1_000, leaseMs: 3_000 })
    const worker = market.addWorker('w')
    market.submit(renderSpec({ minBids: 1 }))
    const beats: WireMessage[] = []
    const tick = (ms: number) => {
      market.clock.advance(ms)
      worker.handleTimeout(market.now)
      for (const out of drain(worker))
        if (out.kind === 'send' && out.message.type === 'heartbeat') beats.push(out.message)
    }
    tick(999)
    expect(beats).toHaveLength(0)
    tick(1)
    expect(beats).toHaveLength(1)
    expect(beats[0]?.type === 'heartbeat' && beats[0].body.taskIds).toHaveLength(4)
    for (const taskId of [...(market.running.get('w')?.keys() ?? [])]) {
      market.running.get('w')?.delete(taskId)
      worker.handle(
        {
          kind: 'task:finished',
          taskId,
          output: { root: new Uint8Array(32), chunks: 1, output: 'bafk', tolerance: 'bitwise', computeMs: 1 },
        },
        market.now,
      )
    }
    drain(worker)
    tick(1_000)
    tick(1_000)
    expect(beats).toHaveLength(1)
  })

  it('should name its payee in every Result it sends, when it has one', () => {
    const payee = 'SysvarRent111111111111111111111111111111111'
    for (const named of [payee, undefined]) {
      const market = new Market()
      const worker = market.addWorker('w', named === undefined ? {} : { payee: named })
      market.submit(renderSpec({ minBids: 1 }))
      drain(worker)
      const taskId = [...(market.running.get('w')?.keys() ?? [])][0] as string
      market.running.get('w')?.delete(taskId)
      const output = { root: new Uint8Array(32), chunks: 1, output: 'bafk', tolerance: 'bitwise', computeMs: 1 }
      worker.handle({ kind: 'task:finished', taskId, output }, market.now)
      const sent = drain(worker).find((out) => out.kind === 'send' && out.message.type === 'result')
      const body = sent?.kind === 'send' && sent.message.type === 'result' ? sent.message.body : undefined
      expect(body?.taskId).toBe(taskId)
      if (named === undefined) expect(body).not.toHaveProperty('payee')
      else expect(body?.payee).toBe(payee)
    }
    // One creators would refuse is refused here, not in every Result.
    expect(() => new Market().addWorker('w', { payee: 'not a Solana address, 0OIl' })).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__INVALID_CONFIG' }),
    )
  })

  it('should skip orders it cannot serve, with the reason', () => {
    const market = new Market()
    market.addWorker('w', { profile: { memoryMb: 2_048, features: ['shader-f16'], score: 100, slots: 1, tiers: [3] } })
    market.submit(renderSpec({ requirements: { features: ['subgroups'] } }))
    market.submit(renderSpec({ requirements: { minMemoryMb: 4_096 } }))
    market.submit(renderSpec({ minBids: 1 }))
    market.submit(renderSpec())
    expect(market.eventsOf('bid:skipped').map((e) => e.reason)).toEqual(['features', 'memory', 'busy'])
  })

  describe('work an order pays for', () => {
    /** One 2048x2048 tile at 1,024 samples: 2^32 pixel-samples, 273 benchmark-hours at 5.5 rays a pixel-sample. */
    const bigTile = {
      kind: 'render',
      firstFrame: 0,
      frames: 1,
      width: 2048,
      height: 2048,
      tileWidth: 2048,
      tileHeight: 2048,
      samples: 1024,
    } as const

    /** What a worker did with one order of `spec`: the reason it skipped it, or 'bid'. */
    const decision = (spec: Partial<JobSpec>, init: Partial<WorkerMachineInit> = {}): string => {
      const market = new Market()
      const worker = market.addWorker('w', init)
      market.submit(renderSpec({ minBids: 1, ...spec }))
      expect(worker.jobCount + market.eventsOf('bid:skipped').length).toBe(1)
      return market.eventsOf('bid:skipped')[0]?.reason ?? (market.eventsOf('bid:sent').length === 1 ? 'bid' : 'none')
    }

    it('should skip, as underpriced, a render order that declares no benchmark-hours for its work', () => {
      expect(estimatedTaskMs(bigTile, 100)).toBeCloseTo((2 ** 32 * 5.5 * 1000) / (24_000 * 100))
      expect(decision({ split: bigTile, benchHoursPerTask: 0 })).toBe('underpriced')
      // Its work is 273 benchmark-hours: at the default tolerance of 16, 17.09 of them are the least it takes.
      expect(decision({ split: bigTile, benchHoursPerTask: 17 })).toBe('underpriced')
      expect(decision({ split: bigTile, benchHoursPerTask: 17.2 })).toBe('bid')
      expect(decision({ split: bigTile, benchHoursPerTask: 300 })).toBe('bid')
    })

    it('should decide alike at every score, since benchmark-hours scale with it', () => {
      for (const score of [1, 100, 100_000]) {
        const init = { profile: { memoryMb: 8_192, features: [], score, slots: 4, tiers: [3] as const } }
        expect(decision({ split: bigTile, benchHoursPerTask: 17 }, init)).toBe('underpriced')
        expect(decision({ split: bigTile, benchHoursPerTask: 17.2 }, init)).toBe('bid')
      }
    })

    it('should take workTolerance as an option, at least 1', () => {
      expect(decision({ split: bigTile, benchHoursPerTask: 200 }, { workTolerance: 1 })).toBe('underpriced')
      expect(decision({ split: bigTile, benchHoursPerTask: 280 }, { workTolerance: 1 })).toBe('bid')
      expect(decision({ split: bigTile, benchHoursPerTask: 0 }, { workTolerance: Infinity })).toBe('bid')
      for (const workTolerance of [0.5, Number.NaN]) {
        expect(() => new Market().addWorker('w', { workTolerance })).toThrow(
          expect.objectContaining({
            code: 'SCHEDULER__INVALID_CONFIG',
            context: { option: 'workTolerance', value: workTolerance },
          }),
        )
      }
    })

    describe('a tile its device holds', () => {
      /** One 4096x4096 tile at 256 samples: valid on the wire, but its 256 MiB output passes MAX_TILE_PIXELS (2^23). */
      const largeTile = { ...bigTile, width: 4096, height: 4096, tileWidth: 4096, tileHeight: 4096, samples: 256 }

      /** What a worker made with `init` did with an order of `largeTile` (creators keep to MAX_TILE_PIXELS). */
      const tileDecision = (init: Partial<WorkerMachineInit> = {}): string => {
        const market = new Market()
        const { jobId: _, ...content } = orderOf(market, market.submit(renderSpec({ minBids: 5 })))
        const order = { ...content, split: largeTile, benchHoursPerTask: 300 }
        const worker = new WorkerMachine({
          self: 'w',
          profile: { memoryMb: 8_192, features: ['shader-f16'], score: 100, slots: 1, tiers: [3] },
          pricing: fixedPrice(1n),
          ...init,
        })
        const body = { jobId: jobIdOf(order), ...order }
        worker.handle(
          { kind: 'message', inbound: { from: body.creator, message: { type: 'order', body }, expiresAt: 1e12 } },
          market.now,
        )
        const events = drain(worker).flatMap((o) => (o.kind === 'event' ? [o.event] : []))
        const skipped = events.find((e) => e.type === 'bid:skipped')
        return skipped?.type === 'bid:skipped' ? skipped.reason : events.some((e) => e.type === 'bid:sent') ? 'bid' : ''
      }

      it('should skip, as too large, a render order whose tile has more pixels than its maxTilePixels', () => {
        expect(tileDecision()).toBe('tooLarge')
        expect(tileDecision({ maxTilePixels: 4096 * 4096 - 1 })).toBe('tooLarge')
        // Before the price: a task awarded would fail on the device, and be awarded again.
        expect(tileDecision({ pricing: fixedPrice(10n ** 12n) })).toBe('tooLarge')
      })

      it('should bid on it when its device holds the tile (a larger maxTilePixels)', () => {
        expect(tileDecision({ maxTilePixels: 4096 * 4096 })).toBe('bid')
        expect(tileDecision({ maxTilePixels: 2 ** 28 })).toBe('bid')
      })

      it('should take maxTilePixels as an option, at least 1', () => {
        for (const maxTilePixels of [0, Number.NaN]) {
          expect(() => new Market().addWorker('w', { maxTilePixels })).toThrow(
            expect.objectContaining({
              code: 'SCHEDULER__INVALID_CONFIG',
              context: { option: 'maxTilePixels', value: maxTilePixels },
            }),
          )
        }
      })
    })

    it('should skip, as underpriced, an inference order whose declared work its benchmark-hours do not pay for', () => {
      // One item of 16 benchmark-hours' FLOPs (9.6e7 FLOP/s a benchmark unit): the least it takes at tolerance 16 is 1.
      const split = { kind: 'inference', items: 1, itemsPerTask: 1, flopsPerItem: 16 * 96_000_000 * 3_600 } as const
      const spec = { kind: 'inference', inputs: ['bafkmodel', 'bafkinputs'], split } as const
      expect(estimatedTaskMs(split, 100)).toBeCloseTo((16 * 3_600_000) / 100)
      expect(decision({ ...spec, benchHoursPerTask: 0 })).toBe('underpriced')
      expect(decision({ ...spec, benchHoursPerTask: 0.99 })).toBe('underpriced')
      expect(decision({ ...spec, benchHoursPerTask: 1.01 })).toBe('bid')
      expect(decision({ ...spec, benchHoursPerTask: 0.99 }, { workTolerance: 17 })).toBe('bid')
    })

    it('should leave inference orders alone, whose work per item the order does not tell', () => {
      const split = { kind: 'inference', items: 1_024, itemsPerTask: 1_024 } as const
      expect(estimatedTaskMs(split, 100)).toBeUndefined()
      expect(decision({ kind: 'inference', inputs: ['bafkmodel', 'bafkinputs'], split, benchHoursPerTask: 0 })).toBe(
        'bid',
      )
    })

    it("should take the orders the simulator's and the demo's markets make", () => {
      // The simulator's tasks (a 64x64 frame at 64 samples) in its validation market, which pays least for them.
      const sim = { ...bigTile, frames: 4, width: 64, height: 64, tileWidth: 64, tileHeight: 64, samples: 64 }
      expect(decision({ split: sim, benchHoursPerTask: (1.5 / 3600) * 100 })).toBe('bid')
      // The demo's 32x32 tiles at 16 samples, a benchmark-hour each.
      const demo = { ...bigTile, width: 128, height: 128, tileWidth: 32, tileHeight: 32, samples: 16 }
      expect(decision({ split: demo, benchHoursPerTask: 1 })).toBe('bid')
    })
  })

  it('should not bid on an order whose window has closed, nor on its own orders, nor twice on one gossip copy', () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 1, tiers: [3] },
      pricing: fixedPrice(1n),
    })
    const deliver = (body: Order, at: number) =>
      worker.handle(
        { kind: 'message', inbound: { from: body.creator, message: { type: 'order', body }, expiresAt: at + 1_000 } },
        at,
      )
    deliver(order, order.bidDeadline)
    expect(drain(worker).map((o) => o.kind === 'event' && o.event.type)).toEqual(['bid:skipped'])
    deliver({ ...order, creator: 'w' }, market.now)
    expect(drain(worker)).toEqual([])
    deliver(order, market.now)
    deliver(order, market.now)
    expect(drain(worker).filter((o) => o.kind === 'publish' && o.message.type === 'bid')).toHaveLength(1)
  })

  it("should run each task with the lowest price it bid on the job, the floor for the task's receipt", () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    const prices = [9n, 12n]
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 1, tiers: [3] },
      pricing: () => prices.shift() ?? 99n,
    })
    const deliver = (message: WireMessage, at: number) =>
      worker.handle({ kind: 'message', inbound: { from: order.creator, message, expiresAt: at + 1_000 } }, at)
    // The order, then a re-opened copy: the second bid is dearer, and the creator may hold either.
    deliver({ type: 'order', body: order }, market.now)
    deliver({ type: 'order', body: { ...order, issuedAt: order.issuedAt + 1 } }, market.now + 1)
    const bids = drain(worker).flatMap((o) =>
      o.kind === 'publish' && o.message.type === 'bid' ? [o.message.body] : [],
    )
    expect(bids.map((b) => b.price)).toEqual([9n, 12n])
    const taskId = splitTasks(order)[0]?.taskId as string
    const award = {
      jobId,
      creator: order.creator,
      worker: 'w',
      taskIds: [taskId],
      price: 12n,
      leaseMs: 60_000,
      heartbeatMs: 5_000,
      issuedAt: market.now + 2,
    }
    deliver({ type: 'award', body: award }, market.now + 2)
    const runs = drain(worker).filter((o) => o.kind === 'run')
    expect(runs).toEqual([expect.objectContaining({ task: expect.objectContaining({ taskId }), minPrice: 9n })])
    // And with the time the task is paid for at this worker's score (1): the order's half benchmark-hour, in ms.
    expect(runs[0]).toMatchObject({ paidMs: 0.5 * 3_600_000 })
  })

  it('should take an award at the price of any bid it made on the job, and refuse one below them all', () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    const prices = [10n, 15n]
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 4, tiers: [3] },
      pricing: () => prices.shift() ?? 99n,
    })
    const deliver = (message: WireMessage, at: number) =>
      worker.handle({ kind: 'message', inbound: { from: order.creator, message, expiresAt: at + 1_000 } }, at)
    deliver({ type: 'order', body: order }, market.now)
    deliver({ type: 'order', body: { ...order, issuedAt: order.issuedAt + 1 } }, market.now + 1)
    drain(worker)
    const [first, second] = splitTasks(order).map((t) => t.taskId) as [string, string]
    const award = (taskId: string, price: bigint) => ({
      type: 'award' as const,
      body: {
        jobId,
        creator: order.creator,
        worker: 'w',
        taskIds: [taskId],
        price,
        leaseMs: 60_000,
        heartbeatMs: 5_000,
        issuedAt: market.now + 2,
      },
    })
    // The creator took the first bid, which reached it after the second was made (a window's bid delivered late).
    expect(() => deliver(award(first, 10n), market.now + 2)).not.toThrow()
    expect(drain(worker).filter((o) => o.kind === 'run')).toHaveLength(1)
    expect(() => deliver(award(second, 9n), market.now + 2)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__PRICE_MISMATCH', context: expect.objectContaining({ bid: 10n }) }),
    )
  })

  it('should run again a task it finished when it is awarded again, and refuse one it still holds', () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 4, tiers: [3] },
      pricing: fixedPrice(10n),
    })
    const deliver = (message: WireMessage) =>
      worker.handle({ kind: 'message', inbound: { from: order.creator, message, expiresAt: 1e12 } }, market.now)
    deliver({ type: 'order', body: order })
    const taskId = splitTasks(order)[0]?.taskId as string
    const award: WireMessage = {
      type: 'award',
      body: {
        jobId,
        creator: order.creator,
        worker: 'w',
        taskIds: [taskId],
        price: 10n,
        leaseMs: 60_000,
        heartbeatMs: 5_000,
        issuedAt: market.now,
      },
    }
    deliver(award)
    expect(() => deliver(award)).toThrow(expect.objectContaining({ code: 'SCHEDULER__DUPLICATE_AWARD' }))
    const output = { root: new Uint8Array(32), chunks: 1, output: 'bafkout', tolerance: 'bitwise', computeMs: 5 }
    worker.handle({ kind: 'task:finished', taskId, output } as const, market.now)
    drain(worker)
    // Its Result never reached the creator, which awards the task again: it runs it again.
    deliver(award)
    expect(drain(worker).filter((o) => o.kind === 'run')).toEqual([
      expect.objectContaining({ task: expect.objectContaining({ taskId }) }),
    ])
  })

  it('should forget a bid that was never answered', () => {
    const market = new Market()
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 1, tiers: [3] },
      pricing: fixedPrice(1n),
      awardGraceMs: 500,
    })
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    worker.handle(
      { kind: 'message', inbound: { from: 'creator', message: { type: 'order', body: order }, expiresAt: 1e12 } },
      market.now,
    )
    expect(worker.jobCount).toBe(1)
    worker.handleTimeout(order.bidDeadline + 499)
    expect(worker.jobCount).toBe(1)
    worker.handleTimeout(order.bidDeadline + 500)
    expect(worker.jobCount).toBe(0)
    // Nothing stays armed for the forgotten bid (no deadline timer an hour out).
    expect(worker.pollTimeout()).toBeUndefined()
  })

  it('should forget a bid that won nothing DEFAULT_AWARD_GRACE_MS after its window by default, or keep it until the deadline', () => {
    const market = new Market()
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    const worker = (awardGraceMs?: number) => {
      const w = new WorkerMachine({
        self: 'w',
        profile: { memoryMb: 8_192, features: ['shader-f16'], score: 1, slots: 1, tiers: [3] },
        pricing: fixedPrice(1n),
        ...(awardGraceMs === undefined ? {} : { awardGraceMs }),
      })
      w.handle(
        { kind: 'message', inbound: { from: 'creator', message: { type: 'order', body: order }, expiresAt: 1e12 } },
        market.now,
      )
      return w
    }
    const unconfigured = worker()
    expect(unconfigured.pollTimeout()).toBe(order.bidDeadline + DEFAULT_AWARD_GRACE_MS)
    unconfigured.handleTimeout(order.bidDeadline + DEFAULT_AWARD_GRACE_MS - 1)
    expect(unconfigured.jobCount).toBe(1)
    unconfigured.handleTimeout(order.bidDeadline + DEFAULT_AWARD_GRACE_MS)
    expect(unconfigured.jobCount).toBe(0)
    expect(unconfigured.pollTimeout()).toBeUndefined()

    const keeping = worker(Number.POSITIVE_INFINITY)
    expect(keeping.pollTimeout()).toBe(order.deadline)
    keeping.handleTimeout(order.deadline - 1)
    expect(keeping.jobCount).toBe(1)
    expect(() => worker(-1)).toThrow(expect.objectContaining({ code: 'SCHEDULER__INVALID_CONFIG' }))
  })

  it('should forget a leased job DEFAULT_AWARD_GRACE_MS after its last task ended, not at its deadline', () => {
    // No re-opened window: a fresh bid would stand longer.
    const market = new Market({ maxReopens: 0 })
    const worker = market.addWorker('w')
    // A month-long job of one task: kept until its deadline, 4,096 such would fill MAX_WORKER_JOBS.
    const oneTile = { ...renderSpec().split, width: 32, height: 32 } as JobSpec['split']
    const jobId = market.submit(renderSpec({ minBids: 1, split: oneTile, timeoutMs: MAX_JOB_TIMEOUT_MS }))
    market.advance(60_000)
    market.finishAll()
    const finishedAt = market.now
    expect(market.eventsOf('job:completed')).toEqual([expect.objectContaining({ jobId })])
    market.advanceTo(finishedAt + DEFAULT_AWARD_GRACE_MS - 1)
    expect(worker.jobCount).toBe(1)
    market.advanceTo(finishedAt + DEFAULT_AWARD_GRACE_MS)
    expect(worker.jobCount).toBe(0)
    // One that gave its only task back waits alike: the creator may award it another.
    const second = market.submit(renderSpec({ minBids: 1, timeoutMs: MAX_JOB_TIMEOUT_MS }))
    market.advance(60_000)
    for (const taskId of [...(market.running.get('w')?.keys() ?? [])].slice(1)) market.finish('w', taskId)
    const failed = [...(market.running.get('w')?.keys() ?? [])][0] as string
    market.running.get('w')?.delete(failed)
    worker.handle({ kind: 'task:failed', taskId: failed, reason: 'device lost' }, market.now)
    market.flush()
    expect(market.creator.job(second)?.pending).toBe(1)
    const failedAt = market.now
    market.advanceTo(failedAt + DEFAULT_AWARD_GRACE_MS - 1)
    expect(worker.jobCount).toBe(1)
    market.advanceTo(failedAt + DEFAULT_AWARD_GRACE_MS)
    expect(worker.jobCount).toBe(0)
    expect(market.rejections).toEqual([])
  })

  it('should keep a finished lease until the deadline when it keeps lost bids so (awardGraceMs Infinity)', () => {
    const market = new Market()
    const worker = market.addWorker('w', { awardGraceMs: Number.POSITIVE_INFINITY })
    const jobId = market.submit(renderSpec({ minBids: 1, timeoutMs: 3_600_000 }))
    market.finishAll()
    const { deadline } = orderOf(market, jobId)
    market.advanceTo(deadline - 1)
    expect(worker.jobCount).toBe(1)
    market.advanceTo(deadline)
    expect(worker.jobCount).toBe(0)
  })

  it('should skip, as too long, an order whose deadline is further ahead than any job runs', () => {
    const market = new Market()
    const { jobId: _, ...content } = orderOf(market, market.submit(renderSpec({ minBids: 5 })))
    const decide = (deadline: number): string => {
      const worker = new WorkerMachine({
        self: 'w',
        profile: { memoryMb: 8_192, features: ['shader-f16'], score: 100, slots: 1, tiers: [3] },
        pricing: fixedPrice(1n),
      })
      const body = { ...content, deadline, jobId: jobIdOf({ ...content, deadline }) }
      worker.handle(
        { kind: 'message', inbound: { from: body.creator, message: { type: 'order', body }, expiresAt: 1e12 } },
        market.now,
      )
      const events = drain(worker).flatMap((o) => (o.kind === 'event' ? [o.event] : []))
      const skipped = events.find((e) => e.type === 'bid:skipped')
      return skipped?.type === 'bid:skipped' ? skipped.reason : `bid ${worker.jobCount}`
    }
    expect(decide(market.now + MAX_DEADLINE_AHEAD_MS)).toBe('bid 1')
    expect(decide(market.now + MAX_DEADLINE_AHEAD_MS + 1)).toBe('tooLong')
    expect(MAX_DEADLINE_AHEAD_MS).toBeGreaterThan(MAX_JOB_TIMEOUT_MS)
  })

  it('should gossip its bid by default, and send it straight to the creator when asked to', () => {
    const market = new Market()
    const gossiping = market.addWorker('g')
    const sealed = market.addWorker('s', { bidChannel: 'direct' })
    const jobId = market.submit(renderSpec({ minBids: 5 }))
    const order = orderOf(market, jobId)
    for (const worker of [gossiping, sealed]) {
      worker.handle(
        {
          kind: 'message',
          inbound: {
            from: 'creator',
            message: { type: 'order', body: { ...order, issuedAt: order.issuedAt + 1 } },
            expiresAt: 1e12,
          },
        },
        market.now,
      )
    }
    const bidOf = (worker: WorkerMachine) =>
      drain(worker).find((o) => (o.kind === 'publish' || o.kind === 'send') && o.message.type === 'bid')
    expect(bidOf(gossiping)).toMatchObject({ kind: 'publish', topic: '/tessera/1/bids' })
    expect(bidOf(sealed)).toMatchObject({ kind: 'send', to: 'creator' })
    expect(
      market
        .eventsOf('bid:received')
        .map((e) => e.worker)
        .sort(),
    ).toEqual(['g', 's'])
  })

  it('should refuse reports for tasks it is not running', () => {
    const worker = new WorkerMachine({
      self: 'w',
      profile: { memoryMb: 1, features: [], score: 1, slots: 1, tiers: [3] },
      pricing: fixedPrice(1n),
    })
    expect(() =>
      worker.handle(
        {
          kind: 'task:finished',
          taskId: 'j/b0-1',
          output: { root: new Uint8Array(32), chunks: 1, output: 'x', tolerance: 'bitwise', computeMs: 0 },
        },
        0,
      ),
    ).toThrow(expect.objectContaining({ code: 'SCHEDULER__TASK_NOT_RUNNING' }))
    expect(() => worker.handle({ kind: 'task:failed', taskId: 'j/b0-1' }, 0)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__TASK_NOT_RUNNING' }),
    )
    expect(() => worker.handle({ kind: 'job:withdraw', jobId: 'j' }, 0)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__ORDER_NOT_FOUND' }),
    )
  })
})
