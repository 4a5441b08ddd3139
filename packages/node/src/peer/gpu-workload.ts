import { type AbortOptions, type Order, raceSignal } from '@tessera/core'
import { type Engine, GpuError, selectItems, tensorItemChunks, tileRowChunks, validateInputs } from '@tessera/gpu'
import { type ResultShape, TASK_TOLERANCE } from '@tessera/proof'
import { SchedulerError, taskAt, taskIndexOf, type TaskDescriptor } from '@tessera/scheduler'
import type { TaskExecution, TaskExecutor, TaskOutput } from '@tessera/scheduler/driver'
import { NodeError } from '../errors.js'
import type { InputCache, InputOrder } from './inputs.js'

/**
 * How a worker misbehaves, for demos and tests of verification: `lazy` renders with one sample per pixel instead
 * of the order's count (the cheat Proof-of-Render guards against) and scales tensors, on every task.
 */
export type Fault = 'none' | 'lazy' | 'crash-mid-job'

/**
 * Runs tasks on the WebGPU engine and recomputes challenged chunks for verification: a render task's chunks are
 * its tile rows, an inference task's its batch items (`@tessera/gpu`'s chunking), so any chunk can be recomputed
 * alone, bit-identical on one driver.
 */
export class GpuWorkload implements TaskExecutor {
  readonly #engine: Engine
  readonly #inputs: InputCache
  readonly #fault: Fault
  /** With `crash-mid-job`: resolves once one of this worker's tiles is receipted (the fault's trigger). */
  readonly #receipted: Promise<void> | undefined
  #started = 0

  constructor(engine: Engine, inputs: InputCache, fault: Fault = 'none', receipted?: Promise<void>) {
    this.#engine = engine
    this.#inputs = inputs
    this.#fault = fault
    this.#receipted = fault === 'crash-mid-job' ? receipted : undefined
  }

  /**
   * Checks, before an order is placed, that its inputs read as the work it names: the scene (and panorama) load, or
   * the model loads and its input tensors fit it and hold every item the order splits. Rejects with the parser's
   * code (`GPU__MALFORMED_SCENE`, `GPU__UNSUPPORTED_OP`, `GPU__SHAPE_MISMATCH`, ...). What it loads stays cached
   * for the checks of the job's results.
   */
  async checkInputs(order: InputOrder, options: AbortOptions = {}): Promise<void> {
    const loaded = await this.#inputs.load(order, options)
    // Its first frame posed: animations that cannot be played fail here, not at every task.
    if (loaded.kind === 'render' && order.split.kind === 'render') loaded.sceneAt(order.split.firstFrame)
    if (loaded.kind === 'inference' && order.split.kind === 'inference') {
      validateInputs(loaded.model, loaded.inputs)
      // Every item the tasks will take is in the batch (and every input has one batch size).
      selectItems(loaded.inputs, [order.split.items - 1])
    }
  }

  /** Runs one task on the engine: its output chunks (tile rows, batch items) and its tolerance class. */
  async execute({ order, task }: TaskExecution, options: Required<AbortOptions>): Promise<TaskOutput> {
    // The crashing fault holds every tile after its first until one is receipted, so that it dies holding one
    // however slowly receipts come (a loaded machine can deliver them after the worker's last tile).
    if (this.#receipted !== undefined && this.#started++ > 0) await raceSignal(this.#receipted, options.signal)
    const started = performance.now()
    const chunks = await this.#run(order, task, undefined, options)
    return {
      chunks,
      tolerance: TASK_TOLERANCE[task.kind],
      computeMs: Math.round(performance.now() - started),
    }
  }

  /**
   * What an honest Result for task `taskId` of `order` looks like: its tolerance class and its chunk count (tile
   * rows, batch items). Verifiers hold workers to it; undefined when the order has no such task.
   */
  shapeOf(order: Order, taskId: string): ResultShape | undefined {
    const task = taskAt(order, taskIndexOf(order, taskId))
    if (task === undefined) return undefined
    return {
      tolerance: TASK_TOLERANCE[task.kind],
      chunks: task.kind === 'render' ? task.height : task.end - task.start,
    }
  }

  /** Recomputes the chunks at `indices` of a task of `order`, honestly, for a verifier. */
  async recompute(
    order: Order,
    taskId: string,
    indices: readonly number[],
    options: AbortOptions = {},
  ): Promise<Uint8Array[]> {
    const task = taskAt(order, taskIndexOf(order, taskId))
    if (task === undefined) {
      throw new SchedulerError('SCHEDULER__TASK_NOT_FOUND', `task ${taskId} is not part of job ${order.jobId}`, {
        jobId: order.jobId,
        taskId,
      })
    }
    const sorted = [...new Set(indices)].sort((a, b) => a - b)
    const chunks = await this.#run(order, task, sorted, options, false)
    return indices.map((i) => chunks[sorted.indexOf(i)] as Uint8Array)
  }

  async #run(
    order: Order,
    task: TaskDescriptor,
    only: readonly number[] | undefined,
    options: AbortOptions,
    faulty = this.#fault === 'lazy',
  ): Promise<Uint8Array[]> {
    const loaded = await this.#inputs.load(order, options)
    if (task.kind === 'render' && loaded.kind === 'render') {
      const tile = await this.#engine.renderTile(
        {
          scene: loaded.sceneAt(task.frame),
          frame: task.frame,
          imageWidth: task.imageWidth,
          imageHeight: task.imageHeight,
          x: task.x,
          y: task.y,
          width: task.width,
          height: task.height,
          samples: faulty ? 1 : task.samples,
          ...(only !== undefined ? { rows: only } : {}),
        },
        options,
      )
      return tileRowChunks(tile)
    }
    if (task.kind === 'inference' && loaded.kind === 'inference') {
      const items =
        only?.map((i) => task.start + i) ?? Array.from({ length: task.end - task.start }, (_, i) => task.start + i)
      const outputs = await this.#engine.runModel(loaded.model, loaded.inputs, { items, ...options })
      const first = Object.values(outputs)[0]
      if (first === undefined) {
        throw new GpuError('GPU__MALFORMED_MODEL', `the model of job ${order.jobId} has no outputs`, {
          jobId: order.jobId,
          taskId: task.taskId,
        })
      }
      const chunks = tensorItemChunks(first)
      if (!faulty) return chunks
      return chunks.map((c) => {
        const f = new Float32Array(c.slice().buffer)
        for (let i = 0; i < f.length; i++) f[i] = (f[i] as number) * 1.01 + 0.01
        return new Uint8Array(f.buffer)
      })
    }
    // The order's split and its inputs disagree on the kind of work: the creator's order is bad, not this node.
    throw new NodeError(
      'NODE__UNSUPPORTED_INPUT',
      `task ${task.taskId} is ${task.kind} work but job ${order.jobId}'s inputs are for ${loaded.kind}`,
      { jobId: order.jobId, taskId: task.taskId, task: task.kind, inputs: loaded.kind },
    )
  }
}
