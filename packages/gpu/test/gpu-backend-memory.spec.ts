import { isCoreError } from '@tessera/core'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createEngine, GpuBackend, isGpuError, loadOnnxModel, runOnnx, tensor } from '../src/index.js'
import type { Engine, OnnxModel, Tensor } from '../src/index.js'
import { BufferUsage } from '../src/device/flags.js'
import { GraphBuilder, randomFloats } from './helpers/onnx-builder.js'

/** Elements of each tensor in the chains below: 4 KiB, so a test's buffers stay small. */
const ELEMENTS = 1024
const TENSOR_BYTES = ELEMENTS * 4

/** `depth` nodes y = ((x + x) * x + x) ... ; with `keepAll`, every intermediate is also a graph output. */
function chainModel(depth: number, keepAll = false): OnnxModel {
  const g = new GraphBuilder().input('x', [ELEMENTS])
  let prev = 'x'
  for (let i = 0; i < depth; i++) {
    const out = i === depth - 1 ? 'y' : `v${i}`
    g.node(i % 2 === 0 ? 'Add' : 'Mul', [prev, 'x'], [out])
    if (keepAll || out === 'y') g.output(out, [ELEMENTS])
    prev = out
  }
  return loadOnnxModel(g.build())
}

/** Counts the device's storage buffers (read-back staging aside) alive now, and the most alive at once. */
interface BufferCount {
  live: number
  peak: number
  /** `queue.submit` calls since the count began. */
  submits: number
}

function countBuffers(device: GPUDevice): BufferCount {
  const count: BufferCount = { live: 0, peak: 0, submits: 0 }
  const create = device.createBuffer.bind(device)
  vi.spyOn(device, 'createBuffer').mockImplementation((descriptor) => {
    const buffer = create(descriptor)
    if ((descriptor.usage & BufferUsage.MAP_READ) !== 0) return buffer
    count.live++
    count.peak = Math.max(count.peak, count.live)
    const destroy = buffer.destroy.bind(buffer)
    let destroyed = false
    buffer.destroy = () => {
      if (!destroyed) count.live--
      destroyed = true
      destroy()
    }
    return buffer
  })
  const submit = device.queue.submit.bind(device.queue)
  vi.spyOn(device.queue, 'submit').mockImplementation((buffers) => {
    count.submits++
    submit(buffers)
  })
  return count
}

