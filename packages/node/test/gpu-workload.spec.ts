import { WebIO } from '@gltf-transform/core'
import {
  type AbortOptions,
  type Inbound,
  ManualClock,
  type Order,
  type Topic,
  TOPICS,
  type WireMessage,
} from '@tessera/core'
import { type Engine, loadOnnxModel, onnx, type RenderedTile, tensor } from '@tessera/gpu'
import {
  fixedPrice,
  ORDER_REFUSAL_CODES,
  paidTaskMs,
  type RenderTask,
  type SchedulerEvent,
  splitTasks,
} from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver, type TaskExecution } from '@tessera/scheduler/driver'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  GpuWorkload,
  INPUT_REFUSAL_CODES,
  TASK_OVERRUN_FACTOR,
  TASK_OVERRUN_FLOOR_MS,
  type ScheduleTimeout,
} from '../src/peer/gpu-workload.js'
import type { ParseLimits } from '../src/peer/input-parser.js'
import { InputCache, type InputSource, type LoadedInputs } from '../src/peer/inputs.js'
import { batchSummingModel, idleBus, linearModel, orderOf, rollingSphere } from './fixtures.js'

/** One 8x8 tile at one sample: half a benchmark-hour per task, as every fixture order declares. */
const order: Order = orderOf('render', ['bafkreiscene'], {
  kind: 'render',
  firstFrame: 0,
  frames: 1,
  width: 8,
  height: 8,
  tileWidth: 8,
  tileHeight: 8,
  samples: 1,
})
const task = splitTasks(order)[0] as RenderTask
/** The task's paid time on a worker scoring 100: 18 s. */
const execution: TaskExecution = { order, task, minPrice: 1n, paidMs: paidTaskMs(order, 100) }

/** Inputs that load at once: a scene whose every frame is the same (the fake engine never looks at it). */
const inputs = {
  load: async () => ({ kind: 'render', sceneAt: async () => ({}) }) as unknown as LoadedInputs,
} as unknown as InputCache

/**
 * An engine whose renders end only when `finish` is called (a slow execution), recording the signal each was given.
 */
function slowEngine() {
  const signals: AbortSignal[] = []
  let finish: () => void = () => {}
  const engine = {
    renderTile: (_: unknown, options: AbortOptions) => {
      signals.push(options.signal!)
      return new Promise<RenderedTile>((resolve) => {
        finish = () =>
          resolve({ ...task, rows: [0], pixels: new Float32Array(task.width * 4), rays: 1 } as unknown as RenderedTile)
      })
    },
  } as unknown as Engine
  return { engine, signals, finish: () => finish() }
}

/** A timer the test fires by hand: what was scheduled, and whether it was cancelled. */
function manualTimer() {
  const timers: { ms: number; fire: () => void; cancelled: boolean }[] = []
  const schedule: ScheduleTimeout = (ms, fire) => {
    const timer = { ms, fire, cancelled: false }
    timers.push(timer)
    return () => {
      timer.cancelled = true
    }
  }
  return { timers, schedule }
}

