import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { AbortError, type AbortOptions, CoreError, raceSignal, TesseraError, throwIfAborted } from '@tessera/core'
import { GpuError, type GpuErrorCode, type Scene } from '@tessera/gpu'
import { NodeError, type NodeErrorCode } from '../errors.js'
import type { ScheduleTimeout } from './gpu-workload.js'
import type { ParsedInputs, ParseFailure, ParseJob, ParseReply } from './parse-worker.js'

/**
 * How long a parse thread may take over one job's inputs, or one frame of an animated scene, before it is
 * terminated and the load refused (`NODE__INPUT_PARSE_FAILED`, reason `timed-out`). The largest scene the parsers
 * take (`MAX_SCENE_TRIANGLES`, 4 million) loads in well under a minute on lavapipe's machines; twice that is
 * spent only on an input built to waste a worker's time.
 */
export const PARSE_DEADLINE_MS = 2 * 60_000
/**
 * The JavaScript heap a parse thread may grow to, in MiB (`resourceLimits.maxOldGenerationSizeMb`): a glTF
 * document's objects and JSON, a model's graph. Typed arrays' contents lie outside it (V8 counts them apart), and
 * the parsers bound those themselves (`MAX_SCENE_TRIANGLES`, `MAX_TENSOR_ELEMENTS`, ...). Past it the thread is
 * ended (`NODE__INPUT_UNPARSEABLE`, reason `out-of-memory`) while the node's own heap is untouched.
 */
export const PARSE_MAX_OLD_GENERATION_MB = 1024
/** The parse thread's young generation, in MiB (`resourceLimits.maxYoungGenerationSizeMb`). */
export const PARSE_MAX_YOUNG_GENERATION_MB = 64
/**
 * The parse thread's stack, in MiB (`resourceLimits.stackSizeMb`): Node's default, 4, so that a deeply nested input
 * a parser recurses into ends in a RangeError there rather than a crash.
 */
export const PARSE_STACK_MB = 4

/**
 * Why a parse was refused: its thread ran out of memory or time, or failed (could not start, crashed, was closed), or
 * a parser threw an error of no code (a RangeError for an input nested past the thread's stack, or the parser's bug).
 * See {@link PARSE_FAILURE_CODES} for the code each is refused with.
 */
export type ParseFailureReason = 'out-of-memory' | 'timed-out' | 'worker-failed' | 'parser-failed'

/**
 * The code of a refused parse, by its reason. Inputs that need more heap than a parse thread has, or that a parser
 * throws on, fail alike at every parse of them (`NODE__INPUT_UNPARSEABLE`), so a worker leaves their order; a parse
 * that ran out of time (a busy machine) or whose thread failed (the node's own trouble) may pass another time
 * (`NODE__INPUT_PARSE_FAILED`).
 */
const PARSE_FAILURE_CODES = {
  'out-of-memory': 'NODE__INPUT_UNPARSEABLE',
  'parser-failed': 'NODE__INPUT_UNPARSEABLE',
  'timed-out': 'NODE__INPUT_PARSE_FAILED',
  'worker-failed': 'NODE__INPUT_PARSE_FAILED',
} as const satisfies Record<ParseFailureReason, NodeErrorCode>

/** Bounds of the thread that parses a job's inputs; each defaults to the constant of its name. */
export interface ParseLimits {
  /** See {@link PARSE_DEADLINE_MS}. @default PARSE_DEADLINE_MS */
  deadlineMs?: number
  /** See {@link PARSE_MAX_OLD_GENERATION_MB}. @default PARSE_MAX_OLD_GENERATION_MB */
  maxOldGenerationSizeMb?: number
  /** See {@link PARSE_MAX_YOUNG_GENERATION_MB}. @default PARSE_MAX_YOUNG_GENERATION_MB */
  maxYoungGenerationSizeMb?: number
  /** See {@link PARSE_STACK_MB}. @default PARSE_STACK_MB */
  stackSizeMb?: number
  /** Starts a parse's deadline timer. @default `setTimeout` */
  schedule?: ScheduleTimeout
  /** Called with each parse thread as it starts: for diagnostics, and for tests to watch it end. */
  spawned?: (worker: Worker) => void
}

const systemSchedule: ScheduleTimeout = (ms, fire) => {
  const timer = setTimeout(fire, ms)
  return () => clearTimeout(timer)
}

