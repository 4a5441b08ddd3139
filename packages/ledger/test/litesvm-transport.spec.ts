import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  appendTransactionMessageInstruction,
  createTransactionMessage,
  generateKeyPairSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Signature,
} from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { STATE_FILE, TRANSACTION_LOG_FILE } from '../src/constants.js'
import { DurableLog } from '../src/durable-file.js'
import { isLedgerError } from '../src/errors.js'
import { createNonceAccountInstructions, readNonce } from '../src/nonce.js'
import { buildTransaction, sendInstructions } from '../src/transaction.js'
import { createLiteSvmTransport } from '../src/transport/litesvm-transport.js'
import { SOL, tempDir, transferSol } from './support/fixtures.js'

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
    const { log } = await DurableLog.open(join(chainDir, TRANSACTION_LOG_FILE), {
      corruptCode: 'LEDGER__STATE_CORRUPT',
      maxLineBytes: 16_384,
    })
    const counted = (await readFile(join(chainDir, TRANSACTION_LOG_FILE), 'utf8')).split('\n').length - 1
    const orphan = '1'.repeat(64) as Signature
    await log.append({ n: counted, signature: orphan, slot: '1', err: null, wire: '' })
    await log.close()
    const logged = async () => (await readFile(join(chainDir, TRANSACTION_LOG_FILE), 'utf8')).split('\n').length - 1
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
    const { log } = await DurableLog.open(join(chainDir, TRANSACTION_LOG_FILE), {
      corruptCode: 'LEDGER__STATE_CORRUPT',
      maxLineBytes: 16_384,
    })
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
