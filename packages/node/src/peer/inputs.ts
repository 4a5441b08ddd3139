import { type AbortOptions, type Order, raceSignal, throwIfAborted } from '@tessera/core'
import type { OnnxModel, Scene, Tensor } from '@tessera/gpu'
import { MAX_INPUT_BYTES } from '../constants.js'
import { type ParseLimits, type SceneFrames, startParser } from './input-parser.js'

/** Options of {@link InputSource.fetchFrom}. */
export interface InputFetchOptions extends AbortOptions {
  /** Largest blob the fetch accepts: a provider announcing more is refused before anything is allocated. */
  maxBytes?: number
}

/** Where input blobs come from: `node.blobs` (the creator serves them to the peers it awarded). */
export interface InputSource {
  /**
   * Whether this node holds the blob as `order`'s input: a copy its creator may have (see `creatorSource`), read here
   * rather than fetched. Input CIDs are public, so a copy held for anyone else must not run a stranger's order: that
   * would hand the stranger work on a blob it was never let fetch.
   */
  holdsFor(cid: string, order: InputOrder, options?: AbortOptions): Promise<boolean>
  /** A blob this node holds. */
  get(cid: string, options?: AbortOptions): Promise<Uint8Array>
  /** A blob fetched from `peer`. */
  fetchFrom(peer: string, cid: string, options?: InputFetchOptions): Promise<Uint8Array>
}

/**
 * A job's inputs, parsed: a render's scene, built for each frame (its animations at the frame's time, posed in the
 * thread that parsed them), or an inference's model and input tensors.
 */
export type LoadedInputs =
  | { kind: 'render'; sceneAt(frame: number, options?: AbortOptions): Promise<Scene> }
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
  return {
    inputs: {
      kind: 'render',
      sceneAt: async (_frame, options = {}) => {
        throwIfAborted(options.signal)
        return scene
      },
    },
    drop: () => release?.releaseScene(scene),
  }
}

/** What of an order its inputs depend on. */
export type InputOrder = Pick<Order, 'jobId' | 'kind' | 'inputs' | 'creator' | 'split'>

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
 * on the same scene or model. Inputs are parsed in a worker thread bounded in memory and time (see
 * `input-parser.ts` and `limits`), never on this thread: a hostile input the parsers' bounds miss is refused with
 * `NODE__INPUT_UNPARSEABLE` or `NODE__INPUT_PARSE_FAILED` instead of stalling the node or exhausting its heap.
 * Concurrent requests for one creator's inputs share one fetch (orders of different creators naming the same inputs
 * fetch them apart), which no single caller's signal may cut short: each caller stops waiting when its own signal
 * aborts, and the fetch stops only once every caller has, even when its input set was pushed out meanwhile. A fetch
 * that fails or is aborted is not kept, and one input failing stops the fetches of the others.
 *
 * With `release`, what the cache drops (an input set pushed out by newer ones, an animation frame no longer kept)
 * is freed on the device at once. A caller still holding dropped inputs can go on using them: the engine uploads
 * them again, and the collector frees that copy. An animated scene's frames being posed as it is dropped are still
 * posed for their callers; one asked after is posed in a thread that ends with it, and is never kept.
 */
export class InputCache {
  readonly #source: InputSource
  readonly #release: InputRelease | undefined
  readonly #limits: ParseLimits
  readonly #loaded = new Map<string, Loading>()

  constructor(source: InputSource, release?: InputRelease, limits: ParseLimits = {}) {
    this.#source = source
    this.#release = release
    this.#limits = limits
  }

