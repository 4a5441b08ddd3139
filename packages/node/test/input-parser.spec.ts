import type { Worker } from 'node:worker_threads'
import { WebIO } from '@gltf-transform/core'
import { isTesseraError } from '@tessera/core'
import {
  bitwiseEqual,
  decodeEnvironmentImage,
  encodeExr,
  generateScene,
  isGpuError,
  loadOnnxModel,
  loadScene,
  type Scene,
  SceneTimeline,
  tensor,
  withEnvironment,
} from '@tessera/gpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { isNodeError } from '../src/errors.js'
import type { ParseLimits } from '../src/peer/input-parser.js'
import { InputCache, type InputOrder, type InputSource } from '../src/peer/inputs.js'
import { decodeTensorBundle, encodeTensorBundle } from '../src/peer/tensor-bundle.js'
import { linearModel, rollingSphere } from './fixtures.js'

/** A creator's blobs, all held by this node. */
function heldSource(blobs: Record<string, Uint8Array>): InputSource {
  const get = async (cid: string) => {
    const blob = blobs[cid]
    if (blob === undefined) throw new Error(`no blob ${cid}`)
    return blob
  }
  return { holdsFor: async () => true, get, fetchFrom: async (_peer, cid) => get(cid) }
}

/** A render order of `inputs`, its split's fields over a still one's. */
function renderOrder(inputs: string[], split: Record<string, unknown> = {}): InputOrder {
  return { kind: 'render', inputs, creator: 'creator', split: { kind: 'render', ...split } } as unknown as InputOrder
}

/** Limits that record each parse thread started, and each one's exit code once it has ended. */
function watched(limits: ParseLimits = {}) {
  const workers: Worker[] = []
  const exits: Promise<number>[] = []
  const replies: string[] = []
  return {
    workers,
    replies,
    /** The exit codes of the threads started so far, once every one has ended. */
    exited: () => Promise.all(exits),
    limits: {
      ...limits,
      spawned: (worker: Worker) => {
        workers.push(worker)
        exits.push(new Promise((resolve) => worker.once('exit', resolve)))
        worker.on('message', (reply: { type: string }) => replies.push(reply.type))
      },
    } satisfies ParseLimits,
  }
}

/** A scene's packed arrays. */
const SCENE_ARRAYS = ['triangles', 'normals', 'materials', 'bvh', 'lights', 'aux'] as const

/** That `actual` is `expected`: its packed arrays bit for bit, the rest equal. */
function expectSameScene(actual: Scene, expected: Scene): void {
  for (const key of SCENE_ARRAYS) expect(bitwiseEqual(actual[key], expected[key]), key).toBe(true)
  const rest = (s: Scene) =>
    Object.fromEntries(Object.entries(s).filter(([k]) => !(SCENE_ARRAYS as readonly string[]).includes(k)))
  expect(rest(actual)).toEqual(rest(expected))
}

const isAbort = (e: unknown) => isTesseraError(e, 'CORE__ABORTED')