/**
 * The parse thread's script, and how to start it: from source (`.ts`, in tests and under tsx) a thread needs tsx's
 * loader and the `tessera-src` condition, as its parent had; from the build it needs nothing.
 */
function workerEntry(): { url: URL; execArgv: string[] | undefined } {
  const here = new URL(import.meta.url)
  if (!here.pathname.endsWith('.ts')) return { url: new URL('./parse-worker.js', here), execArgv: undefined }
  const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href
  return { url: new URL('./parse-worker.ts', here), execArgv: ['--conditions=tessera-src', '--import', tsx] }
}

/**
 * The error a parse thread reported: a coded one rebuilt as its package's class, so that guards and codes hold; an
 * uncoded one refuses the inputs as a parse bound does, for they made the parser fail.
 */
function rebuild(failure: ParseFailure): TesseraError {
  if (!failure.coded) {
    return parseFailed('parser-failed', `the parser failed on them (${failure.name}: ${failure.message})`)
  }
  const { code, message, context } = failure
  if (code.startsWith('GPU__')) return new GpuError(code as GpuErrorCode, message, context)
  if (code.startsWith('NODE__')) return new NodeError(code as NodeErrorCode, message, context)
  if (code.startsWith('CORE__')) return new CoreError(code as never, message, context)
  return new TesseraError(code, message, context)
}

/** The parse's refusal for `reason`, coded as {@link PARSE_FAILURE_CODES} says. */
function parseFailed(reason: ParseFailureReason, detail: string, cause?: unknown): NodeError {
  return new NodeError(
    PARSE_FAILURE_CODES[reason],
    `the job's inputs could not be parsed: ${detail}; the creator's inputs are refused`,
    { reason },
    cause === undefined ? undefined : { cause },
  )
}

/** One request to a parse thread waiting for its answer. */
interface Pending {
  resolve: (reply: ParseReply) => void
  reject: (e: Error) => void
}

/** The id of the parse itself among a thread's requests; frames take ids from 1. */
const PARSE_ID = 0

/**
 * One parse thread: started ahead of its job (it loads its modules meanwhile), it answers the job's parse and then,
 * for an animated scene, each frame asked. A request past the deadline, or a thread out of memory or gone, fails
 * every request it holds, and every later one.
 */
class ParseThread implements InputParser {
  readonly #worker: Worker
  readonly #limits: ParseLimits
  /** Settles once the thread has loaded its modules, or has gone: it is terminated only then. */
  readonly #loaded: Promise<void>
  readonly #pending = new Map<number, Pending>()
  #nextId = PARSE_ID + 1
  #failure: Error | undefined
  /** Whether the thread ended for want of work (closed, or its requests aborted), not for its input's sake. */
  #restartable = false