/** Lets the workload's awaits (inputs loaded, render started) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('GpuWorkload task time limit', () => {
  it('should stop a task that runs past its limit with NODE__TASK_OVERRAN, and abort the engine', async () => {
    const { engine, signals } = slowEngine()
    const { timers, schedule } = manualTimer()
    const workload = new GpuWorkload(engine, inputs, 'none', undefined, { schedule })
    const running = workload.execute(execution, { signal: new AbortController().signal })
    await settle()
    // 32 times the 18 s the order pays for at score 100, plus the ten-minute floor.
    expect(timers.map((t) => t.ms)).toEqual([TASK_OVERRUN_FACTOR * 18_000 + TASK_OVERRUN_FLOOR_MS])
    expect(signals[0]?.aborted).toBe(false)
    timers[0]!.fire()
    await expect(running).rejects.toMatchObject({
      name: 'NodeError',
      code: 'NODE__TASK_OVERRAN',
      context: { jobId: order.jobId, taskId: task.taskId, limitMs: 32 * 18_000 + 600_000, paidMs: 18_000 },
    })
    expect(signals[0]?.aborted).toBe(true)
    expect(timers[0]!.cancelled).toBe(true)
  })

  it('should let a task that ends in time finish, and cancel its timer', async () => {
    const { engine, finish } = slowEngine()
    const { timers, schedule } = manualTimer()
    const workload = new GpuWorkload(engine, inputs, 'none', undefined, { schedule })
    const running = workload.execute(execution, { signal: new AbortController().signal })
    await settle()
    finish()
    const output = await running
    expect(output.chunks).toHaveLength(1)
    expect(timers).toHaveLength(1)
    expect(timers[0]!.cancelled).toBe(true)
  })

  it('should give even an order that pays nothing the floor, and take the factor and floor as options', async () => {
    const { engine } = slowEngine()
    const { timers, schedule } = manualTimer()
    const workload = new GpuWorkload(engine, inputs, 'none', undefined, {
      schedule,
      overrunFactor: 2,
      overrunFloorMs: 5,
    })
    void workload.execute({ ...execution, paidMs: 0 }, { signal: new AbortController().signal }).catch(() => {})
    void workload.execute({ ...execution, paidMs: 10 }, { signal: new AbortController().signal }).catch(() => {})
    await settle()
    expect(timers.map((t) => t.ms)).toEqual([5, 25])
  })

  it('should reject with AbortError, not an overrun, when the task is stopped first', async () => {
    const { engine } = slowEngine()
    const { timers, schedule } = manualTimer()
    const workload = new GpuWorkload(engine, inputs, 'none', undefined, { schedule })
    const controller = new AbortController()
    const running = workload.execute(execution, { signal: controller.signal })
    await settle()
    controller.abort()
    await expect(running).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    expect(timers[0]!.cancelled).toBe(true)
  })
})

describe('GpuWorkload input fetch', () => {
  it("should stop fetching a task's inputs when the task ends before they arrive", async () => {
    const fetches: AbortSignal[] = []
    // A creator that never finishes sending: only the task's end, or the blob service's own bounds, stop the fetch.
    const source: InputSource = {
      holdsFor: async () => false,
      get: async (cid) => {
        throw new Error(`no blob ${cid} here`)
      },
      fetchFrom: (_peer, _cid, options = {}) =>
        new Promise((_, reject) => {
          fetches.push(options.signal!)
          options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true })
        }),
    }
    const cache = new InputCache(source)
    const { engine } = slowEngine()
    const { timers, schedule } = manualTimer()
    const workload = new GpuWorkload(engine, cache, 'none', undefined, { schedule })
    const ended = new AbortController()
    const running = workload.execute(execution, { signal: ended.signal })
    await settle()
    // The overrun limit is on compute; the fetch is bounded by the task's signal and the blob service.
    expect([fetches.length, timers.length]).toEqual([1, 0])
    ended.abort()
    await expect(running).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    expect(fetches[0]?.aborted).toBe(true)
    cache.close()
  })
})

describe('GpuWorkload declared inference work', () => {
  /** y = x @ w with w 4x8: 64 FLOPs an item. */
  const model = loadOnnxModel(linearModel())
  const modelInputs = { load: async () => ({ kind: 'inference', model, inputs: {} }) } as unknown as InputCache
  const inferenceOrder = (flopsPerItem: number) =>
    orderOf('inference', ['bafkreimodel'], { kind: 'inference', items: 4, itemsPerTask: 2, flopsPerItem })
  /** An engine that records the runs it was asked for and answers each with one 8-float item. */
  function countingEngine() {
    const runs: unknown[] = []
    const engine = {
      runModel: (_: unknown, __: unknown, options: { items: number[] }) => {
        runs.push(options.items)
        return Promise.resolve({
          y: { shape: [options.items.length, 8], data: new Float32Array(8 * options.items.length) },
        })
      },
    } as unknown as Engine
    return { engine, runs }
  }

  it('should refuse a model costing more than twice its order declares, before running it', async () => {
    const { engine, runs } = countingEngine()
    const workload = new GpuWorkload(engine, modelInputs)
    const understated = inferenceOrder(31)
    const task = splitTasks(understated)[0]!
    const running = workload.execute(
      { order: understated, task, minPrice: 1n, paidMs: 1_000 },
      { signal: new AbortController().signal },
    )
    await expect(running).rejects.toMatchObject({
      code: 'SCHEDULER__DECLARED_WORK_MISMATCH',
      context: { declared: 31, actual: 64 },
    })
    await expect(workload.checkInputs(understated)).rejects.toMatchObject({
      code: 'SCHEDULER__DECLARED_WORK_MISMATCH',
    })
    expect(runs).toEqual([])
  })

  it('should refuse, before the order is placed, a model that cannot compute its batch items apart', async () => {
    const { engine, runs } = countingEngine()
    const summing = loadOnnxModel(batchSummingModel())
    const x = tensor([4, 3], new Array<number>(12).fill(1))
    const loaded = { load: async () => ({ kind: 'inference', model: summing, inputs: { x } }) } as unknown as InputCache
    await expect(new GpuWorkload(engine, loaded).checkInputs(inferenceOrder(64))).rejects.toMatchObject({
      code: 'GPU__UNSUPPORTED_OP',
      context: { option: 'items', op: 'MatMul' },
    })
    // The same order with a model keeping its items apart passes.
    const linear = { load: async () => ({ kind: 'inference', model, inputs: { x: tensor([4, 4]) } }) }
    await expect(
      new GpuWorkload(engine, linear as unknown as InputCache).checkInputs(inferenceOrder(64)),
    ).resolves.toBeUndefined()
    expect(runs).toEqual([])
  })

  it('should run a model within what its order declares', async () => {
    const { engine, runs } = countingEngine()
    const workload = new GpuWorkload(engine, modelInputs)
    const declared = inferenceOrder(32)
    const task = splitTasks(declared)[0]!
    await workload.execute(
      { order: declared, task, minPrice: 1n, paidMs: 1_000 },
      { signal: new AbortController().signal },
    )
    expect(runs).toEqual([[0, 1]])
  })
})

