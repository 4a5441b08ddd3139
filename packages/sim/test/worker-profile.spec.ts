import { seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LOGNORMALS, MAX_WORKER_AMOUNT } from '../src/constants.js'
import { drawProfile } from '../src/models/gpu.js'
import { runScenario } from '../src/run.js'
import { validateScenario } from '../src/scenario/load.js'
import { invalidPathOf as pathOf, minimal } from './helpers.js'

describe('worker prices and stakes', () => {
  it("should refuse a Sybil's fractional stake, which no ledger holds", () => {
    const s = minimal()
    s.adversaries = { sybils: { identities: 3, stake: 0.5 } }
    expect(pathOf(() => validateScenario(s))).toBe('/adversaries/sybils/stake')
  })

  it('should refuse price and stake medians, and spam prices, past what a worker may ask or bond', () => {
    const price = minimal()
    price.workers.price = { median: 1e20 }
    expect(pathOf(() => validateScenario(price))).toBe('/workers/price/median')
    const stake = minimal()
    stake.workers.stake = { median: 1e20 }
    expect(pathOf(() => validateScenario(stake))).toBe('/workers/stake/median')
    const spam = minimal()
    spam.adversaries = { bidSpammers: { count: 2, priceFactor: 1e300 } }
    expect(pathOf(() => validateScenario(spam))).toBe('/adversaries/bidSpammers/priceFactor')
    const sybil = minimal()
    sybil.adversaries = { sybils: { identities: 3, stake: 1e300 } }
    expect(pathOf(() => validateScenario(sybil))).toBe('/adversaries/sybils/stake')
  })

  it("should cut a lognormal tail's prices and stakes to whole amounts the machines take", () => {
    const rng = seededRng(1)
    const wide = { median: MAX_WORKER_AMOUNT / 10, sigma: 5 }
    const d = { ...DEFAULT_LOGNORMALS, price: wide, stake: wide, regionWeights: [1] }
    const drawn = Array.from({ length: 200 }, () => drawProfile(rng, d))
    for (const { price, stake } of drawn) {
      expect(Number.isSafeInteger(price) && price >= 1, String(price)).toBe(true)
      expect(Number.isSafeInteger(stake) && stake >= 0, String(stake)).toBe(true)
    }
    expect(drawn.some((p) => p.price === MAX_WORKER_AMOUNT)).toBe(true)
  })

  it('should run a market at the bounds without a machine refusing its configuration', async () => {
    const s = minimal()
    s.workers = { count: 8, price: { median: MAX_WORKER_AMOUNT, sigma: 5 }, stake: { median: MAX_WORKER_AMOUNT } }
    s.adversaries = { sybils: { identities: 2, stake: MAX_WORKER_AMOUNT }, bidSpammers: { count: 2, priceFactor: 1 } }
    const { report } = await runScenario(validateScenario(s), { seed: 1 })
    expect(report.summary.peers.workers).toBe(12)
  })
})

describe('lognormal defaults', () => {
  it("should give a field named by its median alone the field's documented sigma", () => {
    const s = minimal()
    s.network.bandwidthMbps = { median: 50 }
    s.workers = {
      count: 4,
      score: { median: 500 },
      memoryMb: { median: 8192 },
      price: { median: 80 },
      stake: { median: 500 },
    }
    s.jobs.benchHoursPerTask = { median: 3 }
    const v = validateScenario(s)
    expect(v.network.bandwidthMbps).toEqual({ median: 50, sigma: DEFAULT_LOGNORMALS.bandwidthMbps.sigma })
    expect(v.workers.score).toEqual({ median: 500, sigma: 0.5 })
    expect(v.workers.memoryMb).toEqual({ median: 8192, sigma: 0.4 })
    expect(v.workers.price).toEqual({ median: 80, sigma: 0.2 })
    expect(v.workers.stake).toEqual({ median: 500, sigma: 0.5 })
    expect(v.jobs.benchHoursPerTask).toEqual({ median: 3, sigma: 0.5 })
  })

  it('should keep a sigma given as 0', () => {
    const s = minimal()
    s.workers.score = { median: 500, sigma: 0 }
    expect(validateScenario(s).workers.score).toEqual({ median: 500, sigma: 0 })
  })
})
