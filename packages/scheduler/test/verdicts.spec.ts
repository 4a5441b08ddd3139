import { describe, expect, it } from 'vitest'
import { fixedPrice, isSchedulerError, type JobSpec, type SchedulerErrorCode } from '../src/index.js'
import { Market, renderSpec } from './harness.js'

/** A job of one task (one 32x32 tile), at half a benchmark-hour. */
const ONE_TASK: JobSpec = renderSpec({
  minBids: 2,
  split: { kind: 'render', firstFrame: 1, frames: 1, width: 32, height: 32, tileWidth: 32, tileHeight: 32, samples: 4 },
})

/** Worker a (bidding 10) holds the job's only task and has returned its result; b (bidding 20) bid too. */
function aFinished() {
  const market = new Market({ verify: true })
  market.addWorker('a', { pricing: fixedPrice(10n) })
  market.addWorker('b', { pricing: fixedPrice(20n) })
  const jobId = market.submit(ONE_TASK)
  const taskId = `${jobId}/f1/t0_0`
  market.finish('a', taskId)
  return { market, jobId, taskId }
}

/**
 * Worker a's result fails its check; the task goes to b (bidding 20). `bFinishes` has b return its result, which goes
 * to verification too.
 */
function failedThenReassigned(bFinishes: boolean) {
  const { market, jobId, taskId } = aFinished()
  market.creator.handle({ kind: 'task:verdict', taskId, worker: 'a', outcome: 'fail' }, market.now)
  market.flush()
  expect(market.eventsOf('task:reassigned')).toEqual([expect.objectContaining({ taskId, from: 'a', to: 'b' })])
  if (bFinishes) market.finish('b', taskId)
  return { market, jobId, taskId }
}

function refusalCode(run: () => void): { code: SchedulerErrorCode; reason?: unknown } | undefined {
  try {
    run()
  } catch (e) {
    if (isSchedulerError(e)) return { code: e.code, reason: (e.context as { reason?: unknown }).reason }
    throw e
  }
  return undefined
}

