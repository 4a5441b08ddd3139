import { ManualClock, type MessageBus, type Order, seededRng } from '@tessera/core'
import type { TaskExecution } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { Verification } from '../src/peer/verification.js'

/** A bus that goes nowhere: the worker's prover only needs to commit. */
const bus: MessageBus = {
  self: 'worker',
  publish: () => Promise.resolve(),
  send: () => Promise.resolve(),
  subscribe: () => {},
  unsubscribe: () => {},
  onMessage: () => () => {},
}

describe('Verification (worker side)', () => {
  it('should hold a committed output until its task is released, and release each task once', async () => {
    const verification = new Verification({
      bus,
      clock: new ManualClock(1_000),
      rng: seededRng(1),
      logger: pino({ level: 'silent' }),
      orderOf: () => undefined,
      shapeOf: () => undefined,
      recompute: () => Promise.reject(new Error('not a verifier')),
    })
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
})
