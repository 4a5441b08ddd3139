import { generateIdentity, type Order } from '@tessera/core'
import { DEFAULT_VERIFICATION } from '@tessera/scheduler'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import type { SlashRecord } from '../src/peer/verification.js'
import { loopbackBuses, loopbackVerifiers, provenResult, workerVerification } from './fixtures.js'

/**
 * A creator checking a worker's result, with `arbiters` (each recomputing honestly) to ask when it accuses: what it
 * hands on to slash, and what it logs.
 */
async function accuse(options: { creatorEngineWrong: boolean; workerWrong: boolean; arbiters: number }) {
  const ids = await Promise.all(Array.from({ length: 2 + options.arbiters }, () => generateIdentity()))
  const [creatorId, workerId, ...arbiterIds] = ids.map((id) => id.peerId.toString()) as [string, string, ...string[]]
  const order = { jobId: 'job-1', creator: creatorId, verification: DEFAULT_VERIFICATION } as Order
  const taskId = 'job-1/f0/0'
  const honest = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)]
  const delivered = options.workerWrong ? honest.map((c) => c.map((b) => b ^ 0xff)) : honest
  const { busOf, handlers } = loopbackBuses()
  const logged: { level: number; msg: string; worker?: string }[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
  // Arbiters recompute honestly.
  const verifier = loopbackVerifiers(busOf, honest)
  const slashes: SlashRecord[] = []
  const creator = verifier(creatorId, {
    logger,
    orderOf: () => order,
    verifiers: arbiterIds,
    // Always check it ourselves: the arbiters only arbitrate.
    selfVerifyWeight: 1e9,
    recompute: async (_order, _taskId, indices) =>
      indices.map((i) => (options.creatorEngineWrong ? new Uint8Array(16).fill(9) : (honest[i] as Uint8Array))),
    onSlash: (slash) => void slashes.push(slash),
  })
  const arbiters = arbiterIds.map((id) => verifier(id, {}))
  const prover = workerVerification(busOf(workerId))
  const { result, envelope } = await provenResult(prover, ids[1]!, order, taskId, delivered)
  handlers.get(creatorId)?.({ from: workerId, message: { type: 'result', body: result }, expiresAt: 2_000, envelope })
  const outcome = await creator.verify({ kind: 'verify', jobId: 'job-1', taskId, worker: workerId, result, order })
  const stop = () => [creator, ...arbiters, prover].forEach((v) => v.stop())
  return { outcome, slashes, logged, workerId, creator, stop }
}

describe('Verification (slashes)', () => {
  it("should not slash a worker on its accuser's word alone when no arbiter is known", async () => {
    // The creator's engine is wrong and the worker honest: only an arbiter could have told them apart.
    const { outcome, slashes, logged, workerId, creator, stop } = await accuse({
      creatorEngineWrong: true,
      workerWrong: false,
      arbiters: 0,
    })
    expect(outcome).toBe('fail')
    await vi.waitFor(() => expect(logged.map((l) => l.msg)).toContain('slash:unarbitrated'))
    expect(logged.find((l) => l.msg === 'slash:unarbitrated')).toMatchObject({ level: 40, worker: workerId })
    expect(slashes).toEqual([])
    // The task is rejected and the worker marked down all the same.
    expect(creator.reputation.evidence(workerId)).toEqual({ valid: 0, failed: 1 })
    stop()
  })

  it('should hand on to slash an accusation an arbiter upheld', async () => {
    const { outcome, slashes, logged, workerId, stop } = await accuse({
      creatorEngineWrong: false,
      workerWrong: true,
      arbiters: 1,
    })
    expect(outcome).toBe('fail')
    await vi.waitFor(() => expect(slashes).toEqual([expect.objectContaining({ worker: workerId, arbitrated: true })]))
    expect(logged.map((l) => l.msg)).not.toContain('slash:unarbitrated')
    stop()
  })
})
