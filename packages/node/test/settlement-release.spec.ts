import { join } from 'node:path'
import { generateKeyPairSigner } from '@solana/kit'
import { generateIdentity, type Receipt } from '@tessera/core'
import { ClassicLevel } from 'classic-level'
import { type Logger, pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement, type SettlementRecord } from '../src/peer/settlement.js'
import { SlashBook } from '../src/peer/slash-book.js'
import { cosignedReceipts } from './fixtures.js'
import { tempDir } from './helpers.js'

/** Token balances read from the chain fail while `failing` is set, as when the RPC endpoint is down. */
const balances = vi.hoisted(() => ({ failing: false }))
/**
 * The fraud proof each slash was called with, and the one the chain recorded (hex); with `failNext`, the next slash
 * is journaled and then not confirmed in time, as when the cluster stops answering once it is sent.
 */
const slashes = vi.hoisted(() => ({ failNext: false, proofs: [] as Uint8Array[], recorded: [] as string[] }))
/**
 * With `timeOut`, the next vault opened is funded on chain, and its opening then reported as not confirmed; with
 * `refuse`, the next opening is refused before anything is sent.
 */
const vaults = vi.hoisted(() => ({ timeOut: false, refuse: false, opened: 0 }))
/** With `refuse`, the chain refuses the next payout, for good as far as that try knows. */
const payouts = vi.hoisted(() => ({ refuse: false }))
vi.mock('@tessera/ledger', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@tessera/ledger')>()
  return {
    ...actual,
    getTokenBalance: (...args: Parameters<typeof actual.getTokenBalance>) =>
      balances.failing
        ? Promise.reject(new actual.LedgerError('LEDGER__RPC_UNAVAILABLE', 'the cluster does not answer', {}))
        : actual.getTokenBalance(...args),
    openLedger: async (...[options, abort]: Parameters<typeof actual.openLedger>) => {
      const hooks = {
        afterIntent: (key: string) => {
          if (!slashes.failNext || !key.endsWith('/slash')) return
          slashes.failNext = false
          throw new actual.LedgerError('LEDGER__CONFIRMATION_TIMEOUT', 'not confirmed in time', {})
        },
      }
      const { refusingPayouts } = await import('./ledger-faults.js')
      return refusingPayouts(await actual.openLedger({ ...options, hooks }, abort), payouts)
    },
    openVault: async (...args: Parameters<typeof actual.openVault>) => {
      vaults.opened++
      if (vaults.refuse) {
        vaults.refuse = false
        throw new actual.LedgerError('LEDGER__RPC_UNAVAILABLE', 'the cluster does not answer', {})
      }
      const opened = await actual.openVault(...args)
      if (!vaults.timeOut) return opened
      vaults.timeOut = false
      throw new actual.LedgerError('LEDGER__CONFIRMATION_TIMEOUT', 'not confirmed in time', {})
    },
    slashStake: async (...args: Parameters<typeof actual.slashStake>) => {
      slashes.proofs.push(args[1].fraudProofHash)
      const result = await actual.slashStake(...args)
      slashes.recorded.push(result.meta.fraudProofHash as string)
      return result
    },
  }
})

// Two slashes kept, so a test can pass the bound with three.
vi.mock('../src/peer/constants.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/peer/constants.js')>()),
  SLASHES_KEPT: 2,
  // An unpaid epoch is tried again within a test.
  SETTLEMENT_RETRY_FIRST_PAUSE_MS: 50,
}))

const JOB = 'job-1'
const BUDGET = 100_000n

/**
 * A creator's settlements in a long-running node, on the embedded LiteSVM chain: once a job's settlement is settled
 * on record it is let go from memory and read back from the record, and receipts that come later are still paid,
 * once.
 */
