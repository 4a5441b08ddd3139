import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairSigner, type Signature } from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isLedgerError } from '../src/errors.js'
import { actionDigest, type LedgerAction } from '../src/executor.js'
import { SettlementJournal, type JournalRecord } from '../src/journal.js'
import { readNonce } from '../src/nonce.js'
import { createWorld, liteSvmChain, tempDir, type Chain, type World } from './support/fixtures.js'

const intent = (key: string, attempt = 1): JournalRecord => ({
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

  it('should refuse to guess when the chain does not know an intent but its nonce moved on', async () => {
    const bob = await generateKeyPairSigner()
    const { nonce } = await readNonce(world.transport, world.executor.nonceAccount)
    await world.executor.execute(pay('first', 1_000_000n, bob.address))
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
