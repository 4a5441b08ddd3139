import { describe, expect, it } from 'vitest'
import { demandPrice, expectedCost, fixedPrice, type PricingContext } from '../src/index.js'
import { capacity, Market, renderSpec } from './harness.js'

const context = (utilisation: number, depth: number): PricingContext =>
  ({ order: undefined as never, utilisation, depth, now: 0 }) satisfies PricingContext

describe('pricing', () => {
  it('should ask a fixed price whatever the load', () => {
    const price = fixedPrice(42n)
    expect([price(context(0, 0)), price(context(1, 10))]).toEqual([42n, 42n])
    expect(() => fixedPrice(-1n)).toThrow(
      expect.objectContaining({ code: 'SCHEDULER__INVALID_CONFIG', context: { option: 'price', value: -1n } }),
    )
  })

  it('should refuse demand pricing options out of range with a coded error naming the option', () => {
    const cases = [
      [{ base: 2n ** 64n }, 'base'],
      [{ base: 1n, utilisationWeight: -1 }, 'utilisationWeight'],
      [{ base: 1n, depthWeight: Number.NaN }, 'depthWeight'],
      [{ base: 1n, maxMultiplier: 0.5 }, 'maxMultiplier'],
    ] as const
    for (const [init, option] of cases) {
      expect(() => demandPrice(init)).toThrow(
        expect.objectContaining({ code: 'SCHEDULER__INVALID_CONFIG', context: expect.objectContaining({ option }) }),
      )
    }
  })

  it('should raise a demand price with utilisation and market depth, within its cap', () => {
    const price = demandPrice({ base: 1_000n, utilisationWeight: 1, depthWeight: 0.5, maxMultiplier: 3 })
    expect(price(context(0, 0))).toBe(1_000n)
    expect(price(context(0, 1))).toBe(1_000n)
    expect(price(context(0.5, 0))).toBe(1_500n)
    expect(price(context(1, 0))).toBe(2_000n)
    expect(price(context(0, 3))).toBe(2_000n)
    expect(price(context(1, 3))).toBe(3_000n)
    expect(price(context(5, 50))).toBe(3_000n)
    let last = 0n
    for (let u = 0; u <= 1; u += 0.125) {
      for (let d = 0; d <= 4; d += 0.5) {
        const p = price(context(u, d))
        expect(p).toBeGreaterThanOrEqual(price(context(Math.max(0, u - 0.125), d)))
        expect(p).toBeGreaterThanOrEqual(price(context(u, Math.max(0, d - 0.5))))
        last = p
      }
    }
    expect(last).toBe(3_000n)
  })

  it('should compute expected cost exactly in micro-benchmark-hours', () => {
    expect(expectedCost(1_000_000n, 0.5)).toBe(500_000n)
    expect(expectedCost(3n, 1 / 3)).toBe(0n)
    expect(expectedCost(2n ** 60n, 2)).toBe(2n ** 61n)
  })

  it('should let a worker bid its demand price, higher when the market is deep', () => {
    const shallow = new Market()
    shallow.addWorker('w', { pricing: demandPrice({ base: 10n, depthWeight: 1 }) })
    shallow.submit(renderSpec({ minBids: 1, maxPrice: 1_000n }))
    const slack = shallow.eventsOf('bid:sent')[0]?.price

    const deep = new Market()
    const worker = deep.addWorker('w', { pricing: demandPrice({ base: 10n, depthWeight: 1 }) })
    // One other peer with one free slot, and 3 orders of 4 tasks seeking bids: depth 12 (then ours makes 16).
    worker.handle(
      {
        kind: 'message',
        inbound: { from: 'x', message: { type: 'capacity', body: capacity('x', { slots: 1 }) }, expiresAt: 1e12 },
      },
      deep.now,
    )
    for (const [i, creator] of ['c1', 'c2', 'c3'].entries()) {
      const order = { ...renderSpecOrder(creator, `job${i}`, deep.now) }
      worker.handle(
        { kind: 'message', inbound: { from: creator, message: { type: 'order', body: order }, expiresAt: 1e12 } },
        deep.now,
      )
    }
    while (worker.pollOutput() !== undefined);
    deep.advance(1_000)
    deep.submit(renderSpec({ minBids: 1, maxPrice: 1_000n }))
    const busy = deep.eventsOf('bid:sent').at(-1)?.price
    expect(slack).toBe(10n)
    expect(busy).toBeGreaterThan(10n)
  })

  it('should not bid above the order’s maximum price', () => {
    const market = new Market()
    market.addWorker('w', { pricing: fixedPrice(101n) })
    market.submit(renderSpec({ maxPrice: 100n }))
    expect(market.eventsOf('bid:skipped')).toEqual([expect.objectContaining({ reason: 'price' })])
    expect(market.eventsOf('bid:received')).toHaveLength(0)
  })
})

function renderSpecOrder(creator: string, jobId: string, now: number) {
  return {
    jobId,
    creator,
    nonce: '0000000000000000',
    kind: 'render' as const,
    inputs: ['bafk'],
    split: {
      kind: 'render' as const,
      firstFrame: 0,
      frames: 1,
      width: 64,
      height: 64,
      tileWidth: 32,
      tileHeight: 32,
      samples: 1,
    },
    tier: 3 as const,
    maxPrice: 1n,
    benchHoursPerTask: 1,
    requirements: { features: ['nope'], minMemoryMb: 0 },
    bidDeadline: now + 60_000,
    minBids: 1,
    deadline: now + 120_000,
    verification: { detect: 0.9, withinTasks: 10, cheatRate: 0.1, maxOverhead: 0.1 },
    escrow: '',
    issuedAt: now,
  }
}