describe('Settlement memory', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let settlement: Settlement
  let receipts: Receipt[]
  let logged: Record<string, unknown>[]
  let logger: Logger
  const config = parseConfig({}, 'test')

  beforeEach(async () => {
    balances.failing = false
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    logged = []
    logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const counter = await EpochCounter.open(datastore)
    settlement = new Settlement(join(tmp.path, 'ledger'), config, logger, datastore, counter)
    await settlement.airdrop(1_000_000n)
    const epoch = counter.take()
    await counter.save()
    await settlement.fundJob(JOB, epoch, BUDGET, 2)
    receipts = await cosignedReceipts(JOB, epoch)
  })

  /** Stops the settlement and starts it again on the same data: a node's restart. */
  async function restart(): Promise<void> {
    await settlement.close()
    settlement = new Settlement(join(tmp.path, 'ledger'), config, logger, datastore, await EpochCounter.open(datastore))
  }

  afterEach(async () => {
    await settlement.close()
    await datastore.close()
    await tmp.cleanup()
  })

  it('should let go of a settled job and report it, and what it paid, from its record', async () => {
    for (const r of receipts) await settlement.receipt(r)
    expect(settlement.active).toBe(1)
    await settlement.closeJob(JOB, 2, 60_000)
    expect(settlement.active).toBe(0)
    expect(await settlement.paidNet(JOB)).toBe(29_700n)
    const view = await settlement.view(JOB)
    expect(view).toMatchObject({
      epoch: 1,
      expected: 2,
      receipts: 2,
      fee: '300',
      refunded: (BUDGET - 30_000n).toString(),
    })
    expect(view?.anchor).toEqual(expect.any(String))
    expect(view?.payouts.length).toBeGreaterThan(0)
    expect(Object.values(view?.paid ?? {}).sort()).toEqual(['19800', '9900'])
    expect(await datastore.get<SettlementRecord>('settlement', `job/${JOB}`)).toMatchObject({
      settled: true,
      outcome: { receipts: 2, net: 29_700 },
    })
  })

  it('should pay a receipt that comes after its job was let go in an epoch of its own, once', async () => {
    await settlement.receipt(receipts[0] as Receipt)
    // The second worker was away past the grace: the epoch closes without it.
    await settlement.closeJob(JOB, 2, 0)
    expect(settlement.active).toBe(0)
    // The first receipt countersigned again: its epoch closed over it, so nothing more.
    await settlement.receipt(receipts[0] as Receipt)
    expect(await datastore.get('settlement', `job/${JOB}/2`)).toBeUndefined()
    await settlement.receipt(receipts[1] as Receipt)
    expect(await settlement.view(`${JOB}/2`)).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(settlement.active).toBe(0)
    await settlement.receipt(receipts[1] as Receipt)
    expect(await datastore.get('settlement', `job/${JOB}/3`)).toBeUndefined()
    expect(settlement.active).toBe(0)
  })

  it.each([
    ['refused', 'refuse'],
    ['funded without confirming in time', 'timeOut'],
  ] as const)('should pay a late receipt whose epoch the chain %s at first on a later try, once', async (_, fault) => {
    await settlement.receipt(receipts[0] as Receipt)
    await settlement.closeJob(JOB, 2, 0)
    vaults[fault] = true
    // Resolves once paid: the first try fails, the next (after SETTLEMENT_RETRY_FIRST_PAUSE_MS) pays.
    await settlement.receipt(receipts[1] as Receipt)
    expect(logged.filter((l) => l.msg === 'settlement:failed')).toHaveLength(1)
    expect(await settlement.view(`${JOB}/2`)).toMatchObject({ epoch: 2, receipts: 1, refunded: '0' })
    expect(await datastore.get('settlement', `job/${JOB}/2`)).toMatchObject({ settled: true })
    expect(await datastore.get('settlement', `job/${JOB}/3`)).toBeUndefined()
    expect(settlement.active).toBe(0)
    expect(await settlement.idle(JOB)).toBe(true)
  })

  it('should pay, with the next late receipt, a late epoch whose funding failed at a restart, from the receipts on disk', async () => {
    await settlement.receipt(receipts[0] as Receipt)
    await settlement.closeJob(JOB, 2, 0)
    // As a crash leaves it: a late epoch recorded over the second receipt, co-signed on disk, before it was funded.
    const late = receipts[1] as Receipt
    await datastore.batch([
      {
        type: 'put',
        ns: 'settlement',
        key: `job/${JOB}/2`,
        value: { epoch: 2, budget: late.amount, expected: 1, closing: [late.taskId], receiptEpoch: late.epoch },
      },
      { type: 'put', ns: 'settlement', key: `open/${JOB}/2`, value: {} },
      { type: 'put', ns: 'receipts', key: late.taskId, value: late },
    ])
    const counter = await EpochCounter.open(datastore)
    counter.take()
    await counter.save()
    await restart()
    // The chain is away as the restart resumes it.
    vaults.refuse = true
    await settlement.resume([late], async () => 2, 0)
    expect(logged.filter((l) => l.msg === 'settlement:resume-failed')).toHaveLength(1)
    // Another late receipt of the job comes: the open epoch is paid with its receipt, then this one in its own.
    const third = (await cosignedReceipts(JOB, late.epoch, 3))[2] as Receipt
    await settlement.receipt(third)
    expect(await settlement.view(`${JOB}/2`)).toMatchObject({ receipts: 1, refunded: '0' })
    expect(await settlement.view(`${JOB}/3`)).toMatchObject({ receipts: 1, refunded: '0' })
    expect(await settlement.idle(JOB)).toBe(true)
  })

  it('should let go of receipts waiting for a resume the peer abandoned, and of those coming later', async () => {
    await restart()
    await settlement.receipt(receipts[0] as Receipt)
    expect(settlement.active).toBe(1)
    // The peer could not read the receipts it left: nothing is resumed in this run.
    settlement.resumeAbandoned()
    expect(settlement.active).toBe(0)
    await settlement.receipt(receipts[1] as Receipt)
    expect(settlement.active).toBe(0)
  })

  it('should let go of the receipts of a job whose funding failed at a restart, for the next start to settle', async () => {
    await restart()
    // A countersignature comes back before the restart has resumed its job: it waits for the job's funding.
    await settlement.receipt(receipts[0] as Receipt)
    expect(settlement.active).toBe(1)
    // The chain is away as the restart resumes it: the job is given up until the next start.
    vaults.refuse = true
    await settlement.resume([], async () => 2, 0)
    expect(logged.filter((l) => l.msg === 'settlement:resume-failed')).toHaveLength(1)
    expect(settlement.active).toBe(0)
    // Another comes later: no funding will begin in this run for it to wait for, so it waits on disk, not here.
    await settlement.receipt(receipts[1] as Receipt)
    expect(settlement.active).toBe(0)
    expect(logged.filter((l) => l.msg === 'settlement:receipt-deferred')).toHaveLength(1)

    // The next start settles both, from the receipts on disk.
    await restart()
    expect([...(await settlement.resume(receipts, async () => 2, 0))]).toEqual([[JOB, 1]])
    await settlement.settled(JOB)
    expect(await settlement.view(JOB)).toMatchObject({ epoch: 1, receipts: 2 })
    expect(await settlement.idle(JOB)).toBe(true)
  })

  it('should leave out, not show as 0, what a payee holds when its balance cannot be read', async () => {
    for (const r of receipts) await settlement.receipt(r)
    await settlement.closeJob(JOB, 2, 60_000)
    balances.failing = true
    const view = await settlement.view(JOB)
    expect(view?.paid).toEqual({})
    expect(view?.receipts).toBe(2)
    expect(logged.filter((l) => l.msg === 'balance:read-failed')).toHaveLength(2)
    expect(logged.find((l) => l.msg === 'balance:read-failed')).toMatchObject({ code: 'LEDGER__RPC_UNAVAILABLE' })
  })

  it("should record a slash's amount as unknown, not 0, when the bond's balance cannot be read", async () => {
    const worker = (await generateIdentity()).peerId.toString()
    await settlement.bond(worker, (await generateKeyPairSigner()).address, 1_000n)
    balances.failing = true
    const slash = await settlement.slash(worker, JOB, new Uint8Array(32).fill(9))
    expect(slash?.signature).toEqual(expect.any(String))
    expect(slash).not.toHaveProperty('amount')
    expect(settlement.slashes).toEqual([slash])
    expect(logged.find((l) => l.msg === 'balance:read-failed')).toMatchObject({ code: 'LEDGER__RPC_UNAVAILABLE' })
    expect(logged.find((l) => l.msg === 'stake:slashed')).toMatchObject({ amount: 'unknown' })
  })

  it('should keep the latest SLASHES_KEPT slashes it carried out, not one per worker ever slashed', async () => {
    const views = []
    for (let i = 0; i < 3; i++) {
      const worker = (await generateIdentity()).peerId.toString()
      await settlement.bond(worker, (await generateKeyPairSigner()).address, 1_000n)
      views.push(await settlement.slash(worker, JOB, new Uint8Array(32).fill(i)))
    }
    expect(settlement.slashes).toEqual(views.slice(1))
  })

  it.each([
    ['in the same run', false],
    ['after a restart', true],
  ])('should carry out a slash that failed on the way, never losing it, %s', async (_, restarting) => {
    const worker = (await generateIdentity()).peerId.toString()
    const payee = (await generateKeyPairSigner()).address
    await settlement.bond(worker, payee, 1_000n)
    // Not confirmed in time: on the ledger's journal, the slash names the first proof.
    slashes.proofs = []
    slashes.recorded = []
    slashes.failNext = true
    await expect(settlement.slash(worker, JOB, new Uint8Array(32).fill(9))).rejects.toMatchObject({
      code: 'LEDGER__CONFIRMATION_TIMEOUT',
    })
    expect(settlement.slashes).toEqual([])
    if (restarting) {
      await restart()
      // Leased to again: the ledger carried out the slash it had journaled as it opened, so the bond posted before is
      // empty. That slash is recorded, under the first proof's job, and the worker's new bond is a new vault.
      await settlement.bond(worker, payee, 1_000n)
      expect(settlement.slashes).toMatchObject([{ worker, jobId: JOB, amount: '1000' }])
      expect(slashes.recorded).toEqual(['09'.repeat(32)])
      // The next fraud proof forfeits the new bond, under its own proof.
      expect((await settlement.slash(worker, JOB, new Uint8Array(32).fill(7)))?.amount).toBe('1000')
      expect(slashes.recorded).toEqual(['09'.repeat(32), '07'.repeat(32)])
      return
    }
    // The next fraud proof against the worker carries out the first, as it was upheld: the journal holds that proof.
    expect((await settlement.slash(worker, JOB, new Uint8Array(32).fill(7)))?.amount).toBe('1000')
    expect(slashes.proofs).toEqual([new Uint8Array(32).fill(9), new Uint8Array(32).fill(9)])
    expect(slashes.recorded).toEqual(['09'.repeat(32)])
    expect(logged.find((l) => l.msg === 'stake:slashed')).toMatchObject({ fraudProofHash: '09'.repeat(32) })
    // The second proof is not lost with the bond the first forfeited: leased to again, the worker's next bond is
    // forfeited for it.
    await settlement.bond(worker, payee, 1_000n)
    expect(slashes.recorded).toEqual(['09'.repeat(32), '07'.repeat(32)])
  })

  it.each([
    ['as the node resumes', false, 'pending'],
    ['when the worker is bonded again before the resume', true, 'pending'],
    ['as the node resumes, from a data directory of the previous version', false, 'upheld'],
    [
      'when the worker is bonded again before the resume, from a data directory of the previous version',
      true,
      'upheld',
    ],
  ] as const)(
    'should record a slash confirmed before a crash once, %s, never forfeiting a new bond for it',
    async (_, bondFirst, journal) => {
      const worker = (await generateIdentity()).peerId.toString()
      const payee = (await generateKeyPairSigner()).address
      const proof = new Uint8Array(32).fill(5)
      await settlement.bond(worker, payee, 1_000n)
      await settlement.slash(worker, JOB, proof)
      // The crash: the slash confirmed on chain, and the node stopped before the batch recording it was written. The
      // previous version journaled the one proof upheld per worker under `upheld/`, with its bond's generation.
      const book = new SlashBook(datastore)
      await book.setBond(worker, { generation: 0, payee, stake: 1_000n })
      await datastore.batch([
        journal === 'pending'
          ? {
              type: 'put',
              ns: 'slashes',
              key: `pending/${worker}/${'05'.repeat(32)}`,
              value: { jobId: JOB, fraudProofHash: proof },
            }
          : {
              type: 'put',
              ns: 'slashes',
              key: `upheld/${worker}`,
              value: { jobId: JOB, fraudProofHash: proof, generation: 0 },
            },
        { type: 'del', ns: 'slashes', key: `job/${JOB}/${worker}` },
        { type: 'del', ns: 'slashes', key: `proof/${worker}/${'05'.repeat(32)}` },
      ])
      await restart()
      if (bondFirst) await settlement.bond(worker, payee, 1_000n)
      await settlement.resume([], async () => 0, 0)
      expect(settlement.slashes).toMatchObject([{ worker, jobId: JOB, amount: '1000' }])
      expect(await settlement.slashesOf(JOB)).toHaveLength(1)
      const keys: string[] = []
      for await (const [key] of datastore.entries('slashes')) keys.push(key)
      expect(keys.filter((key) => key.startsWith('pending/') || key.startsWith('upheld/'))).toEqual([])
      // The proof carried out is done with: upheld again, it forfeits nothing more.
      expect(await settlement.slash(worker, JOB, proof)).toBeUndefined()
      expect(settlement.slashes).toHaveLength(1)
      // Resuming posts no bond of its own (none on record, payee and stake unset); bonded again, the worker's new bond is
      // the next generation.
      expect(await book.bond(worker)).toEqual(bondFirst ? { generation: 1, payee, stake: 1_000n } : { generation: 1 })
    },
  )

  it("should let go of a previous version's upheld proof whose bond was forfeited already, forfeiting no later bond", async () => {
    const worker = (await generateIdentity()).peerId.toString()
    const payee = (await generateKeyPairSigner()).address
    await settlement.bond(worker, payee, 1_000n)
    await settlement.slash(worker, JOB, new Uint8Array(32).fill(1))
    await settlement.bond(worker, payee, 1_000n)
    // The previous version's record of a proof upheld against the worker's first bond, forfeited since.
    await datastore.put('slashes', `upheld/${worker}`, {
      jobId: 'job-2',
      fraudProofHash: new Uint8Array(32).fill(2),
      generation: 0,
    })
    await restart()
    await settlement.resume([], async () => 0, 0)
    expect(logged.filter((l) => l.msg === 'slash:already-forfeited')).toMatchObject([{ worker, jobId: 'job-2' }])
    expect(await settlement.slashesOf('job-2')).toEqual([])
    expect(await datastore.get('slashes', `upheld/${worker}`)).toBeUndefined()
    // The worker's second bond is whole, for the next proof.
    expect((await settlement.slash(worker, JOB, new Uint8Array(32).fill(3)))?.amount).toBe('1000')
  })

  it('should pay an epoch whose payout the chain refused once, on a later try, and only then record it settled', async () => {
    payouts.refuse = true
    for (const r of receipts) await settlement.receipt(r)
    await settlement.closeJob(JOB, 2, 60_000)
    expect(logged.filter((l) => l.msg === 'settlement:unpaid')).toHaveLength(1)
    const view = await settlement.view(JOB)
    expect(view).toMatchObject({ receipts: 2, refunded: (BUDGET - 30_000n).toString() })
    expect(Object.values(view?.paid ?? {}).sort()).toEqual(['19800', '9900'])
    expect(await datastore.get('settlement', `job/${JOB}`)).toMatchObject({ settled: true })
  })

  it('should fund a settlement once when two callers fund it at the same time', async () => {
    const counter = await EpochCounter.open(datastore)
    const epoch = counter.take()
    await counter.save()
    vaults.opened = 0
    await Promise.all([settlement.fundJob('job-2', epoch, 5_000n, 1), settlement.fundJob('job-2', epoch, 5_000n, 1)])
    expect(vaults.opened).toBe(1)
    await settlement.closeJob('job-2', 0, 0)
    expect(await settlement.view('job-2')).toMatchObject({ receipts: 0, refunded: '5000' })
  })

  it('should keep a new job on record when its vault may have been funded though the funding failed, to refund it', async () => {
    const counter = await EpochCounter.open(datastore)
    const epoch = counter.take()
    await counter.save()
    vaults.timeOut = true
    await expect(settlement.fundJob('job-2', epoch, 5_000n, 1)).rejects.toMatchObject({
      code: 'LEDGER__CONFIRMATION_TIMEOUT',
    })
    expect(await datastore.get('settlement', 'job/job-2')).toMatchObject({ epoch, budget: 5_000 })
    // The next start finds it, finishes opening its vault (funded already), and settles it: nothing to pay, all back.
    await restart()
    expect([...(await settlement.resume([], async () => 0, 60_000)).keys()]).toContain('job-2')
    await settlement.settled('job-2')
    expect(await settlement.view('job-2')).toMatchObject({ receipts: 0, refunded: '5000' })
  })

  it("should record a slash's amount when the bond's balance can be read", async () => {
    const worker = (await generateIdentity()).peerId.toString()
    await settlement.bond(worker, (await generateKeyPairSigner()).address, 1_000n)
    expect((await settlement.slash(worker, JOB, new Uint8Array(32).fill(9)))?.amount).toBe('1000')
  })

  it('should resume the other settlements when a record cannot be read, and leave that record on disk', async () => {
    await settlement.close()
    await datastore.close()
    // One record's bytes are not DAG-CBOR at all; another decodes, but is not a settlement record.
    const raw = new ClassicLevel<string, Uint8Array>(join(tmp.path, 'datastore'), { valueEncoding: 'view' })
    await raw.put('settlement!job/job-8', new Uint8Array([0xff, 0x00, 0x13]))
    await raw.close()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    await datastore.put('settlement', 'job/job-9', { epoch: 'nine' })
    settlement = new Settlement(join(tmp.path, 'ledger'), config, logger, datastore, await EpochCounter.open(datastore))

    expect([...(await settlement.resume(receipts, async () => 2, 60_000))]).toEqual([[JOB, 1]])
    await settlement.settled(JOB)
    expect(await settlement.view(JOB)).toMatchObject({ receipts: 2 })
    const skipped = logged.filter((l) => l.msg === 'record:skipped')
    expect(skipped.map((l) => [l.key, l.code])).toEqual([
      ['job/job-8', 'NODE__DATASTORE_CORRUPT'],
      ['job/job-9', 'NODE__DATASTORE_CORRUPT'],
    ])
    await expect(datastore.get('settlement', 'job/job-8')).rejects.toMatchObject({ code: 'NODE__DATASTORE_CORRUPT' })
    expect(await datastore.get('settlement', 'job/job-9')).toEqual({ epoch: 'nine' })
  })
})
