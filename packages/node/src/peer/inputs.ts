import { type AbortOptions, type Order, raceSignal, throwIfAborted } from '@tessera/core'
import {
  decodeEnvironmentImage,
  loadOnnxModel,
  loadScene,
  SceneTimeline,
  withEnvironment,
  type OnnxModel,
  type Scene,
  type Tensor,
} from '@tessera/gpu'
import { decodeTensorBundle } from './tensor-bundle.js'

/** Where input blobs come from: `node.blobs` (the creator serves them to the peers it awarded). */
export interface InputSource {
  /** Whether this node holds the blob. */
  has(cid: string, options?: AbortOptions): Promise<boolean>
  /** A blob this node holds. */
  get(cid: string, options?: AbortOptions): Promise<Uint8Array>
  /** A blob fetched from `peer`. */
  fetchFrom(peer: string, cid: string, options?: AbortOptions): Promise<Uint8Array>
}

/**
 * A job's inputs, parsed: a render's scene, built for each frame (its animations at the frame's time), or an
 * inference's model and input tensors.
 */
export type LoadedInputs =
  | { kind: 'render'; sceneAt(frame: number): Scene }
  | { kind: 'inference'; model: OnnxModel; inputs: Record<string, Tensor> }

/**
 * Frees what parsed inputs hold on the device (`Engine` is one): the cache calls it for what it drops, so a
 * worker's video memory does not wait on the garbage collector, which does not see it.
 */
export interface InputRelease {
  releaseScene(scene: Scene): void
  releaseModel(model: OnnxModel): void
}

/** Parsed inputs, and how to free what they hold on the device once the cache drops them. */
interface Held {
  inputs: LoadedInputs
  drop(): void
}

/** Inputs of an order that are read: a render's scene and panorama, an inference's model and input tensors. */
export const INPUTS_READ = 2

/** Input sets kept parsed; past it, the one used longest ago is dropped (and freed on the device). */
const CACHE_LIMIT = 8
/** Frames of one animated scene kept built: a worker's tasks and a verifier's checks come a frame or two at a time. */
const FRAMES_KEPT = 4

/** A render's inputs whose every frame is one scene; a function of its own, so the parsed document is not kept. */
function stillScene(scene: Scene, release: InputRelease | undefined): Held {
  return { inputs: { kind: 'render', sceneAt: () => scene }, drop: () => release?.releaseScene(scene) }
}

/** What of an order its inputs depend on. */
export type InputOrder = Pick<Order, 'kind' | 'inputs' | 'creator' | 'split'>

/** A render order's environment lighting, if it sets one. */
function lightingOf(order: InputOrder): { intensity: number; rotation: number; visible?: boolean } | undefined {
  return order.split.kind === 'render' ? order.split.environment : undefined
}

/** One input set's fetch, in flight or done: it runs under the cache's own controller, never a caller's signal. */
interface Loading {
  promise: Promise<Held>
  controller: AbortController
  /** Callers awaiting the fetch; when the last of them aborts before it settles, so does the fetch. */
  waiting: number
  settled: boolean
  /** The parsed inputs, once fetched. */
  held?: Held
  /** Pushed out by newer input sets: freed on the device as soon as it is parsed. */
  evicted: boolean
}

/**
 * Fetches and parses a job's inputs once per input set: every task of a job, and every verification of it, runs
 * on the same scene or model. Concurrent requests share one fetch, which no single caller's signal may cut short:
 * each caller stops waiting when its own signal aborts, and the fetch stops only once every caller has. A fetch
 * that fails or is aborted is not kept.
 *
 * With `release`, what the cache drops (an input set pushed out by newer ones, an animation frame no longer kept)
 * is freed on the device at once. A caller still holding dropped inputs can go on using them: the engine uploads
 * them again, and the collector frees that copy.
 */
export class InputCache {
  readonly #source: InputSource
  readonly #release: InputRelease | undefined
  readonly #loaded = new Map<string, Loading>()

  constructor(source: InputSource, release?: InputRelease) {
    this.#source = source
    this.#release = release
  }