  constructor(limits: ParseLimits) {
    this.#limits = limits
    const { url, execArgv } = workerEntry()
    try {
      this.#worker = new Worker(url, {
        ...(execArgv === undefined ? {} : { execArgv }),
        resourceLimits: {
          maxOldGenerationSizeMb: limits.maxOldGenerationSizeMb ?? PARSE_MAX_OLD_GENERATION_MB,
          maxYoungGenerationSizeMb: limits.maxYoungGenerationSizeMb ?? PARSE_MAX_YOUNG_GENERATION_MB,
          stackSizeMb: limits.stackSizeMb ?? PARSE_STACK_MB,
        },
      })
    } catch (cause) {
      throw parseFailed('worker-failed', `no parse thread could start (${(cause as Error).message})`, cause)
    }
    // An idle thread (an animated scene between frames) must not hold the node's process open.
    this.#worker.unref()
    limits.spawned?.(this.#worker)
    let loaded!: () => void
    this.#loaded = new Promise((resolve) => (loaded = resolve))
    this.#worker.on('message', (reply: ParseReply) => {
      if (reply.type === 'ready') return loaded()
      const id = reply.type === 'parsed' ? PARSE_ID : (reply.id ?? PARSE_ID)
      const pending = this.#pending.get(id)
      if (pending === undefined) return
      if (reply.type === 'failed') pending.reject(rebuild(reply.error))
      else pending.resolve(reply)
    })
    this.#worker.on('error', (e: Error & { code?: string }) => {
      this.#fail(
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? parseFailed('out-of-memory', 'parsing them ran out of the memory a parse may take', e)
          : parseFailed('worker-failed', `the parse thread failed (${e.message})`, e),
      )
    })
    this.#worker.once('exit', (code) => {
      loaded()
      this.#fail(parseFailed('worker-failed', `the parse thread exited with code ${code}`))
    })
  }

  async parse(job: ParseJob, options: AbortOptions = {}): Promise<ParsedJob> {
    let inputs: ParsedInputs
    try {
      inputs = await this.#parsed(job, options)
    } catch (e) {
      // Refused before the thread had the job (an abort), or failed in it: either way it has nothing more to do.
      this.close()
      throw e
    }
    if (inputs.kind === 'animated') return { kind: 'animated', frames: new AnimatedFrames(job, this.#limits, this) }
    // A still scene or a model has nothing more to ask of its thread.
    this.close()
    return inputs
  }

  /**
   * Parses the animated scene `job` anew, for the frames asked of this thread once it has. The parse is theirs to
   * share, so no one caller's signal cuts it short; its failure fails the thread, and so every frame asked of it.
   */
  async reparse(job: ParseJob): Promise<void> {
    try {
      const inputs = await this.#parsed(job, {})
      if (inputs.kind !== 'animated') throw parseFailed('worker-failed', `the scene parsed anew as ${inputs.kind}`)
    } catch (e) {
      this.#fail(e as Error)
      throw this.#failure
    }
  }

  /** What `job` parses to: the thread's first request, and the only one of a still scene or a model. */
  async #parsed(job: ParseJob, options: AbortOptions): Promise<ParsedInputs> {
    // Copied, not transferred: the blobs are the caller's (a blob store's) to keep.
    const reply = await this.#request(PARSE_ID, options, () => this.#worker.postMessage(job))
    if (reply.type !== 'parsed') throw parseFailed('worker-failed', `the parse thread answered ${reply.type}`)
    return reply.inputs
  }

  /** Frame `frame` of the animated scene the thread parsed. */
  async frame(frame: number, options: AbortOptions): Promise<Scene> {
    const id = this.#nextId++
    const reply = await this.#request(id, options, () => this.#worker.postMessage({ id, frame }))
    if (reply.type !== 'frame') throw parseFailed('worker-failed', `the parse thread answered ${reply.type}`)
    return reply.scene
  }

  /** Why the thread takes no more requests (it failed, was aborted, or was closed); undefined while it does. */
  get failure(): Error | undefined {
    return this.#failure
  }

  /** Whether the thread ended for want of work, so that another may take up its input. */
  get restartable(): boolean {
    return this.#restartable
  }

  /** Ends the thread; requests it still holds, and later ones, fail. */
  close(): void {
    if (this.#failure === undefined) this.#restartable = true
    this.#fail(parseFailed('worker-failed', 'the parse thread was closed'))
  }

  /**
   * Sends request `id` (with `post`) and waits for its answer, for at most the deadline. An abort gives up the
   * request, and ends the thread when no other request waits on it: only terminating it stops its work.
   */
  async #request(id: number, options: AbortOptions, post: () => void): Promise<ParseReply> {
    throwIfAborted(options.signal)
    if (this.#failure !== undefined) throw this.#failure
    const deadlineMs = this.#limits.deadlineMs ?? PARSE_DEADLINE_MS
    let cancel = (): void => {}
    let onAbort = (): void => {}
    try {
      return await new Promise<ParseReply>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject })
        if (this.#pending.size === 1) this.#worker.ref()
        cancel = (this.#limits.schedule ?? systemSchedule)(deadlineMs, () =>
          this.#fail(parseFailed('timed-out', `parsing them took more than ${deadlineMs} ms`)),
        )
        onAbort = () => {
          this.#pending.delete(id)
          reject(new AbortError('the parse was aborted'))
          if (this.#pending.size === 0 && this.#failure === undefined) {
            this.#restartable = true
            this.#fail(new AbortError('the parse was aborted'))
          }
        }
        options.signal?.addEventListener('abort', onAbort, { once: true })
        post()
      })
    } finally {
      cancel()
      options.signal?.removeEventListener('abort', onAbort)
      this.#pending.delete(id)
      if (this.#pending.size === 0 && this.#failure === undefined) this.#worker.unref()
    }
  }

  /** Fails every request held, and every later one, with `failure`, and terminates the thread once it can be. */
  #fail(failure: Error): void {
    if (this.#failure !== undefined) return
    this.#failure = failure
    for (const pending of this.#pending.values()) pending.reject(failure)
    this.#pending.clear()
    void this.#loaded.then(() => this.#worker.terminate())
  }
}

