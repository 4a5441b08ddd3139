import type { Result } from '@tessera/core'
import { splitTasks } from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'
import { MAX_ASSEMBLED_OUTPUT_BYTES } from '../src/api/contract.js'
import { ASSEMBLED_OUTPUTS_KEPT } from '../src/peer/constants.js'
import { AssemblyCache } from '../src/peer/assembly-cache.js'
import {
  assembleJobOutput,
  jobOutputFiles,
  type OutputSource,
  RENDER_OUTPUT_BYTES_PER_PIXEL,
} from '../src/peer/job-output.js'
import { orderOf } from './fixtures.js'

/** A render of `frames` frames of `side` x `side`, one tile each, one sample. */
const render = (frames: number, side = 8, tile = side) =>
  orderOf('render', ['bafyscene'], {
    kind: 'render',
    firstFrame: 3,
    frames,
    width: side,
    height: side,
    tileWidth: tile,
    tileHeight: tile,
    samples: 1,
  })

/** Each task's result, its output a tile of one grey, and a source that counts which outputs it was asked for. */
function resultsOf(order: ReturnType<typeof render>): { results: Result[]; source: OutputSource; asked: string[] } {
  const asked: string[] = []
  const results = splitTasks(order).map((t) => ({ taskId: t.taskId, output: `out-${t.taskId}`, worker: 'w' }) as Result)
  const source: OutputSource = {
    has: async () => true,
    get: async (cid) => {
      asked.push(cid)
      const tile = order.split.kind === 'render' ? order.split.tileWidth : 8
      return new Uint8Array(tile * tile * RENDER_OUTPUT_BYTES_PER_PIXEL)
    },
    fetchFrom: async () => {
      throw new Error('not here')
    },
  }
  return { results, source, asked }
}

describe('a job output, a frame at a time', () => {
  it("should give one frame's files, fetching only that frame's tiles", async () => {
    const order = render(3)
    const { results, source, asked } = resultsOf(order)
    const one = await assembleJobOutput(order, results, source, { frame: 4 })
    expect(one.files.map((f) => f.name)).toEqual(['frame-0004.png', 'frame-0004.exr'])
    expect(asked).toEqual([`out-${order.jobId}/f4/t0_0`])
    const all = await assembleJobOutput(order, results, source)
    expect(all.files.map((f) => f.name)).toEqual([3, 4, 5].flatMap((f) => [`frame-000${f}.png`, `frame-000${f}.exr`]))
    // The same frame, whichever way it was asked for.
    expect(all.files[2]).toEqual(one.files[0])
  })

  it("should list a partial frame's missing tiles in the frame's own manifest", async () => {
    const order = render(2)
    const { results, source } = resultsOf(order)
    const partial = await assembleJobOutput(order, results.slice(0, 1), source, { frame: 4, partial: true })
    const manifest = partial.files.find((f) => f.name === 'frame-0004.tiles.json')
    expect(JSON.parse(Buffer.from(manifest!.base64, 'base64').toString())).toEqual({
      missing: [{ frame: 4, x: 0, y: 0, width: 8, height: 8 }],
    })
  })

  it('should refuse a frame the job lacks, and every frame at once past what it would assemble, before fetching', async () => {
    const order = render(2)
    const { results, source, asked } = resultsOf(order)
    await expect(assembleJobOutput(order, results, source, { frame: 5 })).rejects.toMatchObject({
      code: 'NODE__API_MALFORMED_REQUEST',
      message: expect.stringMatching(/frames 3 to 4, not 5/),
    })
    // Frames enough that all of them at once pass the bound: refused whole, before any tile is fetched.
    const side = 1024
    const frames = Math.ceil(MAX_ASSEMBLED_OUTPUT_BYTES / (side * side * RENDER_OUTPUT_BYTES_PER_PIXEL)) + 1
    const long = render(frames, side)
    await expect(assembleJobOutput(long, [], source)).rejects.toMatchObject({
      code: 'NODE__OUTPUT_TOO_LARGE',
      message: expect.stringMatching(/one frame at a time/),
    })
    expect(asked).toEqual([])
  })

  it('should serve a frame as large as its files allow: a large frame compresses well under the bound', async () => {
    // 4096 x 4096 (a 5K render's class) in four tiles: 268 MB of pixels, far less once its black tiles are compressed.
    const side = 4096
    const order = render(1, side, side / 2)
    const { results, source } = resultsOf(order)
    const one = await assembleJobOutput(order, results, source, { frame: 3 })
    expect(one.files.map((f) => f.name)).toEqual(['frame-0003.png', 'frame-0003.exr'])
  })
})

