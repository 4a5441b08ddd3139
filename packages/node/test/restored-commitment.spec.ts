import { join } from 'node:path'
import {
  blobCid,
  FsBlobstore,
  generateIdentity,
  type Inbound,
  ManualClock,
  type MessageBus,
  seededRng,
} from '@tessera/core'
import { DEFAULT_RETAIN_MS, MerkleTree, merkleRoot } from '@tessera/proof'
import type { TaskExecution, TaskExecutor } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { concat } from 'uint8arrays/concat'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { BlobHolds } from '../src/peer/blob-holds.js'
import { ReceiptExchange } from '../src/peer/receipts.js'
import {
  chunkRunsOf,
  MAX_CONCURRENT_RESTORES,
  restoreCommitment,
  splitByRuns,
} from '../src/peer/restored-commitment.js'
import { Verification } from '../src/peer/verification.js'
import { workerExecutor } from '../src/peer/worker-executor.js'
import { CREATOR, orderOf } from './fixtures.js'
import { tempDir } from './helpers.js'

const WORKER = 'worker'
const order = orderOf('inference', ['bafkreimodel'], { kind: 'inference', items: 3, itemsPerTask: 3 })
const taskId = `${order.jobId}/b0-3`
/** Three items' outputs: two of one size, one of another (two runs). */
const chunks = [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2), new Uint8Array(4).fill(3)]
const root = merkleRoot(chunks)

/** A bus that records what is sent and hands `deliver`ed messages to its handlers. */
function recordingBus(): { bus: MessageBus; sent: string[]; deliver: (inbound: Inbound) => void } {
  const handlers: ((inbound: Inbound) => void)[] = []
  const sent: string[] = []
  const bus: MessageBus = {
    self: WORKER,
    publish: () => Promise.resolve(),
    send: (_, message) => {
      sent.push(message.type)
      return Promise.resolve()
    },
    subscribe: () => {},
    unsubscribe: () => {},
    onMessage: (handler) => {
      handlers.push(handler)
      return () => void handlers.splice(handlers.indexOf(handler), 1)
    },
  }
  return { bus, sent, deliver: (inbound) => handlers.forEach((h) => h(inbound)) }
}

/** A challenge from the creator to the task's Result with root `named`. */
function challenge(named = root): Inbound {
  return {
    from: CREATOR,
    message: {
      type: 'challenge',
      body: {
        jobId: order.jobId,
        taskId,
        worker: WORKER,
        verifier: CREATOR,
        root: named,
        nonce: new Uint8Array(32).fill(7),
        count: 2,
        issuedAt: 1_000,
      },
    },
  } as unknown as Inbound
}

describe('chunk runs', () => {
  it('should describe chunks as runs of equal sizes and cut their concatenation back into them', () => {
    expect(chunkRunsOf(chunks)).toEqual([
      [8, 2],
      [4, 1],
    ])
    expect(splitByRuns(concat(chunks), chunkRunsOf(chunks))).toEqual(chunks)
    expect(chunkRunsOf([])).toEqual([])
    // Runs that do not add up to the bytes cut nothing.
    expect(splitByRuns(new Uint8Array(19), chunkRunsOf(chunks))).toBeUndefined()
  })
})

/**
 * A worker restarted between sending a Result and its challenge, on its real datastore and blob store: the
 * prover's copy is gone with the process, and the challenge is answered from what the worker remembered on disk.
 */
