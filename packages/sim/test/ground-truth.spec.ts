import { describe, expect, it } from 'vitest'
import { COL, MetricsRecorder } from '../src/metrics/recorder.js'
import { GroundTruth } from '../src/world/ground-truth.js'

describe('GroundTruth', () => {
  it('should take an overturned rejection back from the row that counted it, and count the escape where it happens', () => {
    const metrics = new MetricsRecorder(60_000)
    const truth = new GroundTruth(metrics)
    truth.commit('w1', 't1', 'colluder', true)
    truth.commit('w2', 't2', 'honest', false)
    truth.rejected('w1', 't1', 'fail', 30_000)
    truth.rejected('w2', 't2', 'fail', 40_000)
    metrics.closeRow(60_000)
    // Arbitration clears both workers in the next interval.
    truth.overturned('w1', 't1')
    truth.overturned('w2', 't2')
    metrics.closeRow(120_000)
    const [first, second] = metrics.rows
    expect(first).toMatchObject({ detected: 0, falsePositives: 0, escaped: 0 })
    expect(second).toMatchObject({ detected: 0, falsePositives: 0, escaped: 1 })
    expect(metrics.total(COL.detected)).toBe(0)
    expect(metrics.total(COL.falsePositives)).toBe(0)
    expect(metrics.total(COL.escaped)).toBe(1)
    expect(truth.acceptedCount).toBe(2)
  })

  it('should take back a rejection overturned within its own interval there', () => {
    const metrics = new MetricsRecorder(60_000)
    const truth = new GroundTruth(metrics)
    truth.commit('w1', 't1', 'cheater', true)
    truth.rejected('w1', 't1', 'fail', 10_000)
    truth.overturned('w1', 't1')
    expect(metrics.closeRow(60_000)).toMatchObject({ detected: 0, escaped: 1 })
    expect(metrics.roles.cheater).toMatchObject({ detected: 0, escaped: 1, failedChecks: 0 })
  })
})
