import { join } from 'node:path'
import { generateKeyPairSigner } from '@solana/kit'
import { generateIdentity, type Identity, type Inbound, type MessageBus } from '@tessera/core'
import type { AcceptedTask } from '@tessera/scheduler'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { ReceiptExchange } from '../src/peer/receipts.js'
import { Settlement } from '../src/peer/settlement.js'
import { tempDir } from './helpers.js'

const JOB = 'job-1'
const TASK = `${JOB}/f0/t0_0`
const BUDGET = 100_000n
const AMOUNT = 40_000n
/** What the worker is paid of {@link AMOUNT}, net of the default 1% fee. */
const NET = '39600'

/**
 * A creator killed between the market's accepting a task and the signed receipt reaching disk, on the embedded
 * LiteSVM chain: the next start signs the task's receipt, offers it, and the worker is paid, once.
 */
describe('an accepted task across a creator crash', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let creatorStore: Datastore
  let workerStore: Datastore
  let creator: Identity
  let worker: Identity
  let payee: string
  /** Message handlers by peer id: the exchanges talk through these. */
  let handlers: Map<string, ((inbound: Inbound) => void)[]>
  const config = parseConfig({}, 'test')
  const logger = pino({ level: 'silent' })

  /** A bus for `self` that delivers each message to the handlers of the peer it is sent to. */
  const busOf = (self: string): MessageBus => ({
    self,
    publish: () => Promise.resolve(),
    send: async (to, message) => {
      for (const h of handlers.get(to) ?? []) h({ from: self, message } as Inbound)
    },
    subscribe: () => {},
    unsubscribe: () => {},
    onMessage: (handler) => {
      const list = handlers.get(self) ?? []
      handlers.set(self, [...list, handler])
      return () =>
        handlers.set(
          self,
          (handlers.get(self) ?? []).filter((h) => h !== handler),
        )
    },
  })

  /** The creator's settlement and receipt exchange, as a node (re)started on its data directory has them. */
  const startCreator = async () => {
    const settlement = new Settlement(
      join(tmp.path, 'ledger'),
      config,
      logger,
      creatorStore,
      await EpochCounter.open(creatorStore),
    )
    const receipts = new ReceiptExchange({
      bus: busOf(creator.peerId.toString()),
      identity: creator,
      datastore: creatorStore,
      logger,
      payee: (await generateKeyPairSigner()).address,
      payeeOf: () => undefined,
      // As the peer's: a job that is not running names the epoch on its settlement record.
      epochOf: async (jobId) => {
        const epoch = await settlement.epochOf(jobId)
        if (epoch === undefined) throw new Error(`no epoch for ${jobId}`)
        return epoch
      },
      onCosigned: (receipt) => void settlement.receipt(receipt),
    })
    return { settlement, receipts }
  }

  /** What `Peer.#resume` does at a start: the receipts on disk, the settlements, then the offers. */
  const resume = async ({ settlement, receipts }: Awaited<ReturnType<typeof startCreator>>, graceMs = 60_000) => {
    const { cosigned, pending } = await receipts.stored()
    const resumed = await settlement.resume(cosigned, async () => 1, graceMs)
    receipts.offer(pending)
    return { resumed, pending }
  }

  beforeEach(async () => {
    tmp = await tempDir()
    creatorStore = await Datastore.open(join(tmp.path, 'datastore'))
    workerStore = await Datastore.open(join(tmp.path, 'worker-datastore'))
    ;[creator, worker] = await Promise.all([generateIdentity(), generateIdentity()])
    payee = (await generateKeyPairSigner()).address
    handlers = new Map()
  })

  afterEach(async () => {
    await creatorStore.close()
    await workerStore.close()
    await tmp.cleanup()
  })

  /** The worker's receipt exchange: it remembers its result, and countersigns a receipt for it. */
  const startWorker = async (root: Uint8Array) => {
    const receipts = new ReceiptExchange({
      bus: busOf(worker.peerId.toString()),
      identity: worker,
      datastore: workerStore,
      logger,
      payee,
      payeeOf: () => undefined,
      epochOf: () => 1,
      onCosigned: () => {},
    })
    await receipts.committed(TASK, { jobId: JOB, creator: creator.peerId.toString(), root, minAmount: AMOUNT })
    return receipts
  }

  /**
   * A creator that funds the job, has the market accept the worker's task, and is killed as the task's signed receipt
   * is written; resolves to the job's epoch.
   */
  const acceptAndDie = async (root: Uint8Array): Promise<number> => {
    const first = await startCreator()
    await first.settlement.airdrop(1_000_000n)
    const counter = await EpochCounter.open(creatorStore)
    const epoch = counter.take()
    await counter.save()
    await first.settlement.fundJob(JOB, epoch, BUDGET, 1)
    // The creator dies as its signed receipt is written: nothing after that write runs, nor does it reach disk.
    const write = creatorStore.batch.bind(creatorStore)
    let killed = false
    const crash = vi.spyOn(creatorStore, 'batch').mockImplementation(async (writes, options) => {
      if (writes.some((w) => w.key.startsWith('pending/'))) {
        killed = true
        return new Promise(() => {})
      }
      return write(writes, options)
    })
    const task = {
      kind: 'accept',
      jobId: JOB,
      taskId: TASK,
      worker: worker.peerId.toString(),
      price: 80_000n,
      benchHours: 0.5,
      amount: AMOUNT,
      escrow: '',
      result: { root, payee },
    } as unknown as AcceptedTask
    // As the scheduler driver hands it over: not awaited.
    void first.receipts.accepted(task)
    await vi.waitFor(() => expect(killed).toBe(true))
    crash.mockRestore()
    await first.receipts.stop()
    await first.settlement.close()
    return epoch
  }

  it('should sign, offer and pay once, after a restart, a task accepted just before the creator was killed', async () => {
    const root = new Uint8Array(32).fill(7)
    const workerReceipts = await startWorker(root)
    const epoch = await acceptAndDie(root)

    const second = await startCreator()
    const { pending } = await resume(second)
    expect(pending.map((r) => r.taskId)).toEqual([TASK])
    expect(pending[0]).toMatchObject({ amount: AMOUNT, payee, epoch })
    await vi.waitFor(async () => expect(await second.settlement.idle(JOB)).toBe(true), { timeout: 60_000 })
    expect(await second.settlement.view(JOB)).toMatchObject({
      epoch,
      receipts: 1,
      paid: { [payee]: NET },
      refunded: (BUDGET - AMOUNT).toString(),
    })
    expect(await workerReceipts.earnings()).toEqual({ tasks: 1, amount: AMOUNT })
    await second.receipts.stop()
    await second.settlement.close()

    // A third start finds nothing left to sign, offer or settle: the worker is paid once.
    const third = await startCreator()
    const again = await resume(third)
    expect(again.pending).toEqual([])
    expect(again.resumed.size).toBe(0)
    expect(await third.settlement.view(JOB)).toMatchObject({ receipts: 1, paid: { [payee]: NET } })
    await third.receipts.stop()
    await third.settlement.close()
    await workerReceipts.stop()
  }, 120_000)

  it("should pay in an epoch of its own, once, the rebuilt receipt of a worker back after its job's epoch closed", async () => {
    const root = new Uint8Array(32).fill(7)
    const epoch = await acceptAndDie(root)
    // The worker is away as the creator restarts: the job's epoch closes without the receipt, refunding the budget.
    const second = await startCreator()
    expect((await resume(second, 0)).pending.map((r) => r.taskId)).toEqual([TASK])
    await vi.waitFor(async () => expect(await second.settlement.idle(JOB)).toBe(true), { timeout: 60_000 })
    expect(await second.settlement.view(JOB)).toMatchObject({ epoch, receipts: 0, refunded: BUDGET.toString() })
    // Back: the receipt, offered again, is countersigned and paid in the next epoch, under the one it names.
    const workerReceipts = await startWorker(root)
    await vi.waitFor(async () => expect(await workerReceipts.earnings()).toEqual({ tasks: 1, amount: AMOUNT }), {
      timeout: 60_000,
    })
    await vi.waitFor(
      async () => {
        expect(await second.settlement.idle(JOB)).toBe(true)
        expect(await second.settlement.view(`${JOB}/${epoch + 1}`)).toMatchObject({
          receipts: 1,
          paid: { [payee]: NET },
          refunded: '0',
        })
      },
      { timeout: 60_000 },
    )
    await second.receipts.stop()
    await second.settlement.close()

    const third = await startCreator()
    const again = await resume(third, 0)
    expect(again.pending).toEqual([])
    expect(again.resumed.size).toBe(0)
    expect(await third.settlement.view(`${JOB}/${epoch + 1}`)).toMatchObject({ receipts: 1, paid: { [payee]: NET } })
    await third.receipts.stop()
    await third.settlement.close()
    await workerReceipts.stop()
  }, 120_000)
})