describe('a commitment restored after a restart', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let store: FsBlobstore
  let holds: BlobHolds
  let receipts: ReceiptExchange
  const clock = new ManualClock(1_000_000)
  const logger = pino({ level: 'silent' })
  const stops: (() => void)[] = []

  /** A worker's verification on `bus` (a fresh one is a restarted process), restoring from the datastore. */
  function verificationOn(bus: MessageBus, restore = true): Verification {
    const verification = new Verification({
      bus,
      clock,
      rng: seededRng(1),
      logger,
      orderOf: () => undefined,
      shapeOf: () => undefined,
      recompute: () => Promise.reject(new Error('not a verifier')),
      ...(restore
        ? {
            restoreCommitment: restoreCommitment({
              committed: (t) => receipts.committedRecord(t),
              store,
              clock,
            }),
          }
        : {}),
    })
    stops.push(() => verification.stop())
    return verification
  }

  beforeEach(async () => {
    dir = await tempDir('tessera-restore-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    store = new FsBlobstore(join(dir.path, 'blobs'))
    holds = new BlobHolds({ datastore, store, clock, logger })
    receipts = new ReceiptExchange({
      bus: recordingBus().bus,
      identity: await generateIdentity(),
      datastore,
      logger,
      payee: 'SysvarRent111111111111111111111111111111111',
      payeeOf: () => undefined,
      epochOf: () => 1,
      onCosigned: () => {},
    })
    stops.push(() => receipts.stop())
    // The run before the restart: the task's output committed to, remembered and held (the scheduler stores it).
    const before = recordingBus()
    const workload: TaskExecutor = { execute: () => Promise.resolve({ chunks, tolerance: 'relative' }) }
    const executor = workerExecutor({
      workload,
      verification: verificationOn(before.bus),
      receipts,
      holds,
      outputRetentionMs: DEFAULT_RETAIN_MS,
      clock,
    })
    const execution = { order, task: { taskId }, minPrice: 100n } as unknown as TaskExecution
    await executor.execute(execution, { signal: new AbortController().signal })
    await store.put(blobCid(concat(chunks)), concat(chunks))
  })

  afterEach(async () => {
    for (const stop of stops.splice(0)) stop()
    await holds.stop()
    await datastore.close()
    await dir.cleanup()
  })

  it('should answer a challenge to a result committed before the restart', async () => {
    const after = recordingBus()
    verificationOn(after.bus)
    after.deliver(challenge())
    await vi.waitFor(() => expect(after.sent).toEqual(['reveal']))
    // Restored once: a second challenge is answered from the prover's copy.
    after.deliver(challenge())
    expect(after.sent).toEqual(['reveal', 'reveal'])
  })

  it("should build a restored output's Merkle tree once, to check its root and to answer from", async () => {
    const after = recordingBus()
    verificationOn(after.bus)
    const build = vi.spyOn(MerkleTree, 'fromLeaves')
    try {
      after.deliver(challenge())
      await vi.waitFor(() => expect(after.sent).toEqual(['reveal']))
      expect(build).toHaveBeenCalledTimes(1)
    } finally {
      build.mockRestore()
    }
  })

  it('should answer nothing without the restore, as before it existed', async () => {
    const after = recordingBus()
    verificationOn(after.bus, false)
    after.deliver(challenge())
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(after.sent).toEqual([])
  })

  it('should not restore for another root or job, nor one committed longer ago than outputs are held', async () => {
    const restore = restoreCommitment({ committed: (t) => receipts.committedRecord(t), store, clock })
    expect(await restore(order.jobId, taskId, root)).toMatchObject({ taskId, chunks, tolerance: 'relative' })
    expect(await restore(order.jobId, taskId, new Uint8Array(32))).toBeUndefined()
    expect(await restore('another-job', taskId, root)).toBeUndefined()
    clock.advance(DEFAULT_RETAIN_MS)
    expect(await restore(order.jobId, taskId, root)).toBeUndefined()
  })

  it('should hold a restored output only as long as the first commitment would have been held', async () => {
    const committedAt = clock.now()
    const restore = restoreCommitment({ committed: (t) => receipts.committedRecord(t), store, clock })
    expect(await restore(order.jobId, taskId, root)).toMatchObject({ committedAt })
    // Challenged 50 minutes after the commitment: held for the 10 minutes left of the hour, not another hour.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      clock.advance(DEFAULT_RETAIN_MS - 10 * 60_000)
      const after = recordingBus()
      const verification = verificationOn(after.bus)
      after.deliver(challenge())
      await vi.waitFor(() => expect(after.sent).toEqual(['reveal']))
      expect(verification.proving).toBe(1)
      clock.advance(10 * 60_000)
      vi.advanceTimersByTime(10 * 60_000)
      expect(verification.proving).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('should read at most MAX_CONCURRENT_RESTORES outputs at once, whatever the challenges', async () => {
    let reading = 0
    let most = 0
    const gate = Promise.withResolvers<void>()
    const slowStore: Pick<FsBlobstore, 'get' | 'has'> = {
      has: (cid, options) => store.has(cid, options),
      get: async (cid, options) => {
        most = Math.max(most, ++reading)
        await gate.promise
        reading--
        return store.get(cid, options)
      },
    }
    const restore = restoreCommitment({ committed: (t) => receipts.committedRecord(t), store: slowStore, clock })
    const restores = Array.from({ length: 3 * MAX_CONCURRENT_RESTORES }, () => restore(order.jobId, taskId, root))
    await vi.waitFor(() => expect(reading).toBe(MAX_CONCURRENT_RESTORES))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(most).toBe(MAX_CONCURRENT_RESTORES)
    gate.resolve()
    for (const restored of await Promise.all(restores)) expect(restored).toMatchObject({ taskId, chunks })
    expect(most).toBe(MAX_CONCURRENT_RESTORES)
  })

  it('should not restore an output no longer held', async () => {
    const restore = restoreCommitment({ committed: (t) => receipts.committedRecord(t), store, clock })
    await store.delete(blobCid(concat(chunks)))
    expect(await restore(order.jobId, taskId, root)).toBeUndefined()
  })
})
