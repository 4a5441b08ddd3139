import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import { validateScenario } from '../src/scenario/load.js'
import { minimal } from './helpers.js'

/** A scenario whose jobs may arrive until the horizon, with a row per ten minutes to see when they did. */
function fullWindow(arrival: 'poisson' | 'uniform', count: number) {
  return validateScenario({
    ...minimal(),
    metricsInterval: '10m',
    jobs: {
      count,
      arrival,
      submitWindow: '2h',
      tasks: { min: 1, max: 1 },
      benchHoursPerTask: { median: 0.1, sigma: 0 },
    },
  })
}

describe('job arrivals', () => {
  it('should order every job of the minimal scenario, whatever the seed', async () => {
    for (const seed of [1, 5, 42]) {
      const { report } = await runScenario(validateScenario(minimal()), { seed })
      expect(report.summary.jobs.submitted, `seed ${seed}`).toBe(3)
    }
  })

  it('should order every job within a window as long as the run, Poisson or evenly spread', async () => {
    for (const arrival of ['poisson', 'uniform'] as const) {
      for (const seed of [1, 2, 3, 4, 5]) {
        const { report } = await runScenario(fullWindow(arrival, 40), { seed })
        expect(report.summary.jobs.submitted, `${arrival}, seed ${seed}`).toBe(40)
      }
    }
  })

  it('should spread Poisson arrivals over the whole window, not bunch them at its start', async () => {
    const { report } = await runScenario(fullWindow('poisson', 120), { seed: 9 })
    const perRow = report.series.map((row) => row.jobsSubmitted)
    const firstHalf = perRow.slice(0, 6).reduce((a, b) => a + b, 0)
    expect(perRow.reduce((a, b) => a + b, 0)).toBe(120)
    // Binomial(120, 1/2): within 40-80 but with odds of about 1e-4.
    expect(firstHalf).toBeGreaterThan(40)
    expect(firstHalf).toBeLessThan(80)
  })
})
