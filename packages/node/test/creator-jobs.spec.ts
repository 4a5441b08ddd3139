import { describe, expect, it } from 'vitest'
import { jobEta } from '../src/peer/creator-jobs.js'

describe('jobEta', () => {
  const ORDERED_AT = 1_700_000_000_000

  it('should estimate the tasks left at the pace the verified ones took since the job was ordered', () => {
    // 4 of 16 verified in 60 s: 12 left at 15 s each.
    expect(jobEta({ state: 'running', tasks: 16, verified: 4 }, ORDERED_AT, ORDERED_AT + 60_000)).toEqual({
      etaMs: 180_000,
    })
    expect(jobEta({ state: 'running', tasks: 4, verified: 4 }, ORDERED_AT, ORDERED_AT + 60_000)).toEqual({ etaMs: 0 })
  })

  it('should give no estimate before a task is verified, nor for a job that is not running', () => {
    expect(jobEta({ state: 'running', tasks: 16, verified: 0 }, ORDERED_AT, ORDERED_AT + 60_000)).toEqual({})
    for (const state of ['bidding', 'completed', 'cancelled', 'expired', 'failed'] as const) {
      expect(jobEta({ state, tasks: 16, verified: 4 }, ORDERED_AT, ORDERED_AT + 60_000), state).toEqual({})
    }
    expect(jobEta({ state: 'running', tasks: 16, verified: 4 }, undefined, ORDERED_AT)).toEqual({})
  })
})
