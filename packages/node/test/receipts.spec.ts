import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  generateIdentity,
  type Identity,
  type Inbound,
  ManualClock,
  type MessageBus,
  type Receipt,
} from '@tessera/core'
import { parseReceipt, signReceipt } from '@tessera/ledger'
import type { AcceptedTask } from '@tessera/scheduler'
import { ClassicLevel } from 'classic-level'
import { type Logger, pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { ReceiptExchange, UNPAID_LEASE_GRACE_MS } from '../src/peer/receipts.js'

const WORKER_PAYEE = 'SysvarRent111111111111111111111111111111111'
const CREATOR_PAYEE = 'SysvarC1ock11111111111111111111111111111111'
const JOB = 'job-1'
const TASK = 'job-1/f0/0'
const ROOT = new Uint8Array(32).fill(7)

/** Two buses joined back to back: what one sends, the other receives on a later macrotask, as over a stream. */
function linkedBuses(a: string, b: string): [MessageBus, MessageBus] {
  const handlers = new Map<string, Set<(inbound: Inbound) => void>>([
    [a, new Set()],
    [b, new Set()],
  ])
  const bus = (self: string): MessageBus => ({
    self,
    publish: () => Promise.resolve(),
    send: (to, message) => {
      setImmediate(() => {
        for (const handler of handlers.get(to) ?? []) handler({ from: self, message, expiresAt: Date.now() + 60_000 })
      })
      return Promise.resolve()
    },
    subscribe: () => {},
    unsubscribe: () => {},
    onMessage: (handler) => {
      handlers.get(self)?.add(handler)
      return () => handlers.get(self)?.delete(handler)
    },
  })
  return [bus(a), bus(b)]
}

describe('ReceiptExchange', () => {
  let dir: string
  let creator: Identity
  let worker: Identity
  let stores: Datastore[]
  let exchanges: ReceiptExchange[]
  let rejected: string[]
  let logged: Record<string, unknown>[]
  let cosigned: Receipt[]
  let countersigned: Receipt[]
  let workerStore: Datastore
  let creatorStore: Datastore
  let buses: [MessageBus, MessageBus]
  let logger: Logger

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-receipts-'))
    ;[creator, worker] = await Promise.all([generateIdentity(), generateIdentity()])
    buses = linkedBuses(creator.peerId.toString(), worker.peerId.toString())
    rejected = []
    logged = []
    cosigned = []
    countersigned = []
    logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as Record<string, unknown>
          logged.push(entry)
          rejected.push((entry.err as string | undefined) ?? line)
        },
      },
    )
    creatorStore = await Datastore.open(join(dir, 'creator'))
    workerStore = await Datastore.open(join(dir, 'worker'))
    stores = [creatorStore, workerStore]
    exchanges = [side('creator'), side('worker')]
    await committed(TASK)
  })

  /** The worker committed to a result of `taskId` of the job at the 1,000-unit bid, as its executor records it. */
  function committed(taskId: string): Promise<void> {
    return (exchanges[1] as ReceiptExchange).committed(taskId, {
      jobId: JOB,
      creator: creator.peerId.toString(),
      root: ROOT,
      minAmount: 1_000n,
    })
  }

  /** One side's exchange on its store (again, after a restart); the creator's settled receipts land in `cosigned`. */
  function side(role: 'creator' | 'worker'): ReceiptExchange {
    const creatorRole = role === 'creator'
    return new ReceiptExchange({
      logger,
      payeeOf: () => WORKER_PAYEE,
      epochOf: () => 1,
      bus: buses[creatorRole ? 0 : 1],
      identity: creatorRole ? creator : worker,
      datastore: creatorRole ? creatorStore : workerStore,
      payee: creatorRole ? CREATOR_PAYEE : WORKER_PAYEE,
      onCosigned: (r) => (creatorRole ? cosigned.push(r) : undefined),
      onCountersigned: (r) => (creatorRole ? undefined : countersigned.push(r)),
    })
  }

  afterEach(async () => {
    for (const exchange of exchanges) exchange.stop()
    for (const store of stores) await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** The creator's side of an accepted task, paying `amount`. */
  function accepted(amount: bigint, jobId = JOB): AcceptedTask {
    return {
      kind: 'accept',
      jobId,
      taskId: TASK,
      worker: worker.peerId.toString(),
      price: 10n,
      benchHours: 1,
      amount,
      escrow: 'escrow',
      result: {
        jobId,
        taskId: TASK,
        worker: worker.peerId.toString(),
        root: ROOT,
        chunks: 1,
        output: 'bafkout',
        tolerance: 'bitwise',
        computeMs: 1,
      } as AcceptedTask['result'],
    }
  }

  /**
   * Stops the creator, writes raw bytes under datastore keys (a damaged or older record), and restarts it: the
   * restarted exchange.
   */
  async function restartCreatorWith(raw: Record<string, Uint8Array>): Promise<ReceiptExchange> {
    ;(exchanges[0] as ReceiptExchange).stop()
    await creatorStore.close()
    const db = new ClassicLevel<string, Uint8Array>(join(dir, 'creator'), { valueEncoding: 'view' })
    for (const [key, bytes] of Object.entries(raw)) await db.put(key, bytes)
    await db.close()
    creatorStore = await Datastore.open(join(dir, 'creator'))
    stores[0] = creatorStore
    const restarted = side('creator')
    exchanges.push(restarted)
    return restarted
  }

  /** The creator signs the receipt while its worker is away: the receipt waits on disk. */
  async function acceptedWhileWorkerAway(): Promise<void> {
    ;(exchanges[1] as ReceiptExchange).stop()
    await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n))
    await new Promise((resolve) => setImmediate(resolve))
  }

  it('should have the worker countersign a receipt for its result at its price, and the creator keep it', async () => {
    await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n))
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    expect(cosigned[0]).toMatchObject({ taskId: TASK, amount: 1_000n, payee: WORKER_PAYEE })
    expect(cosigned[0]?.workerSig).toBeInstanceOf(Uint8Array)
    expect(rejected).toEqual([])
    // The worker was told the task is paid for: its output need not be held for challenges.
    expect(countersigned.map((r) => r.taskId)).toEqual([TASK])
    expect((exchanges[0] as ReceiptExchange).awaiting).toBe(0)
  })

  it("should not write back a paid task's record that the first lease sweep stamps as the receipt lands", async () => {
    const workerExchange = exchanges[1] as ReceiptExchange
    const write = workerStore.batch.bind(workerStore)
    const batch = vi.spyOn(workerStore, 'batch').mockImplementation(async (writes, options) => {
      if (writes.some((w) => w.type === 'put' && w.ns === 'leases')) {
        // The sweep is about to stamp the older version's record with a time: the creator's receipt lands now. A
        // countersignature that waits its turn in the records' queue does not finish meanwhile.
        batch.mockRestore()
        await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n))
        for (let i = 0; i < 30 && countersigned.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
      }
      return write(writes, options)
    })
    await workerExchange.pruneLeases()
    await vi.waitFor(() => expect(countersigned).toHaveLength(1))
    // Paid: the record is gone for good, so a second receipt for the task finds nothing to match.
    expect(await workerExchange.committedRecord(TASK)).toBeUndefined()
  })

  it('should answer a receipt offered again after it countersigned with the receipt it signed, released once', async () => {
    const workerSends = vi.spyOn(buses[1], 'send')
    await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n))
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    // What the worker remembered of its result goes: the countersigned receipt answers for it from now on.
    expect(await workerStore.get('leases', TASK)).toBeUndefined()
    const signed = await workerStore.get('receipts', TASK, parseReceipt)
    // The countersignature did not reach the creator, which offers its receipt again.
    const { workerSig: _sig, ...offered } = cosigned[0] as Receipt
    await buses[0].send(worker.peerId.toString(), { type: 'receipt', body: offered })
    await vi.waitFor(() => expect(workerSends).toHaveBeenCalledTimes(2))
    expect(workerSends.mock.calls[1]?.[1]).toEqual({ type: 'receipt', body: signed })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(countersigned).toHaveLength(1)
    expect(cosigned).toHaveLength(1)
    expect(rejected).toEqual([])
    // Counted once in what the worker has earned.
    expect(await (exchanges[1] as ReceiptExchange).earnings()).toEqual({ tasks: 1, amount: 1_000n })
  })

  it('should count each task once in what the worker earned, though copies of its receipt arrive together', async () => {
    const second = 'job-1/f0/t1_0'
    await committed(second)
    expect(await (exchanges[1] as ReceiptExchange).earnings()).toEqual({ tasks: 0, amount: 0n })
    const receipt = (taskId: string, amount: bigint): Receipt =>
      signReceipt(
        {
          jobId: JOB,
          taskId,
          creator: creator.peerId.toString(),
          worker: worker.peerId.toString(),
          payee: WORKER_PAYEE,
          amount,
          commitment: ROOT,
          epoch: 1,
        },
        creator,
        'creator',
      )
    const offers = [receipt(TASK, 1_000n), receipt(TASK, 1_000n), receipt(second, 2_500n), receipt(second, 2_500n)]
    await Promise.all(offers.map((body) => buses[0].send(worker.peerId.toString(), { type: 'receipt', body })))
    await vi.waitFor(() => expect(countersigned).toHaveLength(2))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await (exchanges[1] as ReceiptExchange).earnings()).toEqual({ tasks: 2, amount: 3_500n })
    // Summed from the receipts on disk where no total was kept (an older data directory), it agrees.
    await workerStore.delete('meta', 'worker-earned')
    expect(await (exchanges[1] as ReceiptExchange).earnings()).toEqual({ tasks: 2, amount: 3_500n })
    // A damaged total is summed again too, and never stands in the way of a countersignature.
    await workerStore.put('meta', 'worker-earned', { tasks: 'two' })
    const third = 'job-1/f0/t2_0'
    await committed(third)
    await buses[0].send(worker.peerId.toString(), { type: 'receipt', body: receipt(third, 1_000n) })
    await vi.waitFor(() => expect(countersigned).toHaveLength(3))
    expect(await (exchanges[1] as ReceiptExchange).earnings()).toEqual({ tasks: 3, amount: 4_500n })
  })

  it('should refuse a second, different receipt for a task it has countersigned', async () => {
    await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n))
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    await (exchanges[0] as ReceiptExchange).accepted(accepted(2_000n))
    await vi.waitFor(() => expect(rejected).toHaveLength(1))
    expect(rejected[0]).toMatch(/names no result of ours/)
    expect(countersigned).toHaveLength(1)
    expect(await workerStore.get('receipts', TASK, parseReceipt)).toMatchObject({ amount: 1_000n })
  })

  it('should log the code and task of a receipt it refuses, and not release the task', async () => {
    await (exchanges[0] as ReceiptExchange).accepted(accepted(999n))
    await vi.waitFor(() => expect(logged).toHaveLength(1))
    expect(logged[0]).toMatchObject({ msg: 'receipt:rejected', code: 'LEDGER__INVALID_RECEIPT', taskId: TASK })
    expect(countersigned).toEqual([])
    expect((exchanges[0] as ReceiptExchange).awaiting).toBe(1)
  })

  it('should refuse to countersign a receipt that pays less than the worker bid', async () => {
    await (exchanges[0] as ReceiptExchange).accepted(accepted(999n))
    await vi.waitFor(() => expect(rejected).toHaveLength(1))
    expect(rejected[0]).toMatch(/pays 999, less than the 1000 bid/)
    expect(await workerStore.get('receipts', TASK)).toBeUndefined()
    expect(cosigned).toEqual([])
  })

  it("should refuse to countersign a receipt that moves the worker's result to another job", async () => {
    await (exchanges[0] as ReceiptExchange).accepted(accepted(1_000n, 'job-2'))
    await vi.waitFor(() => expect(rejected).toHaveLength(1))
    expect(rejected[0]).toMatch(/names no result of ours/)
    expect(await workerStore.get('receipts', TASK)).toBeUndefined()
  })

  it('should offer again, after a creator restart, the receipts its workers had not countersigned', async () => {
    await acceptedWhileWorkerAway()
    ;(exchanges[0] as ReceiptExchange).stop()
    expect(cosigned).toEqual([])

    const restarted = side('creator')
    exchanges.push(restarted, side('worker'))
    const stored = await restarted.stored()
    expect(stored.cosigned).toEqual([])
    expect(stored.pending.map((r) => r.taskId)).toEqual([TASK])
    restarted.offer(stored.pending)
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    expect(await creatorStore.get('receipts', `pending/${TASK}`)).toBeUndefined()
    // Settled from disk at the next start: co-signed, nothing pending.
    const again = await restarted.stored()
    expect(again.cosigned.map((r) => r.taskId)).toEqual([TASK])
    expect(again.pending).toEqual([])
  })

  it('should read at a restart only the co-signed receipts not yet paid, marking those of an older data directory once', async () => {
    const creatorExchange = exchanges[0] as ReceiptExchange
    await creatorExchange.accepted(accepted(1_000n))
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    expect(await creatorStore.get('receipts', `unsettled/${TASK}`)).toEqual({})
    // As an older version left it: the co-signed receipt, unmarked, and no index yet.
    await creatorStore.delete('receipts', `unsettled/${TASK}`)
    expect((await creatorExchange.stored()).cosigned.map((r) => r.taskId)).toEqual([TASK])
    expect(await creatorStore.get('receipts', `unsettled/${TASK}`)).toEqual({})
    // Its settlement paid it (and unmarked it): the next start reads nothing.
    await creatorStore.delete('receipts', `unsettled/${TASK}`)
    expect(await creatorExchange.stored()).toEqual({ cosigned: [], pending: [] })
  })

  it('should not offer again, nor stop at, a pending receipt whose co-signed copy cannot be read', async () => {
    await acceptedWhileWorkerAway()
    // An older version crashed between its two writes, and the co-signed copy it left is damaged.
    const restarted = await restartCreatorWith({
      [`receipts!${TASK}`]: new Uint8Array([0xff]),
      'meta!receipts-unsettled-indexed': new Uint8Array([0x01]),
    })
    expect(await restarted.stored()).toEqual({ cosigned: [], pending: [] })
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'record:skipped', key: TASK }))
    expect(await creatorStore.get('receipts', `pending/${TASK}`)).toBeDefined()
  })

  it('should mark, when it first indexes a data directory, a co-signed receipt it cannot read, to log it at every start', async () => {
    const restarted = await restartCreatorWith({ [`receipts!${TASK}`]: new Uint8Array([0xff]) })
    expect((await restarted.stored()).cosigned).toEqual([])
    expect(await creatorStore.get('receipts', `unsettled/${TASK}`)).toEqual({})
    logged.length = 0
    expect((await restarted.stored()).cosigned).toEqual([])
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'record:skipped', key: TASK }))
  })

  it('should skip, log and leave on disk a stored receipt it cannot read, and return the others', async () => {
    await acceptedWhileWorkerAway()
    const restarted = await restartCreatorWith({ 'receipts!pending/job-1/f0/9': new Uint8Array([0xff, 0x00]) })
    const stored = await restarted.stored()
    expect(stored.pending.map((r) => r.taskId)).toEqual([TASK])
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'record:skipped', key: 'pending/job-1/f0/9', code: 'NODE__DATASTORE_CORRUPT' }),
    )
    await expect(creatorStore.get('receipts', 'pending/job-1/f0/9')).rejects.toMatchObject({
      code: 'NODE__DATASTORE_CORRUPT',
    })
  })
})