describe('a job output, a file at a time', () => {
  it("should put a frame together once for its PNG and its EXR, whatever the PNG's tone mapping", async () => {
    const order = render(2)
    const { results, source, asked } = resultsOf(order)
    // A grey tile, not a black one, so that tone mapping shows.
    const get = source.get
    source.get = async (cid, options) =>
      new Uint8Array(new Float32Array((await get(cid, options)).byteLength / 4).fill(0.2).buffer)
    const cache = new AssemblyCache()
    const file = async (only: string, exposure?: number) =>
      (await jobOutputFiles(order, results, source, { frame: 3, only, exposure, cache }))[0]!
    const dim = await file('frame-0003.png', 1)
    const bright = await file('frame-0003.png', 4)
    expect(dim.bytes).not.toEqual(bright.bytes)
    expect((await file('frame-0003.exr')).name).toBe('frame-0003.exr')
    expect(asked).toEqual([`out-${order.jobId}/f3/t0_0`])
  })

  it('should put a frame asked for twice at once together once, for both requests', async () => {
    const order = render(2)
    const { results, source, asked } = resultsOf(order)
    // The tile comes once both requests are in: the second finds the first's assembly in flight, not yet kept.
    const gate = Promise.withResolvers<void>()
    const get = source.get
    source.get = async (cid, options) => {
      await gate.promise
      return get(cid, options)
    }
    const cache = new AssemblyCache()
    const file = (only: string) => jobOutputFiles(order, results, source, { frame: 3, only, cache })
    const [png, exr] = [file('frame-0003.png'), file('frame-0003.exr')]
    gate.resolve()
    expect((await png).map((f) => f.name)).toEqual(['frame-0003.png'])
    expect((await exr).map((f) => f.name)).toEqual(['frame-0003.exr'])
    expect(asked).toEqual([`out-${order.jobId}/f3/t0_0`])
  })

  it('should go on putting a frame together for one request when the other is aborted, and stop once both are', async () => {
    const order = render(2)
    const { results, source, asked } = resultsOf(order)
    const fetching = Promise.withResolvers<AbortSignal | undefined>()
    const gate = Promise.withResolvers<void>()
    const get = source.get
    source.get = async (cid, options) => {
      fetching.resolve(options?.signal)
      await gate.promise
      return get(cid, options)
    }
    const cache = new AssemblyCache()
    const file = (only: string, signal: AbortSignal) =>
      jobOutputFiles(order, results, source, { frame: Number(only.slice(6, 10)), only, cache, signal })
    const [leaving, staying] = [new AbortController(), new AbortController()]
    const left = file('frame-0003.png', leaving.signal)
    const stayed = file('frame-0003.exr', staying.signal)
    const fetchSignal = await fetching.promise
    leaving.abort()
    await expect(left).rejects.toMatchObject({ name: 'AbortError' })
    expect(fetchSignal?.aborted).toBe(false)
    gate.resolve()
    expect((await stayed).map((f) => f.name)).toEqual(['frame-0003.exr'])
    expect(asked).toHaveLength(1)

    // Both requests for frame 4 leave: its fetch is aborted, and a later request still gets the frame.
    const again = Promise.withResolvers<AbortSignal | undefined>()
    const stalled = Promise.withResolvers<void>()
    source.get = async (cid, options) => {
      again.resolve(options?.signal)
      await stalled.promise
      return get(cid, options)
    }
    const [first, second] = [new AbortController(), new AbortController()]
    const [png, exr] = [file('frame-0004.png', first.signal), file('frame-0004.exr', second.signal)]
    const frame4Signal = await again.promise
    first.abort()
    await expect(png).rejects.toMatchObject({ name: 'AbortError' })
    expect(frame4Signal?.aborted).toBe(false)
    second.abort()
    await expect(exr).rejects.toMatchObject({ name: 'AbortError' })
    expect(frame4Signal?.aborted).toBe(true)
    stalled.resolve()
    source.get = get
    expect((await file('frame-0004.png', new AbortController().signal)).map((f) => f.name)).toEqual(['frame-0004.png'])
  })

  it('should put a frame together again once as many others have been since, and for another set of results', async () => {
    const order = render(ASSEMBLED_OUTPUTS_KEPT + 1)
    const { results, source, asked } = resultsOf(order)
    const cache = new AssemblyCache()
    const png = async (frame: number, from = results) =>
      jobOutputFiles(order, from, source, { frame, only: `frame-000${frame}.png`, partial: true, cache })
    for (let frame = 3; frame < 3 + ASSEMBLED_OUTPUTS_KEPT; frame++) await png(frame)
    await png(3)
    expect(asked).toHaveLength(ASSEMBLED_OUTPUTS_KEPT)
    // One more frame lets the least recently used (frame 4) go; frame 3, asked again since, stays.
    await png(3 + ASSEMBLED_OUTPUTS_KEPT)
    await png(3)
    await png(4)
    expect(asked).toHaveLength(ASSEMBLED_OUTPUTS_KEPT + 2)
    // Other results are another output, even of the same frame.
    await png(3, [])
    expect(asked).toHaveLength(ASSEMBLED_OUTPUTS_KEPT + 2)
    expect((await png(3, [])).length).toBe(1)
  })
})
