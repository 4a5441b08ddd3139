import { appendFile, readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairSigner, type Signature } from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DurableLog } from '../src/durable-file.js'
import { isLedgerError } from '../src/errors.js'
import { ActionExecutor, actionDigest, type LedgerAction } from '../src/executor.js'
import { JOURNAL_COMPACT_MIN_RECORDS, MAX_JOURNAL_LINE_BYTES, MAX_NONCE_RIVALS } from '../src/constants.js'
import { memoInstruction } from '../src/memo.js'
import {
  compactJournal,
  SettlementJournal,
  type IntentRecord,
  type JournalRecord,
  type StepRecord,
} from '../src/journal.js'
import { createWorld, liteSvmChain, SOL, tempDir, transferSol, type Chain, type World } from './support/fixtures.js'

const intent = (key: string, attempt = 1): IntentRecord => ({
  t: 'intent',
  key,
  attempt,
  digest: 'd',
  signature: 's',
  nonceAccount: 'n',
  nonce: 'v',
  wire: 'AA==',
  meta: {},
})

describe('SettlementJournal', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.remove()
  })

  it('should keep records across reopening and report pending intents', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    await journal.append(intent('a'))
    await journal.append(intent('b'))
    await journal.append({ t: 'confirmed', key: 'a', attempt: 1, signature: 's' })
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.get('a')?.t).toBe('confirmed')
    expect(reopened.pending().map((r) => r.key)).toEqual(['b'])
    expect(reopened.intent('a')?.digest).toBe('d')
    await reopened.close()
  })

  it('should refuse a journal larger than one read takes with a coded error, before reading it', async () => {
    const path = join(dir.path, 'j.log')
    // Sparse: two gigabytes of nothing, on no disk.
    await writeFile(path, '')
    await truncate(path, 2 ** 31)
    await expect(SettlementJournal.open(path)).rejects.toMatchObject({
      code: 'LEDGER__JOURNAL_CORRUPT',
      context: expect.objectContaining({ size: 2 ** 31 }),
    })
  })

  it('should drop a torn last line, which was never acknowledged', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    await journal.append(intent('a'))
    await journal.close()
    await appendFile(path, '{"t":"intent","key":"b"')
    const reopened = await SettlementJournal.open(path)
    expect(reopened.get('b')).toBeUndefined()
    await reopened.append({ t: 'confirmed', key: 'a', attempt: 1, signature: 's' })
    await reopened.close()
    const again = await SettlementJournal.open(path)
    expect(again.get('a')?.t).toBe('confirmed')
    await again.close()
  })

  // A whole line may be an intent already sent, even the last one: only an unterminated last line is torn.
  it.each([
    ['middle', 'a'],
    ['last', 'b'],
  ])('should refuse a damaged %s line with LEDGER__JOURNAL_CORRUPT and leave the file as it is', async (_, key) => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    await journal.append(intent('a'))
    await journal.append(intent('b'))
    await journal.close()
    const damaged = (await readFile(path, 'utf8')).replace(`"key":"${key}"`, '"key":"x"')
    await writeFile(path, damaged)
    const error = await SettlementJournal.open(path).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__JOURNAL_CORRUPT')).toBe(true)
    expect(await readFile(path, 'utf8')).toBe(damaged)
  })

  it('should keep the rival attempts an intent names, and refuse an intent whose rivals are not attempts', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    const rivals = [{ attempt: 1, signature: 's1', meta: { vault: 'v1' } }]
    await journal.append({ ...intent('a', 2), rivals })
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.intent('a')?.rivals).toEqual(rivals)
    await reopened.close()
    await writeFile(path, '')
    const { log } = await DurableLog.open<Record<string, unknown>>(path, {
      corruptCode: 'LEDGER__JOURNAL_CORRUPT',
      maxLineBytes: MAX_JOURNAL_LINE_BYTES,
    })
    await log.append({ ...intent('a', 2), rivals: [{ attempt: 1, signature: 's1', meta: { vault: 7 } }] })
    await log.close()
    await expect(SettlementJournal.open(path)).rejects.toMatchObject({ code: 'LEDGER__JOURNAL_CORRUPT' })
  })

  it('should refuse a record longer than a reader accepts, which would read back as damage', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    const error = await journal
      .append({ ...intent('big'), wire: 'A'.repeat(MAX_JOURNAL_LINE_BYTES) })
      .catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__INVALID_INPUT')).toBe(true)
    await journal.append(intent('a'))
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.get('big')).toBeUndefined()
    expect(reopened.get('a')?.t).toBe('intent')
    await reopened.close()
  })

  describe('compaction at open', () => {
    /** A key that failed once and was confirmed on its second attempt: four records, two of them superseded. */
    const retried = (key: string): StepRecord[] => [
      intent(key, 1),
      { t: 'failed', key, attempt: 1, signature: 's', code: 'LEDGER__INSUFFICIENT_FUNDS', retryable: false },
      { ...intent(key, 2), digest: `d-${key}`, meta: { vault: key } },
      { t: 'confirmed', key, attempt: 2, signature: `s-${key}` },
    ]

    async function journalWith(records: StepRecord[]): Promise<string> {
      const path = join(dir.path, 'j.log')
      const journal = await SettlementJournal.open(path)
      for (const record of records) await journal.append(record)
      await journal.close()
      return path
    }

    const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0)

    it('should keep each key’s outcome and its intent’s digest and meta, dropping earlier attempts and sent bytes', async () => {
      const keys = Array.from({ length: JOURNAL_COMPACT_MIN_RECORDS }, (_, i) => `k${i}`)
      const path = await journalWith([...keys.flatMap(retried), intent('open', 3)])
      expect(await lines(path)).toHaveLength(keys.length * 4 + 1)

      const journal = await SettlementJournal.open(path)
      expect(await lines(path)).toHaveLength(keys.length * 2 + 1)
      for (const key of keys) {
        expect(journal.get(key)).toEqual({ t: 'confirmed', key, attempt: 2, signature: `s-${key}` })
        expect(journal.intent(key)).toMatchObject({ attempt: 2, digest: `d-${key}`, meta: { vault: key }, wire: '' })
      }
      // An intent with no outcome may still have to be re-sent: its bytes stay.
      expect(journal.pending()).toEqual([intent('open', 3)])
      await journal.append({ t: 'confirmed', key: 'open', attempt: 3, signature: 's' })
      await journal.close()

      const reopened = await SettlementJournal.open(path)
      expect(reopened.get('open')?.t).toBe('confirmed')
      expect(reopened.intent('k7')?.digest).toBe('d-k7')
      await reopened.close()
    })

    it('should leave a journal with little to drop as it is', async () => {
      const path = await journalWith(['a', 'b', 'c'].flatMap(retried))
      const before = await readFile(path, 'utf8')
      const journal = await SettlementJournal.open(path)
      await journal.close()
      expect(await readFile(path, 'utf8')).toBe(before)
    })

    it('should drop the records of retired keys, keeping one line per retired prefix, to a fixed point', () => {
      const records: JournalRecord[] = [
        ...['settle-1/1/anchor', 'settle-1/1/payout/0', 'settle-10/1/anchor'].flatMap(retried),
        { t: 'retired', key: 'settle-1/' },
        { t: 'retired', key: 'settle-1/' },
      ]
      const once = compactJournal(records)
      // settle-10 is not under settle-1/: a prefix ends at a slash.
      expect(once.records.map((r) => [r.t, r.key])).toEqual([
        ['intent', 'settle-10/1/anchor'],
        ['confirmed', 'settle-10/1/anchor'],
        ['retired', 'settle-1/'],
      ])
      expect(compactJournal(once.records)).toEqual({ records: once.records, changed: 0 })
    })

    it('should keep the nonce a retired action was confirmed on while an action in play was tried on it', () => {
      const onNonce = (key: string, nonce: string): IntentRecord => ({ ...intent(key), nonce, signature: `s-${key}` })
      const confirmed = (key: string): StepRecord => ({ t: 'confirmed', key, attempt: 1, signature: `s-${key}` })
      const refused = (key: string): StepRecord => ({
        t: 'failed',
        key,
        attempt: 1,
        signature: `s-${key}`,
        code: 'LEDGER__INSUFFICIENT_FUNDS',
        retryable: false,
      })
      const records: JournalRecord[] = [
        // a/payout was refused on nonce v1, which b/anchor then ran on; b/close ran on v2, which nothing else names.
        onNonce('a/payout', 'v1'),
        refused('a/payout'),
        onNonce('b/anchor', 'v1'),
        confirmed('b/anchor'),
        onNonce('b/close', 'v2'),
        confirmed('b/close'),
        { t: 'retired', key: 'b/' },
      ]
      const once = compactJournal(records)
      expect(once.records).toEqual([
        { ...onNonce('a/payout', 'v1'), wire: '' },
        refused('a/payout'),
        { t: 'spent', key: 'b/anchor', nonceAccount: 'n', nonce: 'v1' },
        { t: 'retired', key: 'b/' },
      ])
      expect(compactJournal(once.records)).toEqual({ records: once.records, changed: 0 })
      // Once a/payout is confirmed on a later attempt nothing needs the evidence: it goes.
      const later = [
        ...once.records,
        { ...onNonce('a/payout', 'v3'), attempt: 2 },
        { ...confirmed('a/payout'), attempt: 2 },
      ]
      expect(compactJournal(later).records.map((r) => r.t)).toEqual(['retired', 'intent', 'confirmed'])
    })

    it('should compact to a fixed point', () => {
      const records = [...['a', 'b'].flatMap(retried), intent('c')]
      const once = compactJournal(records)
      expect(once.changed).toBe(2 * 3)
      const twice = compactJournal(once.records)
      expect(twice).toEqual({ records: once.records, changed: 0 })
    })
  })
})

