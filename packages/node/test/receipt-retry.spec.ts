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
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { Datastore, type DatastoreWrite } from '../src/datastore.js'
import { ACCEPT_RETRY_FIRST_MS, ACCEPT_RETRY_MAX_MS, parseAccepted } from '../src/peer/accept-journal.js'
import {
  RECEIPT_DORMANT_AFTER_MS,
  RECEIPT_RETRY_MAX_MS,
  RECEIPT_RETRY_MS,
  ReceiptExchange,
} from '../src/peer/receipts.js'
import { tempDir } from './helpers.js'

const TASK = 'job-1/f0/0'

/** Whether a batch journals an accepted task (the journal's write, not the one that takes the task out). */
const journals = (writes: readonly DatastoreWrite[]): boolean =>
  writes.some((w) => w.ns === 'accepts' && w.type === 'put')

/**
 * A creator offering a receipt to a worker that never answers: offered again later and later, up to a cap, and
 * never dropped.
 */
describe('ReceiptExchange retries', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let creator: Identity
  let worker: Identity
  let exchange: ReceiptExchange
  const clock = new ManualClock(1_000_000)
  /** When each offer went out, ms since the first. */
  let offers: number[]
  let bus: MessageBus
  /** Hands the exchanges a message as from `from` (a heartbeat unless given), as each one's bus handler sees it. */
  let deliver: (from: string, message?: Inbound['message']) => void

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    ;[creator, worker] = await Promise.all([generateIdentity(), generateIdentity()])
    offers = []
    const start = clock.now()
    const handlers: ((inbound: Inbound) => void)[] = []
    deliver = (from, message = { type: 'heartbeat', body: {} } as unknown as Inbound['message']) => {
      for (const h of [...handlers]) h({ from, message } as Inbound)
    }
    bus = {
      self: creator.peerId.toString(),
      publish: () => Promise.resolve(),
      send: () => {
        offers.push(clock.now() - start)
        return Promise.reject(new Error('worker unreachable'))
      },
      subscribe: () => {},
      unsubscribe: () => {},
      onMessage: (handler) => {
        handlers.push(handler)
        return () => void handlers.splice(handlers.indexOf(handler), 1)
      },
    }
    exchange = exchangeOn(datastore)
  })

  /** A creator's receipt exchange on `store`; `payeeOf` is its view of workers' capacity records. */
  function exchangeOn(
    store: Datastore,
    onCosigned: (receipt: Receipt) => void = () => {},
    payeeOf: (worker: string) => string | undefined = () => 'SysvarRent111111111111111111111111111111111',
    epochOf: (jobId: string) => number = () => 1,
  ): ReceiptExchange {
    return new ReceiptExchange({
      bus,
      clock,
      identity: creator,
      datastore: store,
      logger: pino({ level: 'silent' }),
      payee: 'SysvarC1ock11111111111111111111111111111111',
      payeeOf,
      epochOf,
      onCosigned,
    })
  }

  afterEach(async () => {
    exchange.stop()
    vi.useRealTimers()
    await datastore.close()
    await tmp.cleanup()
  })

  /** The creator's accepted task `taskId`, done by the worker. */
  function acceptedTask(taskId = TASK): AcceptedTask {
    return {
      kind: 'accept',
      jobId: 'job-1',
      taskId,
      worker: worker.peerId.toString(),
      price: 10n,
      benchHours: 1,
      amount: 1_000n,
      escrow: 'escrow',
      result: { root: new Uint8Array(32).fill(7) },
    } as unknown as AcceptedTask
  }

  /** Moves the clock and the retry timer on by `ms`, a retry period at a time. */
  function advance(ms: number): void {
    for (let left = ms; left > 0; left -= RECEIPT_RETRY_MS) {
      clock.advance(RECEIPT_RETRY_MS)
      vi.advanceTimersByTime(RECEIPT_RETRY_MS)
    }
  }

  it('should offer an unanswered receipt again less and less often, up to the cap, keeping it on disk', async () => {
    const task = acceptedTask()
    await expect(exchange.accepted(task)).rejects.toThrow('worker unreachable')
    advance(32_000)
    // Each wait twice the last: 2 s, 4 s, 8 s, 16 s.
    expect(offers).toEqual([0, 2_000, 6_000, 14_000, 30_000])
    // A worker gone for good: at most one offer per cap.
    advance(3 * RECEIPT_RETRY_MAX_MS)
    const gaps = offers.slice(1).map((t, i) => t - (offers[i] as number))
    expect(Math.max(...gaps)).toBe(RECEIPT_RETRY_MAX_MS)
    expect(offers.length).toBeLessThan(20)
    expect(exchange.awaiting).toBe(1)
    expect(await datastore.get<Receipt>('receipts', `pending/${TASK}`)).toMatchObject({ taskId: TASK })
  })

  /** Jumps the clock by `ms` at once, then lets one retry period's timer fire. */
  function jump(ms: number): void {
    clock.advance(ms)
    advance(RECEIPT_RETRY_MS)
  }

  it('should let a receipt unanswered for a week go dormant on disk, and offer it again once its worker is heard from', async () => {
    const task = acceptedTask()
    await expect(exchange.accepted(task)).rejects.toThrow('worker unreachable')
    jump(RECEIPT_DORMANT_AFTER_MS)
    expect(exchange.awaiting).toBe(0)
    await vi.waitFor(async () =>
      expect(await datastore.get('receipts', `dormant/${worker.peerId}/${TASK}`)).toEqual({}),
    )
    // No more offers, however long: the worker is gone, and the receipt waits on disk.
    const offered = offers.length
    jump(30 * 24 * 60 * 60 * 1000)
    expect(offers).toHaveLength(offered)
    expect(await datastore.get<Receipt>('receipts', `pending/${TASK}`)).toMatchObject({ taskId: TASK })
    // Any message from the worker: offered at once, for another week.
    deliver(worker.peerId.toString())
    await vi.waitFor(() => expect(offers).toHaveLength(offered + 1))
    expect(exchange.awaiting).toBe(1)
    expect(await datastore.get('receipts', `dormant/${worker.peerId}/${TASK}`)).toBeUndefined()
  })

  it('should keep a receipt dormant across a restart, and count a pending one from its first offer', async () => {
    const task = acceptedTask()
    await expect(exchange.accepted(task)).rejects.toThrow('worker unreachable')
    await expect(exchange.accepted(acceptedTask('job-1/f0/1'))).rejects.toThrow('worker unreachable')
    // Six days in, a restart: both still pending, each a day from dormant, not a week.
    clock.advance(RECEIPT_DORMANT_AFTER_MS - 24 * 60 * 60 * 1000)
    exchange.stop()
    exchange = exchangeOn(datastore)
    const { pending } = await exchange.stored()
    exchange.offer(pending)
    expect(exchange.awaiting).toBe(2)
    jump(24 * 60 * 60 * 1000)
    expect(exchange.awaiting).toBe(0)
    await vi.waitFor(async () => {
      for (const task of [TASK, 'job-1/f0/1']) {
        expect(await datastore.get('receipts', `dormant/${worker.peerId}/${task}`)).toEqual({})
      }
    })
    // Another restart: dormant receipts stay out of memory, and wake with their worker.
    exchange.stop()
    exchange = exchangeOn(datastore)
    expect((await exchange.stored()).pending).toEqual([])
    deliver(worker.peerId.toString())
    await vi.waitFor(() => expect(exchange.awaiting).toBe(2))
  })

  it('should count a pending receipt an older version wrote, which has no offer time, from the first start that reads it', async () => {
    await expect(exchange.accepted(acceptedTask())).rejects.toThrow('worker unreachable')
    await datastore.delete('receipts', `offered/${TASK}`)
    clock.advance(RECEIPT_DORMANT_AFTER_MS)
    exchange.stop()
    exchange = exchangeOn(datastore)
    exchange.offer((await exchange.stored()).pending)
    // Its week starts now, kept on disk so a later restart does not start it again.
    expect(await datastore.get('receipts', `offered/${TASK}`)).toEqual({ at: clock.now() })
    jump(RECEIPT_DORMANT_AFTER_MS - 60_000)
    expect(exchange.awaiting).toBe(1)
    jump(60_000)
    expect(exchange.awaiting).toBe(0)
  })

  it('should keep, once and cleanly, a countersignature that comes for a dormant receipt, waking its worker as it does', async () => {
    const cosigned: Receipt[] = []
    exchange.stop()
    exchange = exchangeOn(datastore, (r) => cosigned.push(r))
    await expect(exchange.accepted(acceptedTask())).rejects.toThrow('worker unreachable')
    jump(RECEIPT_DORMANT_AFTER_MS)
    await vi.waitFor(async () =>
      expect(await datastore.get('receipts', `dormant/${worker.peerId}/${TASK}`)).toEqual({}),
    )
    // The worker is back, and its first message is the countersignature itself.
    const pending = (await datastore.get('receipts', `pending/${TASK}`, parseReceipt))!
    deliver(worker.peerId.toString(), { type: 'receipt', body: signReceipt(pending, worker, 'worker') })
    await vi.waitFor(() => expect(cosigned).toHaveLength(1))
    await vi.waitFor(async () => {
      const keys: string[] = []
      for await (const [key] of datastore.entries('receipts')) keys.push(key)
      // The co-signed receipt and its unsettled mark; nothing of the offers left.
      expect(keys.sort()).toEqual([TASK, `unsettled/${TASK}`])
    })
    expect(exchange.awaiting).toBe(0)
    // Answered twice (a retry crossing the first answer): still paid once, nothing offered again.
    deliver(worker.peerId.toString(), { type: 'receipt', body: signReceipt(pending, worker, 'worker') })
    jump(RECEIPT_RETRY_MAX_MS)
    expect(cosigned).toHaveLength(1)
    expect(exchange.awaiting).toBe(0)
  })

  it('should pay the address the worker signed in its Result, whether or not its capacity record is in view', async () => {
    const payee = 'SysvarS1otHashes111111111111111111111111111'
    const task = acceptedTask()
    exchange.stop()
    exchange = exchangeOn(datastore, undefined, () => undefined)
    await expect(exchange.accepted({ ...task, result: { ...task.result, payee } } as AcceptedTask)).rejects.toThrow(
      'worker unreachable',
    )
    expect(await datastore.get('receipts', `pending/${TASK}`, parseReceipt)).toMatchObject({ taskId: TASK, payee })
    // A worker of an older version names none: its capacity record's payee, and without one, no receipt yet (the
    // task stays journaled, to be signed once its record is in view).
    await expect(exchange.accepted({ ...task, taskId: 'job-1/f0/1' })).rejects.toMatchObject({
      code: 'NODE__PAYEE_NOT_FOUND',
    })
    expect(await datastore.get('receipts', 'pending/job-1/f0/1', parseReceipt)).toBeUndefined()
    expect(await datastore.get('accepts', 'job-1/f0/1')).toMatchObject({ taskId: 'job-1/f0/1' })
  })

  it('should sign a receipt whose signing failed again later, and offer it, rather than drop it', async () => {
    let tries = 0
    const flakyEpoch = () => {
      if (++tries <= 2) throw new Error('epoch not known yet')
      return 1
    }
    exchange.stop()
    exchange = exchangeOn(datastore, undefined, undefined, flakyEpoch)
    await expect(exchange.accepted(acceptedTask())).rejects.toThrow('epoch not known yet')
    // Not receipted, and not forgotten either.
    expect(await datastore.get('receipts', `pending/${TASK}`)).toBeUndefined()
    expect(await datastore.get('accepts', TASK, parseAccepted)).toMatchObject({ taskId: TASK, amount: 1_000n })
    advance(ACCEPT_RETRY_FIRST_MS)
    await vi.waitFor(() => expect(tries).toBe(2))
    // The second retry waits twice as long, and succeeds: kept, out of the journal, offered.
    advance(2 * ACCEPT_RETRY_FIRST_MS)
    await vi.waitFor(() => expect(offers).toHaveLength(1))
    expect(await datastore.get('receipts', `pending/${TASK}`, parseReceipt)).toMatchObject({ taskId: TASK, epoch: 1 })
    expect(await datastore.get('accepts', TASK)).toBeUndefined()
    expect(exchange.awaiting).toBe(1)
  })

  it('should keep trying, at the longest pause, to sign a task whose journal write failed, rather than lose it', async () => {
    // The journal write fails each time (the disk full, say): the task is on disk nowhere, only in memory.
    let failing = true
    let journalWrites = 0
    const batch = datastore.batch.bind(datastore)
    vi.spyOn(datastore, 'batch').mockImplementation(async (writes, ...rest) => {
      if (journals(writes) && (journalWrites++, failing)) throw new Error('disk full')
      return batch(writes, ...rest)
    })
    // With it, what must be on disk exactly when the task is: its job's record of the result.
    const result: DatastoreWrite = { type: 'put', ns: 'jobs', key: `accepted/job-1/${TASK}`, value: { taskId: TASK } }
    await expect(exchange.accepted(acceptedTask(), [result])).rejects.toThrow('disk full')
    expect(await datastore.get('accepts', TASK)).toBeUndefined()
    expect(await datastore.get('jobs', result.key)).toBeUndefined()
    // The pause doubles up to ACCEPT_RETRY_MAX_MS, and the tries go on past it.
    for (let i = 1, pause = ACCEPT_RETRY_FIRST_MS; i <= 12; i++, pause *= 2) {
      advance(Math.min(pause, ACCEPT_RETRY_MAX_MS))
      await vi.waitFor(() => expect(journalWrites).toBe(i + 1))
      // The failed try is seen (its next try timed) before the clock moves on.
      await new Promise((resolve) => setImmediate(resolve))
    }
    failing = false
    advance(ACCEPT_RETRY_MAX_MS)
    await vi.waitFor(() => expect(offers).toHaveLength(1))
    expect(await datastore.get('receipts', `pending/${TASK}`, parseReceipt)).toMatchObject({ taskId: TASK })
    expect(await datastore.get('accepts', TASK)).toBeUndefined()
    // Written with the journal's retry.
    expect(await datastore.get('jobs', result.key)).toEqual({ taskId: TASK })
  })

  it('should stop trying to sign when stopped, waiting for a try under way, leaving the task journaled', async () => {
    let tries = 0
    exchange.stop()
    exchange = exchangeOn(datastore, undefined, undefined, () => {
      if (++tries === 1) throw new Error('epoch not known yet')
      return 1
    })
    await expect(exchange.accepted(acceptedTask())).rejects.toThrow('epoch not known yet')
    // The next try's journal write takes a while: the exchange stops meanwhile.
    let release = (): void => {}
    const batch = datastore.batch.bind(datastore)
    vi.spyOn(datastore, 'batch').mockImplementation(async (writes, ...rest) => {
      if (journals(writes)) await new Promise<void>((resolve) => (release = resolve))
      return batch(writes, ...rest)
    })
    advance(ACCEPT_RETRY_FIRST_MS)
    let stopped = false
    const stopping = exchange.stop().then(() => (stopped = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(stopped).toBe(false)
    release()
    await stopping
    vi.mocked(datastore.batch).mockRestore()
    // The try ended without offering anything, and no other begins.
    advance(ACCEPT_RETRY_MAX_MS)
    expect(offers).toEqual([])
    // The next start offers the receipt the try kept.
    exchange = exchangeOn(datastore)
    const { pending } = await exchange.stored()
    expect(pending.map((r) => r.taskId)).toEqual([TASK])
  })
})
