import { blobCid, isTesseraError } from '@tessera/core'
import type { Engine } from '@tessera/gpu'
import { commitOutput } from '@tessera/proof'
import { splitTasks, type VerifyRequest } from '@tessera/scheduler'
import type { OutputStore } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { keepCommittedOutput } from '../src/peer/committed-output.js'
import { KEEP_OUTPUT_FIRST_PAUSE_MS } from '../src/peer/constants.js'
import { GpuWorkload } from '../src/peer/gpu-workload.js'
import type { InputCache } from '../src/peer/inputs.js'
import { orderOf } from './fixtures.js'

const WORKER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const renderOrder = orderOf('render', ['bafkreiscene'], {
  kind: 'render',
  firstFrame: 1,
  frames: 1,
  width: 48,
  height: 40,
  tileWidth: 32,
  tileHeight: 32,
  samples: 4,
})

/** A worker's store serving one blob, and the creator's store keeping what it accepts. */
function stores(served: Uint8Array): { blobs: OutputStore; kept: Uint8Array[] } {
  const kept: Uint8Array[] = []
  return {
    kept,
    blobs: {
      fetchFrom: async () => served,
      put: async (bytes) => {
        kept.push(bytes)
        return blobCid(bytes)
      },
    },
  }
}

function request(chunks: Uint8Array[]): VerifyRequest {
  const task = splitTasks(renderOrder)[0]!
  return {
    kind: 'verify',
    jobId: renderOrder.jobId,
    taskId: task.taskId,
    worker: WORKER,
    order: renderOrder,
    result: {
      jobId: renderOrder.jobId,
      taskId: task.taskId,
      worker: WORKER,
      root: commitOutput(chunks).root,
      chunks: chunks.length,
      output: blobCid(Buffer.concat(chunks)).toString(),
      tolerance: 'psnr:rgba32f',
      computeMs: 1,
    } as VerifyRequest['result'],
  }
}

