import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  appendTransactionMessageInstruction,
  createTransactionMessage,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type KeyPairSigner,
  type Signature,
} from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_LITESVM_RETAINED_TRANSACTIONS, STATE_FILE, TRANSACTION_LOG_FILE } from '../src/constants.js'
import { isLedgerError } from '../src/errors.js'
import { ActionExecutor, actionDigest, type LedgerAction } from '../src/executor.js'
import { createNonceAccountInstructions, readNonce } from '../src/nonce.js'
import { buildTransaction, sendInstructions } from '../src/transaction.js'
import {
  createLiteSvmTransport,
  type LiteSvmTransport,
  type LiteSvmTransportOptions,
} from '../src/transport/litesvm-transport.js'
import {
  SOL,
  createWorld,
  loggedTransactions,
  openTransactionLog,
  tempDir,
  transferSol,
  type World,
} from './support/fixtures.js'

describe('LiteSvmTransport persistence', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.remove()
  })

  it('should keep balances and readable transactions across a restart', async () => {
    const chainDir = join(dir.path, 'chain')
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    const first = await createLiteSvmTransport({ dataDir: chainDir })
    await first.requestAirdrop(alice.address, lamports(2n * SOL))
    const signature = await transferSol(first, alice, bob.address, SOL)
    await first.close()

    const second = await createLiteSvmTransport({ dataDir: chainDir })
    expect(await second.getBalance(bob.address)).toBe(SOL)
    expect(await second.getBalance(alice.address)).toBe(SOL - 5_000n)
    expect((await second.getTransaction(signature))?.signature).toBe(signature)
    expect((await second.getSignatureStatus(signature))?.err).toBeNull()
    await second.close()
    expect((await readdir(chainDir)).sort()).toEqual([STATE_FILE, TRANSACTION_LOG_FILE].sort())
  })

  it('should persist each transaction before sendAndConfirm resolves, without close()', async () => {
    const chainDir = join(dir.path, 'chain')
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    const first = await createLiteSvmTransport({ dataDir: chainDir })
    await first.requestAirdrop(alice.address, lamports(SOL))
    await transferSol(first, alice, bob.address, SOL / 2n)
    // No close(): as if the process died right here.
    const second = await createLiteSvmTransport({ dataDir: chainDir })
    expect(await second.getBalance(bob.address)).toBe(SOL / 2n)
    await second.close()
  })

  it('should drop a logged transaction whose effects never reached the snapshot', async () => {
    const chainDir = join(dir.path, 'chain')
    const alice = await generateKeyPairSigner()
    const first = await createLiteSvmTransport({ dataDir: chainDir })
    await first.requestAirdrop(alice.address, lamports(SOL))
    await first.close()
    const log = await openTransactionLog(chainDir)
    const logged = async () => (await loggedTransactions(chainDir)).length
    const counted = await logged()
    const orphan = '1'.repeat(64) as Signature
    await log.append({ n: counted, signature: orphan, slot: '1', err: null, wire: '' })
    await log.close()
    const second = await createLiteSvmTransport({ dataDir: chainDir })
    expect(await second.getSignatureStatus(orphan)).toBeNull()
    expect(await second.getTransaction(orphan)).toBeNull()
    expect(await logged()).toBe(counted)
    // The rewritten log takes appends: a transfer made now is there after the next restart.
    const signature = await transferSol(second, alice, (await generateKeyPairSigner()).address, SOL / 4n)
    const third = await createLiteSvmTransport({ dataDir: chainDir })
    expect((await third.getTransaction(signature))?.signature).toBe(signature)
    expect(await logged()).toBe(counted + 1)
    await third.close()
    await second.close()
  })

  it('should refuse a logged record that is no transaction, checksum and all, with LEDGER__STATE_CORRUPT', async () => {
    const chainDir = join(dir.path, 'chain')
    const first = await createLiteSvmTransport({ dataDir: chainDir })
    await first.close()
    const log = await openTransactionLog(chainDir)
    await log.append({ signature: 42, slot: 'yesterday', err: null, wire: [] })
    await log.close()
    await expect(createLiteSvmTransport({ dataDir: chainDir })).rejects.toMatchObject({
      code: 'LEDGER__STATE_CORRUPT',
      message: expect.stringMatching(/record 1 is not a transaction record/),
    })
  })

  it('should refuse a damaged snapshot with LEDGER__STATE_CORRUPT', async () => {
    const chainDir = join(dir.path, 'chain')
    const first = await createLiteSvmTransport({ dataDir: chainDir })
    await first.close()
    const bytes = await readFile(join(chainDir, STATE_FILE))
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff
    await writeFile(join(chainDir, STATE_FILE), bytes)
    const error = await createLiteSvmTransport({ dataDir: chainDir }).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__STATE_CORRUPT')).toBe(true)
  })
})

