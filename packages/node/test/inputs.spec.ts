import { isTesseraError } from '@tessera/core'
import { WebIO } from '@gltf-transform/core'
import { bitwiseEqual, generateScene, onnx, type OnnxModel, type Scene } from '@tessera/gpu'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  InputCache,
  type InputFetchOptions,
  type InputOrder,
  type InputRelease,
  type InputSource,
} from '../src/peer/inputs.js'
import { MAX_INPUT_BYTES } from '../src/constants.js'
import { cameraPan, rollingSphere } from './fixtures.js'

const ORDER = {
  kind: 'render',
  inputs: ['bafyscene'],
  creator: 'creator',
  split: { kind: 'render' },
} as unknown as InputOrder

/** A creator's blobs, fetched only when the test says: each fetch's signal is kept, to see whether it aborted. */
class SlowSource implements InputSource {
  readonly fetches: {
    peer: string
    signal: AbortSignal | undefined
    maxBytes: number | undefined
    resolve: () => void
    reject: (e: Error) => void
  }[] = []
  constructor(readonly bytes: Uint8Array) {}

  async holdsFor(): Promise<boolean> {
    return false
  }

  async get(): Promise<Uint8Array> {
    throw new Error('not held')
  }

  fetchFrom(peer: string, _cid: string, options: InputFetchOptions = {}): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(new Error('fetch aborted')), { once: true })
      this.fetches.push({
        peer,
        signal: options.signal,
        maxBytes: options.maxBytes,
        resolve: () => resolve(this.bytes),
        reject,
      })
    })
  }
}

/** ONNX bytes of y = relu(x), x of [batch, 4] floats. */
function reluModel(): Uint8Array {
  const info = (name: string) => ({
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'b' }, { dimValue: 4 }] } },
    },
  })
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'relu',
      input: [info('x')],
      output: [info('y')],
      node: [{ opType: 'Relu', input: ['x'], output: ['y'] }],
    },
  }).finish()
}

/** That `actual` holds exactly the objects of `expected`, in order: the same objects, not equal copies. */
function expectSame(actual: readonly object[], expected: readonly object[]): void {
  expect(actual).toHaveLength(expected.length)
  expected.forEach((e, i) => expect(actual[i]).toBe(e))
}

/** Records what the cache frees on the device. */
class Released implements InputRelease {
  readonly scenes: Scene[] = []
  readonly models: OnnxModel[] = []
  releaseScene(scene: Scene): void {
    this.scenes.push(scene)
  }
  releaseModel(model: OnnxModel): void {
    this.models.push(model)
  }
}