describe('keepCommittedOutput', () => {
  const logger = pino({ level: 'silent' })
  const rows = Array.from({ length: 4 }, (_, i) => new Uint8Array(32 * 16).fill(i + 1))

  it('should keep an output that is what the Result commits to, pinned before it is stored', async () => {
    const { blobs, kept } = stores(Buffer.concat(rows))
    const pinnedWhenKept: number[] = []
    let pins = 0
    const pin = async () => void pins++
    const put = blobs.put
    blobs.put = async (bytes, options) => (pinnedWhenKept.push(pins), put(bytes, options))
    expect(await keepCommittedOutput(blobs, request(rows), logger, { pin })).toBe('pass')
    expect(kept).toHaveLength(1)
    expect(pinnedWhenKept).toEqual([1])
  })

  it('should store the output under the CID it was fetched and verified by, not hash it again', async () => {
    const { blobs } = stores(Buffer.concat(rows))
    const verifiedCids: Array<string | undefined> = []
    const put = blobs.put
    blobs.put = async (bytes, options) => (verifiedCids.push(options?.verifiedCid), put(bytes, options))
    const asked = request(rows)
    expect(await keepCommittedOutput(blobs, asked, logger)).toBe('pass')
    expect(verifiedCids).toEqual([asked.result.output])
  })

  it("should fetch no more than the task's tile can hold, whatever the worker announces", async () => {
    const { blobs } = stores(Buffer.concat(rows))
    const asked: Array<number | undefined> = []
    blobs.fetchFrom = async (_peer, _cid, options) => {
      asked.push(options?.maxBytes)
      throw Object.assign(new Error('too large'), { code: 'CORE__BLOB_TOO_LARGE' })
    }
    expect(await keepCommittedOutput(blobs, request(rows), logger)).toBe('fail')
    // The first tile is 32 x 32 pixels of RGBA float32.
    expect(asked).toEqual([32 * 32 * 16])
  })

  it('should fail, and keep and pin nothing, when the worker delivers another output than it committed to', async () => {
    const other = rows.map((r, i) => (i === 3 ? new Uint8Array(r.byteLength) : r))
    const { blobs, kept } = stores(Buffer.concat(other))
    let pins = 0
    expect(await keepCommittedOutput(blobs, request(rows), logger, { pin: async () => void pins++ })).toBe('fail')
    expect(kept).toEqual([])
    expect(pins).toBe(0)
  })

  it('should fail when the output cannot be fetched', async () => {
    const blobs: OutputStore = {
      fetchFrom: () => Promise.reject(new Error('gone')),
      put: () => Promise.reject(new Error('not reached')),
    }
    expect(await keepCommittedOutput(blobs, request(rows), logger)).toBe('fail')
  })

  it('should try again to pin and store an output that passed while this node fails to, and pass it once kept', async () => {
    vi.useFakeTimers()
    try {
      const { blobs, kept } = stores(Buffer.concat(rows))
      const put = blobs.put
      let puts = 0
      // The creator's disk, not the worker, fails twice.
      blobs.put = async (bytes, options) => {
        if (++puts <= 2) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
        return put(bytes, options)
      }
      let pins = 0
      const keeping = keepCommittedOutput(blobs, request(rows), logger, { pin: async () => void pins++ })
      await vi.advanceTimersByTimeAsync(KEEP_OUTPUT_FIRST_PAUSE_MS * 3)
      expect(await keeping).toBe('pass')
      expect(kept).toHaveLength(1)
      expect([puts, pins]).toEqual([3, 3])
    } finally {
      vi.useRealTimers()
    }
  })

  it('should judge nothing when its fetch is aborted, rejecting with the abort rather than fail the worker', async () => {
    const controller = new AbortController()
    const blobs: OutputStore = {
      fetchFrom: () => {
        controller.abort()
        return Promise.reject(new Error('the stream was reset'))
      },
      put: () => Promise.reject(new Error('not reached')),
    }
    await expect(keepCommittedOutput(blobs, request(rows), logger, { signal: controller.signal })).rejects.toSatisfy(
      (e) => isTesseraError(e, 'CORE__ABORTED'),
    )
  })

  it('should stop trying to keep an output when aborted, rejecting with the abort rather than fail the worker', async () => {
    const controller = new AbortController()
    const { blobs } = stores(Buffer.concat(rows))
    blobs.put = () => Promise.reject(new Error('the blobstore is closed'))
    const keeping = keepCommittedOutput(blobs, request(rows), logger, { signal: controller.signal })
    controller.abort()
    await expect(keeping).rejects.toSatisfy((e) => isTesseraError(e, 'CORE__ABORTED'))
  })
})

describe('GpuWorkload.shapeOf', () => {
  // The shape comes from the order alone: no engine or input is touched.
  const workload = new GpuWorkload({} as Engine, {} as InputCache)

  it("should give a render task's class and one chunk per tile row, edge tiles included", () => {
    const shapes = splitTasks(renderOrder).map((t) => workload.shapeOf(renderOrder, t.taskId))
    expect(shapes).toEqual([
      { tolerance: 'psnr:rgba32f', chunks: 32 },
      { tolerance: 'psnr:rgba32f', chunks: 32 },
      { tolerance: 'psnr:rgba32f', chunks: 8 },
      { tolerance: 'psnr:rgba32f', chunks: 8 },
    ])
    expect(workload.shapeOf(renderOrder, `${renderOrder.jobId}/nope`)).toBeUndefined()
  })

  it("should give an inference task's class and one chunk per batch item", () => {
    const order = orderOf(
      'inference',
      ['bafkreimodel', 'bafkreiinputs'],
      { kind: 'inference', items: 10, itemsPerTask: 4 },
      '00000000000000cd',
    )
    expect(splitTasks(order).map((t) => workload.shapeOf(order, t.taskId))).toEqual([
      { tolerance: 'relative', chunks: 4 },
      { tolerance: 'relative', chunks: 4 },
      { tolerance: 'relative', chunks: 2 },
    ])
  })
})
