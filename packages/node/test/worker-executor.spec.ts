import { join } from 'node:path'
import { BlobHasher, blobCid, FsBlobstore, generateIdentity, ManualClock } from '@tessera/core'
import { MAX_CHUNK_BYTES, MerkleTree, merkleRoot } from '@tessera/proof'
import type { TaskExecution, TaskExecutor } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { concat } from 'uint8arrays/concat'
import { Datastore } from '../src/datastore.js'
import { BlobHolds, taskHolder } from '../src/peer/blob-holds.js'
import { ReceiptExchange } from '../src/peer/receipts.js'
import type { Verification } from '../src/peer/verification.js'
import { workerExecutor } from '../src/peer/worker-executor.js'
import { CREATOR, idleBus, orderOf, workerVerification } from './fixtures.js'
import { tempDir } from './helpers.js'

const HOUR = 3_600_000
const order = orderOf('inference', ['bafkreimodel'], { kind: 'inference', items: 2, itemsPerTask: 1 })
const execution = (taskId: string) => ({ order, task: { taskId }, minPrice: 100n }) as unknown as TaskExecution

/**
 * A worker's executor over its real datastore and blob holds: what it remembers of a result, and the output it
 * holds, stay for a task that succeeds and go for one that fails after them.
 */
describe('workerExecutor', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let holds: BlobHolds
  let receipts: ReceiptExchange
  let verification: Verification
  const logger = pino({ level: 'silent' })

  beforeEach(async () => {
    dir = await tempDir('tessera-worker-exec-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    const bus = idleBus('worker')
    holds = new BlobHolds({
      datastore,
      store: new FsBlobstore(join(dir.path, 'blobs')),
      clock: new ManualClock(),
      logger,
    })
    receipts = new ReceiptExchange({
      bus,
      identity: await generateIdentity(),
      datastore,
      logger,
      payee: 'SysvarRent111111111111111111111111111111111',
      payeeOf: () => undefined,
      epochOf: () => 1,
      onCosigned: () => {},
    })
    verification = workerVerification(bus)
  })

  afterEach(async () => {
    receipts.stop()
    verification.stop()
    await holds.stop()
    await datastore.close()
    await dir.cleanup()
  })

  const executor = (chunks: Uint8Array[]) =>
    workerExecutor({
      workload: { execute: async () => ({ chunks, tolerance: 'relative' }) } satisfies TaskExecutor,
      verification,
      receipts,
      holds,
      outputRetentionMs: 24 * HOUR,
    })
  const signal = new AbortController().signal

  it("should remember a result's root and minimum pay, and hold its output until paid", async () => {
    const chunks = [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2)]
    await executor(chunks).execute(execution(`${order.jobId}/b0-1`), { signal })
    const cid = blobCid(concat(chunks)).toString()
    expect(await datastore.get('leases', `${order.jobId}/b0-1`)).toMatchObject({ creator: CREATOR, output: cid })
    expect(await holds.holders(cid)).toEqual([taskHolder(`${order.jobId}/b0-1`)])
    expect(verification.proving).toBe(1)
  })

  it('should hand the scheduler the blob, CID and root it computed, so the output is not hashed again there', async () => {
    const chunks = [new Uint8Array(8).fill(4), new Uint8Array(8).fill(5)]
    const output = await executor(chunks).execute(execution(`${order.jobId}/b0-1`), { signal })
    expect(output.chunks).toEqual(chunks)
    expect(output.committed).toEqual({
      blob: concat(chunks),
      cid: blobCid(concat(chunks)).toString(),
      root: merkleRoot(chunks),
    })
  })

  it('should hash an output for its CID once, for the hold, the prover and the scheduler together', async () => {
    const chunks = [new Uint8Array(8).fill(6), new Uint8Array(8).fill(7)]
    const update = vi.spyOn(BlobHasher.prototype, 'update')
    try {
      await executor(chunks).execute(execution(`${order.jobId}/b0-1`), { signal })
      expect(update.mock.calls.reduce((bytes, [data]) => bytes + data.byteLength, 0)).toBe(16)
    } finally {
      update.mockRestore()
    }
  })

  it("should build an output's Merkle tree once, for its record, the prover and the scheduler together", async () => {
    const chunks = [new Uint8Array(8).fill(8), new Uint8Array(8).fill(9), new Uint8Array(8).fill(10)]
    const taskId = `${order.jobId}/b0-1`
    const build = vi.spyOn(MerkleTree, 'fromLeaves')
    let output
    try {
      output = await executor(chunks).execute(execution(taskId), { signal })
      expect(build).toHaveBeenCalledTimes(1)
    } finally {
      build.mockRestore()
    }
    // One root for all: the record the receipt is checked against, and the scheduler's; the tree stays with the prover.
    expect(await datastore.get('leases', taskId)).toMatchObject({ root: merkleRoot(chunks) })
    expect(output.committed?.root).toEqual(merkleRoot(chunks))
    expect(output).not.toHaveProperty('commitment')
    expect(verification.proving).toBe(1)
  })

  it("should keep what an earlier run remembered when a re-run of the task fails: that run's Result may be paid", async () => {
    const chunks = [new Uint8Array(8).fill(3)]
    const taskId = `${order.jobId}/b0-1`
    await executor(chunks).execute(execution(taskId), { signal })
    // Run again (re-awarded): the prover holds the first commit and refuses a second.
    await expect(executor(chunks).execute(execution(taskId), { signal })).rejects.toMatchObject({
      code: 'PROOF__DUPLICATE_TASK',
    })
    // Run again and aborted before it commits.
    const failing = workerExecutor({
      workload: { execute: () => Promise.reject(new Error('aborted')) },
      verification,
      receipts,
      holds,
      outputRetentionMs: HOUR,
    })
    await expect(failing.execute(execution(taskId), { signal })).rejects.toThrow('aborted')
    const cid = blobCid(concat(chunks)).toString()
    expect(await datastore.get('leases', taskId)).toMatchObject({ output: cid })
    expect(await holds.holders(cid)).toEqual([taskHolder(taskId)])
  })

  it('should let go of what it remembered and held for a task whose output the prover refuses', async () => {
    const chunks = [new Uint8Array(8), new Uint8Array(MAX_CHUNK_BYTES + 1)]
    await expect(executor(chunks).execute(execution(`${order.jobId}/b1-2`), { signal })).rejects.toMatchObject({
      code: 'PROOF__INVALID_INPUT',
    })
    expect(await datastore.get('leases', `${order.jobId}/b1-2`)).toBeUndefined()
    expect(await holds.holders(blobCid(concat(chunks)).toString())).toEqual([])
    expect(verification.proving).toBe(0)
  })
})