describe('SettlementJournal.retire', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.remove()
  })

  const done = async (journal: SettlementJournal, key: string) => {
    await journal.append(intent(key))
    await journal.append({ t: 'confirmed', key, attempt: 1, signature: `s-${key}` })
  }
  const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0)

  it('should forget retired keys, refuse them, and leave their records out of the file from the next open', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    for (let epoch = 0; epoch < JOURNAL_COMPACT_MIN_RECORDS; epoch++) await done(journal, `settle-${epoch}/anchor`)
    await done(journal, 'stake/bond/slash')
    await journal.retire(Array.from({ length: JOURNAL_COMPACT_MIN_RECORDS }, (_, epoch) => `settle-${epoch}/`))
    expect(journal.get('settle-3/anchor')).toBeUndefined()
    expect(journal.retired('settle-3/anchor')).toBe(true)
    expect(journal.retired('settle-3x/anchor')).toBe(false)
    expect([...journal.entries()].map(([key]) => key)).toEqual(['stake/bond/slash'])
    const refused = await journal.append(intent('settle-3/payout/0')).catch((e: unknown) => e)
    expect(isLedgerError(refused, 'LEDGER__ACTION_RETIRED')).toBe(true)
    await journal.close()

    const reopened = await SettlementJournal.open(path)
    // One line per retired prefix and the two of the live key, not the 512 of the retired ones.
    expect(await lines(path)).toHaveLength(JOURNAL_COMPACT_MIN_RECORDS + 2)
    expect(reopened.retired('settle-3/anchor')).toBe(true)
    expect(reopened.get('stake/bond/slash')).toMatchObject({ t: 'confirmed', signature: 's-stake/bond/slash' })
    await reopened.close()
  })

  it('should keep the file bounded while it runs, compacting once it has doubled since', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    // A node that settles job after job and never restarts: each job's keys are retired once it is paid.
    for (let job = 0; job < 4 * JOURNAL_COMPACT_MIN_RECORDS; job++) {
      await done(journal, `settle-${job}/anchor`)
      await journal.retire([`settle-${job}/`])
    }
    await done(journal, 'stake/bond/slash')
    const written = 4 * JOURNAL_COMPACT_MIN_RECORDS * 3 + 2
    expect((await lines(path)).length).toBeLessThan(written / 2)
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.retired(`settle-${4 * JOURNAL_COMPACT_MIN_RECORDS - 1}/anchor`)).toBe(true)
    expect(reopened.get('stake/bond/slash')?.t).toBe('confirmed')
    await reopened.close()
  })

  it('should take an append that a failed compaction follows: the record is on disk, only the size is at stake', async () => {
    const path = join(dir.path, 'j.log')
    const journal = await SettlementJournal.open(path)
    const replace = vi.spyOn(DurableLog.prototype, 'replace').mockRejectedValueOnce(new Error('disk full'))
    for (let job = 0; job < JOURNAL_COMPACT_MIN_RECORDS; job++) {
      await done(journal, `settle-${job}/anchor`)
      await journal.retire([`settle-${job}/`])
    }
    await done(journal, 'stake/bond/slash')
    // It tried once, failed, went on, and compacted at the next doubling.
    expect(replace.mock.calls.length).toBeGreaterThan(1)
    replace.mockRestore()
    expect(journal.get('stake/bond/slash')?.t).toBe('confirmed')
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.get('stake/bond/slash')?.t).toBe('confirmed')
    expect(reopened.retired('settle-0/anchor')).toBe(true)
    await reopened.close()
  })

  it('should refuse to retire an action still pending, or a prefix that does not end at a slash', async () => {
    const journal = await SettlementJournal.open(join(dir.path, 'j.log'))
    await journal.append(intent('settle-1/anchor'))
    await expect(journal.retire(['settle-1/'])).rejects.toMatchObject({
      code: 'LEDGER__INVALID_INPUT',
      context: { key: 'settle-1/anchor' },
    })
    await expect(journal.retire(['settle-1'])).rejects.toMatchObject({ code: 'LEDGER__INVALID_INPUT' })
    expect(journal.retired('settle-1/anchor')).toBe(false)
    expect(journal.pending().map((r) => r.key)).toEqual(['settle-1/anchor'])
    await journal.close()
  })
})

