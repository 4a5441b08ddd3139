import type { Inbound, MessageBus, Order } from '@tessera/core'
import { seededRng, ManualClock } from '@tessera/core'
import type { Engine } from '@tessera/gpu'
import { splitTasks } from '@tessera/scheduler'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { GpuWorkload } from '../src/peer/gpu-workload.js'
import type { InputCache, LoadedInputs } from '../src/peer/inputs.js'
import { SERVED_REQUESTS_PER_PEER } from '../src/peer/constants.js'
import { Verification } from '../src/peer/verification.js'
import { CREATOR, orderOf as fixtureOrder } from './fixtures.js'

const orderOf = (kind: 'render' | 'inference'): Order =>
  kind === 'render'
    ? fixtureOrder(kind, ['bafkreiinput'], {
        kind,
        firstFrame: 0,
        frames: 1,
        width: 8,
        height: 8,
        tileWidth: 8,
        tileHeight: 8,
        samples: 1,
      })
    : fixtureOrder(kind, ['bafkreiinput'], { kind, items: 2, itemsPerTask: 2 })

/** An input cache that hands back `loaded` whatever the order. */
const inputsOf = (loaded: LoadedInputs) => ({ load: async () => loaded }) as unknown as InputCache

/** A peer's verification serving others, knowing no order: what it logs, and a hand to deliver messages to it. */
function serving(): {
  verification: Verification
  deliver: (inbound: Inbound) => void
  logged: Record<string, unknown>[]
} {
  const logged: Record<string, unknown>[] = []
  let deliver: (inbound: Inbound) => void = () => {}
  const bus: MessageBus = {
    self: 'verifier',
    publish: () => Promise.resolve(),
    send: () => Promise.resolve(),
    subscribe: () => {},
    unsubscribe: () => {},
    onMessage: (handler) => {
      deliver = handler
      return () => {}
    },
  }
  const verification = new Verification({
    bus,
    clock: new ManualClock(1_000),
    rng: seededRng(1),
    logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    orderOf: () => undefined,
    shapeOf: () => undefined,
    recompute: () => Promise.reject(new Error('not reached')),
  })
  return { verification, deliver: (inbound) => deliver(inbound), logged }
}

/** Peer-supplied orders and models that make no sense are refused with coded errors naming the job and task. */
describe('errors on what peers send', () => {
  it('should refuse to recompute a task its order does not have', async () => {
    const order = orderOf('render')
    const workload = new GpuWorkload({} as Engine, inputsOf({ kind: 'render' } as LoadedInputs))
    await expect(workload.recompute(order, `${order.jobId}/nope`, [0])).rejects.toMatchObject({
      code: 'SCHEDULER__TASK_NOT_FOUND',
      context: { jobId: order.jobId, taskId: `${order.jobId}/nope` },
    })
  })

  it("should refuse a task whose order's inputs are for another kind of work", async () => {
    const order = orderOf('render')
    const taskId = splitTasks(order)[0]!.taskId
    const workload = new GpuWorkload({} as Engine, inputsOf({ kind: 'inference' } as LoadedInputs))
    await expect(workload.recompute(order, taskId, [0])).rejects.toMatchObject({
      code: 'NODE__UNSUPPORTED_INPUT',
      context: { jobId: order.jobId, taskId, task: 'render', inputs: 'inference' },
    })
  })

  it('should refuse a model with no outputs', async () => {
    const order = orderOf('inference')
    const taskId = splitTasks(order)[0]!.taskId
    const engine = { runModel: async () => ({}) } as unknown as Engine
    const model = { outputs: [] }
    const workload = new GpuWorkload(
      engine,
      inputsOf({ kind: 'inference', model, inputs: {} } as unknown as LoadedInputs),
    )
    await expect(workload.recompute(order, taskId, [0])).rejects.toMatchObject({
      code: 'GPU__MALFORMED_MODEL',
      context: { jobId: order.jobId, taskId },
    })
  })

  it('should log with its code a request to verify a task the order does not have', () => {
    const { verification, deliver, logged } = serving()
    const order = orderOf('render')
    deliver({
      from: CREATOR,
      message: {
        type: 'assign',
        body: { jobId: order.jobId, taskId: `${order.jobId}/nope`, creator: CREATOR, order, issuedAt: 1_000 },
      },
      envelope: new Uint8Array(1),
      expiresAt: 2_000,
    } as unknown as Inbound)
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'verification:rejected', code: 'SCHEDULER__TASK_NOT_FOUND', from: CREATOR }),
    )
    verification.stop()
  })

  it('should take only a share of the checks one peer asks of it, and log the rest as busy', () => {
    const { verification, deliver, logged } = serving()
    const order = orderOf('render')
    // A flood of requests from one peer: the admitted ones are read (and refused here, naming no task), the rest not.
    for (let i = 0; i < SERVED_REQUESTS_PER_PEER + 4; i++) {
      deliver({
        from: CREATOR,
        message: {
          type: 'assign',
          body: { jobId: order.jobId, taskId: `${order.jobId}/nope${i}`, creator: CREATOR, order, issuedAt: 1_000 },
        },
        envelope: new Uint8Array(1),
        expiresAt: 2_000,
      } as unknown as Inbound)
    }
    const count = (msg: string) => logged.filter((l) => l.msg === msg).length
    expect(count('verification:rejected')).toBeGreaterThan(0)
    expect(count('verification:busy')).toBe(4)
    verification.stop()
  })
})
