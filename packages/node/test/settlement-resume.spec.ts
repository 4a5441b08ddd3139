import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Receipt } from '@tessera/core'
import { JOURNAL_FILE } from '@tessera/ledger'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement, type SettlementRecord } from '../src/peer/settlement.js'
import { cosignedReceipts } from './fixtures.js'
import { tempDir } from './helpers.js'

const JOB = 'job-1'
const BUDGET = 100_000n

/**
 * A creator's settlement across restarts, on the embedded LiteSVM chain: what a stopped node had not settled is
 * settled at its next start, from the receipts on disk, and paid once however often it restarts.
 */
describe('Settlement.resume', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let receipts: Receipt[]
  const config = parseConfig({}, 'test')
  const logger = pino({ level: 'silent' })
  /** The epoch counter of the settlement last opened: one per process, as in a node. */
  let counter: EpochCounter
  const open = async () => {
    counter = await EpochCounter.open(datastore)
    return new Settlement(join(tmp.path, 'ledger'), config, logger, datastore, counter)
  }
  /** A settlement with tokens to spend and the job's vault funded, its epoch taken as a node takes one. */
  const funded = async () => {
    const settlement = await open()
    await settlement.airdrop(1_000_000n)
    await settlement.fundJob(JOB, await takeEpoch(), BUDGET, 2)
    return settlement
  }
  /** An epoch number as the node takes one for a job it orders. */
  const takeEpoch = async () => {
    const epoch = counter.take()
    await counter.save()
    return epoch
  }

  /** Runs `close` with the datastore failing the write of any settled record: a crash just as a job settles. */
  const crashAsSettled = async (close: () => Promise<unknown>) => {
    const write = datastore.batch.bind(datastore)
    const crash = vi.spyOn(datastore, 'batch').mockImplementation(async (writes, options) => {
      if (writes.some((w) => w.type === 'put' && (w.value as { settled?: unknown }).settled === true)) {
        throw new Error('power cut')
      }
      return write(writes, options)
    })
    try {
      await close()
    } finally {
      crash.mockRestore()
    }
  }

  beforeEach(async () => {
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    receipts = await cosignedReceipts(JOB, 1)
  })

  afterEach(async () => {
    await datastore.close()
    await tmp.cleanup()
  })

  /** The keys under `prefix` in namespace `ns`. */
  const keys = async (ns: 'settlement' | 'receipts', prefix: string) => {
    const out: string[] = []
    for await (const [key] of datastore.entries(ns, { prefix })) out.push(key)
    return out
  }

  it('should settle, after a restart, a funded job with the receipts on disk, and pay each once', async () => {
    const before = await funded()
    // One receipt came back before the stop, the other after it: both are on disk, neither settled.
    await before.receipt(receipts[0] as Receipt)
    await before.close()

    const after = await open()
    const resumed = await after.resume(receipts, async () => 2, 60_000)
    expect([...resumed]).toEqual([[JOB, 1]])
    await after.settled(JOB)
    const view = await after.view(JOB)
    expect(view).toMatchObject({ epoch: 1, receipts: 2, refunded: (BUDGET - 30_000n).toString() })
    expect(view?.payouts.length).toBeGreaterThan(0)
    // Net of the 1% fee.
    expect(Object.values(view?.paid ?? {}).sort()).toEqual(['19800', '9900'])
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).toMatchObject({
      settled: true,
      closing: receipts.map((r) => r.taskId),
    })
    await after.close()

    // A third start finds nothing left to do: nobody is paid twice.
    const again = await open()
    expect((await again.resume(receipts, async () => 2, 60_000)).size).toBe(0)
    await again.close()
  })

  it('should report what a refund returned when it landed before a restart, not the empty vault it left', async () => {
    const before = await funded()
    for (const receipt of receipts) await before.receipt(receipt)
    // The crash comes after the refund and close landed, as the settled record is written.
    await crashAsSettled(() => before.closeJob(JOB, 2, 60_000))
    await before.close()
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).not.toMatchObject({ settled: true })

    const after = await open()
    expect([...(await after.resume(receipts, async () => 2, 60_000))]).toEqual([[JOB, 1]])
    await after.settled(JOB)
    expect(await after.view(JOB)).toMatchObject({ receipts: 2, refunded: (BUDGET - 30_000n).toString() })
    await after.close()
  })

  it('should finish an epoch paid before a restart under the fee it was funded with, whatever the config says now', async () => {
    const before = await funded()
    for (const receipt of receipts) await before.receipt(receipt)
    // The crash comes once the epoch is paid and refunded, as its settled record is written.
    await crashAsSettled(() => before.closeJob(JOB, 2, 60_000))
    await before.close()

    // The operator raised the fee meanwhile. Before, the payouts were built again under it, the journal refused them
    // (LEDGER__JOURNAL_MISMATCH) and the epoch was retried for good, never refunded nor recorded settled.
    const epochs = await EpochCounter.open(datastore)
    const raised = new Settlement(
      join(tmp.path, 'ledger'),
      parseConfig({ ledger: { feeBps: 200 } }, 'test'),
      logger,
      datastore,
      epochs,
    )
    await raised.resume(receipts, async () => 2, 60_000)
    const settled = raised.settled(JOB).then(() => 'settled')
    expect(await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 10_000, 'stuck'))])).toBe(
      'settled',
    )
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).toMatchObject({
      settled: true,
      feeBps: 100,
    })
    expect(await raised.view(JOB)).toMatchObject({ fee: '300', refunded: (BUDGET - 30_000n).toString() })
    expect(Object.values((await raised.view(JOB))?.paid ?? {}).sort()).toEqual(['19800', '9900'])
    // A job funded from now on takes the fee configured now.
    await raised.fundJob('job-2', epochs.take(), BUDGET, 1)
    expect(await datastore.get<SettlementRecord>('settlement', 'job/job-2')).toMatchObject({ feeBps: 200 })
    await raised.close()
  })

  it('should settle exactly the receipts an epoch closed over, and one that came later in an epoch of its own', async () => {
    const before = await funded()
    await before.close()
    // Stopped after the epoch closed over the first receipt, before it was anchored.
    const record = await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)
    await datastore.put('settlement', `job/${JOB}`, { ...record, closing: [receipts[0]?.taskId] })

    const after = await open()
    await after.resume(receipts, async () => 2, 60_000)
    await after.settled(JOB)
    expect(await after.view(JOB)).toMatchObject({ receipts: 1, refunded: (BUDGET - 10_000n).toString() })
    // The second receipt, on disk but after the close, is paid in epoch 2, funded with exactly what it pays.
    await after.receipt(receipts[1] as Receipt)
    expect(await after.view(`${JOB}/2`)).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(await datastore.get('settlement', `job/${JOB}/2`)).toMatchObject({ settled: true, budget: 20_000 })
    await after.close()
  })

  it('should pay a receipt that comes back live while a restart resumes its closed epoch in a later epoch', async () => {
    const before = await funded()
    await before.receipt(receipts[0] as Receipt)
    // The second worker was away past the grace: the epoch closes over the first receipt, is paid and refunded, and
    // the node dies as it records it settled.
    await crashAsSettled(() => before.closeJob(JOB, 2, 0))
    await before.close()
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).toMatchObject({
      closing: [receipts[0]?.taskId],
    })

    const after = await open()
    const resuming = after.resume([receipts[0] as Receipt], async () => 2, 60_000)
    // The second worker countersigns while the restart re-funds the closed epoch. Before, it was fed to that epoch,
    // whose close then no longer matched the anchor the journal holds: refused, and retried for good, never settled.
    await vi.waitFor(() => expect(after.active).toBeGreaterThan(0), { interval: 1 })
    const late = after.receipt(receipts[1] as Receipt)
    await resuming
    const settled = after.settled(JOB).then(() => 'settled')
    expect(await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 10_000, 'stuck'))])).toBe(
      'settled',
    )
    expect(await after.view(JOB)).toMatchObject({ receipts: 1, fee: '100', refunded: (BUDGET - 10_000n).toString() })
    expect(Object.values((await after.view(JOB))?.paid ?? {})).toEqual(['9900'])
    await late
    const lateEpoch = await after.view(`${JOB}/2`)
    expect(lateEpoch).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(Object.values(lateEpoch?.paid ?? {})).toEqual(['19800'])
    expect(await datastore.get('settlement', `job/${JOB}/3`)).toBeUndefined()
    // Settled, the job's epoch is never funded again.
    await expect(after.fundJob(JOB, 1, BUDGET, 2)).rejects.toMatchObject({ code: 'NODE__SETTLEMENT_SETTLED' })
    await after.close()
  })

  it('should pay a receipt co-signed after its job settled in a later epoch, once across restarts', async () => {
    const first = await funded()
    await first.receipt(receipts[0] as Receipt)
    // The second worker was away past the grace: the epoch closes without it.
    await first.closeJob(JOB, 2, 0)
    expect(await first.view(JOB)).toMatchObject({ receipts: 1 })
    await first.receipt(receipts[1] as Receipt)
    const late = await first.view(`${JOB}/2`)
    expect(late).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(Object.values(late?.paid ?? {})).toEqual(['19800'])
    // Countersigned again (the worker answered a retry twice): nothing more.
    await first.receipt(receipts[1] as Receipt)
    await first.close()

    const second = await open()
    expect((await second.resume(receipts, async () => 2, 60_000)).size).toBe(0)
    await second.receipt(receipts[1] as Receipt)
    expect(await datastore.get('settlement', `job/${JOB}/3`)).toBeUndefined()
    expect(await datastore.get<number>('settlement', 'epoch')).toBe(2)
    await second.close()
  })

  it('should leave nothing for a restart to read once a settlement is paid: not its record, not its receipts', async () => {
    const settlement = await funded()
    // The receipts exchange marks each co-signed receipt unpaid as it keeps it.
    for (const r of receipts) await datastore.put('receipts', `unsettled/${r.taskId}`, {})
    expect(await keys('settlement', 'open/')).toEqual([`open/${JOB}`])
    for (const r of receipts) await settlement.receipt(r)
    await settlement.closeJob(JOB, 2, 60_000)
    expect(await keys('settlement', 'open/')).toEqual([])
    expect(await keys('receipts', 'unsettled/')).toEqual([])
    await settlement.close()
  })

  it("should retire a paid settlement's ledger actions, and those an older version left, once, and never run them again", async () => {
    const journalPath = join(tmp.path, 'ledger', JOURNAL_FILE)
    const retiredLines = async () =>
      (await readFile(journalPath, 'utf8'))
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line.slice(0, line.lastIndexOf('\t'))) as { t: string; key: string })
        .filter((r) => r.t === 'retired')
        .map((r) => r.key.replace(/^(\w+[/-])[^/-]+/, '$1*'))
    const settlement = await funded()
    for (const r of receipts) await settlement.receipt(r)
    await settlement.closeJob(JOB, 2, 60_000)
    // The vault's opening, the anchor and payouts, the refund and close: the record answers for them now.
    expect(await retiredLines()).toEqual(['vault/*/epoch-1/', 'settle-*-1/', 'escrow/*/'])
    await settlement.close()

    expect(await keys('settlement', 'retire/')).toEqual([])
    const unretire = async () => {
      const kept = (await readFile(journalPath, 'utf8')).split('\n').filter((l) => !l.startsWith('{"t":"retired"'))
      await writeFile(journalPath, kept.join('\n'))
    }

    // A crash after the settlement was recorded paid, before its actions were retired: the mark written with the
    // record has the next start retire them.
    await unretire()
    await datastore.put('settlement', `retire/${JOB}`, {})
    await datastore.put('meta', 'settled-actions-retired', 1)
    const restarted = await open()
    await restarted.resume(receipts, async () => 2, 60_000)
    expect(await retiredLines()).toEqual(['vault/*/epoch-1/', 'settle-*-1/', 'escrow/*/'])
    expect(await keys('settlement', 'retire/')).toEqual([])
    await restarted.close()

    // What an older version left: the same settlement paid, its actions in the journal, never retired, no mark.
    await unretire()
    await datastore.delete('meta', 'settled-actions-retired')
    const after = await open()
    await after.resume(receipts, async () => 2, 60_000)
    expect(await retiredLines()).toEqual(['vault/*/epoch-1/', 'settle-*-1/', 'escrow/*/'])
    expect(await datastore.get('meta', 'settled-actions-retired')).toBe(1)
    // Retired, the epoch's vault is never funded again under its key, where a replay could pay twice.
    await expect(after.fundJob('job-again', 1, BUDGET, 1)).rejects.toMatchObject({ code: 'LEDGER__ACTION_RETIRED' })
    await after.close()
    const again = await open()
    await again.resume(receipts, async () => 2, 60_000)
    expect(await retiredLines()).toHaveLength(3)
    await again.close()
  })

  it('should not open the ledger at a start with nothing to settle or retire', async () => {
    const fresh = await open()
    expect((await fresh.resume([], async () => 0, 60_000)).size).toBe(0)
    // Opening it could need the cluster (an RPC ledger): a node that only works must start without it.
    await expect(readFile(join(tmp.path, 'ledger', JOURNAL_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    await fresh.close()
  })

  it("should index an older data directory's open settlements once, and unmark the receipts it had paid", async () => {
    // An older version settled the job over the first receipt; the second came back after the close. It kept no
    // open index, and its receipts were marked unpaid by the exchange's first start (every co-signed one).
    const old = await funded()
    await old.receipt(receipts[0] as Receipt)
    await old.closeJob(JOB, 2, 0)
    await old.close()
    for (const r of receipts) await datastore.put('receipts', `unsettled/${r.taskId}`, {})
    await datastore.put('settlement', 'job/job-2', { epoch: 7, budget: 0n, expected: 1 } satisfies SettlementRecord)

    const after = await open()
    await after.resume(receipts, async () => 1, 60_000)
    // The paid receipt is unmarked at once; the late one once its own epoch has paid it.
    await vi.waitFor(async () => expect(await keys('receipts', 'unsettled/')).toEqual([]))
    expect(await datastore.get('settlement', `job/${JOB}/2`)).toMatchObject({
      settled: true,
      closing: [receipts[1]?.taskId],
    })
    expect(await datastore.get('meta', 'settlements-open-indexed')).toBe(1)
    await after.close()
  })

  it('should never record an epoch the chain refused to pay as settled: it stays open, and the next start resumes it', async () => {
    const logged: string[] = []
    const watched = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) })
    counter = await EpochCounter.open(datastore)
    const before = new Settlement(join(tmp.path, 'ledger'), config, watched, datastore, counter)
    await before.airdrop(1_000_000n)
    // A vault of 20,000 cannot pay receipts of 10,000 and 20,000: the payout fails on chain, for good.
    await before.fundJob(JOB, await takeEpoch(), 20_000n, 2)
    for (const receipt of receipts) {
      // As the receipt exchange marks each co-signed receipt until its settlement is paid.
      await datastore.put('receipts', `unsettled/${receipt.taskId}`, {})
      await before.receipt(receipt)
    }
    const closing = before.closeJob(JOB, 2, 60_000)
    await vi.waitFor(() => expect(logged).toContain('settlement:unpaid'), { timeout: 30_000 })
    // Stopped while it waits to try again: nothing says it was paid, and everything needed to pay it is kept.
    await before.close()
    await closing
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).not.toMatchObject({ settled: true })
    expect(await keys('settlement', 'open/')).toEqual([`open/${JOB}`])
    expect(await keys('receipts', 'unsettled/')).toHaveLength(2)
    const after = await open()
    expect([...(await after.resume(receipts, async () => 2, 60_000))]).toEqual([[JOB, 1]])
    await after.close()
  })

  it('should stop waiting out a grace when it closes, leaving the job for the next start to settle', async () => {
    const before = await funded()
    await before.receipt(receipts[0] as Receipt)
    // The second receipt is not in: the close waits out a minute's grace for it...
    const closing = before.closeJob(JOB, 2, 60_000)
    const started = Date.now()
    // ...but not past a stop of the node.
    await before.close()
    await closing
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).not.toHaveProperty('closing')
    expect(await keys('settlement', 'open/')).toEqual([`open/${JOB}`])
    const after = await open()
    expect([...(await after.resume(receipts, async () => 2, 60_000))]).toEqual([[JOB, 1]])
    await after.settled(JOB)
    expect((await after.view(JOB))?.receipts).toBe(2)
    await after.close()
  })

  it('should leave a job that cannot be funded on record only when it was resumed, to try again', async () => {
    const fresh = await open()
    // No tokens: the vault cannot be funded.
    await expect(fresh.fundJob('job-2', 2, BUDGET, 1)).rejects.toMatchObject({ code: 'LEDGER__INSUFFICIENT_FUNDS' })
    expect(await datastore.get('settlement', 'job/job-2')).toBeUndefined()
    // Records of an older version (no open index): found by the first start's scan.
    await datastore.put('settlement', 'job/job-3', { epoch: 3, budget: BUDGET, expected: 1 } satisfies SettlementRecord)
    // A malformed record is skipped and left on disk; the others go on.
    await datastore.put('settlement', 'job/job-4', { epoch: 'four' })
    expect((await fresh.resume([], async () => 0, 60_000)).size).toBe(0)
    expect(await datastore.get('settlement', 'job/job-3')).toMatchObject({ epoch: 3 })
    expect(await datastore.get('settlement', 'job/job-4')).toEqual({ epoch: 'four' })
    // Both stay marked open: tried again at every start until funded or repaired.
    expect(await keys('settlement', 'open/')).toEqual(['open/job-3', 'open/job-4'])
    expect((await fresh.resume([], async () => 0, 60_000)).size).toBe(0)
    await fresh.close()
  })
})