/**
 * A worker's records of results whose creators never pay, on its real datastore: kept while a receipt may still come,
 * then deleted, at start and by the sweeps after it.
 */
describe('ReceiptExchange lease records', () => {
  const HOUR = 60 * 60 * 1000
  const outputRetentionMs = 24 * HOUR
  let dir: string
  let datastore: Datastore
  let exchange: ReceiptExchange
  const clock = new ManualClock(1_700_000_000_000)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-leases-'))
    datastore = await Datastore.open(join(dir, 'worker'))
    const identity = await generateIdentity()
    exchange = new ReceiptExchange({
      bus: linkedBuses(identity.peerId.toString(), 'creator')[0],
      identity,
      datastore,
      logger: pino({ level: 'silent' }),
      payee: WORKER_PAYEE,
      payeeOf: () => undefined,
      epochOf: () => 1,
      onCosigned: () => {},
      clock,
      outputRetentionMs,
    })
  })

  afterEach(async () => {
    await exchange.stop()
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** What the worker remembers of task `taskId`, committed at `at` (none: by an older version). */
  function commit(taskId: string, at?: number): Promise<void> {
    return exchange.committed(taskId, {
      jobId: JOB,
      creator: 'creator',
      root: ROOT,
      minAmount: 1n,
      ...(at === undefined ? {} : { at }),
    })
  }

  it('should delete at start the records of results never paid past the output retention and the grace', async () => {
    const retention = outputRetentionMs + UNPAID_LEASE_GRACE_MS
    await commit('job-1/old', clock.now() - retention)
    await commit('job-1/recent', clock.now() - retention + 1)
    exchange.sweepLeases()
    await vi.waitFor(async () => expect(await exchange.committedRecord('job-1/old')).toBeUndefined())
    await exchange.stop()
    expect(await exchange.committedRecord('job-1/recent')).toMatchObject({ jobId: JOB })
  })

  /** A record as an older version wrote it: no index entry, and no commit time unless `at`. */
  function olderRecord(taskId: string, at?: number): Promise<void> {
    return datastore.put('leases', taskId, {
      jobId: JOB,
      creator: 'creator',
      root: ROOT,
      minAmount: 1n,
      ...(at === undefined ? {} : { at }),
    })
  }

  it('should count a record of an older version from the first sweep that reads it', async () => {
    await olderRecord('job-1/untimed')
    expect(await exchange.pruneLeases()).toBe(0)
    const stamped = clock.now()
    expect(await exchange.committedRecord('job-1/untimed')).toMatchObject({ at: stamped })
    clock.advance(outputRetentionMs + UNPAID_LEASE_GRACE_MS - 1)
    expect(await exchange.pruneLeases()).toBe(0)
    clock.advance(1)
    expect(await exchange.pruneLeases()).toBe(1)
    expect(await exchange.committedRecord('job-1/untimed')).toBeUndefined()
  })

  it('should end an aborted first sweep without indexing, for the next sweep to index from the start', async () => {
    await olderRecord('job-1/untimed')
    const controller = new AbortController()
    const entries = datastore.entries.bind(datastore)
    // The stop comes while the sweep reads the older records.
    vi.spyOn(datastore, 'entries').mockImplementationOnce(async function* (ns, options) {
      controller.abort()
      yield* entries(ns, options)
    })
    await expect(exchange.pruneLeases({ signal: controller.signal })).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    expect(await datastore.get('meta', 'leases-indexed')).toBeUndefined()
    expect(await exchange.committedRecord('job-1/untimed')).not.toHaveProperty('at')
    vi.restoreAllMocks()
    expect(await exchange.pruneLeases()).toBe(0)
    expect(await exchange.committedRecord('job-1/untimed')).toMatchObject({ at: clock.now() })
  })

  it("should read at a sweep only the records due, once it has indexed an older data directory's", async () => {
    const retention = outputRetentionMs + UNPAID_LEASE_GRACE_MS
    const start = clock.now()
    await olderRecord('job-1/old', start - retention)
    await olderRecord('job-1/untimed')
    await olderRecord('job-1/recent', start)
    // Committed again since: swept by its latest commit time, not its first.
    await commit('job-1/again', start - retention)
    await commit('job-1/again', start)
    expect(await exchange.pruneLeases()).toBe(1)
    expect(await exchange.committedRecord('job-1/old')).toBeUndefined()
    for (let i = 0; i < 20; i++) await commit(`job-1/later-${i}`, start + HOUR)

    const entries = datastore.entries.bind(datastore)
    let read = 0
    vi.spyOn(datastore, 'entries').mockImplementation(async function* (ns, options) {
      for await (const entry of entries(ns, options)) {
        read++
        yield entry
      }
    })
    clock.advance(retention)
    // Due: the three committed at the start (the untimed one counts from the first sweep). Read: those, and the first
    // entry not due, where the sweep stops; never the twenty committed later.
    expect(await exchange.pruneLeases()).toBe(3)
    expect(read).toBeLessThanOrEqual(4)
    for (const taskId of ['job-1/untimed', 'job-1/recent', 'job-1/again']) {
      expect(await exchange.committedRecord(taskId)).toBeUndefined()
    }
    expect(await exchange.committedRecord('job-1/later-0')).toMatchObject({ at: start + HOUR })
    clock.advance(HOUR)
    expect(await exchange.pruneLeases()).toBe(20)
  })
})
