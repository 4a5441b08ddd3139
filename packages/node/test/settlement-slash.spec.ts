import { join } from 'node:path'
import { generateKeyPairSigner } from '@solana/kit'
import { generateIdentity } from '@tessera/core'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement } from '../src/peer/settlement.js'
import { tempDir } from './helpers.js'

const STAKE = 1_000n

/**
 * A creator's slashes across restarts, on the embedded LiteSVM chain: a slash is remembered under its job, a worker
 * slashed before a restart is bonded anew (not handed its empty vault), and a fraud proof upheld as the node stopped
 * is carried out at the next start.
 */
describe('Settlement slashes across restarts', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  let settlement: Settlement
  let worker: string
  let payee: string
  const config = parseConfig({}, 'test')
  const logger = pino({ level: 'silent' })
  const open = async () =>
    new Settlement(join(tmp.path, 'ledger'), config, logger, datastore, await EpochCounter.open(datastore))
  /** Stops the settlement and starts another on the same data directory, as a restarted node does. */
  const restart = async () => {
    await settlement.close()
    settlement = await open()
  }
  const tokens = async () => BigInt((await settlement.wallet()).tokens)

  beforeEach(async () => {
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    settlement = await open()
    await settlement.airdrop(100_000n)
    worker = (await generateIdentity()).peerId.toString()
    payee = (await generateKeyPairSigner()).address
  })

  afterEach(async () => {
    await settlement.close()
    await datastore.close()
    await tmp.cleanup()
  })

  it('should bond anew a worker slashed before a restart, and forfeit that bond, under its own job, for the next proof', async () => {
    await settlement.bond(worker, payee, STAKE)
    const first = await settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))
    expect(first).toMatchObject({ jobId: 'job-A', amount: '1000' })
    await restart()
    // Leased to again: a new bond, paid for, not the empty vault the journal would give back.
    const before = await tokens()
    await settlement.bond(worker, payee, STAKE)
    expect(await tokens()).toBe(before - STAKE)
    const second = await settlement.slash(worker, 'job-B', new Uint8Array(32).fill(2))
    expect(second).toMatchObject({ jobId: 'job-B', amount: '1000' })
    expect(second?.signature).not.toBe(first?.signature)
    // Each job keeps its own slash, read from disk: the restart lost neither.
    expect(await settlement.slashesOf('job-A')).toEqual([first])
    expect(await settlement.slashesOf('job-B')).toEqual([second])
  })

  it('should bond anew a worker whose bond an older version slashed, keeping no record of it', async () => {
    await settlement.bond(worker, payee, STAKE)
    await settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))
    await restart()
    // An older version's data directory: the ledger's journal, and nothing of the slash in the datastore.
    for await (const [key] of datastore.entries('slashes')) await datastore.delete('slashes', key)
    const before = await tokens()
    await settlement.bond(worker, payee, STAKE)
    expect(await tokens()).toBe(before - STAKE)
    expect(await settlement.slash(worker, 'job-B', new Uint8Array(32).fill(2))).toMatchObject({
      jobId: 'job-B',
      amount: '1000',
    })
  })

  it('should carry out at the next start a fraud proof upheld as the node stopped', async () => {
    await settlement.bond(worker, payee, STAKE)
    // Upheld, and the node stops before the chain is asked.
    const stopping = new AbortController()
    stopping.abort()
    await expect(
      settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1), { signal: stopping.signal }),
    ).rejects.toThrow()
    expect(await settlement.slashesOf('job-A')).toEqual([])
    await restart()
    await settlement.resume([], async () => 0, 0)
    expect(await settlement.slashesOf('job-A')).toMatchObject([{ worker, jobId: 'job-A', payee, amount: '1000' }])
    // Carried out once: another start finds nothing left to do.
    await restart()
    await settlement.resume([], async () => 0, 0)
    expect(await settlement.slashesOf('job-A')).toHaveLength(1)
  })
})
