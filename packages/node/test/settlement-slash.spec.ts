import { join } from 'node:path'
import { generateKeyPairSigner } from '@solana/kit'
import { generateIdentity } from '@tessera/core'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../src/config.js'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { Settlement } from '../src/peer/settlement.js'
import { tempDir } from './helpers.js'

/**
 * Faults of the chain as a bond is posted: with `refuse`, the next posting is refused before anything is sent (the
 * chain away); with `timeOut`, the next is posted on chain and then reported as not confirmed in time (as a crash
 * between the two leaves it).
 */
const bonds = vi.hoisted(() => ({ refuse: false, timeOut: false }))
/**
 * With `held` naming `bondStake` or `slashStake`, the next such call stops at the chain's door: `reached` resolves
 * once it is there, and it goes on at `release()`, or rejects with an AbortError once its signal aborts.
 */
const door = vi.hoisted(() => ({
  held: undefined as 'bondStake' | 'slashStake' | undefined,
  reached: Promise.withResolvers<void>(),
  opened: Promise.withResolvers<void>(),
  hold(call: 'bondStake' | 'slashStake') {
    door.held = call
    door.reached = Promise.withResolvers()
    door.opened = Promise.withResolvers()
  },
  release() {
    door.opened.resolve()
  },
}))
vi.mock('@tessera/ledger', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@tessera/ledger')>()
  const { raceSignal } = await import('@tessera/core')
  const atDoor = async (call: 'bondStake' | 'slashStake', signal: AbortSignal | undefined) => {
    if (door.held !== call) return
    door.held = undefined
    door.reached.resolve()
    await raceSignal(door.opened.promise, signal)
  }
  return {
    ...actual,
    bondStake: async (...args: Parameters<typeof actual.bondStake>) => {
      await atDoor('bondStake', args[2]?.signal)
      if (bonds.refuse) {
        bonds.refuse = false
        throw new actual.LedgerError('LEDGER__RPC_UNAVAILABLE', 'the cluster does not answer', {})
      }
      const posted = await actual.bondStake(...args)
      if (!bonds.timeOut) return posted
      bonds.timeOut = false
      throw new actual.LedgerError('LEDGER__CONFIRMATION_TIMEOUT', 'not confirmed in time', {})
    },
    slashStake: async (...args: Parameters<typeof actual.slashStake>) => {
      await atDoor('slashStake', args[2]?.signal)
      return actual.slashStake(...args)
    },
  }
})

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
    bonds.refuse = false
    bonds.timeOut = false
    door.held = undefined
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
    settlement = await open()
    await settlement.airdrop(100_000n)
    worker = (await generateIdentity()).peerId.toString()
    payee = (await generateKeyPairSigner()).address
  })

  afterEach(async () => {
    door.release()
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
  it('should carry out at the next start a fraud proof upheld while the bond could not be posted again', async () => {
    await settlement.bond(worker, payee, STAKE)
    await restart()
    // The chain is away as the proof comes: the bond on record cannot be posted again to forfeit it.
    bonds.refuse = true
    await expect(settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))).rejects.toMatchObject({
      code: 'LEDGER__RPC_UNAVAILABLE',
    })
    await restart()
    await settlement.resume([], async () => 0, 0)
    expect(await settlement.slashesOf('job-A')).toMatchObject([{ worker, jobId: 'job-A', payee, amount: '1000' }])
  })

  it("should forfeit a worker's bond, once it is posted, for a fraud proof upheld before it could be", async () => {
    bonds.refuse = true
    await expect(settlement.bond(worker, payee, STAKE)).rejects.toMatchObject({ code: 'LEDGER__RPC_UNAVAILABLE' })
    // No bond on chain to forfeit: the proof waits for one, and no bond is posted for it.
    const before = await tokens()
    expect(await settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))).toBeUndefined()
    expect(await tokens()).toBe(before)
    // The chain is back as the worker is leased to again.
    await settlement.bond(worker, payee, STAKE)
    expect(await settlement.slashesOf('job-A')).toMatchObject([{ worker, jobId: 'job-A', payee, amount: '1000' }])
  })

  it.each([
    ['slashed', false],
    ['bonded again with another stake, then slashed', true],
  ])(
    'should forfeit a bond posted on chain though the posting was not seen to confirm, after a restart, %s',
    async (_, bondAgain) => {
      bonds.timeOut = true
      await expect(settlement.bond(worker, payee, STAKE)).rejects.toMatchObject({
        code: 'LEDGER__CONFIRMATION_TIMEOUT',
      })
      await restart()
      if (bondAgain) {
        // The worker announced another stake meanwhile: the bond on chain is posted again as it was, not paid twice.
        const before = await tokens()
        await settlement.bond(worker, payee, 2n * STAKE)
        expect(await tokens()).toBe(before)
      }
      expect(await settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))).toMatchObject({
        jobId: 'job-A',
        amount: '1000',
      })
    },
  )

  it('should stop a bond being posted when it closes, and close only once it has stopped', async () => {
    door.hold('bondStake')
    const bonding = settlement.bond(worker, payee, STAKE)
    await door.reached.promise
    const order: string[] = []
    const stopped = bonding.catch((e: unknown) => {
      order.push('bond stopped')
      return e
    })
    await settlement.close()
    order.push('closed')
    door.release()
    expect(await stopped).toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
    expect(order).toEqual(['bond stopped', 'closed'])
    // Stopped before the chain was asked: the next start posts it, once.
    settlement = await open()
    const before = await tokens()
    await settlement.bond(worker, payee, STAKE)
    expect(await tokens()).toBe(before - STAKE)
  })

  it('should stop a slash under way when it closes, close only once it has stopped, and carry it out at the next start', async () => {
    await settlement.bond(worker, payee, STAKE)
    door.hold('slashStake')
    const slashing = settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))
    await door.reached.promise
    const order: string[] = []
    const stopped = slashing.catch((e: unknown) => {
      order.push('slash stopped')
      return e
    })
    await settlement.close()
    order.push('closed')
    door.release()
    expect(await stopped).toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
    expect(order).toEqual(['slash stopped', 'closed'])
    settlement = await open()
    await settlement.resume([], async () => 0, 0)
    expect(await settlement.slashesOf('job-A')).toMatchObject([{ worker, jobId: 'job-A', payee, amount: '1000' }])
  })

  it.each([
    ['in the same run', false],
    ['after a restart', true],
  ])(
    "should keep a fraud proof upheld while another is carried out against the worker, and forfeit the worker's next bond for it, %s",
    async (_, restarting) => {
      await settlement.bond(worker, payee, STAKE)
      door.hold('slashStake')
      const first = settlement.slash(worker, 'job-A', new Uint8Array(32).fill(1))
      await door.reached.promise
      const second = settlement.slash(worker, 'job-B', new Uint8Array(32).fill(2))
      door.release()
      expect(await first).toMatchObject({ jobId: 'job-A', amount: '1000' })
      // The worker's bond is forfeited already: the second proof waits for the next one.
      expect(await second).toBeUndefined()
      expect(await settlement.slashesOf('job-B')).toEqual([])
      if (restarting) {
        await restart()
        await settlement.resume([], async () => 0, 0)
        expect(await settlement.slashesOf('job-B')).toEqual([])
      }
      // Leased to again: the new bond is forfeited for the second proof, under its own job.
      await settlement.bond(worker, payee, STAKE)
      expect(await settlement.slashesOf('job-A')).toHaveLength(1)
      expect(await settlement.slashesOf('job-B')).toMatchObject([{ worker, jobId: 'job-B', payee, amount: '1000' }])
      // Each proof forfeited one bond: a third bond is the worker's to keep.
      await restart()
      await settlement.resume([], async () => 0, 0)
      const before = await tokens()
      await settlement.bond(worker, payee, STAKE)
      expect(await tokens()).toBe(before - STAKE)
      expect(await settlement.slashesOf('job-B')).toHaveLength(1)
    },
  )
})
