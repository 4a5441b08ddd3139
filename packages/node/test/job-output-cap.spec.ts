import type { Result } from '@tessera/core'
import { splitTasks } from '@tessera/scheduler'
import { describe, expect, it, vi } from 'vitest'
import {
  assembleJobOutput,
  jobOutputFiles,
  mayHaveOutputFile,
  type OutputSource,
  RENDER_OUTPUT_BYTES_PER_PIXEL,
} from '../src/peer/job-output.js'
import { orderOf } from './fixtures.js'

// A reply of a kilobyte: small enough that a few tiny frames or items pass it.
vi.mock('../src/api/contract.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/api/contract.js')>()),
  MAX_OUTPUT_REPLY_BYTES: 1024,
}))

/** Each task's result, and a source giving `bytes` of noise (which compresses badly) for any output. */
function resultsOf(order: ReturnType<typeof orderOf>, bytes: number): { results: Result[]; source: OutputSource } {
  const results = splitTasks(order).map((t) => ({ taskId: t.taskId, output: `out-${t.taskId}`, worker: 'w' }) as Result)
  let seed = 1
  const noise = () =>
    Float32Array.from({ length: bytes / 4 }, () => ((seed = (seed * 48_271) % 2_147_483_647) % 1000) / 1000)
  const source: OutputSource = {
    has: async () => true,
    get: async () => new Uint8Array(noise().buffer),
    fetchFrom: async () => {
      throw new Error('not here')
    },
  }
  return { results, source }
}

describe('a job output past what one reply carries', () => {
  it('should refuse the frames whose encoded files pass it, saying to ask a frame at a time', async () => {
    const split = {
      kind: 'render' as const,
      firstFrame: 0,
      width: 8,
      height: 8,
      tileWidth: 8,
      tileHeight: 8,
      samples: 1,
    }
    const order = orderOf('render', ['bafyscene'], { ...split, frames: 4 })
    const { results, source } = resultsOf(order, 8 * 8 * RENDER_OUTPUT_BYTES_PER_PIXEL)
    await expect(assembleJobOutput(order, results, source)).rejects.toMatchObject({
      code: 'NODE__OUTPUT_TOO_LARGE',
      message: expect.stringMatching(/frame files .* one frame at a time/),
    })
    // One frame alone passes it too here: its files come one at a time then, with no reply's bound on them.
    await expect(assembleJobOutput(order, results, source, { frame: 1 })).rejects.toMatchObject({
      code: 'NODE__OUTPUT_TOO_LARGE',
      message: expect.stringMatching(/files one at a time/),
    })
    const [exr] = await jobOutputFiles(order, results, source, { frame: 1, only: 'frame-0001.exr' })
    expect(exr).toMatchObject({ name: 'frame-0001.exr', contentType: 'image/x-exr' })
    expect(exr!.bytes.byteLength).toBeGreaterThan(1024)
    // Only the file asked for is encoded.
    expect(
      (await jobOutputFiles(order, results, source, { frame: 1, only: 'frame-0001.png' })).map((f) => f.name),
    ).toEqual(['frame-0001.png'])
  })

  it('should name the files an output may have before anything is fetched', () => {
    const split = { kind: 'render' as const, width: 8, height: 8, tileWidth: 8, tileHeight: 8, samples: 1 }
    const render = orderOf('render', ['bafyscene'], { ...split, firstFrame: 3, frames: 2 })
    expect(['frame-0003.png', 'frame-0004.exr', 'tiles.json'].every((n) => mayHaveOutputFile(render, n))).toBe(true)
    expect(mayHaveOutputFile(render, 'frame-0004.tiles.json', 4)).toBe(true)
    for (const [name, frame] of [
      ['frame-0005.png', undefined],
      ['frame-0002.exr', undefined],
      ['frame-03.png', undefined],
      ['frame-00003.png', undefined],
      ['frame-0003.jpg', undefined],
      ['frame-0003.png', 4],
      ['tiles.json', 3],
      ['output.f32', undefined],
    ] as const) {
      expect(mayHaveOutputFile(render, name, frame), `${name} ${frame}`).toBe(false)
    }
    const inference = orderOf('inference', ['bafymodel'], { kind: 'inference', items: 8, itemsPerTask: 2 })
    expect(['output.f32', 'ranges.json'].map((n) => mayHaveOutputFile(inference, n))).toEqual([true, true])
    expect(mayHaveOutputFile(inference, 'output.f32', 0)).toBe(false)
  })

  it('should refuse an inference output once its parts pass it', async () => {
    const order = orderOf('inference', ['bafymodel'], { kind: 'inference', items: 8, itemsPerTask: 2 })
    const { results, source } = resultsOf(order, 512)
    await expect(assembleJobOutput(order, results, source)).rejects.toMatchObject({
      code: 'NODE__OUTPUT_TOO_LARGE',
      message: expect.stringMatching(/output items/),
    })
    // Asked for as a file, it is bound only by what assembling holds.
    const [output] = await jobOutputFiles(order, results, source, { only: 'output.f32' })
    expect(output!.bytes.byteLength).toBe((8 * 512) / 2)
  })
})
