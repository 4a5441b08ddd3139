import { generateIdentity, type Inbound, ManualClock, type Order, type Result, seededRng } from '@tessera/core'
import { MAX_CHUNK_BYTES } from '@tessera/proof'
import { DEFAULT_VERIFICATION, type VerifyRequest } from '@tessera/scheduler'
import type { TaskExecution } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { Verification } from '../src/peer/verification.js'
import { idleBus, loopbackBuses, provenResult, workerVerification } from './fixtures.js'

const bus = idleBus('worker')

describe('Verification (worker side)', () => {
  it('should hold a committed output until its task is released, and release each task once', async () => {
    const verification = workerVerification(bus)
    const executor = verification.wrapExecutor({
      execute: async () => ({ chunks: [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)], tolerance: 'bitwise' }),
    })
    const execution = (taskId: string) =>
      ({ order: { jobId: 'job-1', creator: 'creator' } as Order, task: { taskId }, minPrice: 1n }) as TaskExecution
    const options = { signal: new AbortController().signal }
    await executor.execute(execution('job-1/f0/0'), options)
    await executor.execute(execution('job-1/f0/1'), options)
    expect(verification.proving).toBe(2)
    verification.release('job-1', 'job-1/f0/0')
    expect(verification.proving).toBe(1)
    // A receipt countersigned twice (the creator offered it again) releases nothing more.
    verification.release('job-1', 'job-1/f0/0')
    expect(verification.proving).toBe(1)
    verification.stop()
  })

  it('should fail a task whose output the prover refuses, not report it done with no Result to come', async () => {
    const sent: string[] = []
    const verification = workerVerification({ ...bus, send: async (_to, message) => void sent.push(message.type) })
    // One chunk over the 1 MiB a reveal may carry: no challenge of it could ever be answered.
    const executor = verification.wrapExecutor({
      execute: async () => ({
        chunks: [new Uint8Array(16), new Uint8Array(MAX_CHUNK_BYTES + 1)],
        tolerance: 'bitwise',
      }),
    })
    const execution = { order: { jobId: 'job-1', creator: 'creator' } as Order, task: { taskId: 'job-1/f0/0' } }
    await expect(
      executor.execute(execution as TaskExecution, { signal: new AbortController().signal }),
    ).rejects.toMatchObject({ code: 'PROOF__INVALID_INPUT' })
    expect(verification.proving).toBe(0)
    expect(sent).toEqual([])
    verification.stop()
  })
})

describe('Verification (creator side)', () => {
  it('should fail a check its verifier will not start, not leave the task in verification for good', async () => {
    let deliver: (inbound: Inbound) => void = () => {}
    const verification = new Verification({
      bus: { ...bus, self: 'creator', onMessage: (handler) => ((deliver = handler), () => {}) },
      clock: new ManualClock(1_000),
      rng: seededRng(1),
      logger: pino({ level: 'silent' }),
      orderOf: () => ({ jobId: 'job-1', creator: 'creator', verification: DEFAULT_VERIFICATION }) as Order,
      shapeOf: () => ({ tolerance: 'bitwise', chunks: 2 }),
      recompute: () => Promise.reject(new Error('not called')),
    })
    const result = { jobId: 'job-1', taskId: 'job-1/f0/0', worker: 'worker' } as Result
    deliver({
      from: 'worker',
      message: { type: 'result', body: result },
      expiresAt: 2_000,
      envelope: new Uint8Array(8),
    })
    // A stopped verifier refuses every input, as a full one refuses new checks.
    verification.stop()
    const request = { kind: 'verify', jobId: 'job-1', taskId: 'job-1/f0/0', worker: 'worker', result } as VerifyRequest
    expect(await verification.verify(request)).toBe('fail')
  })
})

describe('Verification (recomputing)', () => {
  it('should stop a recomputation when the verifier stops, rather than hold the engine for nothing', async () => {
    const [creator, worker] = await Promise.all([generateIdentity(), generateIdentity()])
    const [creatorId, workerId] = [creator.peerId.toString(), worker.peerId.toString()]
    const order = { jobId: 'job-1', creator: creatorId, verification: DEFAULT_VERIFICATION } as Order
    const taskId = 'job-1/f0/0'
    const chunks = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)]
    const { busOf, handlers } = loopbackBuses()
    let recomputing: AbortSignal | undefined
    const verifier = new Verification({
      bus: busOf(creatorId),
      clock: new ManualClock(1_000),
      rng: seededRng(1),
      logger: pino({ level: 'silent' }),
      orderOf: () => order,
      shapeOf: () => ({ tolerance: 'bitwise', chunks: 2 }),
      recompute: (_order, _taskId, _indices, options) =>
        new Promise((_resolve, reject) => {
          recomputing = options?.signal
          options?.signal?.addEventListener('abort', () => reject(options.signal?.reason))
        }),
    })
    const prover = workerVerification(busOf(workerId))
    const { result, envelope } = await provenResult(prover, worker, order, taskId, chunks)
    handlers.get(creatorId)?.({ from: workerId, message: { type: 'result', body: result }, expiresAt: 2_000, envelope })
    const verdict = verifier.verify({ kind: 'verify', jobId: 'job-1', taskId, worker: workerId, result, order })
    await vi.waitFor(() => expect(recomputing).toBeDefined())
    expect(recomputing?.aborted).toBe(false)
    verifier.stop()
    expect(recomputing?.aborted).toBe(true)
    prover.stop()
    void verdict
  })
})
