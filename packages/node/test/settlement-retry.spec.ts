import { join } from 'node:path'
import type { Receipt } from '@tessera/core'
import { type Logger, pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement } from '../src/peer/settlement.js'
import { cosignedReceipts } from './fixtures.js'
import { tempDir } from './helpers.js'

/** With `refuse`, the next vault opening is refused before anything is sent, as when the cluster does not answer. */
const vaults = vi.hoisted(() => ({ refuse: false }))
/** With `refuse`, the chain refuses the next payout, for good as far as that try knows. */
const payouts = vi.hoisted(() => ({ refuse: false }))
vi.mock('@tessera/ledger', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@tessera/ledger')>()
  return {
    ...actual,
    openLedger: async (...args: Parameters<typeof actual.openLedger>) => {
      const { refusingPayouts } = await import('./ledger-faults.js')
      return refusingPayouts(await actual.openLedger(...args), payouts)
    },
    openVault: async (...args: Parameters<typeof actual.openVault>) => {
      if (!vaults.refuse) return actual.openVault(...args)
      vaults.refuse = false
      throw new actual.LedgerError('LEDGER__RPC_UNAVAILABLE', 'the cluster does not answer', {})
    },
  }
})

// A failed funding or payout waits an hour before its next try, unless the ledger is back sooner.
vi.mock('../src/peer/constants.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/peer/constants.js')>()),
  SETTLEMENT_RETRY_FIRST_PAUSE_MS: 60 * 60_000,
  SETTLEMENT_RETRY_WOKEN_PAUSE_MS: 10,
}))

const JOB = 'job-1'

/** A creator's settlements on the embedded LiteSVM chain, trying the chain again after it failed them. */
describe('Settlement retries', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let settlement: Settlement
  let receipts: Receipt[]
  let logged: Record<string, unknown>[]
  let logger: Logger

  beforeEach(async () => {
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    logged = []
    logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const counter = await EpochCounter.open(datastore)
    settlement = new Settlement(join(tmp.path, 'ledger'), parseConfig({}, 'test'), logger, datastore, counter)
    await settlement.airdrop(1_000_000n)
    const epoch = counter.take()
    await counter.save()
    await settlement.fundJob(JOB, epoch, 100_000n, 2)
    receipts = await cosignedReceipts(JOB, epoch)
  })

  afterEach(async () => {
    await settlement.close()
    await datastore.close()
    await tmp.cleanup()
  })

  it("should fund a late epoch the chain refused as soon as the ledger is back, not after the failure's pause", async () => {
    await settlement.receipt(receipts[0] as Receipt)
    // The second worker was away past the grace: its receipt is paid late, in an epoch of its own.
    await settlement.closeJob(JOB, 2, 0)
    vaults.refuse = true
    const paid = settlement.receipt(receipts[1] as Receipt)
    await vi.waitFor(() =>
      expect(logged.find((l) => l.msg === 'settlement:failed')).toMatchObject({ retryInMs: 60 * 60_000 }),
    )
    // The wallet topped up: the ledger answers, and the late epoch is funded and paid now.
    await settlement.airdrop(1n)
    await paid
    expect(await settlement.view(`${JOB}/2`)).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(await settlement.idle(JOB)).toBe(true)
  })
  it('should pay an unpaid epoch soon after the wallet is topped up, not after its pause', async () => {
    payouts.refuse = true
    for (const r of receipts) await settlement.receipt(r)
    const closing = settlement.closeJob(JOB, 2, 60_000)
    await vi.waitFor(() => expect(logged.filter((l) => l.msg === 'settlement:unpaid')).toHaveLength(1))
    expect(await settlement.view(JOB)).toMatchObject({ paid: {} })
    await settlement.airdrop(1n)
    await closing
    expect(Object.values((await settlement.view(JOB))?.paid ?? {}).sort()).toEqual(['19800', '9900'])
  })
})