describe('GpuWorkload graph outputs', () => {
  /** y = relu(x) and `second` = x, x of [batch, 4] floats, declared in that order. */
  const twoOutputs = (second: string) => {
    const info = (name: string) => ({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'b' }, { dimValue: 4 }] },
        },
      },
    })
    return loadOnnxModel(
      onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: {
          name: 'two',
          input: [info('x')],
          output: [info('y'), info(second)],
          node: [
            { opType: 'Relu', input: ['x'], output: ['y'] },
            { opType: 'Identity', input: ['x'], output: [second] },
          ],
        },
      }).finish(),
    )
  }
  const order = orderOf('inference', ['bafkreimodel'], {
    kind: 'inference',
    items: 2,
    itemsPerTask: 2,
    flopsPerItem: 8,
  })
  const x = tensor([2, 4], [-1, 2, -3, 4, 5, -6, 7, -8])

  it('should refuse, before the order is placed, a model of more than one graph output, listing them', async () => {
    const model = twoOutputs('17')
    const inputs = { load: async () => ({ kind: 'inference', model, inputs: { x } }) } as unknown as InputCache
    await expect(new GpuWorkload({} as Engine, inputs).checkInputs(order)).rejects.toMatchObject({
      code: 'NODE__UNSUPPORTED_INPUT',
      message: expect.stringMatching(/2 graph outputs \(y, 17\)/),
      context: { outputs: ['y', '17'] },
    })
  })

  it("should return the graph's first declared output, whatever the outputs are named", async () => {
    for (const second of ['17', 'z']) {
      const model = twoOutputs(second)
      const inputs = { load: async () => ({ kind: 'inference', model, inputs: { x } }) } as unknown as InputCache
      // As the engine answers: by name, and '17' enumerates before 'y'.
      const engine = {
        runModel: async () => ({
          [second]: { shape: [2, 4], data: Float32Array.from(x.data) },
          y: { shape: [2, 4], data: Float32Array.from(x.data, (v) => Math.max(0, v)) },
        }),
      } as unknown as Engine
      const { chunks } = await new GpuWorkload(engine, inputs).execute(
        { order, task: splitTasks(order)[0]!, minPrice: 1n, paidMs: 1_000 },
        { signal: new AbortController().signal },
      )
      expect(
        chunks.map((c) => [...new Float32Array(c.slice().buffer)]),
        second,
      ).toEqual([
        [0, 2, 0, 4],
        [5, 0, 7, 0],
      ])
    }
  })
})

