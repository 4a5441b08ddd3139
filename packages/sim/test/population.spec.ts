import { describe, expect, it } from 'vitest'
import { MAX_PEERS } from '../src/constants.js'
import { runScenario } from '../src/run.js'
import { validateScenario } from '../src/scenario/load.js'
import { minimal, refusalOf } from './helpers.js'

function refusal(s: Record<string, unknown>): { code: string; path: unknown } {
  return refusalOf(() => validateScenario(s))
}

describe('population', () => {
  it('should refuse a join rate that would bring more than MAX_PEERS peers over the run', () => {
    const s = minimal()
    s.churn = { joinsPerHour: 1e12 }
    expect(refusal(s)).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/churn/joinsPerHour' })
    // Two hours: 4 workers and 1 creator leave room for MAX_PEERS - 5 joins.
    s.churn = { joinsPerHour: (MAX_PEERS - 5) / 2 }
    expect(validateScenario(s).churn.joinsPerHour).toBe((MAX_PEERS - 5) / 2)
    s.churn = { joinsPerHour: (MAX_PEERS - 4) / 2 }
    expect(refusal(s).path).toBe('/churn/joinsPerHour')
  })

  it('should refuse peers that add up past MAX_PEERS before anyone joins', () => {
    const s = minimal()
    s.workers.count = MAX_PEERS
    expect(refusal(s)).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/workers/count' })
    s.workers.count = MAX_PEERS - 1
    expect(validateScenario(s).workers.count).toBe(MAX_PEERS - 1)
  })

  it('should refuse adversary kinds that do not fit among the workers, naming the one left out', () => {
    const s = minimal()
    s.workers.count = 10
    s.adversaries = { colluders: { count: 5 }, cheaters: { fraction: 0.5 }, lazy: { fraction: 0.5 } }
    expect(refusal(s)).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/adversaries/lazy/fraction' })
    s.adversaries = { colluders: { count: 5 }, cheaters: { fraction: 0.6 } }
    expect(refusal(s).path).toBe('/adversaries/cheaters/fraction')
    // Fractions that sum to one but round up past the workers.
    s.workers.count = 3
    s.adversaries = { cheaters: { fraction: 0.5 }, lazy: { fraction: 0.5 } }
    expect(refusal(s).path).toBe('/adversaries/lazy/fraction')
  })

  it('should give every adversary kind that fits its workers', async () => {
    const s = minimal()
    s.workers.count = 10
    s.adversaries = { colluders: { count: 2 }, cheaters: { fraction: 0.4 }, lazy: { fraction: 0.4 } }
    const { report } = await runScenario(validateScenario(s), { seed: 1 })
    const workers = Object.fromEntries(Object.entries(report.summary.roles).map(([role, r]) => [role, r.workers]))
    expect(workers).toMatchObject({ honest: 0, colluder: 2, cheater: 4, lazy: 4 })
  })

  it('should refuse a creator balance, which nothing reads', () => {
    const s = minimal()
    s.creators = { count: 1, balance: 1e6 }
    expect(refusal(s)).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/creators/balance' })
  })
})
