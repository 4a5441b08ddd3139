import { type AbortOptions, type Order, raceSignal } from '@tessera/core'
import {
  assertItemsRecomputable,
  type Engine,
  GpuError,
  type GpuErrorCode,
  modelFlopsLowerBound,
  selectItems,
  tensorItemChunks,
  tileRowChunks,
  validateInputs,
} from '@tessera/gpu'
import { type ResultShape, TASK_TOLERANCE } from '@tessera/proof'
import {
  checkDeclaredWork,
  DEFAULT_WORK_TOLERANCE,
  SchedulerError,
  taskAt,
  taskIndexOf,
  type TaskDescriptor,
} from '@tessera/scheduler'
import type { TaskExecution, TaskExecutor, TaskOutput } from '@tessera/scheduler/driver'
import { NodeError, type NodeErrorCode } from '../errors.js'
import type { InputCache, InputOrder, LoadedInputs } from './inputs.js'

/**
 * A task runs at most this many times the time its order pays for at this worker's score (`TaskExecution.paidMs`),
 * plus {@link TASK_OVERRUN_FLOOR_MS}, before it is stopped with `NODE__TASK_OVERRAN` and given back to its creator:
 * twice the slack the worker already granted when it bid (the scheduler's `DEFAULT_WORK_TOLERANCE`, 16), so only work
 * far beyond what the order declares (a creator that understated it, or a scene much harder than the estimate's)
 * holds a worker that long, and never for ever.
 */
export const TASK_OVERRUN_FACTOR = 2 * DEFAULT_WORK_TOLERANCE
/**
 * What every task may take besides what its order pays for, whatever that is (even none): setting its scene or model
 * up on the device, where a first kernel compiles for up to a minute on lavapipe, a BVH is built and an animation
 * posed, on a machine busy with other tasks. Ten minutes, the default job timeout, is far past what any task of the
 * demo, the examples or the tests takes.
 */
export const TASK_OVERRUN_FLOOR_MS = 10 * 60_000
/**
 * Codes the input parsers refuse an order's inputs with: the scene, panorama, model or tensors themselves are bad or
 * too costly, so every task of the order fails alike on every worker. A task failing with one makes the worker leave
 * the job and skip the order (the scheduler's `orderRefusalCodes`), rather than fetch and parse the inputs again for
 * each of its tasks. Among them inputs a parse thread refuses alike at every parse (`NODE__INPUT_UNPARSEABLE`: they
 * need more heap than it has, or a parser throws on them). Not the codes of this device's limits
 * (`GPU__ALLOCATION_EXCEEDED`), nor a parse thread that ran out of time or failed (`NODE__INPUT_PARSE_FAILED`):
 * another worker, or a quieter moment, may take the task.
 */
export const INPUT_REFUSAL_CODES: ReadonlySet<string> = new Set<GpuErrorCode | NodeErrorCode>([
  'GPU__MALFORMED_SCENE',
  'GPU__SCENE_TOO_LARGE',
  'GPU__TRAVERSAL_COST_EXCEEDED',
  'GPU__UNSUPPORTED_TEXTURE',
  'GPU__MALFORMED_ENVIRONMENT',
  'GPU__MALFORMED_MODEL',
  'GPU__UNSUPPORTED_OP',
  'GPU__SHAPE_MISMATCH',
  'GPU__INVALID_MODEL_INPUT',
  'NODE__UNSUPPORTED_INPUT',
  'NODE__INPUT_UNPARSEABLE',
])
/** The longest delay `setTimeout` holds (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Calls `fire` after `ms`, unless the returned function is called first. */
export type ScheduleTimeout = (ms: number, fire: () => void) => () => void

/** Options of a {@link GpuWorkload}. */
export interface GpuWorkloadOptions {
  /** See {@link TASK_OVERRUN_FACTOR}. @default TASK_OVERRUN_FACTOR */
  overrunFactor?: number
  /** See {@link TASK_OVERRUN_FLOOR_MS}. @default TASK_OVERRUN_FLOOR_MS */
  overrunFloorMs?: number
  /**
   * Starts a task's overrun timer. @default `setTimeout` (none past what it holds, about 24.8 days: the job's
   * deadline stops such a task first)
   */
  schedule?: ScheduleTimeout
}