  /** The inputs of `order`, fetched and parsed once; rejects with an AbortError when `options.signal` aborts. */
  async load(order: InputOrder, options: AbortOptions = {}): Promise<LoadedInputs> {
    throwIfAborted(options.signal)
    // An animated order's first frame sets the pose its frames' BVH is built for (see #fetch): part of its key.
    const play =
      order.split.kind === 'render'
        ? [order.split.fps, order.split.animation, order.split.fps === undefined ? null : order.split.firstFrame]
        : []
    const key = `${order.kind}:${order.inputs.join(',')}:${JSON.stringify([lightingOf(order) ?? null, ...play])}`
    let loading = this.#loaded.get(key)
    if (loading !== undefined) {
      // Used again: to the back of the map's order, so the set pushed out is the one used longest ago.
      this.#loaded.delete(key)
      this.#loaded.set(key, loading)
    } else {
      const controller = new AbortController()
      const entry: Loading = {
        promise: this.#fetch(order, { signal: controller.signal }),
        controller,
        waiting: 0,
        settled: false,
        evicted: false,
      }
      entry.promise.then(
        (held) => {
          entry.settled = true
          entry.held = held
          if (entry.evicted) held.drop()
        },
        () => {
          entry.settled = true
          if (this.#loaded.get(key) === entry) this.#loaded.delete(key)
        },
      )
      if (this.#loaded.size >= CACHE_LIMIT) this.#evict(this.#loaded.keys().next().value as string)
      this.#loaded.set(key, entry)
      loading = entry
    }
    return (await this.#await(key, loading, options.signal)).inputs
  }

  /** Forgets the input set at `key`, freeing it on the device once it is parsed (now, if it is). */
  #evict(key: string): void {
    const entry = this.#loaded.get(key)
    if (entry === undefined) return
    this.#loaded.delete(key)
    entry.evicted = true
    entry.held?.drop()
  }

  async #await(key: string, loading: Loading, signal: AbortSignal | undefined): Promise<Held> {
    // Counted before the first await, so a caller arriving as another aborts keeps the fetch alive.
    loading.waiting++
    try {
      return await raceSignal(loading.promise, signal)
    } finally {
      loading.waiting--
      if (loading.waiting === 0 && !loading.settled) {
        loading.controller.abort()
        if (this.#loaded.get(key) === loading) this.#loaded.delete(key)
      }
    }
  }

  async #fetch(order: InputOrder, options: AbortOptions): Promise<Held> {
    // The creator holds its own inputs (and verifies from them); workers fetch them from the creator. Only the
    // inputs read are fetched: an order may name more (up to the wire's bound), which nothing would use.
    const blobs = await Promise.all(
      order.inputs
        .slice(0, INPUTS_READ)
        .map(async (cid) =>
          (await this.#source.has(cid, options))
            ? this.#source.get(cid, options)
            : this.#source.fetchFrom(order.creator, cid, options),
        ),
    )
    if (order.kind === 'render') {
      const split = order.split.kind === 'render' ? order.split : undefined
      const fps = split?.fps
      const animation = split?.animation
      // Without a frame rate every frame is the scene as stored, and its animations are not even decoded: none will
      // play, and their keys can outweigh the rest of the file. An animation is picked only to be played. Every
      // frame's BVH refits the one built for the first frame's pose: the same tree for a frame on every peer,
      // whatever frames it built before, and the closest to the frames played.
      const timeline =
        fps === undefined
          ? undefined
          : await SceneTimeline.load(blobs[0] as Uint8Array, {
              ...(animation === undefined ? {} : { animation }),
              topologyTime: (split?.firstFrame ?? 0) / fps,
            })
      const stored = timeline === undefined ? await loadScene(blobs[0] as Uint8Array) : undefined
      // A render's second input, where there is one, is the panorama that lights the scene.
      const panorama = blobs[1] === undefined ? undefined : decodeEnvironmentImage(blobs[1])
      const lit = (scene: Scene) =>
        panorama === undefined ? scene : withEnvironment(scene, panorama, lightingOf(order))
      // With nothing that moves, every frame is the one scene.
      if (fps === undefined || timeline === undefined || !timeline.animated) {
        return stillScene(lit(stored ?? timeline!.stored()), this.#release)
      }
      return animatedScene((frame) => lit(timeline.at(frame / fps)), this.#release)
    }
    const model = loadOnnxModel(blobs[0] as Uint8Array)
    return {
      inputs: { kind: 'inference', model, inputs: blobs[1] === undefined ? {} : decodeTensorBundle(blobs[1]) },
      drop: () => this.#release?.releaseModel(model),
    }
  }
}

/** A render's inputs whose frames differ: the {@link FRAMES_KEPT} frames used last stay built. */
function animatedScene(build: (frame: number) => Scene, release: InputRelease | undefined): Held {
  // A hit moves its frame to the back of the map's order, so the front is the frame used longest ago.
  const frames = new Map<number, Scene>()
  return {
    inputs: {
      kind: 'render',
      sceneAt: (frame) => {
        let scene = frames.get(frame)
        if (scene === undefined) {
          scene = build(frame)
          if (frames.size >= FRAMES_KEPT) {
            const [oldest, dropped] = frames.entries().next().value as [number, Scene]
            frames.delete(oldest)
            release?.releaseScene(dropped)
          }
        } else {
          frames.delete(frame)
        }
        frames.set(frame, scene)
        return scene
      },
    },
    drop: () => {
      for (const scene of frames.values()) release?.releaseScene(scene)
      frames.clear()
    },
  }
}