describe('LiteSvmTransport retention', () => {
  const RETAINED = 3
  let dir: Awaited<ReturnType<typeof tempDir>>
  let chainDir: string
  let alice: KeyPairSigner
  let bob: KeyPairSigner

  beforeEach(async () => {
    dir = await tempDir()
    chainDir = join(dir.path, 'chain')
    alice = await generateKeyPairSigner()
    bob = await generateKeyPairSigner()
  })

  afterEach(async () => {
    await dir.remove()
  })

  /** Opens the chain in `chainDir`, keeping RETAINED transactions; LiteSVM itself remembers only one signature. */
  const open = (options: LiteSvmTransportOptions = {}) =>
    createLiteSvmTransport({ dataDir: chainDir, retainedTransactions: RETAINED, transactionHistory: 1, ...options })

  /** A transfer to bob of `SOL / 10 + i` lamports, so each `i` gives another transaction. */
  const pay = (transport: LiteSvmTransport, i: number) =>
    transferSol(transport, alice, bob.address, SOL / 10n + BigInt(i))

  /** What `count` calls of {@link pay} pay bob. */
  const paidBy = (count: number) => (SOL / 10n) * BigInt(count) + BigInt((count * (count - 1)) / 2)

  /** The transaction log as the file holds it: each record's absolute index, and the file's size. */
  async function logOnDisk(): Promise<{ indices: unknown[]; bytes: number }> {
    const indices = (await loggedTransactions(chainDir)).map((record) => record.n)
    return { indices, bytes: (await stat(join(chainDir, TRANSACTION_LOG_FILE))).size }
  }

  it('should keep the log within twice the retention however many transactions run', async () => {
    const transport = await open()
    await transport.requestAirdrop(alice.address, lamports(10n * SOL))
    const counts: number[] = []
    for (let i = 0; i < 20; i++) {
      await pay(transport, i)
      counts.push((await logOnDisk()).indices.length)
    }
    await transport.close()
    expect(Math.max(...counts)).toBe(2 * RETAINED)
    const { indices, bytes } = await logOnDisk()
    // The newest records, numbered on from where the dropped ones ended.
    expect(indices).toEqual([...Array(indices.length).keys()].map((k) => 20 - indices.length + k))
    expect(indices.length).toBeGreaterThanOrEqual(RETAINED)
    // A transfer's record takes under 600 bytes; twenty of them would take four times this.
    expect(bytes).toBeLessThanOrEqual(2 * RETAINED * 600)
  })

  it('should read a recent transaction back after a restart, and answer null for one older than the retention', async () => {
    const first = await open()
    await first.requestAirdrop(alice.address, lamports(10n * SOL))
    const signatures: Signature[] = []
    for (let i = 0; i < 3 * RETAINED; i++) signatures.push(await pay(first, i))
    await first.close()

    const second = await open()
    for (const signature of signatures.slice(-RETAINED)) {
      expect((await second.getTransaction(signature))?.signature).toBe(signature)
      expect(await second.getSignatureStatus(signature)).toMatchObject({ err: null, confirmationStatus: 'finalized' })
    }
    const oldest = signatures[0]!
    expect(await second.getTransaction(oldest)).toBeNull()
    expect(await second.getSignatureStatus(oldest)).toBeNull()
    // Dropping history undid nothing: every transfer stays paid.
    expect(await second.getBalance(bob.address)).toBe(paidBy(signatures.length))
    await second.close()
  })

  it('should never run a dropped blockhash transaction again, also after a restart', async () => {
    const first = await open()
    await first.requestAirdrop(alice.address, lamports(10n * SOL))
    const once = await buildTransaction({
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL })],
      lifetime: { blockhash: await first.getLatestBlockhash() },
    })
    const signature = await first.sendAndConfirm(once)
    for (let i = 0; i < 2 * RETAINED; i++) await pay(first, i)
    expect(await first.getTransaction(signature)).toBeNull()
    const paid = await first.getBalance(bob.address)

    // Neither the transport nor LiteSVM knows it any more; only its lifetime stops it.
    await expect(first.sendAndConfirm(once)).rejects.toMatchObject({ code: 'LEDGER__BLOCKHASH_EXPIRED' })
    expect(await first.getBalance(bob.address)).toBe(paid)
    await first.close()
    const second = await open()
    await expect(second.sendAndConfirm(once)).rejects.toMatchObject({ code: 'LEDGER__BLOCKHASH_EXPIRED' })
    expect(await second.getBalance(bob.address)).toBe(paid)
    await second.close()
  })

  it("should still give a dropped failed transaction's failure, also after a restart", async () => {
    const first = await open()
    await first.requestAirdrop(alice.address, lamports(10n * SOL))
    // Runs, and fails: alice holds far less.
    const failed = await buildTransaction({
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: 1_000n * SOL })],
      lifetime: { blockhash: await first.getLatestBlockhash() },
    })
    await expect(first.sendAndConfirm(failed)).rejects.toMatchObject({ code: 'LEDGER__INSUFFICIENT_FUNDS' })
    const signature = getSignatureFromTransaction(failed)
    const status = await first.getSignatureStatus(signature)
    expect(status?.err).toEqual({ InstructionError: [0, { Custom: 1 }] })
    for (let i = 0; i < 2 * RETAINED; i++) await pay(first, i)
    // Its record is gone; its failure is not (a failed action is looked up before it is built anew).
    expect(await first.getTransaction(signature)).toBeNull()
    expect(await first.getSignatureStatus(signature)).toEqual(status)
    await first.close()
    const second = await open()
    expect(await second.getSignatureStatus(signature)).toEqual(status)
    await second.close()
  })

  describe('an intent left open by a crash after its transaction ran', () => {
    let world: World
    const action: LedgerAction = {
      key: 'pay',
      digest: actionDigest(['pay']),
      instructions: () => [
        getTransferSolInstruction({ source: world.payer, destination: bob.address, amount: SOL / 10n }),
      ],
    }

    /** Runs the action until the "crash" after its transaction ran, then `others` more transactions, and restarts. */
    async function crashAndRestart(others: number): Promise<{ transport: LiteSvmTransport; executor: ActionExecutor }> {
      const transport = await open()
      await transport.requestAirdrop(alice.address, lamports(10n * SOL))
      world = await createWorld(transport, {
        hooks: {
          afterSubmit: (key) => {
            if (key === 'pay') throw new Error('crash')
          },
        },
      })
      await expect(world.executor.execute(action)).rejects.toThrow('crash')
      expect(world.journal.pending().map((intent) => intent.key)).toEqual(['pay'])
      for (let i = 0; i < others; i++) await pay(transport, i)
      await transport.close()
      const restarted = await open()
      const executor = await ActionExecutor.open({ transport: restarted, journal: world.journal, payer: world.payer })
      return { transport: restarted, executor }
    }

    afterEach(async () => {
      await world.close()
    })

    it('should confirm it at the next start, its transaction still on record', async () => {
      const { transport, executor } = await crashAndRestart(RETAINED - 1)
      const [settled] = await executor.reconcile()
      expect(settled?.result).toMatchObject({ key: 'pay', replayed: true })
      expect(await transport.getBalance(bob.address)).toBe(SOL / 10n + paidBy(RETAINED - 1))
      await transport.close()
    })

    it('should leave it ambiguous, never paid twice, once its transaction is dropped', async () => {
      const others = 2 * RETAINED + 1
      const { transport, executor } = await crashAndRestart(others)
      // The chain no longer knows the signature; the moved nonce says something ran on it.
      const [settled] = await executor.reconcile()
      expect(isLedgerError(settled?.error, 'LEDGER__RECONCILE_AMBIGUOUS')).toBe(true)
      await expect(executor.execute(action)).rejects.toMatchObject({ code: 'LEDGER__RECONCILE_AMBIGUOUS' })
      expect(world.journal.pending().map((intent) => intent.key)).toEqual(['pay'])
      expect(await transport.getBalance(bob.address)).toBe(SOL / 10n + paidBy(others))
      await transport.close()
    })
  })

  it('should refuse a retention outside 1 to MAX_LITESVM_RETAINED_TRANSACTIONS with LEDGER__INVALID_INPUT', async () => {
    for (const retainedTransactions of [0, 1.5, MAX_LITESVM_RETAINED_TRANSACTIONS + 1]) {
      await expect(createLiteSvmTransport({ retainedTransactions })).rejects.toMatchObject({
        code: 'LEDGER__INVALID_INPUT',
      })
    }
  })
})

