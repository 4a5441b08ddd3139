import type { Order } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { MARKET_PRUNE_INTERVAL_MS, MarketView } from '../src/index.js'
import { capacity, renderSpec } from './harness.js'

/** What the view reads of an order: its id, bid window, split (4 tiles here) and whether it is cancelled. */
function order(jobId: string, bidDeadline: number, cancelled?: boolean): Order {
  return { jobId, bidDeadline, split: renderSpec().split, cancelled } as unknown as Order
}

describe('MarketView orders', () => {
  it("should count an order's tasks once however many copies arrive, and follow a re-opened window", () => {
    const market = new MarketView()
    market.noteOrder(order('j1', 1_000), 0)
    market.noteOrder(order('j1', 1_000), 10)
    market.noteOrder(order('j2', 500), 0)
    expect(market.openOrderCount).toBe(2)
    expect(market.depth(100).openTasks).toBe(8)
    // j2's window has closed; a copy of j1 with a later window re-opens it.
    market.noteOrder(order('j1', 3_000), 900)
    market.noteOrder(order('j1', 3_000), 950)
    expect(market.depth(2_000).openTasks).toBe(4)
    expect(market.openOrderCount).toBe(1)
    market.noteOrder(order('j1', 3_000, true), 2_100)
    expect(market.openOrderCount).toBe(0)
    expect(market.depth(3_200).openTasks).toBe(0)
  })
})

describe('MarketView capacity records', () => {
  it('should forget peers that stopped announcing as it is fed, long before its cap', () => {
    const market = new MarketView({ retainMs: 1_000 })
    for (let i = 0; i < 100; i++) market.noteCapacity(capacity(`gone-${i}`), 10_000, 0)
    market.noteCapacity(capacity('stays'), 10_000, 0)
    expect(market.recordCount).toBe(101)
    // Expired and past their retention, but nothing was fed since the last prune: still held, still visible.
    market.noteCapacity(capacity('stays', { issuedAt: 5_000 }), MARKET_PRUNE_INTERVAL_MS + 10_000, 5_000)
    expect(market.recordCount).toBe(101)
    expect(market.capacity('gone-0')?.expiresAt).toBe(10_000)
    // The first record fed once a prune is due drops every peer whose record expired over `retainMs` ago.
    market.noteCapacity(
      capacity('new', { issuedAt: MARKET_PRUNE_INTERVAL_MS }),
      2 * MARKET_PRUNE_INTERVAL_MS,
      MARKET_PRUNE_INTERVAL_MS,
    )
    expect([...market.records()].map((e) => e.record.peer).sort()).toEqual(['new', 'stays'])
    expect(market.capacity('gone-0')).toBeUndefined()
  })
})