describe('ActionExecutor', () => {
  let chain: Chain
  let world: World

  beforeEach(async () => {
    chain = await liteSvmChain()
    world = await createWorld(chain.transport)
  })

  afterEach(async () => {
    await world.close()
    await chain.close()
  })

  const pay = (key: string, amount: bigint, to: string): LedgerAction => ({
    key,
    digest: actionDigest(['pay', to, amount]),
    instructions: () => [getTransferSolInstruction({ source: world.payer, destination: to as never, amount })],
  })

  it('should refuse to reuse a key for other content', async () => {
    const bob = await generateKeyPairSigner()
    await world.executor.execute(pay('k', 1_000_000n, bob.address))
    const error = await world.executor.execute(pay('k', 2_000_000n, bob.address)).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__JOURNAL_MISMATCH')).toBe(true)
    expect(await world.transport.getBalance(bob.address)).toBe(1_000_000n)
  })

  it('should replay, not repeat, an action confirmed before the journal was compacted', async () => {
    const bob = await generateKeyPairSigner()
    const first = await world.executor.execute(pay('k', 1_000_000n, bob.address))
    for (let i = 0; i < JOURNAL_COMPACT_MIN_RECORDS; i++) {
      await world.journal.append(intent(`filler${i}`))
      await world.journal.append({ t: 'confirmed', key: `filler${i}`, attempt: 1, signature: 's' })
    }
    await world.journal.close()
    const journal = await SettlementJournal.open(world.journal.path)
    expect(journal.intent('k')?.wire).toBe('')
    const executor = await ActionExecutor.open({ transport: world.transport, journal, payer: world.payer })
    const again = await executor.execute(pay('k', 1_000_000n, bob.address))
    expect(again).toMatchObject({ replayed: true, signature: first.signature })
    const other = await executor.execute(pay('k', 2_000_000n, bob.address)).catch((e: unknown) => e)
    expect(isLedgerError(other, 'LEDGER__JOURNAL_MISMATCH')).toBe(true)
    expect(await world.transport.getBalance(bob.address)).toBe(1_000_000n)
    await journal.close()
  })

  it('should refuse, never repeat, a paid action its owner retired, also after a restart', async () => {
    const bob = await generateKeyPairSigner()
    await world.executor.execute(pay('settle-7/payout/0', 1_000_000n, bob.address))
    await world.journal.retire(['settle-7/'])
    const refused = await world.executor.execute(pay('settle-7/payout/0', 1_000_000n, bob.address)).catch((e) => e)
    expect(isLedgerError(refused, 'LEDGER__ACTION_RETIRED')).toBe(true)
    await world.journal.close()
    const journal = await SettlementJournal.open(world.journal.path)
    const executor = await ActionExecutor.open({ transport: world.transport, journal, payer: world.payer })
    const again = await executor.execute(pay('settle-7/payout/0', 1_000_000n, bob.address)).catch((e) => e)
    expect(isLedgerError(again, 'LEDGER__ACTION_RETIRED')).toBe(true)
    expect(await world.transport.getBalance(bob.address)).toBe(1_000_000n)
    await journal.close()
  })

  it('should refuse to guess when the chain does not know an intent but its nonce moved on', async () => {
    const bob = await generateKeyPairSigner()
    await world.executor.execute(pay('first', 1_000_000n, bob.address))
    // A nonce the lane once had that no journaled action was confirmed on (one that was would prove the intent
    // never ran): whether the lost transaction ran, nothing here can say.
    const nonce = '11111111111111111111111111111111'
    await world.journal.append({
      t: 'intent',
      key: 'lost',
      attempt: 1,
      digest: actionDigest(['pay', bob.address, 5n]),
      signature: '1'.repeat(64),
      nonceAccount: world.executor.nonceAccount,
      nonce,
      wire: (world.journal.intent('first') as Extract<JournalRecord, { t: 'intent' }>).wire,
      meta: {},
    })
    const [outcome] = await world.executor.reconcile()
    expect(outcome?.key).toBe('lost')
    expect(isLedgerError(outcome?.error, 'LEDGER__RECONCILE_AMBIGUOUS')).toBe(true)
    expect(await world.transport.getBalance(bob.address)).toBe(1_000_000n)
  })

  /**
   * A payout refused without running (the payer has no SOL), then another action confirmed on the same nonce and its
   * settlement retired: the refused payout must still be built anew, never left ambiguous for good.
   */
  async function refusedThenSpentAndRetired(bob: string): Promise<LedgerAction> {
    const balance = await world.transport.getBalance(world.payer.address)
    await transferSol(world.transport, world.payer, (await generateKeyPairSigner()).address, balance - 5_000n)
    const payout = pay('a/1/payout', SOL, bob)
    const refused = await world.executor.execute(payout).catch((e: unknown) => e)
    expect(isLedgerError(refused, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
    expect(world.journal.get('a/1/payout')?.t).toBe('failed')
    await world.transport.requestAirdrop(world.payer.address, (2n * SOL) as never)
    await world.executor.execute({ key: 'b/1/anchor', digest: 'anchor', instructions: () => [memoInstruction('b/1')] })
    expect(world.journal.intent('b/1/anchor')?.nonce).toBe(world.journal.intent('a/1/payout')?.nonce)
    await world.journal.retire(['b/'])
    return payout
  }

  it('should build anew a refused action whose nonce a retired action was confirmed on', async () => {
    const bob = await generateKeyPairSigner()
    const payout = await refusedThenSpentAndRetired(bob.address)
    const paid = await world.executor.execute(payout)
    expect(paid.replayed).toBe(false)
    expect(world.journal.get('a/1/payout')).toMatchObject({ t: 'confirmed', attempt: 2 })
    expect(await world.transport.getBalance(bob.address)).toBe(SOL)
  })

  it('should keep that nonce spent through compaction and a restart', async () => {
    const bob = await generateKeyPairSigner()
    const payout = await refusedThenSpentAndRetired(bob.address)
    // Jobs settled and retired one after another until the journal compacts while it runs.
    for (let job = 0; job < JOURNAL_COMPACT_MIN_RECORDS; job++) {
      await world.journal.append(intent(`c/${job}/anchor`))
      await world.journal.append({ t: 'confirmed', key: `c/${job}/anchor`, attempt: 1, signature: 's' })
      await world.journal.retire([`c/${job}/`])
    }
    const lines = (await readFile(world.journal.path, 'utf8')).split('\n')
    expect(lines.some((line) => line.includes('"key":"b/1/anchor"') && line.startsWith('{"t":"intent"'))).toBe(false)
    expect(lines.filter((line) => line.startsWith('{"t":"spent","key":"b/1/anchor"'))).toHaveLength(1)
    await world.journal.close()

    const journal = await SettlementJournal.open(world.journal.path)
    const executor = await ActionExecutor.open({ transport: world.transport, journal, payer: world.payer })
    const paid = await executor.execute(payout)
    expect(paid.replayed).toBe(false)
    expect(journal.get('a/1/payout')).toMatchObject({ t: 'confirmed', attempt: 2 })
    expect(await world.transport.getBalance(bob.address)).toBe(SOL)
    await journal.close()
  })

  it('should rebuild a refused action on the nonce it was refused on, naming the latest refused attempts', async () => {
    const bob = await generateKeyPairSigner()
    const tooMuch = pay('big', 100n * SOL, bob.address)
    const refusals = MAX_NONCE_RIVALS + 2
    for (let i = 0; i < refusals; i++) {
      await expect(world.executor.execute(tooMuch)).rejects.toMatchObject({ code: 'LEDGER__INSUFFICIENT_FUNDS' })
    }
    const refused = world.journal.intent('big')!
    expect(refused.attempt).toBe(refusals)
    // Every attempt is on the nonce the first was built on (none ran, so none moved it), and names those before it.
    expect(refused.rivals?.map((r) => r.attempt)).toEqual(
      Array.from({ length: MAX_NONCE_RIVALS }, (_, i) => refusals - MAX_NONCE_RIVALS + i),
    )
    await world.transport.requestAirdrop(world.payer.address, (200n * SOL) as never)
    const paid = await world.executor.execute(tooMuch)
    expect(world.journal.intent('big')).toMatchObject({ attempt: refusals + 1, nonce: refused.nonce })
    expect(paid.replayed).toBe(false)
    expect(await world.transport.getBalance(bob.address)).toBe(100n * SOL)
  })

  it('should record a rejection so that a later attempt may build anew', async () => {
    const bob = await generateKeyPairSigner()
    const tooMuch = pay('big', 100n * 1_000_000_000n, bob.address)
    const error = await world.executor.execute(tooMuch).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
    expect(world.journal.get('big')).toMatchObject({
      t: 'failed',
      code: 'LEDGER__INSUFFICIENT_FUNDS',
      retryable: false,
    })
    await world.transport.requestAirdrop(world.payer.address, (200n * 1_000_000_000n) as never)
    const retried = await world.executor.execute(tooMuch)
    expect(retried.replayed).toBe(false)
    expect(world.journal.get('big')).toMatchObject({
      t: 'confirmed',
      attempt: 2,
      signature: retried.signature as Signature,
    })
    expect(await world.transport.getBalance(bob.address)).toBe(100n * 1_000_000_000n)
  })
})
