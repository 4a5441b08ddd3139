/**
 * The thread that parses a job's untrusted inputs (scene, panorama, model, tensor bundle) for `input-parser.ts`,
 * under the heap limits and deadline that module gives it, so that what the parsers' own bounds miss costs this
 * thread, not the node's event loop or heap. It loads its modules while the inputs are fetched, parses the job its
 * first message brings, answers with what the inputs parse to (its typed arrays transferred) or the parser's coded
 * error, and, for an animated scene, stays to pose the frames asked of it. Loaded by `input-parser.ts` only.
 */
import { isMainThread, parentPort } from 'node:worker_threads'
import { isTesseraError } from '@tessera/core'
import {
  decodeEnvironmentImage,
  type EnvironmentOptions,
  loadOnnxModel,
  loadScene,
  SceneTimeline,
  withEnvironment,
  type OnnxModel,
  type Scene,
  type Tensor,
} from '@tessera/gpu'
import { decodeTensorBundle } from './tensor-bundle.js'

/** A render's inputs to parse: the scene, its panorama and lighting, and how its frames play. */
export interface SceneJob {
  kind: 'render'
  scene: Uint8Array
  panorama?: Uint8Array
  lighting?: EnvironmentOptions
  /** Frames per second; none for an order whose every frame is the scene as stored. */
  fps?: number
  animation?: string
  /** The order's first frame, whose pose every frame's BVH refits (`SceneTimelineOptions.topologyTime`). */
  firstFrame?: number
}

/** An inference's inputs to parse: the model and its input tensor bundle. */
export interface ModelJob {
  kind: 'inference'
  model: Uint8Array
  bundle?: Uint8Array
}

/** What the parse thread is asked to parse, its first message. */
export type ParseJob = SceneJob | ModelJob

/** Inputs as parsed: a still scene, an animated one (posed on request), or a model and its input tensors. */
export type ParsedInputs =
  | { kind: 'still'; scene: Scene }
  | { kind: 'animated' }
  | { kind: 'inference'; model: OnnxModel; inputs: Record<string, Tensor> }

/**
 * An error as it crosses threads: a coded one, whose class is rebuilt from its code's package prefix, or one a parser
 * threw without a code (its bug, or a RangeError from an input nested deeper than the thread's stack holds), which
 * the node refuses the inputs for (`NODE__INPUT_UNPARSEABLE`).
 */
export type ParseFailure =
  | { coded: true; code: string; message: string; context: Record<string, unknown> }
  | { coded: false; name: string; message: string }

/** A frame of an animated scene asked of the thread. */
export interface FrameRequest {
  id: number
  frame: number
}

/** What the thread says: that its modules are loaded, what the inputs parse to, a frame, or why one failed. */
export type ParseReply =
  | { type: 'ready' }
  | { type: 'parsed'; inputs: ParsedInputs }
  | { type: 'frame'; id: number; scene: Scene }
  | { type: 'failed'; id?: number; error: ParseFailure }

/** Objects walked at most in search of typed arrays to transfer: far past what a scene or model holds. */
const MAX_WALKED_OBJECTS = 1_000_000

/**
 * The array buffers behind every typed array in `value`, to transfer rather than copy: a scene's arrays run to
 * hundreds of megabytes. The walk is bounded, and a buffer shared by views (a scene's `lights` within its `aux`)
 * is named once.
 */
function buffersOf(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>()
  const seen = new Set<object>()
  const stack: unknown[] = [value]
  while (stack.length > 0 && seen.size < MAX_WALKED_OBJECTS) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null || seen.has(item)) continue
    seen.add(item)
    if (ArrayBuffer.isView(item)) {
      if (item.buffer instanceof ArrayBuffer) buffers.add(item.buffer)
    } else if (item instanceof Map) {
      for (const entry of item.values()) stack.push(entry)
    } else {
      for (const entry of Object.values(item)) stack.push(entry)
    }
  }
  return [...buffers]
}

/** The error `e` as it crosses threads: its code and context, or, uncoded, its name and message. */
function failureOf(e: unknown): ParseFailure {
  if (!isTesseraError(e)) {
    return e instanceof Error
      ? { coded: false, name: e.name, message: e.message }
      : { coded: false, name: typeof e, message: String(e) }
  }
  let context: Record<string, unknown> = { ...e.context }
  try {
    structuredClone(context)
  } catch {
    context = {}
  }
  return { coded: true, code: e.code, message: e.message, context }
}

const port = parentPort
if (isMainThread || port === null) throw new Error('the parse worker runs in a worker thread only')

/** Sends `reply`, its typed arrays transferred; copied where one cannot be (a buffer of Node's shared pool). */
function send(reply: ParseReply): void {
  try {
    port!.postMessage(reply, buffersOf(reply))
  } catch {
    port!.postMessage(reply)
  }
}

/** Parses a render's inputs: a still scene, or an animated one whose frames it then poses as they are asked. */
async function parseScene(job: SceneJob): Promise<void> {
  // As `InputCache` did in-process: without a frame rate the animations are not even decoded, none will play.
  const timeline =
    job.fps === undefined
      ? undefined
      : await SceneTimeline.load(job.scene, {
          ...(job.animation === undefined ? {} : { animation: job.animation }),
          topologyTime: (job.firstFrame ?? 0) / job.fps,
        })
  const stored = timeline === undefined ? await loadScene(job.scene) : undefined
  const panorama = job.panorama === undefined ? undefined : decodeEnvironmentImage(job.panorama)
  const lit = (scene: Scene): Scene => (panorama === undefined ? scene : withEnvironment(scene, panorama, job.lighting))
  if (job.fps === undefined || timeline === undefined || !timeline.animated) {
    send({ type: 'parsed', inputs: { kind: 'still', scene: lit(stored ?? timeline!.stored()) } })
    port!.close()
    return
  }
  const fps = job.fps
  port!.on('message', ({ id, frame }: FrameRequest) => {
    try {
      send({ type: 'frame', id, scene: lit(timeline.at(frame / fps)) })
    } catch (e) {
      send({ type: 'failed', id, error: failureOf(e) })
    }
  })
  send({ type: 'parsed', inputs: { kind: 'animated' } })
}

/** Parses an inference's model and input tensors. */
function parseModel(job: ModelJob): void {
  const model = loadOnnxModel(job.model)
  const inputs = job.bundle === undefined ? {} : decodeTensorBundle(job.bundle)
  send({ type: 'parsed', inputs: { kind: 'inference', model, inputs } })
  port!.close()
}

// Every module this one imports has been evaluated by now: the parent may terminate this thread from here on
// (terminating one still evaluating its modules can take the process down, nodejs/node#53238).
port.postMessage({ type: 'ready' } satisfies ParseReply)

port.once('message', (job: ParseJob) => {
  const parsing = job.kind === 'render' ? parseScene(job) : Promise.resolve().then(() => parseModel(job))
  parsing.catch((e: unknown) => {
    port.postMessage({ type: 'failed', error: failureOf(e) } satisfies ParseReply)
    port.close()
  })
})
