import { generateIdentity, type Order } from '@tessera/core'
import { DEFAULT_VERIFICATION, type VerifyRequest } from '@tessera/scheduler'
import { describe, expect, it, vi } from 'vitest'
import { loopbackBuses, loopbackVerifiers, provenResult, workerVerification } from './fixtures.js'

describe('Verification (overturned accusations)', () => {
  it('should hand the failed request on when arbitration clears its worker, its verify call long answered', async () => {
    const ids = await Promise.all([0, 1, 2, 3].map(() => generateIdentity()))
    const [creatorId, workerId, arbiter1, arbiter2] = ids.map((id) => id.peerId.toString()) as [
      string,
      string,
      string,
      string,
    ]
    const order = { jobId: 'job-1', creator: creatorId, verification: DEFAULT_VERIFICATION } as Order
    const taskId = 'job-1/f0/0'
    const chunks = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)]
    const { busOf, handlers } = loopbackBuses()
    // Arbiters recompute honestly.
    const verifier = loopbackVerifiers(busOf, chunks)
    const overturned: VerifyRequest[] = []
    const events: string[] = []
    const creator = verifier(creatorId, {
      orderOf: () => order,
      // The creator's own engine recomputes something else (a driver bug, a flaky GPU): a false accusation, which
      // goes to the two arbiters it knows by then.
      recompute: async (_order, _taskId, indices) => {
        creator.setVerifiers([arbiter1, arbiter2])
        return indices.map(() => new Uint8Array(16).fill(9))
      },
      onOverturn: (request) => void overturned.push(request),
      onEvent: (event) => void events.push(event.name),
    })
    const arbiters = [verifier(arbiter1, {}), verifier(arbiter2, {})]
    const prover = workerVerification(busOf(workerId))
    const { result, envelope } = await provenResult(prover, ids[1]!, order, taskId, chunks)
    handlers.get(creatorId)?.({ from: workerId, message: { type: 'result', body: result }, expiresAt: 2_000, envelope })
    const request: VerifyRequest = { kind: 'verify', jobId: 'job-1', taskId, worker: workerId, result, order }
    // The check fails at once: the scheduler rejects the task and may award it to another worker meanwhile.
    expect(await creator.verify(request)).toBe('fail')
    await vi.waitFor(() => expect(overturned).toEqual([request]))
    expect(events).toEqual(['task:rejected', 'proof:overturned', 'task:accepted'])
    for (const v of [creator, ...arbiters, prover]) v.stop()
  })
})