describe('GpuBackend device memory', () => {
  let engine: Engine
  const x = tensor([ELEMENTS], randomFloats(ELEMENTS, 7))

  beforeAll(async () => {
    engine = await createEngine({ maxRunDeviceBytes: 8 * TENSOR_BYTES })
  })

  afterAll(() => {
    engine.destroy()
  })

  afterEach(() => {
    vi.restoreAllMocks()
  })

  const backend = (options: ConstructorParameters<typeof GpuBackend>[2]): GpuBackend =>
    new GpuBackend(engine.context, engine.tensors.matmulKernel, options)

  it('should keep a chain of nodes to its live set, with results equal bit for bit', async () => {
    const depth = 32
    const model = chainModel(depth)
    const whole = backend({ flushGarbageBytes: Infinity })
    const expected = (await runOnnx(whole, model, { x })).y!
    whole.dispose()
    expect(whole.peakLiveBytes).toBeGreaterThan(depth * TENSOR_BYTES)

    const count = countBuffers(engine.device)
    const bounded = backend({ flushGarbageBytes: 4 * TENSOR_BYTES })
    const y = (await runOnnx(bounded, model, { x })).y!
    bounded.dispose()

    expect(Buffer.from(y.data.buffer)).toEqual(Buffer.from(expected.data.buffer))
    // The input, two live intermediates, at most four released ones and their kernels' parameter blocks.
    expect(count.peak).toBeLessThan(16)
    expect(bounded.peakLiveBytes).toBeLessThan(8 * TENSOR_BYTES)
    expect(count.live).toBe(0)
    expect(bounded.liveBytes).toBe(0)
  })

  it('should free released buffers rather than refuse when only they pass the live bound', async () => {
    const model = chainModel(32)
    const eager = backend({ flushGarbageBytes: 0 })
    const expected = (await runOnnx(eager, model, { x })).y!
    eager.dispose()
    const bounded = backend({ maxLiveBytes: 4 * TENSOR_BYTES })
    const y = (await runOnnx(bounded, model, { x })).y!
    bounded.dispose()
    expect(Buffer.from(y.data.buffer)).toEqual(Buffer.from(expected.data.buffer))
  })

  it('should refuse a run whose live set passes the bound, with GPU__ALLOCATION_EXCEEDED', async () => {
    const run = backend({ maxLiveBytes: 8 * TENSOR_BYTES })
    const error = await runOnnx(run, chainModel(32, true), { x }).catch((e: unknown) => e)
    expect(isGpuError(error, 'GPU__ALLOCATION_EXCEEDED')).toBe(true)
    expect((error as { context: { limit: number } }).context.limit).toBe(8 * TENSOR_BYTES)
    expect(run.liveBytes).toBeLessThanOrEqual(8 * TENSOR_BYTES)
    run.dispose()
    expect(run.liveBytes).toBe(0)
  })

  it("should refuse an engine run past maxRunDeviceBytes and destroy all of the run's buffers", async () => {
    const count = countBuffers(engine.device)
    const error = await engine.runModel(chainModel(32, true), { x }).catch((e: unknown) => e)
    expect(isGpuError(error, 'GPU__ALLOCATION_EXCEEDED')).toBe(true)
    expect(count.peak).toBeGreaterThan(0)
    expect(count.live).toBe(0)
    // The same engine runs a model whose live set fits.
    const y: Tensor = (await engine.runModel(chainModel(32), { x })).y!
    expect(y.data).toHaveLength(ELEMENTS)
    expect(count.live).toBe(0)
  })

  it('should submit nothing more once a run aborts between nodes, and destroy its buffers', async () => {
    const model = chainModel(64)
    const controller = new AbortController()
    const count = countBuffers(engine.device)
    let submitsAtAbort = 0
    const pending = engine.runModel(model, { x }, { signal: controller.signal })
    // Fires on the event loop's next turn: after the run's first nodes are recorded, before its end.
    setImmediate(() => {
      submitsAtAbort = count.submits
      controller.abort()
    })
    await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    expect(count.submits).toBe(submitsAtAbort)
    expect(count.live).toBe(0)
  })

  it('should not send the rest of an aborted run to the device as it frees its tensors', async () => {
    // Freed at every release, so each release would submit what is recorded, were it not dropped first.
    const run = backend({ flushGarbageBytes: 0 })
    const count = countBuffers(engine.device)
    const a = run.fromHost(x)
    const b = run.binary('add', a, a)
    const recorded = count.submits
    run.abandon()
    for (const t of [a, b]) run.release(t)
    expect(count.submits).toBe(recorded)
    expect(count.live).toBe(0)
    run.dispose()

    // A run that fails or is aborted abandons its recorded work before it releases its tensors; one that ends does not.
    const controller = new AbortController()
    const aborted = backend({})
    const abandon = vi.spyOn(aborted, 'abandon')
    const pending = runOnnx(aborted, chainModel(64), { x }, { signal: controller.signal })
    setImmediate(() => controller.abort())
    await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    expect(abandon).toHaveBeenCalledTimes(1)
    aborted.dispose()
    const finished = backend({})
    const kept = vi.spyOn(finished, 'abandon')
    await runOnnx(finished, chainModel(4), { x })
    expect(kept).not.toHaveBeenCalled()
    finished.dispose()
  })

  it('should pace an abortable run in windows, so an abort leaves at most two windows on the device', async () => {
    const side = 16
    const depth = 16
    const g = new GraphBuilder().input('a', [side, side]).output('y', [side, side])
    for (let i = 0; i < depth; i++)
      g.node('MatMul', [i === 0 ? 'a' : `h${i - 1}`, 'a'], [i === depth - 1 ? 'y' : `h${i}`])
    const model = loadOnnxModel(g.build())
    const a = tensor([side, side], randomFloats(side * side, 3))
    // A window is one MatMul's multiply-adds.
    const paced = (): GpuBackend => backend({ paceWork: side ** 3 })
    const unpaced = backend({})
    const expected = (await runOnnx(unpaced, model, { a })).y!
    unpaced.dispose()

    const submitted: number[] = []
    const submit = engine.context.submit.bind(engine.context)
    const spy = vi.spyOn(engine.context, 'submit').mockImplementation((dispatches) => {
      submitted.push(dispatches.length)
      submit(dispatches)
    })
    const whole = paced()
    const y = (await runOnnx(whole, model, { a }, { signal: new AbortController().signal })).y!
    whole.dispose()
    expect(Buffer.from(y.data.buffer)).toEqual(Buffer.from(expected.data.buffer))
    expect(submitted).toEqual(new Array<number>(depth).fill(1))

    // Aborted as its first window is submitted, the run submits nothing after it.
    submitted.length = 0
    const controller = new AbortController()
    spy.mockImplementation((dispatches) => {
      submitted.push(dispatches.length)
      submit(dispatches)
      controller.abort()
    })
    const run = paced()
    await expect(runOnnx(run, model, { a }, { signal: controller.signal })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__ABORTED'),
    )
    run.dispose()
    expect(submitted).toEqual([1])
  })

  it('should stop waiting for a read-back when its signal aborts', async () => {
    const t = engine.tensors.fromHost(x)
    const controller = new AbortController()
    const pending = engine.tensors.toHost(t, controller.signal)
    controller.abort()
    await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    engine.tensors.release(t)
    engine.tensors.flush()
    expect(engine.tensors.liveBytes).toBe(0)
  })
})
