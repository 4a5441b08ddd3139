import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadOrCreateWallet } from '@tessera/ledger'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement } from '../src/peer/settlement.js'
import { tempDir } from './helpers.js'

/**
 * The keys of a node's ledger (its wallet, the arbiter, settlement and treasury keys) are made once: one missing later
 * was lost, and a new one would not be paid what is owed to the old one, nor own what it holds.
 */
describe('Settlement wallet and role keys', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let ledgerDir: string
  const config = parseConfig({}, 'test')
  const logger = pino({ level: 'silent' })
  const open = async () => new Settlement(ledgerDir, config, logger, datastore, await EpochCounter.open(datastore))

  beforeEach(async () => {
    tmp = await tempDir()
    ledgerDir = join(tmp.path, 'ledger')
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
  })

  afterEach(async () => {
    await datastore.close()
    await tmp.cleanup()
  })

  it('should make the wallet on a fresh data directory, and refuse to replace it once made', async () => {
    const first = await open()
    const payee = await first.payee()
    expect(await first.payee()).toBe(payee)
    await first.close()
    await rm(join(ledgerDir, 'wallet.json'))

    // Made anew before: receipts naming the old payee were refused from then on.
    const second = await open()
    await expect(second.payee()).rejects.toMatchObject({
      code: 'NODE__DATA_DIR_NOT_INITIALISED',
      message: expect.stringContaining(payee),
      context: { path: join(ledgerDir, 'wallet.json'), payee },
    })
    expect(await readdir(ledgerDir)).not.toContain('wallet.json')
    await second.close()
  })

  it("should refuse to replace a wallet an older version made once the node's records name it", async () => {
    // Made before its address was recorded: a receipt co-signed for it is on record.
    await loadOrCreateWallet(join(ledgerDir, 'wallet.json'))
    await datastore.put('receipts', 'job-1/f0/t0', { payee: 'the old wallet' })
    await rm(join(ledgerDir, 'wallet.json'))
    const settlement = await open()
    await expect(settlement.payee()).rejects.toMatchObject({ code: 'NODE__DATA_DIR_NOT_INITIALISED' })
    await settlement.close()
  })

  it('should refuse to make a wallet beside a ledger made with another, even on a fresh datastore', async () => {
    const first = await open()
    await first.wallet()
    await first.close()
    await rm(join(ledgerDir, 'wallet.json'))
    await datastore.close()
    datastore = await Datastore.open(join(tmp.path, 'datastore-restored-empty'))
    const settlement = await open()
    await expect(settlement.payee()).rejects.toMatchObject({ code: 'LEDGER__WALLET_MISSING' })
    await settlement.close()
  })

  it('should refuse to replace a role key missing once the ledger journaled an action with it', async () => {
    const first = await open()
    await first.airdrop(100_000n)
    const epochs = await EpochCounter.open(datastore)
    const epoch = epochs.take()
    await epochs.save()
    await first.fundJob('job-1', epoch, 10_000n, 1)
    await first.close()
    const arbiter = join(ledgerDir, 'arbiter.json')
    await rm(arbiter)

    // Made anew before: the vault it co-owns could no longer be refunded.
    const second = await open()
    await expect(second.wallet()).rejects.toMatchObject({ code: 'LEDGER__WALLET_MISSING', context: { path: arbiter } })
    expect(await readdir(ledgerDir)).not.toContain('arbiter.json')
    await second.close()
  })
})
