import { execFileSync } from 'node:child_process'
import { readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairSigner, type Address } from '@solana/kit'
import { getCreateAccountInstruction, getTransferSolInstruction } from '@solana-program/system'
import { getMintSize, TOKEN_PROGRAM_ADDRESS } from '@solana-program/token'
import { isCoreError } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { JOURNAL_FILE, STATE_FILE, TRANSACTION_LOG_FILE } from '../src/constants.js'
import { isLedgerError, type LedgerErrorCode } from '../src/errors.js'
import { openEscrow } from '../src/escrow.js'
import { actionDigest, type LedgerAction } from '../src/executor.js'
import { openLedger } from '../src/ledger.js'
import { createMint, ensureTokenAccount } from '../src/token.js'
import { sendInstructions } from '../src/transaction.js'
import { createRpcTransport } from '../src/transport/rpc-transport.js'
import { SOL, fundedWallet, tempDir } from './support/fixtures.js'
import { RpcDouble } from './support/rpc-double.js'

describe('openLedger', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.remove()
  })

  it('should keep the wallet, the local mint and balances across a restart', async () => {
    const first = await openLedger({ dataDir: dir.path })
    await first.airdrop({ tokens: 500_000n })
    const worker = await generateKeyPairSigner()
    const arbiter = await generateKeyPairSigner()
    const { escrow } = await openEscrow(first.executor, {
      jobId: 'job-1',
      creator: first.wallet,
      source: await first.tokenAccount(),
      worker: worker.address,
      arbiter: arbiter.address,
      mint: first.mint,
      amount: 200_000n,
    })
    const before = await first.balance()
    await first.close()

    const second = await openLedger({ dataDir: dir.path })
    expect(second.wallet.address).toBe(first.wallet.address)
    expect(second.mint).toBe(first.mint)
    expect(await second.balance()).toEqual(before)
    expect(before.tokens).toBe(300_000n)
    const again = await openEscrow(second.executor, {
      jobId: 'job-1',
      creator: second.wallet,
      source: await second.tokenAccount(),
      worker: worker.address,
      arbiter: arbiter.address,
      mint: second.mint,
      amount: 200_000n,
    })
    expect(again.escrow.address).toBe(escrow.address)
    expect(again.result.replayed).toBe(true)
    expect((await second.balance()).tokens).toBe(300_000n)
    await second.close()
  })

  it('should refuse a second open of its data directory until the first closes, keeping the chain unforked', async () => {
    const first = await openLedger({ dataDir: dir.path })
    await first.airdrop({ tokens: 7n })
    // Accepted before, the second wrote its own snapshot of the chain over the first's: the airdrop vanished.
    await expect(openLedger({ dataDir: dir.path })).rejects.toMatchObject({
      code: 'LEDGER__DATA_DIR_IN_USE',
      context: { dataDir: dir.path },
    })
    await first.airdrop({ tokens: 5n })
    await first.close()
    const second = await openLedger({ dataDir: dir.path })
    expect((await second.balance()).tokens).toBe(12n)
    await second.close()
  })

  it('should refuse to replace a wallet missing beside its ledger, and open again once it is restored', async () => {
    const first = await openLedger({ dataDir: dir.path })
    await first.airdrop({ tokens: 9n })
    await first.close()
    const path = join(dir.path, 'wallet.json')
    const kept = await readFile(path)
    await rm(path)
    // Made anew before: the tokens, vaults and nonce account of the old wallet were out of reach.
    await expect(openLedger({ dataDir: dir.path })).rejects.toMatchObject({
      code: 'LEDGER__WALLET_MISSING',
      context: { path, dataDir: dir.path },
    })
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
    await writeFile(path, kept, { mode: 0o600 })
    const second = await openLedger({ dataDir: dir.path })
    expect(second.wallet.address).toBe(first.wallet.address)
    expect((await second.balance()).tokens).toBe(9n)
    await second.close()
  })

  it('should refuse to start a new journal beside a wallet that has acted on the chain, and open once it is restored', async () => {
    const first = await openLedger({ dataDir: dir.path })
    await first.airdrop({ tokens: 1_000n })
    const arbiter = await generateKeyPairSigner()
    const open = async (ledger: typeof first) =>
      openEscrow(ledger.executor, {
        jobId: 'job-1',
        creator: ledger.wallet,
        source: await ledger.tokenAccount(),
        worker: (await generateKeyPairSigner()).address,
        arbiter: arbiter.address,
        mint: ledger.mint,
        amount: 400n,
      })
    await open(first)
    await first.close()
    const path = join(dir.path, JOURNAL_FILE)
    const kept = await readFile(path)
    await rm(path)
    // Made anew before: the escrow was funded again (another 400 tokens) by a journal that knew nothing of it.
    await expect(openLedger({ dataDir: dir.path })).rejects.toMatchObject({
      code: 'LEDGER__JOURNAL_MISSING',
      context: { path, dataDir: dir.path, wallet: first.wallet.address },
    })
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
    await writeFile(path, kept)
    const second = await openLedger({ dataDir: dir.path })
    expect((await second.balance()).tokens).toBe(600n)
    await second.close()
  })

  for (const [moment, hook] of [
    ['after its transaction ran', 'afterSubmit'],
    ['before its transaction was sent', 'afterIntent'],
  ] as const) {
    it(`should settle an intent a crash left open ${moment} as it opens, paying once`, async () => {
      const crash = () => {
        throw new Error('crash')
      }
      const first = await openLedger({ dataDir: dir.path, hooks: { [hook]: crash } })
      const payee = (await generateKeyPairSigner()).address
      const pay: LedgerAction = {
        key: 'pay',
        digest: actionDigest(['pay', payee]),
        instructions: () => [getTransferSolInstruction({ source: first.wallet, destination: payee, amount: SOL })],
      }
      await expect(first.executor.execute(pay)).rejects.toThrow('crash')
      expect(first.journal.pending().map((intent) => intent.key)).toEqual(['pay'])
      await first.close()

      const second = await openLedger({ dataDir: dir.path })
      expect(second.journal.pending()).toEqual([])
      expect(second.executor.status('pay')).toBe('confirmed')
      expect(await second.transport.getBalance(payee)).toBe(SOL)
      // Its action, run again, finds it done.
      expect(await second.executor.execute(pay)).toMatchObject({ replayed: true })
      expect(await second.transport.getBalance(payee)).toBe(SOL)
      await second.close()
    })
  }

  // LiteSVM's blockhash moves only when told to: an airdrop built like the one before would be that one again.
  it.each([
    ['tokens', { tokens: 9n }, 9n],
    ['lamports', { lamports: SOL }, SOL],
  ] as const)('should add every airdrop of the same %s, also after a restart', async (unit, amounts, each) => {
    const first = await openLedger({ dataDir: dir.path })
    const start = (await first.balance())[unit]
    await first.airdrop(amounts)
    await first.airdrop(amounts)
    expect((await first.balance())[unit]).toBe(start + 2n * each)
    await first.close()

    const second = await openLedger({ dataDir: dir.path })
    await second.airdrop(amounts)
    expect((await second.balance())[unit]).toBe(start + 3n * each)
    await second.close()
  })

  it("should refuse, before paying a fee, a token airdrop past what the mint's supply counts", async () => {
    const ledger = await openLedger({ dataDir: dir.path })
    try {
      const max = 0xffff_ffff_ffff_ffffn
      await ledger.airdrop({ tokens: max - 5n })
      const before = await ledger.balance()
      // Sent before: the token program refused it (Custom 14, overflow), and the wallet paid the fee.
      await expect(ledger.airdrop({ tokens: 6n })).rejects.toMatchObject({
        code: 'LEDGER__INVALID_INPUT',
        message: expect.stringMatching(/supply of 18446744073709551610 past .*; ask for at most 5$/),
      })
      expect(await ledger.balance()).toEqual(before)
      await ledger.airdrop({ tokens: 5n })
      expect((await ledger.balance()).tokens).toBe(max)
    } finally {
      await ledger.close()
    }
  })

  it('should reject with CORE__ABORTED, leaving nothing open, when its signal aborts', async () => {
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
    await expect(openLedger({ dataDir: dir.path }, { signal: AbortSignal.abort() })).rejects.toSatisfy(aborted)
    // Aborted while the chain's state loads: nothing after it runs, and the transport is closed.
    const controller = new AbortController()
    const pending = openLedger({ dataDir: dir.path }, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toSatisfy(aborted)
    await expect(stat(join(dir.path, 'wallet.json'))).rejects.toMatchObject({ code: 'ENOENT' })
    const ledger = await openLedger({ dataDir: dir.path })
    expect((await ledger.balance()).lamports).toBeGreaterThan(0n)
    await ledger.close()
  })

  it('should refuse a damaged local-mint file with LEDGER__STATE_CORRUPT', async () => {
    const first = await openLedger({ dataDir: dir.path })
    await first.close()
    for (const text of ['{"mint":', 'null', '[]', '{"mint":42}', '{"mint":"not-an-address"}', ' '.repeat(5000)]) {
      await writeFile(join(dir.path, 'local-mint.json'), text)
      const error = await openLedger({ dataDir: dir.path }).catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__STATE_CORRUPT'), text.slice(0, 20)).toBe(true)
    }
  })

  // A FIFO hung the open for good; a link to /dev/zero was read until memory ran out.
  for (const file of ['local-mint.json', JOURNAL_FILE, `chain/${STATE_FILE}`, `chain/${TRANSACTION_LOG_FILE}`]) {
    it.each(['a named pipe', 'a link to /dev/zero'])(
      `should refuse ${file} as %s with LEDGER__STATE_CORRUPT or LEDGER__JOURNAL_CORRUPT, unread`,
      async (kind) => {
        const first = await openLedger({ dataDir: dir.path })
        await first.close()
        const path = join(dir.path, file)
        await rm(path)
        if (kind === 'a named pipe') execFileSync('mkfifo', [path])
        else await symlink('/dev/zero', path)
        const error = await openLedger({ dataDir: dir.path }).catch((e: unknown) => e)
        expect(error).toMatchObject({
          code: file === JOURNAL_FILE ? 'LEDGER__JOURNAL_CORRUPT' : 'LEDGER__STATE_CORRUPT',
          message: expect.stringContaining(path),
        })
      },
      10_000,
    )
  }

  it('should require the payment mint on a cluster and report an unfunded wallet with a coded error', async () => {
    const double = await RpcDouble.start()
    const transport = createRpcTransport({ url: double.url, pollIntervalMs: 5 })
    try {
      const error = await openLedger({ dataDir: dir.path, rpc: { url: double.url } }).catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__INVALID_INPUT')).toBe(true)
      const payer = await fundedWallet(transport)
      const mint = await createMint(transport, { payer, mintAuthority: payer.address })
      const ledger = await openLedger({ dataDir: dir.path, rpc: { url: double.url, pollIntervalMs: 5 }, mint }).catch(
        (e: unknown) => e,
      )
      // An unfunded wallet cannot create its nonce account on a cluster: the coded error says so.
      expect(isLedgerError(ledger, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
    } finally {
      await transport.close()
      await double.close()
    }
  })

  it('should refuse a configured mint that is not an initialised SPL Token mint, before paying for anything', async () => {
    const double = await RpcDouble.start()
    const transport = createRpcTransport({ url: double.url, pollIntervalMs: 5 })
    try {
      const payer = await fundedWallet(transport)
      const mint = await createMint(transport, { payer, mintAuthority: payer.address })
      const uninitialised = await generateKeyPairSigner()
      await sendInstructions(transport, {
        feePayer: payer,
        instructions: [
          getCreateAccountInstruction({
            payer,
            newAccount: uninitialised,
            lamports: await transport.getMinimumBalanceForRentExemption(BigInt(getMintSize())),
            space: getMintSize(),
            programAddress: TOKEN_PROGRAM_ADDRESS,
          }),
        ],
      })
      const tokenAccount = await ensureTokenAccount(transport, { payer, owner: payer.address, mint })
      const cases: Array<[string, Address, LedgerErrorCode]> = [
        ['no account', (await generateKeyPairSigner()).address, 'LEDGER__ACCOUNT_NOT_FOUND'],
        ['a wallet', payer.address, 'LEDGER__MALFORMED_ACCOUNT'],
        ['a token account', tokenAccount, 'LEDGER__MALFORMED_ACCOUNT'],
        ['an uninitialised mint', uninitialised.address, 'LEDGER__MALFORMED_ACCOUNT'],
      ]
      for (const [what, address, code] of cases) {
        const error = await openLedger({ dataDir: dir.path, rpc: { url: double.url }, mint: address }).catch(
          (e: unknown) => e,
        )
        expect(isLedgerError(error, code), what).toBe(true)
      }
      // Refused before the unfunded wallet tried to create its nonce account.
      expect(double.count('sendTransaction')).toBe(3)
    } finally {
      await transport.close()
      await double.close()
    }
  })
})
