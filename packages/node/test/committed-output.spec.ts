import {
  type BlobStreamOptions,
  blobCid,
  CoreError,
  createNode,
  isTesseraError,
  MAX_SERVES_PER_PEER,
  MemoryBlobstore,
  type TesseraNode,
} from '@tessera/core'
import type { Engine } from '@tessera/gpu'
import { commitOutput } from '@tessera/proof'
import { splitTasks, type VerifyRequest } from '@tessera/scheduler'
import type { OutputStore } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { keepCommittedOutput, limitFetchesPerPeer } from '../src/peer/committed-output.js'
import {
  KEEP_OUTPUT_BUSY_TRIES,
  KEEP_OUTPUT_FETCHES_PER_WORKER,
  KEEP_OUTPUT_FIRST_PAUSE_MS,
  KEEP_OUTPUT_MAX_PAUSE_MS,
} from '../src/peer/constants.js'
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

function request(chunks: Uint8Array[], worker = WORKER): VerifyRequest {
  const task = splitTasks(renderOrder)[0]!
  return {
    kind: 'verify',
    jobId: renderOrder.jobId,
    taskId: task.taskId,
    worker,
    order: renderOrder,
    result: {
      jobId: renderOrder.jobId,
      taskId: task.taskId,
      worker,
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

  it('should ask again a worker that answers busy, and pass its output once fetched', async () => {
    vi.useFakeTimers()
    try {
      const { blobs, kept } = stores(Buffer.concat(rows))
      const fetchFrom = blobs.fetchFrom
      let fetches = 0
      // Serving other peers as many blobs as it will, twice.
      blobs.fetchFrom = async (peer, cid, options) => {
        if (++fetches <= 2) throw new CoreError('CORE__PEER_BUSY', 'busy', { peer })
        return fetchFrom(peer, cid, options)
      }
      const keeping = keepCommittedOutput(blobs, request(rows), logger)
      await vi.advanceTimersByTimeAsync(KEEP_OUTPUT_FIRST_PAUSE_MS * 3)
      expect(await keeping).toBe('pass')
      expect([fetches, kept.length]).toEqual([3, 1])
    } finally {
      vi.useRealTimers()
    }
  })

  it('should fail a worker that answers busy every time it is asked, once it has been asked enough', async () => {
    vi.useFakeTimers()
    try {
      let fetches = 0
      const blobs: OutputStore = {
        fetchFrom: async (peer) => {
          fetches++
          throw new CoreError('CORE__PEER_BUSY', 'busy', { peer })
        },
        put: () => Promise.reject(new Error('not reached')),
      }
      const keeping = keepCommittedOutput(blobs, request(rows), logger)
      await vi.advanceTimersByTimeAsync(KEEP_OUTPUT_BUSY_TRIES * KEEP_OUTPUT_MAX_PAUSE_MS)
      expect(await keeping).toBe('fail')
      expect(fetches).toBe(KEEP_OUTPUT_BUSY_TRIES)
    } finally {
      vi.useRealTimers()
    }
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

describe('limitFetchesPerPeer', () => {
  /** A store whose fetches wait until the test lets them end, and counts those under way per peer. */
  function gated() {
    const open = new Map<string, number>()
    const most = new Map<string, number>()
    const gates: (() => void)[] = []
    const blobs: OutputStore = {
      fetchFrom: async (peer) => {
        open.set(peer, (open.get(peer) ?? 0) + 1)
        most.set(peer, Math.max(most.get(peer) ?? 0, open.get(peer)!))
        await new Promise<void>((resolve) => gates.push(resolve))
        open.set(peer, open.get(peer)! - 1)
        return new Uint8Array([1])
      },
      put: () => Promise.reject(new Error('not reached')),
    }
    return { blobs, most, gates }
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve))

  it("should fetch at most its limit from one peer at once, the rest in turn, holding up no other peer's", async () => {
    const { blobs, most, gates } = gated()
    const limited = limitFetchesPerPeer(blobs, 3)
    const fromWorker = Array.from({ length: 7 }, (_, i) => limited.fetchFrom(WORKER, `bafk${i}`))
    const fromOther = limited.fetchFrom('other', 'bafkother')
    await settle()
    expect([most.get(WORKER), most.get('other')]).toEqual([3, 1])
    while (gates.length > 0) {
      for (const open of gates.splice(0)) open()
      await settle()
    }
    await Promise.all([...fromWorker, fromOther])
    expect(most.get(WORKER)).toBe(3)
  })

  it('should give up the turn of a fetch aborted while it waits for one', async () => {
    const { blobs, most, gates } = gated()
    const limited = limitFetchesPerPeer(blobs, 1)
    const first = limited.fetchFrom(WORKER, 'bafk1')
    const leaving = new AbortController()
    const left = limited.fetchFrom(WORKER, 'bafk2', { signal: leaving.signal })
    const next = limited.fetchFrom(WORKER, 'bafk3')
    await settle()
    leaving.abort()
    await expect(left).rejects.toSatisfy((e) => isTesseraError(e, 'CORE__ABORTED'))
    gates.shift()?.()
    await first
    await settle()
    gates.shift()?.()
    await next
    expect(most.get(WORKER)).toBe(1)
  })
})

/** A worker's store that sends each chunk of a blob 50 ms after the last: serves that last a while. */
class SlowBlobstore extends MemoryBlobstore {
  override async *stream(
    cid: Parameters<MemoryBlobstore['stream']>[0],
    options: BlobStreamOptions = {},
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of super.stream(cid, options)) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      yield chunk
    }
  }
}

describe('keepCommittedOutput between real peers', () => {
  const logger = pino({ level: 'silent' })
  let creator: TesseraNode
  let worker: TesseraNode

  beforeAll(async () => {
    const listen = ['/ip4/127.0.0.1/tcp/0']
    ;[creator, worker] = await Promise.all([
      createNode({ listen }),
      createNode({ listen, blobstore: new SlowBlobstore(), blobChunkBytes: 512 }),
    ])
    await creator.dial(worker.getMultiaddrs()[0]!)
  }, 60_000)

  afterAll(async () => {
    await Promise.all([creator, worker].map((n) => n?.stop()))
  })

  it("should keep many of one worker's outputs, fetching fewer at once than the worker serves a peer", async () => {
    // Eight outputs of 2 KiB, each served in four chunks 50 ms apart.
    const requests = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const chunks = Array.from({ length: 4 }, (_, r) => new Uint8Array(512).fill(16 * i + r + 1))
        await worker.blobs.put(Buffer.concat(chunks))
        return request(chunks, worker.peerId.toString())
      }),
    )
    // The creator's fetches from the worker under way at once, counted as they reach its blob service.
    let open = 0
    let most = 0
    const counted: OutputStore = {
      put: (bytes, options) => creator.blobs.put(bytes, options),
      fetchFrom: async (peer, cid, options) => {
        most = Math.max(most, ++open)
        try {
          return await creator.blobs.fetchFrom(peer, cid, options)
        } finally {
          open--
        }
      },
    }
    const blobs = limitFetchesPerPeer(counted, KEEP_OUTPUT_FETCHES_PER_WORKER)
    const verdicts = await Promise.all(requests.map((r) => keepCommittedOutput(blobs, r, logger)))
    expect(verdicts).toEqual(Array(8).fill('pass'))
    // Below the worker's limit: never answered busy, whose retries run out on a slow link and fail the worker.
    expect(most).toBe(KEEP_OUTPUT_FETCHES_PER_WORKER)
    expect(KEEP_OUTPUT_FETCHES_PER_WORKER).toBeLessThan(MAX_SERVES_PER_PEER)
    for (const r of requests) expect(await creator.blobs.has(r.result.output)).toBe(true)
  }, 60_000)
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