describe('verdicts', () => {
  it("should refuse a verdict on another worker's result, so a decision about one never lands on the other", () => {
    const { market, jobId, taskId } = failedThenReassigned(true)
    expect(market.verifies.map((v) => v.worker)).toEqual(['a', 'b'])
    // A decision about a's result (arbitration cleared it) must not be taken for b's, still under check.
    const verdict = { kind: 'task:verdict', taskId, worker: 'a', outcome: 'pass' } as const
    expect(refusalCode(() => market.creator.handle(verdict, market.now))).toEqual({
      code: 'SCHEDULER__VERDICT_UNEXPECTED',
      reason: undefined,
    })
    market.flush()
    expect(market.accepts).toEqual([])
    expect(market.creator.job(jobId)?.verifying).toBe(1)
    // b's own verdict decides b's result.
    market.creator.handle({ kind: 'task:verdict', taskId, worker: 'b', outcome: 'fail' }, market.now)
    market.flush()
    expect(market.eventsOf('task:rejected').map((e) => e.worker)).toEqual(['a', 'b'])
    expect(market.accepts).toEqual([])
  })

  it('should accept and pay a cleared worker at its own award price, taking the task from a result under check', () => {
    const { market, jobId, taskId } = failedThenReassigned(true)
    market.creator.handle({ kind: 'task:overturned', taskId, worker: 'a' }, market.now)
    market.flush()
    expect(market.eventsOf('task:verified')).toEqual([
      expect.objectContaining({ taskId, worker: 'a', overturned: true, displaced: 'b' }),
    ])
    // a's result, at a's price (10 x 0.5 benchmark-hours); b is not paid: a task is paid once.
    expect(market.accepts.map((a) => [a.worker, a.price, a.amount, a.result.worker])).toEqual([['a', 10n, 5n, 'a']])
    expect(market.eventsOf('job:completed')[0]?.results.map((r) => r.worker)).toEqual(['a'])
    // b's check ends later: its verdict, either way, no longer decides anything.
    for (const outcome of ['pass', 'fail'] as const) {
      expect(
        refusalCode(() => market.creator.handle({ kind: 'task:verdict', taskId, worker: 'b', outcome }, market.now)),
      ).toEqual({ code: 'SCHEDULER__VERDICT_UNEXPECTED', reason: undefined })
    }
    expect(market.creator.job(jobId)?.status).toBe('completed')
  })

  it('should take the task back from the worker it was awarded to again, whose result then is refused', () => {
    const { market, jobId, taskId } = failedThenReassigned(false)
    expect(market.creator.job(jobId)?.assigned).toBe(1)
    market.creator.handle({ kind: 'task:overturned', taskId, worker: 'a' }, market.now)
    market.flush()
    expect(market.eventsOf('task:verified')).toEqual([
      expect.objectContaining({ taskId, worker: 'a', overturned: true, displaced: 'b' }),
    ])
    expect(market.creator.job(jobId)).toMatchObject({ status: 'completed', assigned: 0, accepted: 1 })
    market.finish('b', taskId)
    expect(market.rejections.map((r) => (r.error as { code: string }).code)).toContain('SCHEDULER__JOB_CLOSED')
    expect(market.accepts.map((a) => a.worker)).toEqual(['a'])
  })

  it('should accept a cleared result whose task nobody else took, and award it no more', () => {
    const market = new Market({ verify: true, maxReopens: 1 })
    market.addWorker('a', { pricing: fixedPrice(10n) })
    const jobId = market.submit({ ...ONE_TASK, minBids: 1 })
    const taskId = `${jobId}/f1/t0_0`
    market.finish('a', taskId)
    market.creator.handle({ kind: 'task:verdict', taskId, worker: 'a', outcome: 'fail' }, market.now)
    market.flush()
    expect(market.creator.job(jobId)?.pending).toBe(1)
    market.creator.handle({ kind: 'task:overturned', taskId, worker: 'a' }, market.now)
    market.flush()
    expect(market.eventsOf('task:verified')).toEqual([expect.objectContaining({ worker: 'a', overturned: true })])
    expect(market.eventsOf('task:verified')[0]).not.toHaveProperty('displaced')
    expect(market.creator.job(jobId)).toMatchObject({ status: 'completed', pending: 0, accepted: 1 })
    expect(market.accepts.map((a) => [a.worker, a.amount])).toEqual([['a', 5n]])
  })

  it('should not pay a cleared worker for a task accepted meanwhile, nor clear a result that never failed', () => {
    const { market, taskId } = failedThenReassigned(true)
    market.creator.handle({ kind: 'task:verdict', taskId, worker: 'b', outcome: 'pass' }, market.now)
    market.flush()
    expect(
      refusalCode(() => market.creator.handle({ kind: 'task:overturned', taskId, worker: 'a' }, market.now)),
    ).toEqual({ code: 'SCHEDULER__VERDICT_UNEXPECTED', reason: 'accepted' })
    expect(market.accepts.map((a) => a.worker)).toEqual(['b'])

    const again = failedThenReassigned(true)
    // b's result is under check, not failed: there is nothing to clear.
    expect(
      refusalCode(() =>
        again.market.creator.handle({ kind: 'task:overturned', taskId: again.taskId, worker: 'b' }, again.market.now),
      ),
    ).toEqual({ code: 'SCHEDULER__VERDICT_UNEXPECTED', reason: 'unknown' })
    again.market.flush()
    expect(again.market.accepts).toEqual([])
  })

  it('should not clear a worker that never answered its challenge: no check judged its result', () => {
    const { market, taskId } = aFinished()
    market.creator.handle({ kind: 'task:verdict', taskId, worker: 'a', outcome: 'refused' }, market.now)
    expect(
      refusalCode(() => market.creator.handle({ kind: 'task:overturned', taskId, worker: 'a' }, market.now)),
    ).toEqual({ code: 'SCHEDULER__VERDICT_UNEXPECTED', reason: 'unknown' })
  })
})
