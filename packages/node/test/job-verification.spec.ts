import { MAX_CHUNK_BYTES, MAX_DIRECT_ENVELOPE_BYTES, MAX_MERKLE_DEPTH, type Split } from '@tessera/core'
import { DEFAULT_BUDGET, planVerification } from '@tessera/proof'
import { resolveJobSpec } from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'
import { jobSpecOf } from '../src/peer/job-request.js'
import {
  checkJobVerification,
  revealableChunks,
  verificationBudgetOf,
  verificationView,
} from '../src/peer/job-verification.js'

const render = (tile: number, height = 64): Split => ({
  kind: 'render',
  firstFrame: 0,
  frames: 1,
  width: 64,
  height,
  tileWidth: tile,
  tileHeight: tile,
  samples: 4,
})

describe('a job request’s verification', () => {
  it('should fill the terms a request leaves out from the default budget, and leave a request without any to the default', () => {
    const spec = jobSpecOf({
      kind: 'render',
      inputs: ['bafkscene'],
      render: render(32),
      verification: { detect: 0.9999 },
    } as never)
    expect(spec.verification).toEqual({ ...DEFAULT_BUDGET, detect: 0.9999 })
    const plain = jobSpecOf({ kind: 'render', inputs: ['bafkscene'], render: render(32) } as never)
    expect(plain.verification).toBeUndefined()
  })

  it('should refuse a budget no plan meets for some task of the job, naming the task size and the horizon that works', () => {
    // Full tiles of 64 rows meet it; the last row of tiles, 8 rows, cannot within 200 tasks at 10% overhead.
    const split = render(64, 72)
    expect(() => checkJobVerification(render(64), DEFAULT_BUDGET)).not.toThrow()
    let error: unknown
    try {
      checkJobVerification(split, DEFAULT_BUDGET)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({
      code: 'NODE__VERIFICATION_INFEASIBLE',
      message: expect.stringMatching(/tasks of 8 tile rows: .*met within 688 tasks/),
      context: expect.objectContaining({ chunks: 8, shortestWithinTasks: 688, reason: 'PROOF__BUDGET_INFEASIBLE' }),
    })
    expect(() => checkJobVerification(split, { ...DEFAULT_BUDGET, withinTasks: 688 })).not.toThrow()
    // Batch items count alike; a budget no horizon meets is refused without a horizon to suggest.
    const inference: Split = { kind: 'inference', items: 10, itemsPerTask: 3 }
    expect(() => checkJobVerification(inference, verificationBudgetOf({ maxOverhead: 1e-300 }))).toThrow(
      expect.objectContaining({
        code: 'NODE__VERIFICATION_INFEASIBLE',
        message: expect.not.stringMatching(/met within/),
      }),
    )
  })

  it('should refuse a budget whose challenges no reveal can carry in one message', () => {
    // Met by a plan challenging 8 of 16 items; an item may be a whole chunk (1 MiB), and 8 of them pass 8 MiB.
    const budget = { detect: 0.9999, withinTasks: 20, cheatRate: 0.5, maxOverhead: 1 }
    expect(planVerification({ ...budget, chunks: 16 }).challengeChunks).toBe(8)
    expect(() => checkJobVerification({ kind: 'inference', items: 64, itemsPerTask: 16 }, budget)).toThrow(
      expect.objectContaining({
        code: 'NODE__VERIFICATION_INFEASIBLE',
        context: expect.objectContaining({
          reason: 'NODE__REVEAL_TOO_LARGE',
          challengeChunks: 8,
          maxChallengeChunks: 7,
        }),
      }),
    )
    // Tile rows are small: the same challenge fits.
    expect(() => checkJobVerification(render(16), budget)).not.toThrow()
    // The bound leaves room for a reveal of `revealableChunks` chunks of the largest size, paths included.
    const revealable = revealableChunks(MAX_CHUNK_BYTES)
    const reveal = revealable * (MAX_CHUNK_BYTES + MAX_MERKLE_DEPTH * 32)
    expect(reveal).toBeLessThan(MAX_DIRECT_ENVELOPE_BYTES)
    expect(reveal + MAX_CHUNK_BYTES).toBeGreaterThan(MAX_DIRECT_ENVELOPE_BYTES)
  })

  it('should show, per task size, the plan the job is checked by', () => {
    const split = render(64, 72)
    const order = {
      split,
      verification: resolveJobSpec(jobSpecOf({ kind: 'render', inputs: ['s'], render: split } as never)).verification,
    }
    const view = verificationView(order)
    if (view === undefined) throw new Error('no view')
    expect(view.budget).toEqual({ ...DEFAULT_BUDGET, withinTasks: 688 })
    expect(view.plans.map((p) => p.chunks)).toEqual([8, 64])
    for (const plan of view.plans) {
      const own = planVerification({ ...order.verification, chunks: plan.chunks })
      expect(plan).toEqual({
        chunks: plan.chunks,
        p: own.p,
        challengeChunks: own.challengeChunks,
        overhead: own.expectedOverhead,
        withinTasks: 688,
      })
    }
  })

  it('should show no plan for an order whose budget is not one, as a record written in part has', () => {
    // Before, job status failed with a TypeError for a record an older version wrote without the order's budget.
    expect(verificationView({ split: render(64) } as never)).toBeUndefined()
    expect(verificationView({ split: render(64), verification: { detect: '0.9' } } as never)).toBeUndefined()
    expect(verificationView({ split: { kind: 'render' }, verification: DEFAULT_BUDGET } as never)).toBeUndefined()
  })
})