/** An animated scene's frames, each posed on request in the thread that parsed the scene. */
export interface SceneFrames {
  /** Frame `frame`; rejects with the parser's code, one of {@link PARSE_FAILURE_CODES} or an AbortError. */
  sceneAt(frame: number, options?: AbortOptions): Promise<Scene>
  /**
   * Ends the parse thread, freeing its memory, once the frames it is posing are done (their callers still get them).
   * A frame asked after is posed in a thread that parses the scene anew and ends as soon as no frame is asked of it.
   */
  close(): void
}

/**
 * An animated scene's frames, posed by a parse thread that keeps its glTF document: each frame's scene is
 * transferred to this thread as it is built. A thread ended by an abort or closed is started again (parsing the
 * scene anew) for the next frame asked, which comes out bit for bit the same (a frame depends on its time and the
 * order's first frame alone); frames asked meanwhile wait for that one thread. Once one ran out of memory or time,
 * every later frame fails as it did.
 */
class AnimatedFrames implements SceneFrames {
  readonly #job: ParseJob
  readonly #limits: ParseLimits
  #thread: ParseThread
  /** The parse of a thread started again, until it has parsed the scene: frames wait for it. */
  #reparsing: Promise<void> | undefined
  /** Frames asked and not yet answered: once closed, the thread ends when none is. */
  #asking = 0
  #closed = false

  constructor(job: ParseJob, limits: ParseLimits, thread: ParseThread) {
    this.#job = job
    this.#limits = limits
    this.#thread = thread
  }

  async sceneAt(frame: number, options: AbortOptions = {}): Promise<Scene> {
    throwIfAborted(options.signal)
    const failure = this.#thread.failure
    if (failure !== undefined && !this.#thread.restartable) throw failure
    if (failure !== undefined) this.#restart()
    const thread = this.#thread
    const reparsing = this.#reparsing
    this.#asking++
    try {
      if (reparsing !== undefined) await raceSignal(reparsing, options.signal)
      return await thread.frame(frame, options)
    } finally {
      this.#asking--
      if (this.#closed && this.#asking === 0) this.#thread.close()
    }
  }

  close(): void {
    this.#closed = true
    if (this.#asking === 0) this.#thread.close()
  }

  /** Starts a thread to parse the scene anew, for the frames asked from now on. */
  #restart(): void {
    const thread = new ParseThread(this.#limits)
    const reparsing = thread.reparse(this.#job).then(() => {
      if (this.#reparsing === reparsing) this.#reparsing = undefined
    })
    // Its failure is the frames' to report; one that no frame waits on any more is no unhandled rejection.
    reparsing.catch(() => {})
    this.#thread = thread
    this.#reparsing = reparsing
  }
}

/** A job's inputs parsed in a thread of their own: a still scene or a model, or an animated scene's frames. */
export type ParsedJob =
  | { kind: 'still'; scene: Scene }
  | { kind: 'animated'; frames: SceneFrames }
  | Extract<ParsedInputs, { kind: 'inference' }>

/** A parse thread started ahead of the job it will parse, so that it loads its modules while the inputs are fetched. */
export interface InputParser {
  /**
   * Parses `job`, once: a still scene or a model (the thread then ends), or an animated scene, whose frames the
   * thread stays to pose. Rejects with the parser's own coded error (`GPU__MALFORMED_SCENE`, ...),
   * `NODE__INPUT_UNPARSEABLE` when the thread ran out of memory or the parser threw an uncoded error,
   * `NODE__INPUT_PARSE_FAILED` when it ran out of time or could not start, or an AbortError when `options.signal`
   * aborts (which terminates the thread).
   */
  parse(job: ParseJob, options?: AbortOptions): Promise<ParsedJob>
  /** Ends the thread; for a job that is not to be parsed after all (its inputs could not be fetched). */
  close(): void
}

/**
 * Starts a worker thread, bounded by `limits` ({@link PARSE_DEADLINE_MS}, {@link PARSE_MAX_OLD_GENERATION_MB},
 * ...), to parse a job's untrusted inputs, so that an input its parser's bounds miss can neither block this
 * thread's event loop nor exhaust its heap. What the inputs parse to is transferred here, not copied.
 *
 * @throws NODE__INPUT_PARSE_FAILED when no thread can start
 */
export function startParser(limits: ParseLimits = {}): InputParser {
  return new ParseThread(limits)
}
