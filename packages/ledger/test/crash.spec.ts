import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeCanonical, type Receipt } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EpochBatch } from '../src/batch.js'
import { ActionExecutor } from '../src/executor.js'
import { SettlementJournal, type JournalRecord } from '../src/journal.js'
import { associatedTokenAddress, createMint, ensureTokenAccount, getTokenBalance, mintTokens } from '../src/token.js'
import { createLiteSvmTransport } from '../src/transport/litesvm-transport.js'
import { openVault } from '../src/vault.js'
import { loadOrCreateWallet } from '../src/wallet.js'
import { generateKeyPairSigner, lamports, type Address } from '@solana/kit'
import { SOL, tempDir } from './support/fixtures.js'
import { makeParties, makeReceipts } from './support/receipts.js'

const EPOCH = 5
const CHILD = join(import.meta.dirname, 'support', 'crash-child.ts')
const REPO = join(import.meta.dirname, '..', '..', '..')

interface ChildRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function runChild(dir: string, crash?: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(REPO, 'node_modules', '.bin', 'node'),
      ['--conditions=tessera-src', '--import', 'tsx', CHILD, dir],
      {
        cwd: REPO,
        env: { ...process.env, TESSERA_LEDGER_CRASH: crash ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += String(d)))
    child.stderr.on('data', (d) => (stderr += String(d)))
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

describe('settlement across a crash (child process)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let receipts: Receipt[]
  let treasuryAccount: Address
  let mint: Address

  beforeEach(async () => {
    dir = await tempDir('tessera-crash-')
    const transport = await createLiteSvmTransport({ dataDir: join(dir.path, 'chain') })
    const settler = await loadOrCreateWallet(join(dir.path, 'settler.json'))
    const creator = await loadOrCreateWallet(join(dir.path, 'creator.json'))
    await transport.requestAirdrop(settler.address, lamports(10n * SOL))
    await transport.requestAirdrop(creator.address, lamports(SOL))
    const mintAuthority = await generateKeyPairSigner()
    const arbiter = await generateKeyPairSigner()
    const treasury = await generateKeyPairSigner()
    mint = await createMint(transport, { payer: settler, mintAuthority: mintAuthority.address })
    const creatorAccount = await ensureTokenAccount(transport, { payer: settler, owner: creator.address, mint })
    treasuryAccount = await ensureTokenAccount(transport, { payer: settler, owner: treasury.address, mint })
    receipts = makeReceipts(await makeParties(4), 60, EPOCH)
    const gross = receipts.reduce((s, r) => s + r.amount, 0n)
    await mintTokens(transport, { payer: settler, mint, mintAuthority, destination: creatorAccount, amount: gross })
    const journal = await SettlementJournal.open(join(dir.path, 'setup-journal.log'))
    const executor = await ActionExecutor.open({ transport, journal, payer: settler })
    const { vault } = await openVault(executor, {
      id: 'epoch-5',
      funder: creator,
      source: creatorAccount,
      signers: [creator.address, arbiter.address, settler.address],
      mint,
      amount: gross,
    })
    await journal.close()
    await transport.close()
    await writeFile(join(dir.path, 'setup.json'), JSON.stringify({ vault, treasuryAccount, epoch: EPOCH }))
    await writeFile(join(dir.path, 'receipts.cbor'), encodeCanonical(receipts))
  })

  afterEach(async () => {
    await dir.remove()
  })

  async function journalRecords(): Promise<JournalRecord[]> {
    const lines = (await readFile(join(dir.path, 'journal.log'), 'utf8')).split('\n').filter((l) => l.length > 0)
    return lines.map((l) => JSON.parse(l.slice(0, l.lastIndexOf('\t'))) as JournalRecord)
  }

  async function pendingIntents() {
    const journal = await SettlementJournal.open(join(dir.path, 'journal.log'))
    const pending = journal.pending()
    await journal.close()
    return pending
  }

  async function balances(): Promise<{ payees: bigint[]; treasury: bigint }> {
    const transport = await createLiteSvmTransport({ dataDir: join(dir.path, 'chain') })
    const batch = EpochBatch.build(EPOCH, receipts, 100)
    const payees = await Promise.all(
      batch.payouts.map(async (p) => getTokenBalance(transport, await associatedTokenAddress(p.payee, mint))),
    )
    const treasury = await getTokenBalance(transport, treasuryAccount)
    await transport.close()
    return { payees, treasury }
  }

  for (const [what, crash] of [
    ['after the payout is submitted and before the journal records it', 'afterSubmit:payout'],
    ['after the payout intent is journaled and before it is sent', 'afterIntent:payout'],
  ] as const) {
    it(`should pay exactly once when killed ${what}`, async () => {
      const killed = await runChild(dir.path, crash)
      expect(killed.signal).toBe('SIGKILL')
      expect(killed.stdout).toBe('')
      const fragment = crash.split(':')[1]!
      const pending = await pendingIntents()
      expect(pending.map((p) => p.key)).toEqual([expect.stringContaining(fragment)])
      const [intent] = pending

      const restarted = await runChild(dir.path)
      expect(restarted.stderr).toBe('')
      expect(restarted.code).toBe(0)
      const report = JSON.parse(restarted.stdout) as {
        state: string
        results: Record<string, { signature: string; replayed: boolean }>
      }
      expect(report.state).toBe('settled')
      // The restart settled the journaled transaction itself (found on chain, or sent for the first time):
      // same signature, no second attempt.
      expect(report.results[intent!.key]?.signature).toBe(intent!.signature)
      expect((await journalRecords()).filter((r) => r.key === intent!.key && r.t === 'intent')).toHaveLength(1)

      const batch = EpochBatch.build(EPOCH, receipts, 100)
      const after = await balances()
      expect(after.payees).toEqual(batch.payouts.map((p) => p.net))
      expect(after.treasury).toBe(batch.fee)
    })
  }
})
