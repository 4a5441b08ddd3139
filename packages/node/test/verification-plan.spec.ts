import { type Inbound, ManualClock, type MessageBus, type Order, type Result, seededRng } from '@tessera/core'
import { AdaptiveSampler, defaultPlan, lengthenHorizon, planVerification } from '@tessera/proof'
import type { VerifyRequest } from '@tessera/scheduler'
import type { Logger } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { Verification } from '../src/peer/verification.js'
import { CREATOR, idleBus } from './fixtures.js'

const WORKER = 'worker-1'
const CHUNKS = 32
const TASKS = 200

/**
 * A creator verifying `TASKS` Results of a long-trusted worker (checked at the plan's floor) for an order with
 * `budget`: the challenges it sent, and its logger.
 */
function checkTasks(budget: Order['verification']): { challenges: { count: number }[]; logger: Logger } {
  let deliver: (inbound: Inbound) => void = () => {}
  const challenges: { count: number }[] = []
  const bus: MessageBus = {
    ...idleBus(CREATOR),
    send: (_to, message) => {
      if (message.type === 'challenge') challenges.push(message.body)
      return Promise.resolve()
    },
    onMessage: (handler) => ((deliver = handler), () => {}),
  }
  const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() } as unknown as Logger
  const sampler = new AdaptiveSampler({ pMin: defaultPlan().p })
  sampler.restore(WORKER, 1_000_000)
  const order = { jobId: 'job', creator: CREATOR, verification: budget } as Order
  const verification = new Verification({
    bus,
    clock: new ManualClock(1_000),
    rng: seededRng(7),
    logger,
    sampler,
    orderOf: () => order,
    shapeOf: () => ({ tolerance: 'relative', chunks: CHUNKS }),
    recompute: () => new Promise(() => {}),
  })
  for (let i = 0; i < TASKS; i++) {
    const result = {
      jobId: 'job',
      taskId: `t${i}`,
      worker: WORKER,
      root: new Uint8Array(32).fill(1),
      chunks: CHUNKS,
      output: 'bafy',
      tolerance: 'relative',
      computeMs: 1,
      issuedAt: 0,
    } as Result
    deliver({ from: WORKER, message: { type: 'result', body: result }, envelope: new Uint8Array(8), expiresAt: 1e15 })
    void verification.verify({ kind: 'verify', jobId: 'job', taskId: `t${i}`, worker: WORKER, result } as VerifyRequest)
  }
  verification.stop()
  return { challenges, logger }
}

describe('Verification plan', () => {
  it("should check a job's tasks by the plan its order's verification budget asks for, at the task's chunk count", () => {
    const budget = { detect: 0.99999, withinTasks: 10, cheatRate: 1, maxOverhead: 1 }
    const plan = planVerification({ ...budget, chunks: CHUNKS })
    expect(plan.challengeChunks).not.toBe(defaultPlan().challengeChunks)
    const { challenges } = checkTasks(budget)
    expect(new Set(challenges.map((c) => c.count))).toEqual(new Set([plan.challengeChunks]))
    // Checked at the budget's floor p, not the default plan's.
    const sd = Math.sqrt((TASKS * plan.p * (1 - plan.p)) / TASKS ** 2)
    expect(Math.abs(challenges.length / TASKS - plan.p)).toBeLessThan(4 * sd + 1 / TASKS)
  })

  it('should check over a longer horizon when no plan meets the budget as it stands, and say so once', () => {
    const budget = { detect: 0.99, withinTasks: 100, cheatRate: 0.2, maxOverhead: 0.02 }
    expect(() => planVerification({ ...budget, chunks: CHUNKS })).toThrow(
      expect.objectContaining({ code: 'PROOF__BUDGET_INFEASIBLE' }),
    )
    const fitted = planVerification({ ...lengthenHorizon(budget, [CHUNKS]), chunks: CHUNKS })
    expect(fitted.challengeChunks).not.toBe(defaultPlan().challengeChunks)
    const { challenges, logger } = checkTasks(budget)
    expect(challenges.length).toBeGreaterThan(0)
    // The overhead the order allows is kept: the challenge size of the budget met over a longer horizon.
    expect(new Set(challenges.map((c) => c.count))).toEqual(new Set([fitted.challengeChunks]))
    expect(logger.warn).toHaveBeenCalledTimes(1)
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({
        jobId: 'job',
        chunks: CHUNKS,
        code: 'PROOF__BUDGET_INFEASIBLE',
        inForce: expect.objectContaining({ withinTasks: fitted.budget.withinTasks }),
      }),
      'verification:budget-infeasible',
    )
  })
})
