import { generateIdentity, type Identity, ManualClock, type MessageBus, type Receipt } from '@tessera/core'
import type { AcceptedTask } from '@tessera/scheduler'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { Datastore } from '../src/datastore.js'
import { RECEIPT_RETRY_MAX_MS, RECEIPT_RETRY_MS, ReceiptExchange } from '../src/peer/receipts.js'
import { tempDir } from './helpers.js'

const TASK = 'job-1/f0/0'

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

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    ;[creator, worker] = await Promise.all([generateIdentity(), generateIdentity()])
    offers = []
    const start = clock.now()
    const bus: MessageBus = {
      self: creator.peerId.toString(),
      publish: () => Promise.resolve(),
      send: () => {
        offers.push(clock.now() - start)
        return Promise.reject(new Error('worker unreachable'))
      },
      subscribe: () => {},
      unsubscribe: () => {},
      onMessage: () => () => {},
    }
    exchange = new ReceiptExchange({
      bus,
      clock,
      identity: creator,
      datastore,
      logger: pino({ level: 'silent' }),
      payee: 'SysvarC1ock11111111111111111111111111111111',
      payeeOf: () => 'SysvarRent111111111111111111111111111111111',
      epochOf: () => 1,
      onCosigned: () => {},
    })
  })

  afterEach(async () => {
    exchange.stop()
    vi.useRealTimers()
    await datastore.close()
    await tmp.cleanup()
  })

  /** Moves the clock and the retry timer on by `ms`, a retry period at a time. */
  function advance(ms: number): void {
    for (let left = ms; left > 0; left -= RECEIPT_RETRY_MS) {
      clock.advance(RECEIPT_RETRY_MS)
      vi.advanceTimersByTime(RECEIPT_RETRY_MS)
    }
  }

  it('should offer an unanswered receipt again less and less often, up to the cap, keeping it on disk', async () => {
    const task = {
      kind: 'accept',
      jobId: 'job-1',
      taskId: TASK,
      worker: worker.peerId.toString(),
      price: 10n,
      benchHours: 1,
      amount: 1_000n,
      escrow: 'escrow',
      result: { root: new Uint8Array(32).fill(7) },
    } as unknown as AcceptedTask
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
})