describe('InputCache parse threads', () => {
  let scene: Uint8Array
  /** 250,000 triangles: a glTF document whose objects run far past a 48 MiB heap, and whose parse takes a while. */
  let large: Uint8Array

  beforeAll(async () => {
    scene = await generateScene({ subdivisions: 1 })
    large = await generateScene({ subdivisions: 6 })
  })

  it('should load a scene lit by a panorama in a thread of its own, bit for bit as parsing it here', async () => {
    const pixels = new Float32Array(16 * 8 * 4).map((_, i) => (i % 4 === 3 ? 1 : (i % 7) / 4))
    const panorama = await encodeExr({ width: 16, height: 8, pixels })
    const lighting = { intensity: 2, rotation: 0.5 }
    const watch = watched()
    const cache = new InputCache(heldSource({ scene, panorama }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['scene', 'panorama'], { environment: lighting }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    const here = withEnvironment(await loadScene(scene), decodeEnvironmentImage(panorama), lighting)
    expectSameScene(await loaded.sceneAt(3), here)
    expect(watch.workers).toHaveLength(1)
    // Its work done, the thread is gone.
    expect(await watch.exited()).toHaveLength(1)
  })

  it('should load a model and its input tensors in a thread of its own, as parsing them here', async () => {
    const model = linearModel()
    const bundle = encodeTensorBundle({ x: tensor([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) })
    const watch = watched()
    const cache = new InputCache(heldSource({ model, bundle }), undefined, watch.limits)
    const loaded = await cache.load({
      kind: 'inference',
      inputs: ['model', 'bundle'],
      creator: 'creator',
      split: { kind: 'inference' },
    } as unknown as InputOrder)
    if (loaded.kind !== 'inference') throw new Error('not an inference')
    expect(loaded.model).toEqual(loadOnnxModel(model))
    expect(loaded.inputs).toEqual(decodeTensorBundle(bundle))
    expect(watch.workers).toHaveLength(1)
  })

  it("should pose an animated scene's frames in its parse thread bit for bit as its timeline does here", async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const watch = watched()
    const cache = new InputCache(heldSource({ scene: bytes }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['scene'], { firstFrame: 2, fps: 4 }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    const timeline = await SceneTimeline.load(bytes, { topologyTime: 2 / 4 })
    for (const frame of [2, 6, 4, 5]) expectSameScene(await loaded.sceneAt(frame), timeline.at(frame / 4))
    // One thread parsed the scene and posed every frame.
    expect(watch.workers).toHaveLength(1)
    expect(watch.replies.filter((r) => r === 'frame')).toHaveLength(4)
  })

  it("should end an animated scene's thread when its one frame asked is given up, and pose the next in a new one", async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const watch = watched()
    const cache = new InputCache(heldSource({ scene: bytes }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['scene'], { firstFrame: 0, fps: 4 }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    const caller = new AbortController()
    const given = loaded.sceneAt(3, { signal: caller.signal })
    caller.abort()
    await expect(given).rejects.toSatisfy(isAbort)
    // Terminated: only that stops a pose under way.
    expect(await watch.exited()).toEqual([1])
    const timeline = await SceneTimeline.load(bytes, { topologyTime: 0 })
    expectSameScene(await loaded.sceneAt(3), timeline.at(3 / 4))
    expect(watch.workers).toHaveLength(2)
  })

  it('should pose the frames asked at once after its thread ended in one new thread, whichever caller gives up', async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const watch = watched()
    const cache = new InputCache(heldSource({ scene: bytes }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['scene'], { firstFrame: 0, fps: 4 }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    const given = new AbortController()
    const first = loaded.sceneAt(3, { signal: given.signal })
    given.abort()
    await expect(first).rejects.toSatisfy(isAbort)
    // Two tasks ask at once; the one whose frame started the thread again gives up while the scene is parsed anew.
    const leaving = new AbortController()
    const left = loaded.sceneAt(4, { signal: leaving.signal })
    const staying = loaded.sceneAt(5)
    leaving.abort()
    await expect(left).rejects.toSatisfy(isAbort)
    const timeline = await SceneTimeline.load(bytes, { topologyTime: 0 })
    expectSameScene(await staying, timeline.at(5 / 4))
    expect(watch.workers).toHaveLength(2)
  })

  it('should pose a frame asked after its input set was let go in a thread that ends with its frames', async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const watch = watched()
    const cache = new InputCache(heldSource({ scene: bytes }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['scene'], { firstFrame: 0, fps: 4 }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    await loaded.sceneAt(1)
    // The node stops while a task holding the input set goes on, and asks two frames at once.
    cache.close()
    const [five, six] = await Promise.all([loaded.sceneAt(5), loaded.sceneAt(6)])
    const timeline = await SceneTimeline.load(bytes, { topologyTime: 0 })
    expectSameScene(five, timeline.at(5 / 4))
    expectSameScene(six, timeline.at(6 / 4))
    // One thread posed both, and ended with them: nothing would ever end a thread started for a set let go.
    expect(watch.workers).toHaveLength(2)
    expect(await watch.exited()).toHaveLength(2)
  })

  it('should finish the frame a task awaits as its input set is pushed out, then end its thread', async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const stills = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`still${i}`, scene]))
    const watch = watched()
    const cache = new InputCache(heldSource({ rolling: bytes, ...stills }), undefined, watch.limits)
    const loaded = await cache.load(renderOrder(['rolling'], { firstFrame: 0, fps: 4 }))
    if (loaded.kind !== 'render') throw new Error('not a render')
    const posing = loaded.sceneAt(3)
    // Eight newer input sets push the scene out while its frame is posed (a load pushes out as it is called).
    const pushing = Object.keys(stills).map((cid) => cache.load(renderOrder([cid])))
    const timeline = await SceneTimeline.load(bytes, { topologyTime: 0 })
    expectSameScene(await posing, timeline.at(3 / 4))
    await Promise.all(pushing)
    // The scene's thread ended once its frame was posed, as every still scene's did once parsed.
    expect(await watch.exited()).toHaveLength(9)
  })

  it("should pass a parser's coded error through from its thread with its code", async () => {
    const watch = watched()
    const bundle = new Uint8Array([0xff, 0xff, 0xff])
    const cache = new InputCache(heldSource({ bad: new Uint8Array([1, 2, 3]), bundle }), undefined, watch.limits)
    const refused = await cache.load(renderOrder(['bad'])).catch((e: unknown) => e)
    expect(isGpuError(refused, 'GPU__MALFORMED_SCENE')).toBe(true)
    const model = linearModel()
    const source = heldSource({ model, bundle })
    const inference = { kind: 'inference', inputs: ['model', 'bundle'], creator: 'c', split: { kind: 'inference' } }
    const bad = await new InputCache(source, undefined, watch.limits)
      .load(inference as unknown as InputOrder)
      .catch((e: unknown) => e)
    expect(isNodeError(bad, 'NODE__UNSUPPORTED_INPUT')).toBe(true)
    expect(watch.workers).toHaveLength(2)
  })

  it('should refuse with NODE__INPUT_UNPARSEABLE inputs a parser fails on without a code of its own', async () => {
    const watch = watched()
    const cache = new InputCache(
      heldSource({ scene: await new WebIO().writeBinary(rollingSphere()) }),
      undefined,
      watch.limits,
    )
    // An animation named by no string: no order carries one, but it makes the timeline throw a TypeError, as a
    // RangeError is thrown for an input nested past the thread's stack.
    const order = renderOrder(['scene'], { firstFrame: 0, fps: 4, animation: {} })
    const refused = await cache.load(order).catch((e: unknown) => e)
    // They would fail alike at every parse: a code that makes a worker leave their order.
    expect(isNodeError(refused, 'NODE__INPUT_UNPARSEABLE')).toBe(true)
    expect((refused as { context: { reason: string } }).context.reason).toBe('parser-failed')
    expect((refused as Error).message).toMatch(/the parser failed on them \(TypeError: .+\)/)
    expect(await watch.exited()).toHaveLength(1)
  })

  it("should refuse a scene exhausting its parse thread's heap with NODE__INPUT_UNPARSEABLE, and go on", async () => {
    const watch = watched({ maxOldGenerationSizeMb: 48 })
    const refused = await new InputCache(heldSource({ large }), undefined, watch.limits)
      .load(renderOrder(['large']))
      .catch((e: unknown) => e)
    expect(isNodeError(refused, 'NODE__INPUT_UNPARSEABLE')).toBe(true)
    expect((refused as { context: { reason: string } }).context.reason).toBe('out-of-memory')
    // Its modules loaded within the bound: the parse itself ran out.
    expect(watch.replies).toContain('ready')
    expect(watch.replies).not.toContain('parsed')
    // This process lives on, and parses the next job's inputs.
    const loaded = await new InputCache(heldSource({ scene })).load(renderOrder(['scene']))
    expect(loaded.kind).toBe('render')
  })

  it('should end a parse past its deadline with NODE__INPUT_PARSE_FAILED, terminating its thread', async () => {
    const deadlines: { ms: number; fire: () => void }[] = []
    const watch = watched({
      schedule: (ms, fire) => {
        deadlines.push({ ms, fire })
        return () => {}
      },
    })
    const loading = new InputCache(heldSource({ large }), undefined, watch.limits).load(renderOrder(['large']))
    await expect.poll(() => deadlines.length).toBe(1)
    expect(deadlines[0]?.ms).toBe(2 * 60_000)
    deadlines[0]?.fire()
    const refused = await loading.catch((e: unknown) => e)
    // Not the input's fault alone (a busy machine parses slowly): a code that fails only the task.
    expect(isNodeError(refused, 'NODE__INPUT_PARSE_FAILED')).toBe(true)
    expect((refused as { context: { reason: string } }).context.reason).toBe('timed-out')
    // Terminated, not finished: it never answered.
    expect(await watch.exited()).toEqual([1])
    expect(watch.replies).not.toContain('parsed')
  })

  it("should abort an evicted load's parse once no caller awaits it, and never one a caller still awaits", async () => {
    const stills = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`still${i}`, scene]))
    const watch = watched()
    const cache = new InputCache(heldSource({ scene, large, ...stills }), undefined, watch.limits)
    const [leaving, staying, alone] = [new AbortController(), new AbortController(), new AbortController()]
    const shared = [leaving, staying].map((c) => cache.load(renderOrder(['scene']), { signal: c.signal }))
    const largeLoad = cache.load(renderOrder(['large']), { signal: alone.signal })
    // Eight newer input sets push both out while they are loaded.
    const pushing = Object.keys(stills).map((cid) => cache.load(renderOrder([cid])))
    leaving.abort()
    alone.abort()
    await expect(shared[0]).rejects.toSatisfy(isAbort)
    await expect(largeLoad).rejects.toSatisfy(isAbort)
    // One caller still awaits the scene: it is parsed for it, pushed out or not.
    expect((await shared[1])?.kind).toBe('render')
    await Promise.all(pushing)
    // The large scene's thread was terminated (exit code 1), not left to parse for no one.
    expect((await watch.exited())[1]).toBe(1)
  })

  it('should terminate the parse thread once every caller has aborted', async () => {
    const watch = watched()
    const caller = new AbortController()
    const loading = new InputCache(heldSource({ large }), undefined, watch.limits).load(renderOrder(['large']), {
      signal: caller.signal,
    })
    await expect.poll(() => watch.workers.length).toBe(1)
    caller.abort()
    await expect(loading).rejects.toSatisfy(isAbort)
    expect(await watch.exited()).toEqual([1])
    expect(watch.replies).not.toContain('parsed')
  })
})