describe('LiteSVM signature history (why the journal and nonces exist)', () => {
  it('should run an identical blockhash transaction again once it leaves the history: a double payment', async () => {
    const transport = await createLiteSvmTransport({ transactionHistory: 1 })
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(2n * SOL))
    const { blockhash, lastValidBlockHeight } = await transport.getLatestBlockhash()
    const transfer = async (amount: bigint) =>
      signTransactionMessageWithSigners(
        pipe(
          createTransactionMessage({ version: 0 }),
          (m) => setTransactionMessageFeePayerSigner(alice, m),
          (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash, lastValidBlockHeight }, m),
          (m) =>
            appendTransactionMessageInstruction(
              getTransferSolInstruction({ source: alice, destination: bob.address, amount }),
              m,
            ),
        ),
      )
    const pay = await transfer(SOL / 10n)
    transport.svm.sendTransaction(pay)
    transport.svm.sendTransaction(await transfer(1_000n))
    transport.svm.sendTransaction(pay)
    expect(await transport.getBalance(bob.address)).toBe((2n * SOL) / 10n + 1_000n)
    await transport.close()
  })

  it('should never run a blockhash transaction sent through the transport twice, whatever the history', async () => {
    const transport = await createLiteSvmTransport({ transactionHistory: 1 })
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(2n * SOL))
    const pay = await buildTransaction({
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 10n })],
      lifetime: { blockhash: await transport.getLatestBlockhash() },
    })
    const signature = await transport.sendAndConfirm(pay)
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: 1_000n })],
    })
    // LiteSVM has forgotten it (see above); the transport has not.
    expect(await transport.sendAndConfirm(pay)).toBe(signature)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n + 1_000n)
    await transport.close()
  })

  for (const transactionHistory of [0, 1, 1_024]) {
    it(`should record a failed transaction it ran, and never run it again, with a history of ${transactionHistory}`, async () => {
      const transport = await createLiteSvmTransport({ transactionHistory })
      const alice = await generateKeyPairSigner()
      const bob = await generateKeyPairSigner()
      await transport.requestAirdrop(alice.address, lamports(SOL))
      // Runs, and fails: alice holds far less. Its fee is charged, as on a cluster.
      const failed = await buildTransaction({
        feePayer: alice,
        instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: 1_000n * SOL })],
        lifetime: { blockhash: await transport.getLatestBlockhash() },
      })
      const signature = getSignatureFromTransaction(failed)
      const outcome = { code: 'LEDGER__INSUFFICIENT_FUNDS', context: { signature, executed: true } }
      await expect(transport.sendAndConfirm(failed)).rejects.toMatchObject(outcome)
      const err = { InstructionError: [0, { Custom: 1 }] }
      expect(await transport.getSignatureStatus(signature)).toMatchObject({ err, confirmationStatus: 'finalized' })
      expect(await transport.getTransaction(signature)).toMatchObject({ signature, err })
      // Sent again, it gets its recorded outcome: it does not run (and charge its fee) twice.
      await expect(transport.sendAndConfirm(failed)).rejects.toMatchObject(outcome)
      expect(await transport.getBalance(alice.address)).toBe(SOL - 5_000n)
      await transport.close()
    })
  }

  it('should not record a transaction it refused before running it', async () => {
    const transport = await createLiteSvmTransport({ transactionHistory: 1 })
    const unfunded = await generateKeyPairSigner()
    const refused = await buildTransaction({
      feePayer: unfunded,
      instructions: [getTransferSolInstruction({ source: unfunded, destination: unfunded.address, amount: 1n })],
      lifetime: { blockhash: await transport.getLatestBlockhash() },
    })
    const signature = getSignatureFromTransaction(refused)
    await expect(transport.sendAndConfirm(refused)).rejects.toMatchObject({
      code: 'LEDGER__INSUFFICIENT_FUNDS',
      context: { signature, err: 'AccountNotFound', executed: false },
    })
    expect(await transport.getSignatureStatus(signature)).toBeNull()
    await transport.close()
  })

  it('should never run a durable-nonce transaction twice, whatever the history', async () => {
    const transport = await createLiteSvmTransport({ transactionHistory: 1 })
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    const nonceAccount = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(2n * SOL))
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: await createNonceAccountInstructions(transport, {
        payer: alice,
        nonceAccount,
        authority: alice.address,
      }),
    })
    const { nonce } = await readNonce(transport, nonceAccount.address)
    const pay = await buildTransaction({
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 10n })],
      lifetime: { nonce, nonceAccount: nonceAccount.address },
    })
    await transport.sendAndConfirm(pay)
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: 1_000n })],
    })
    expect(transport.svm.sendTransaction(pay).constructor.name).toBe('FailedTransactionMetadata')
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n + 1_000n)
    await transport.close()
  })
})