  /** The inputs of `order`, fetched and parsed once; rejects with an AbortError when `options.signal` aborts. */
  async load(order: InputOrder, options: AbortOptions = {}): Promise<LoadedInputs> {
    throwIfAborted(options.signal)
    // An animated order's first frame sets the pose its frames' BVH is built for (see #fetch): part of its key.
    const play =
      order.split.kind === 'render'
        ? [order.split.fps, order.split.animation, order.split.fps === undefined ? null : order.split.firstFrame]
        : []
    // The creator fetched from too: an order copying another's public input CIDs, its creator refusing them or
    // sending them slowly, must not fail or hold up the tasks of the order it copied by sharing their fetch.
    const key = [
      order.kind,
      order.creator,
      order.inputs.join(','),
      JSON.stringify([lightingOf(order) ?? null, ...play]),
    ].join(':')
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

  /**
   * Forgets every input set: parses under way stop (their threads end), and what is parsed is freed on the device and
   * its threads (an animated scene's) end, once the frames they are posing are done. A node's stop calls it, so an
   * application that embeds the node and goes on keeps no thread of it. Loads after it start afresh.
   */
  close(): void {
    for (const [key, entry] of [...this.#loaded]) {
      // Settled ones too: whatever of their work may still run stops (a parsed set's own threads end as it is freed).
      entry.controller.abort()
      this.#evict(key)
    }
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
    // Started first: the thread loads its modules (half a second) while the inputs are fetched.
    const parser = startParser(this.#limits)
    // One input failing fails the set: its siblings stop then, not run on (holding fetch budget) with nobody behind.
    const failed = new AbortController()
    const signal = options.signal === undefined ? failed.signal : AbortSignal.any([options.signal, failed.signal])
    let blobs: Uint8Array[]
    try {
      // The creator holds its own inputs (and verifies from them); workers fetch them from the creator, which proves
      // the creator holds them. Only the inputs read are fetched: an order may name more (up to the wire's bound),
      // which nothing would use; none larger than a job input may be.
      blobs = await Promise.all(
        order.inputs.slice(0, INPUTS_READ).map(async (cid) => {
          try {
            return (await this.#source.holdsFor(cid, order, { signal }))
              ? await this.#source.get(cid, { signal })
              : await this.#source.fetchFrom(order.creator, cid, { signal, maxBytes: MAX_INPUT_BYTES })
          } catch (e) {
            failed.abort()
            throw e
          }
        }),
      )
    } catch (e) {
      parser.close()
      throw e
    }
    const split = order.split.kind === 'render' ? order.split : undefined
    const parsed = await parser.parse(
      order.kind === 'render'
        ? {
            kind: 'render',
            scene: blobs[0] as Uint8Array,
            // A render's second input, where there is one, is the panorama that lights the scene.
            ...(blobs[1] === undefined ? {} : { panorama: blobs[1] }),
            ...(lightingOf(order) === undefined ? {} : { lighting: lightingOf(order) }),
            // Without a frame rate every frame is the scene as stored, and its animations are not even decoded.
            // Every frame's BVH refits the one built for the first frame's pose: the same tree for a frame on every
            // peer, whatever frames it built before.
            ...(split?.fps === undefined ? {} : { fps: split.fps, firstFrame: split.firstFrame }),
            ...(split?.animation === undefined ? {} : { animation: split.animation }),
          }
        : { kind: 'inference', model: blobs[0] as Uint8Array, ...(blobs[1] === undefined ? {} : { bundle: blobs[1] }) },
      options,
    )
    if (parsed.kind === 'still') return stillScene(parsed.scene, this.#release)
    if (parsed.kind === 'animated') return animatedScene(parsed.frames, this.#release)
    const model = parsed.model
    return {
      inputs: { kind: 'inference', model, inputs: parsed.inputs },
      drop: () => this.#release?.releaseModel(model),
    }
  }
}

/** One frame of an animated scene being posed, or posed: shared by its callers as an input set's fetch is. */
interface FrameLoading {
  promise: Promise<Scene>
  controller: AbortController
  waiting: number
  settled: boolean
}

/**
 * A render's inputs whose frames differ, posed by `frames`: the {@link FRAMES_KEPT} frames used last stay built.
 * A frame asked by several callers is posed once, and its posing stops once every caller has aborted. Once the
 * inputs are dropped, a frame asked (a task still holding them) is posed for its caller alone and freed, not kept:
 * nothing would free it later.
 */
function animatedScene(frames: SceneFrames, release: InputRelease | undefined): Held {
  // A hit moves its frame to the back of the map's order, so the front is the frame used longest ago.
  const kept = new Map<number, FrameLoading>()
  let dropped = false
  // A frame dropped while it is posed is freed once it is built.
  const free = (entry: FrameLoading) =>
    void entry.promise.then(
      (scene) => release?.releaseScene(scene),
      () => {},
    )
  return {
    inputs: {
      kind: 'render',
      sceneAt: async (frame, options = {}) => {
        throwIfAborted(options.signal)
        if (dropped) {
          const scene = await frames.sceneAt(frame, options)
          release?.releaseScene(scene)
          return scene
        }
        let entry = kept.get(frame)
        if (entry !== undefined) {
          kept.delete(frame)
        } else {
          const controller = new AbortController()
          const posing: FrameLoading = {
            promise: frames.sceneAt(frame, { signal: controller.signal }),
            controller,
            waiting: 0,
            settled: false,
          }
          posing.promise.then(
            () => {
              posing.settled = true
            },
            () => {
              posing.settled = true
              if (kept.get(frame) === posing) kept.delete(frame)
            },
          )
          if (kept.size >= FRAMES_KEPT) {
            const [oldest, dropped] = kept.entries().next().value as [number, FrameLoading]
            kept.delete(oldest)
            free(dropped)
          }
          entry = posing
        }
        kept.set(frame, entry)
        entry.waiting++
        try {
          return await raceSignal(entry.promise, options.signal)
        } finally {
          entry.waiting--
          if (entry.waiting === 0 && !entry.settled) {
            entry.controller.abort()
            if (kept.get(frame) === entry) kept.delete(frame)
          }
        }
      },
    },
    drop: () => {
      dropped = true
      for (const entry of kept.values()) free(entry)
      kept.clear()
      frames.close()
    },
  }
}
