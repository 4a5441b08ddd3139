import { describe, expect, it } from 'vitest'
import type { Order, RenderSplit } from '@tessera/core'
import { diagnoseOrder, TierPolicy } from '../src/index.js'
import { capacity, Market, renderSpec } from './harness.js'

describe('why no bid', () => {
  it('should count the capacity records excluded for each reason when an order cannot match', () => {
    const market = new Market({ tiers: { minStake: 10n }, maxReopens: 0 })
    const now = market.now
    market.feedCapacity(capacity('ok'))
    market.feedCapacity(capacity('gone'), now)
    market.feedCapacity(capacity('gone2', { issuedAt: 1 }), now - 1)
    market.feedCapacity(capacity('unstaked', { stake: 9n }))
    market.feedCapacity(capacity('no-f16', { features: [] }))
    market.feedCapacity(capacity('small', { memoryMb: 1_024 }))
    market.feedCapacity(capacity('dear', { price: 101n }))
    market.feedCapacity(capacity('dear2', { price: 500n }))
    market.feedCapacity(capacity('full', { busy: 4 }))
    // An older record of `ok` arriving late does not replace the newer one.
    market.feedCapacity(capacity('small', { memoryMb: 99_999, issuedAt: -1 }))
    const jobId = market.submit(
      renderSpec({ maxPrice: 100n, minBids: 2, requirements: { features: ['shader-f16'], minMemoryMb: 4_096 } }),
    )
    const expected = {
      jobId,
      seen: 9,
      eligible: 1,
      excluded: { expired: 2, tier: 1, features: 1, memory: 1, tooLarge: 0, underpriced: 0, price: 2, busy: 1 },
      bids: 0,
      needed: 2,
    }
    expect(market.creator.diagnose(jobId)).toMatchObject(expected)
    market.advance(1_000)
    const unmatched = market.eventsOf('order:unmatched')
    expect(unmatched).toEqual([expect.objectContaining({ jobId, bids: 0, needed: 2 })])
    expect(market.creator.diagnose(jobId)).toMatchObject(expected)
  })

  it('should say an order that pays for a fraction of its work draws no bid as underpriced, whoever is seen', () => {
    const market = new Market({ maxReopens: 0 })
    market.feedCapacity(capacity('fast', { score: 10_000 }))
    market.feedCapacity(capacity('slow', { score: 1 }))
    market.feedCapacity(capacity('small', { memoryMb: 1_024 }))
    const jobId = market.submit(
      renderSpec({ benchHoursPerTask: 0, requirements: { features: [], minMemoryMb: 4_096 } }),
    )
    expect(market.creator.diagnose(jobId)).toMatchObject({
      seen: 3,
      eligible: 0,
      excluded: { memory: 1, underpriced: 2 },
    })
  })

  it('should say a render order whose tile passes MAX_TILE_PIXELS draws no bid as too large, whoever is seen', () => {
    const market = new Market({ maxReopens: 0 })
    market.feedCapacity(capacity('fast', { score: 10_000 }))
    market.feedCapacity(capacity('small', { memoryMb: 1_024 }))
    const jobId = market.submit(renderSpec({ requirements: { features: [], minMemoryMb: 4_096 } }))
    const order = market.creator.job(jobId)?.order as Order
    // Creators keep to the bound, but the wire takes an order of another's with one 4096x4096 tile.
    const split = { ...(order.split as RenderSplit), width: 4096, height: 4096, tileWidth: 4096, tileHeight: 4096 }
    const diagnostic = diagnoseOrder(
      { ...order, split, benchHoursPerTask: 1_000 },
      market.creator.market.records(),
      new TierPolicy(),
      market.now,
      0,
    )
    expect(diagnostic).toMatchObject({ seen: 2, eligible: 0, excluded: { memory: 1, tooLarge: 1, underpriced: 0 } })
  })

  it('should report bids received against bids needed', () => {
    const market = new Market({ maxReopens: 0 })
    market.addWorker('w1')
    const jobId = market.submit(renderSpec({ minBids: 3 }))
    market.advance(1_000)
    expect(market.eventsOf('order:unmatched')).toEqual([expect.objectContaining({ jobId, bids: 1, needed: 3 })])
    expect(market.creator.diagnose(jobId)).toMatchObject({ jobId, bids: 1, needed: 3 })
  })
})