describe('GpuWorkload input refusals', () => {
  const drivers: SchedulerDriver[] = []
  const caches: InputCache[] = []
  afterEach(() => {
    drivers.splice(0).forEach((d) => d.stop())
    caches.splice(0).forEach((c) => c.close())
  })

  let scene: Uint8Array
  beforeAll(async () => {
    scene = await new WebIO().writeBinary(rollingSphere())
  })

  /** A render order of two one-tile frames of the rolling sphere, playing `animation`. */
  function animatedOrder(animation: unknown): Order {
    const order = orderOf('render', ['bafkreiscene'], {
      kind: 'render',
      firstFrame: 0,
      frames: 2,
      width: 8,
      height: 8,
      tileWidth: 8,
      tileHeight: 8,
      samples: 1,
      fps: 4,
    })
    return { ...order, split: { ...order.split, animation } } as Order
  }

  /**
   * A one-slot worker, leaving orders on the codes a node does, running its tasks on a workload whose inputs come from
   * the creator (each fetch counted) and parse in threads bounded by `limits`. It is handed `order` and an award of
   * every task of it, declines those it has no slot for, and queues them as the creator, finding nobody else, awards
   * them back; `reopen` hands it the order re-opened.
   */
  function worker(order: Order, limits: ParseLimits) {
    const fetched: string[] = []
    const source: InputSource = {
      holdsFor: async () => false,
      get: async (cid) => {
        throw new Error(`no blob ${cid} here`)
      },
      fetchFrom: async (_peer, cid) => {
        fetched.push(cid)
        return scene
      },
    }
    const cache = new InputCache(source, undefined, limits)
    caches.push(cache)
    const clock = new ManualClock(order.issuedAt)
    let deliver: (inbound: Inbound) => void = () => {}
    const bus = {
      ...idleBus('worker'),
      onMessage: (handler: (inbound: Inbound) => void) => {
        deliver = handler
        return () => {}
      },
    }
    // Every task fails before it has an output to store or fetch.
    const none = () => Promise.reject(new Error('no output here'))
    const blobs = { put: none, fetchFrom: none }
    const driver = createScheduler(
      { bus, clock, blobs },
      {
        creator: false,
        worker: {
          profile: { memoryMb: 8_192, features: [], score: 100, slots: 1, tiers: [3] },
          pricing: fixedPrice(10n),
          orderRefusalCodes: new Set([...ORDER_REFUSAL_CODES, ...INPUT_REFUSAL_CODES]),
          executor: new GpuWorkload({} as Engine, cache),
        },
      },
    )
    drivers.push(driver)
    const events: SchedulerEvent[] = []
    for (const type of ['task:started', 'job:withdrawn', 'bid:skipped'] as const) driver.on(type, (e) => events.push(e))
    const send = (message: WireMessage, topic?: Topic) =>
      deliver({
        from: order.creator,
        message,
        expiresAt: clock.now() + 60_000,
        ...(topic === undefined ? {} : { topic }),
      })
    send({ type: 'order', body: order }, TOPICS.orders)
    const award = (taskIds: string[]) =>
      send({
        type: 'award',
        body: {
          jobId: order.jobId,
          creator: order.creator,
          worker: 'worker',
          taskIds,
          price: order.maxPrice,
          leaseMs: 60_000,
          heartbeatMs: 20_000,
          issuedAt: clock.now(),
        },
      })
    const taskIds = splitTasks(order).map((t) => t.taskId)
    award(taskIds)
    award(taskIds.slice(1))
    return {
      fetched,
      events,
      started: () => events.filter((e) => e.type === 'task:started').length,
      withdrawn: () => events.filter((e) => e.type === 'job:withdrawn'),
      reopen: () => send({ type: 'order', body: { ...order, issuedAt: order.issuedAt + 1 } }, TOPICS.orders),
    }
  }

  it('should leave an order whose inputs its parser fails on, and neither fetch nor parse them again', async () => {
    // An animation named by no string: no order carries one, but it makes the parse thread's timeline throw a
    // TypeError, as a parser throws a RangeError on an input nested past the thread's stack.
    const order = animatedOrder({})
    let threads = 0
    const w = worker(order, { spawned: () => threads++ })
    // The first task's failure is handled: the worker left the job, or (were it to stay) started the next task.
    await expect.poll(() => w.withdrawn().length > 0 || w.started() > 1, { timeout: 60_000 }).toBe(true)
    expect(w.withdrawn()).toEqual([
      expect.objectContaining({
        jobId: order.jobId,
        code: 'NODE__INPUT_UNPARSEABLE',
        taskIds: splitTasks(order).map((t) => t.taskId),
      }),
    ])
    expect(w.started()).toBe(1)
    expect([w.fetched, threads]).toEqual([['bafkreiscene'], 1])
    // The order re-opened is skipped, not bid on.
    w.reopen()
    expect(w.events.at(-1)).toMatchObject({ type: 'bid:skipped', jobId: order.jobId, reason: 'refused' })
  })

  it('should stay in an order whose parse timed out, and fetch and parse its inputs for its next task', async () => {
    const deadlines: (() => void)[] = []
    const w = worker(animatedOrder('roll'), {
      schedule: (_ms, fire) => {
        deadlines.push(fire)
        return () => {}
      },
    })
    await expect.poll(() => deadlines.length, { timeout: 60_000 }).toBe(1)
    deadlines[0]?.()
    // The next task fetches the inputs again, and parses them in a thread of its own.
    await expect.poll(() => deadlines.length, { timeout: 60_000 }).toBe(2)
    expect(w.started()).toBe(2)
    expect(w.withdrawn()).toEqual([])
    expect(w.fetched).toEqual(['bafkreiscene', 'bafkreiscene'])
  })
})
