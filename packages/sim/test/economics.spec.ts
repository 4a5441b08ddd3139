import { describe, expect, it } from 'vitest'
import { BurnMintModel } from '../src/economics/burn-mint.js'
import { gini, type LorenzPoint, lorenz } from '../src/economics/gini.js'
import { COL, MetricsRecorder } from '../src/metrics/recorder.js'
import { Economy, type Earner } from '../src/world/economy.js'
import { smallScenario } from './helpers.js'

describe('gini', () => {
  it('should be 0 for equal earnings and approach 1 when one earns everything', () => {
    expect(gini([5, 5, 5, 5])).toBe(0)
    expect(gini([0, 0, 0, 10])).toBeCloseTo(0.75, 10)
    expect(gini([])).toBe(0)
    expect(gini([0, 0])).toBe(0)
  })

  it('should match the mean-difference definition', () => {
    const xs = [1, 3, 7, 2, 9, 4]
    let sum = 0
    for (const a of xs) for (const b of xs) sum += Math.abs(a - b)
    const mean = xs.reduce((a, b) => a + b) / xs.length
    expect(gini(xs)).toBeCloseTo(sum / (2 * xs.length * xs.length * mean), 12)
  })

  it('should draw a Lorenz curve from (0,0) to (1,1) below the diagonal', () => {
    const curve = lorenz([1, 2, 3, 4, 10], 5)
    expect(curve[0]).toEqual({ population: 0, share: 0 })
    expect(curve[5]).toEqual({ population: 1, share: 1 })
    for (const p of curve) expect(p.share).toBeLessThanOrEqual(p.population + 1e-12)
  })

  it('should keep the Lorenz curve of a few earners on or below equality, straight between earners', () => {
    for (const values of [[5], [1, 1], [1, 1, 1], [0, 10]]) {
      for (const p of lorenz(values))
        expect(p.share, `${values} at ${p.population}`).toBeLessThanOrEqual(p.population + 1e-12)
    }
    for (const p of lorenz([2, 2])) expect(p.share).toBeCloseTo(p.population, 12)
    // Halfway through the richer of two earners, who holds everything: half of its earnings.
    expect(lorenz([0, 10], 4)[3]).toEqual({ population: 0.75, share: 0.5 })
  })

  it('should draw the Lorenz curve whose area the Gini coefficient measures', () => {
    const xs = [1, 3, 7, 2, 9, 4]
    const curve = lorenz(xs, 60)
    let area = 0
    for (let k = 1; k < curve.length; k++) {
      const [a, b] = [curve[k - 1], curve[k]] as [LorenzPoint, LorenzPoint]
      area += ((b.population - a.population) * (a.share + b.share)) / 2
    }
    expect(1 - 2 * area).toBeCloseTo(gini(xs), 12)
  })
})

describe('BurnMintModel', () => {
  const model = () =>
    new BurnMintModel({
      epochMs: 3_600_000,
      emissionPerEpoch: 1000,
      initialSupply: 1_000_000,
      usdPerTokenUnit: 0.01,
      price: [
        { atMs: 0, usd: 1 },
        { atMs: 10 * 3_600_000, usd: 2 },
      ],
    })

  it('should interpolate the price series and hold it flat beyond its ends', () => {
    const m = model()
    expect(m.priceAt(0)).toBe(1)
    expect(m.priceAt(5 * 3_600_000)).toBe(1.5)
    expect(m.priceAt(20 * 3_600_000)).toBe(2)
  })

  it('should burn the USD value of payments at the current price and mint the emission pro rata to work', () => {
    const m = model()
    // 10,000 token units of quoted price at $0.01 each is $100; at $1 per token that burns 100 tokens.
    expect(m.pay(10_000, 0)).toBe(100)
    m.work(1, 3)
    m.work(2, 1)
    const epoch = m.closeEpoch(3_600_000)
    expect(epoch.burned).toBe(100)
    expect(epoch.minted).toBe(1000)
    expect(epoch.supply).toBe(1_000_000 + 1000 - 100)
    expect(m.mintedTo(1)).toBe(750)
    expect(m.mintedTo(2)).toBe(250)
  })

  it('should burn fewer tokens for the same USD when the token price is higher', () => {
    const m = model()
    expect(m.pay(10_000, 10 * 3_600_000)).toBe(50)
  })

  it('should mint the share of the emission an epoch closed early lasted, and conserve tokens', () => {
    const m = model()
    m.pay(10_000, 0)
    m.work(1, 1)
    m.closeEpoch(3_600_000)
    expect(m.openedAtMs).toBe(3_600_000)
    m.pay(20_000, 3_600_000)
    m.work(1, 1)
    expect(m.hasOpenFlows).toBe(true)
    // The run ends 15 minutes into the second epoch: a quarter of the emission.
    const last = m.closeEpoch(3_600_000 + 900_000)
    expect(last.minted).toBe(250)
    // $200 at the price an hour in, $1.10.
    expect(last.burned).toBeCloseTo(200 / 1.1, 9)
    expect(m.hasOpenFlows).toBe(false)
    expect(m.supply).toBeCloseTo(1_000_000 + 1000 + 250 - 100 - 200 / 1.1, 6)
  })

  it('should burn no token that is not in circulation, and count what payments would have burned beyond it', () => {
    // A supply of 50 tokens at $1: $110 of payments find only 50 to burn; the emission minted at the close is the
    // next epoch's to burn.
    const m = new BurnMintModel({
      epochMs: 3_600_000,
      emissionPerEpoch: 1000,
      initialSupply: 50,
      usdPerTokenUnit: 0.01,
      price: [{ atMs: 0, usd: 1 }],
    })
    expect(m.pay(3_000, 0)).toBe(30)
    expect(m.pay(7_000, 0)).toBe(20)
    expect(m.pay(1_000, 0)).toBe(0)
    m.work(1, 1)
    const first = m.closeEpoch(3_600_000)
    expect(first).toMatchObject({ usd: 110, burned: 50, unburned: 60, minted: 1000, supply: 1000 })
    expect(m.pay(200_000, 3_600_000)).toBe(1000)
    const second = m.closeEpoch(7_200_000)
    expect(second).toMatchObject({ burned: 1000, unburned: 1000, minted: 0, supply: 0 })
    expect(m.supply).toBe(0)
  })

  it('should mint nothing in an epoch without work', () => {
    const m = model()
    expect(m.closeEpoch(3_600_000).minted).toBe(0)
    expect(m.supply).toBe(1_000_000)
  })
})

describe('Economy under burn-and-mint', () => {
  it('should burn what the creator pays less the protocol fee, which the treasury keeps', () => {
    // $0.01 per quoted unit at $1 per token: 100 quoted units are worth one token.
    const bme = { emissionPerEpoch: 0, usdPerTokenUnit: 0.01, price: [{ at: 0, usd: 1 }] }
    const scenario = smallScenario({ economics: { feeBps: 100, bme } })
    const metrics = new MetricsRecorder(scenario.metricsIntervalMs)
    const economy = new Economy(scenario, metrics)
    const worker: Earner = { index: economy.nextIndex, role: 'honest', wallet: 'w', stake: 0 }
    economy.register(worker)
    economy.burnForTask(worker, 10_000n, 1, true, 0)
    expect(economy.paid).toBe(10_000n)
    expect(economy.fees).toBe(100n)
    // The rest, 9,900 quoted units, is burned: 99 tokens, so fee and burn add up to the payment.
    expect(metrics.total(COL.burned)).toBeCloseTo(99, 9)
    expect(metrics.total(COL.burned) * 100 + Number(economy.fees)).toBeCloseTo(Number(economy.paid), 6)
  })
})