const systemSchedule: ScheduleTimeout = (ms, fire) => {
  if (ms > MAX_TIMER_MS) return () => {}
  const timer = setTimeout(fire, ms)
  return () => clearTimeout(timer)
}

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
  readonly #overrunFactor: number
  readonly #overrunFloorMs: number
  readonly #schedule: ScheduleTimeout
  #started = 0

  constructor(
    engine: Engine,
    inputs: InputCache,
    fault: Fault = 'none',
    receipted?: Promise<void>,
    options: GpuWorkloadOptions = {},
  ) {
    this.#engine = engine
    this.#inputs = inputs
    this.#fault = fault
    this.#receipted = fault === 'crash-mid-job' ? receipted : undefined
    this.#overrunFactor = options.overrunFactor ?? TASK_OVERRUN_FACTOR
    this.#overrunFloorMs = options.overrunFloorMs ?? TASK_OVERRUN_FLOOR_MS
    this.#schedule = options.schedule ?? systemSchedule
  }

  /** Forgets the inputs it parsed and stops their threads (see `InputCache.close`). */
  close(): void {
    this.#inputs.close()
  }

  /**
   * Checks, before an order is placed, that its inputs read as the work it names: the scene (and panorama) load, or
   * the model loads, costs no more than the FLOPs an item the order declares, its input tensors fit it and hold
   * every item the order splits, and its items can be computed apart (every task, and every verifier's recomputation,
   * runs some of them alone: a model mixing items or reading the batch size is refused with `GPU__UNSUPPORTED_OP`,
   * context `option: 'items'`, which every worker would answer its tasks with). A model of more than one graph output
   * is refused too (`NODE__UNSUPPORTED_INPUT`, context `outputs`): a job's output is one tensor, its items, and the
   * others would be dropped. Rejects with the parser's code (`GPU__MALFORMED_SCENE`, `GPU__UNSUPPORTED_OP`,
   * `GPU__SHAPE_MISMATCH`, ...) or `SCHEDULER__DECLARED_WORK_MISMATCH`. What it loads stays cached for the checks of
   * the job's results.
   */
  async checkInputs(order: InputOrder, options: AbortOptions = {}): Promise<void> {
    const loaded = await this.#inputs.load(order, options)
    // Its first frame posed: animations that cannot be played fail here, not at every task.
    if (loaded.kind === 'render' && order.split.kind === 'render') await loaded.sceneAt(order.split.firstFrame, options)
    if (loaded.kind === 'inference' && order.split.kind === 'inference') {
      const outputs = loaded.model.outputs.map((o) => o.name)
      if (outputs.length > 1) {
        throw new NodeError(
          'NODE__UNSUPPORTED_INPUT',
          `the model has ${outputs.length} graph outputs (${outputs.join(', ')}), and an inference job returns one: ` +
            'export it with only the output to return',
          { outputs },
        )
      }
      checkDeclaredWork(order.split, modelFlopsLowerBound(loaded.model))
      validateInputs(loaded.model, loaded.inputs)
      // Every item the tasks will take is in the batch (and every input has one batch size).
      selectItems(loaded.inputs, [order.split.items - 1])
      await assertItemsRecomputable(loaded.model, loaded.inputs, options)
    }
  }

  /**
   * Runs one task on the engine: its output chunks (tile rows, batch items) and its tolerance class. An inference
   * whose model costs more than its order declares is refused (`SCHEDULER__DECLARED_WORK_MISMATCH`) before it runs.
   * Once its inputs are loaded, it runs at most {@link TASK_OVERRUN_FACTOR} times `paidMs` plus
   * {@link TASK_OVERRUN_FLOOR_MS}, then rejects with `NODE__TASK_OVERRAN` (the scheduler gives the task back to its
   * creator) and the engine stops at its next check of the signal.
   */
  async execute({ order, task, paidMs }: TaskExecution, options: Required<AbortOptions>): Promise<TaskOutput> {
    // The crashing fault holds every tile after its first until one is receipted, so that it dies holding one
    // however slowly receipts come (a loaded machine can deliver them after the worker's last tile).
    if (this.#receipted !== undefined && this.#started++ > 0) await raceSignal(this.#receipted, options.signal)
    const started = performance.now()
    // The limit is on the task's compute: fetching its inputs is the blob transfer's to bound, and the job's later
    // tasks find them cached. The fetch stops as the task ends, unless a task of the same creator's order waits on it.
    const loaded = await this.#inputs.load(order, options)
    // The worker bid on the work the order declares: a model that costs more than that (past the slack a creator
    // counting multiply-adds needs) is given back before it runs, not run at the declared price until it overruns.
    if (loaded.kind === 'inference') checkDeclaredWork(order.split, modelFlopsLowerBound(loaded.model))
    const limitMs = this.#overrunFactor * paidMs + this.#overrunFloorMs
    const overrun = new AbortController()
    const signal = AbortSignal.any([options.signal, overrun.signal])
    const cancel = this.#schedule(limitMs, () => overrun.abort())
    const running = this.#compute(order, task, loaded, undefined, { signal })
    // Past its limit the task is answered at once; the engine's call under way ends at its next check of the signal.
    running.catch(() => {})
    let chunks: Uint8Array[]
    try {
      chunks = await raceSignal(running, signal)
    } catch (e) {
      if (!overrun.signal.aborted || options.signal.aborted) throw e
      throw new NodeError(
        'NODE__TASK_OVERRAN',
        `task ${task.taskId} ran past ${Math.round(limitMs)} ms: ${this.#overrunFactor} times the ` +
          `${Math.round(paidMs)} ms its order's ${order.benchHoursPerTask} benchmark-hours pay for at this worker's ` +
          `score, plus ${this.#overrunFloorMs} ms; it is given back to the creator, whose order understates its work`,
        { jobId: order.jobId, taskId: task.taskId, limitMs: Math.round(limitMs), paidMs: Math.round(paidMs) },
      )
    } finally {
      cancel()
    }
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
    const loaded = await this.#inputs.load(order, options)
    const chunks = await this.#compute(order, task, loaded, sorted, options, false)
    return indices.map((i) => chunks[sorted.indexOf(i)] as Uint8Array)
  }

  async #compute(
    order: Order,
    task: TaskDescriptor,
    loaded: LoadedInputs,
    only: readonly number[] | undefined,
    options: AbortOptions,
    faulty = this.#fault === 'lazy',
  ): Promise<Uint8Array[]> {
    if (task.kind === 'render' && loaded.kind === 'render') {
      const tile = await this.#engine.renderTile(
        {
          scene: await loaded.sceneAt(task.frame, options),
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
      // The graph's first declared output (an order checked at its creator has one): outputs keyed by name enumerate
      // integer-like names ('17') before the others, whatever the graph declares.
      const declared = loaded.model.outputs[0]
      const first = declared === undefined ? undefined : outputs[declared.name]
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
