import type { AbortOptions, Order } from '@tessera/core'
import { type Engine, loadOnnxModel, type RenderedTile } from '@tessera/gpu'
import { paidTaskMs, type RenderTask, splitTasks } from '@tessera/scheduler'
import type { TaskExecution } from '@tessera/scheduler/driver'
import { describe, expect, it } from 'vitest'
import {
  GpuWorkload,
  TASK_OVERRUN_FACTOR,
  TASK_OVERRUN_FLOOR_MS,
  type ScheduleTimeout,
} from '../src/peer/gpu-workload.js'
import type { InputCache, LoadedInputs } from '../src/peer/inputs.js'
import { linearModel, orderOf } from './fixtures.js'

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