const isAbort = (e: unknown) => isTesseraError(e, 'CORE__ABORTED')
/** Lets the cache's awaits before the fetch run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('InputCache', () => {
  let scene: Uint8Array

  beforeAll(async () => {
    scene = await generateScene({ subdivisions: 1 })
  })

  it("should keep fetching for the others when one caller's signal aborts", async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const first = new AbortController()
    const leaving = cache.load(ORDER, { signal: first.signal })
    const staying = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(1)
    first.abort()
    await expect(leaving).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(false)
    source.fetches[0]?.resolve()
    expect((await staying).kind).toBe('render')
    // Fetched once, kept: the next task of the job loads without fetching.
    await cache.load(ORDER)
    expect(source.fetches).toHaveLength(1)
  })

  it("should fetch no input larger than the node's bound on a job input", async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const loading = cache.load(ORDER)
    await settle()
    expect(source.fetches.map((f) => f.maxBytes)).toEqual([MAX_INPUT_BYTES])
    source.fetches[0]?.resolve()
    await loading
    cache.close()
  })

  it('should abort the fetch once every caller has aborted, and fetch afresh for the next', async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const callers = [new AbortController(), new AbortController()]
    const loads = callers.map((c) => cache.load(ORDER, { signal: c.signal }))
    await settle()
    callers[0]?.abort()
    await expect(loads[0]).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(false)
    callers[1]?.abort()
    await expect(loads[1]).rejects.toSatisfy(isAbort)
    expect(source.fetches[0]?.signal?.aborted).toBe(true)
    const again = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(2)
    source.fetches[1]?.resolve()
    expect((await again).kind).toBe('render')
  })

  it('should not keep a fetch that failed', async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const failed = cache.load(ORDER)
    await settle()
    source.fetches[0]?.reject(new Error('creator gone'))
    await expect(failed).rejects.toThrow('creator gone')
    const again = cache.load(ORDER)
    await settle()
    expect(source.fetches).toHaveLength(2)
    source.fetches[1]?.resolve()
    expect((await again).kind).toBe('render')
  })

  it("should stop fetching an input set's other inputs once one of them fails, and not leave them to run", async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const loading = cache.load({ ...ORDER, inputs: ['bafyscene', 'bafypanorama'] })
    await settle()
    expect(source.fetches).toHaveLength(2)
    // The creator refuses the scene at once: the panorama's fetch has nobody left to wait for it.
    source.fetches[0]?.reject(new Error('access denied'))
    await expect(loading).rejects.toThrow('access denied')
    expect(source.fetches[1]?.signal?.aborted).toBe(true)
  })

  it("should fetch an order's inputs from its own creator, not join another creator's fetch of the same CIDs", async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    // A copy of the honest order's public inputs, ordered by another peer whose fetch started first.
    const copied = cache.load({ ...ORDER, creator: 'copier' })
    const honest = cache.load(ORDER)
    await settle()
    expect(source.fetches.map((f) => f.peer)).toEqual(['copier', 'creator'])
    source.fetches[0]?.reject(new Error('access denied'))
    await expect(copied).rejects.toThrow('access denied')
    source.fetches[1]?.resolve()
    expect((await honest).kind).toBe('render')
  })

  it('should refuse at once a caller whose signal has already aborted', async () => {
    const source = new SlowSource(scene)
    await expect(new InputCache(source).load(ORDER, { signal: AbortSignal.abort() })).rejects.toSatisfy(isAbort)
    await settle()
    expect(source.fetches).toHaveLength(0)
  })

  it('should not decode the animations of a still order, and still refuse them for an animated one', async () => {
    // The camera pan with its keys' times out of order: an animation that cannot be played.
    const doc = cameraPan()
    const times = doc.getRoot().listAnimations()[0]!.listSamplers()[0]!.getInput()!
    times.setArray(new Float32Array([1, 0]))
    const source = new SlowSource(await new WebIO().writeBinary(doc))
    const cache = new InputCache(source)
    const still = cache.load(ORDER)
    // Its refusal caught as it comes, while the still order is awaited.
    const played = cache.load({ ...ORDER, split: { kind: 'render', firstFrame: 0, fps: 4 } } as typeof ORDER).then(
      () => undefined,
      (e: unknown) => e,
    )
    await settle()
    for (const fetch of source.fetches) fetch.resolve()
    const loaded = await still
    if (loaded.kind !== 'render') throw new Error('not a render')
    expect((await loaded.sceneAt(0)).triangleCount).toBeGreaterThan(0)
    expect(isTesseraError(await played, 'GPU__MALFORMED_SCENE')).toBe(true)
  })

  it("should build an animated order's frame bit for bit whatever frames it built before, on its first frame's tree", async () => {
    const bytes = await new WebIO().writeBinary(rollingSphere())
    const order = { ...ORDER, split: { kind: 'render', firstFrame: 2, fps: 4 } } as typeof ORDER
    const framesOf = async () => {
      const source = new SlowSource(bytes)
      const loading = new InputCache(source).load(order)
      await settle()
      source.fetches[0]?.resolve()
      const loaded = await loading
      if (loaded.kind !== 'render') throw new Error('not a render')
      return loaded
    }
    const worker = await framesOf()
    const first = await worker.sceneAt(2)
    for (const frame of [6, 4]) await worker.sceneAt(frame)
    const verifier = await framesOf()
    const alone = await verifier.sceneAt(5)
    const after = await worker.sceneAt(5)
    expect(bitwiseEqual(after.bvh, alone.bvh)).toBe(true)
    expect(bitwiseEqual(after.triangles, alone.triangles)).toBe(true)
    // The tree is the first frame's, refitted: the same nodes, each over the same triangles.
    const slots = (bvh: Float32Array) => Array.from(new Uint32Array(bvh.buffer)).filter((_, i) => i % 4 === 3)
    expect(bitwiseEqual(after.triangles, first.triangles)).toBe(false)
    expect(slots(after.bvh)).toEqual(slots(first.bvh))
  })

  it('should free on the device each animation frame it stops keeping, the one used longest ago first', async () => {
    const source = new SlowSource(await new WebIO().writeBinary(cameraPan()))
    const released = new Released()
    const cache = new InputCache(source, released)
    const order = { ...ORDER, split: { kind: 'render', firstFrame: 0, fps: 4 } } as typeof ORDER
    const loading = cache.load(order)
    await settle()
    source.fetches[0]?.resolve()
    const loaded = await loading
    if (loaded.kind !== 'render') throw new Error('not a render')
    const frames: Scene[] = []
    for (const f of [0, 1, 2, 3]) frames.push(await loaded.sceneAt(f))
    expect(new Set(frames).size).toBe(4)
    // Frame 0 used again: frame 1 is now the one used longest ago.
    expect(await loaded.sceneAt(0)).toBe(frames[0])
    expect(released.scenes).toEqual([])
    await loaded.sceneAt(4)
    await settle()
    expectSame(released.scenes, [frames[1]!])
    await loaded.sceneAt(5)
    await settle()
    expectSame(released.scenes, [frames[1]!, frames[2]!])
  })

  it('should free on the device an input set pushed out by newer ones, with every frame it kept', async () => {
    const source = new SlowSource(await new WebIO().writeBinary(cameraPan()))
    const released = new Released()
    const cache = new InputCache(source, released)
    const orderFor = (i: number) => ({
      ...ORDER,
      inputs: [`bafyscene${i}`],
      split: { kind: 'render', firstFrame: 0, fps: 4 },
    })
    const load = async (i: number) => {
      const loading = cache.load(orderFor(i) as typeof ORDER)
      await settle()
      source.fetches.at(-1)?.resolve()
      const loaded = await loading
      if (loaded.kind !== 'render') throw new Error('not a render')
      return loaded
    }
    const first = await load(0)
    const kept = [await first.sceneAt(0), await first.sceneAt(1)]
    for (let i = 1; i < 8; i++) await (await load(i)).sceneAt(0)
    expect(released.scenes).toEqual([])
    // The ninth input set pushes the first out.
    await load(8)
    await settle()
    expectSame(released.scenes, kept)
  })

  it('should free every input set it holds and stop the loads under way when closed', async () => {
    const source = new SlowSource(await new WebIO().writeBinary(cameraPan()))
    const released = new Released()
    const cache = new InputCache(source, released)
    const animated = { ...ORDER, split: { kind: 'render', firstFrame: 0, fps: 4 } } as typeof ORDER
    const loading = cache.load(animated)
    await settle()
    source.fetches[0]?.resolve()
    const loaded = await loading
    if (loaded.kind !== 'render') throw new Error('not a render')
    const frame = await loaded.sceneAt(0)
    // Another input set is still being fetched as the node stops.
    const pending = cache.load({ ...ORDER, inputs: ['bafyother'] })
    await settle()
    cache.close()
    await expect(pending).rejects.toThrow()
    expect(source.fetches[1]?.signal?.aborted).toBe(true)
    await settle()
    expectSame(released.scenes, [frame])
  })

  it('should free, not keep, a frame asked of an animated input set after it was let go', async () => {
    const source = new SlowSource(await new WebIO().writeBinary(cameraPan()))
    const released = new Released()
    const cache = new InputCache(source, released)
    const loading = cache.load({ ...ORDER, split: { kind: 'render', firstFrame: 0, fps: 4 } } as typeof ORDER)
    await settle()
    source.fetches[0]?.resolve()
    const loaded = await loading
    if (loaded.kind !== 'render') throw new Error('not a render')
    const kept = await loaded.sceneAt(0)
    cache.close()
    // A task still holding the set goes on: each frame it asks is posed for it, and freed, for nothing else would.
    const [asked, again] = [await loaded.sceneAt(1), await loaded.sceneAt(1)]
    expect(again).not.toBe(asked)
    expectSame(released.scenes, [kept, asked, again])
  })

  it('should free an input set pushed out while it is still being fetched once it is parsed', async () => {
    const source = new SlowSource(scene)
    const released = new Released()
    const cache = new InputCache(source, released)
    const first = cache.load(ORDER)
    await settle()
    for (let i = 1; i <= 8; i++) void cache.load({ ...ORDER, inputs: [`bafyscene${i}`] })
    await settle()
    expect(released.scenes).toEqual([])
    source.fetches[0]?.resolve()
    const loaded = await first
    if (loaded.kind !== 'render') throw new Error('not a render')
    await settle()
    // Its waiting caller still gets it, and may render it: the engine uploads a released scene again.
    expectSame(released.scenes, [await loaded.sceneAt(0)])
    for (const f of source.fetches.slice(1)) f.resolve()
  })

  it('should free on the device a model pushed out by newer input sets', async () => {
    const source = new SlowSource(reluModel())
    const released = new Released()
    const cache = new InputCache(source, released)
    const models: OnnxModel[] = []
    for (let i = 0; i <= 8; i++) {
      const loading = cache.load({
        ...ORDER,
        kind: 'inference',
        inputs: [`bafymodel${i}`],
        split: { kind: 'inference' },
      } as typeof ORDER)
      await settle()
      source.fetches.at(-1)?.resolve()
      const loaded = await loading
      if (loaded.kind !== 'inference') throw new Error('not an inference')
      models.push(loaded.model)
    }
    await settle()
    expectSame(released.models, [models[0]!])
    expect(released.scenes).toEqual([])
  })

  it('should push out the input set used longest ago, not the one loaded first', async () => {
    const source = new SlowSource(scene)
    const released = new Released()
    const cache = new InputCache(source, released)
    const load = async (i: number) => {
      const loading = cache.load({ ...ORDER, inputs: [`bafyscene${i}`] })
      await settle()
      source.fetches.at(-1)?.resolve()
      const loaded = await loading
      if (loaded.kind !== 'render') throw new Error('not a render')
      return await loaded.sceneAt(0)
    }
    const first = await load(0)
    const second = await load(1)
    for (let i = 2; i < 8; i++) await load(i)
    // The first set is used again (a task of its job): the second is now the one used longest ago.
    expect(await load(0)).toBe(first)
    await load(8)
    expectSame(released.scenes, [second])
  })

  it('should fetch only the inputs it reads, whatever else an order names', async () => {
    const source = new SlowSource(scene)
    const cache = new InputCache(source)
    const loading = cache.load({
      ...ORDER,
      inputs: ['bafyscene', ...Array.from({ length: 40 }, (_, i) => `bafyx${i}`)],
    })
    await settle()
    // The scene and what would be its panorama: not the 39 more a peer could name to make it fetch gigabytes.
    expect(source.fetches).toHaveLength(2)
    for (const f of source.fetches) f.reject(new Error('not needed'))
    await expect(loading).rejects.toThrow('not needed')
  })
})
