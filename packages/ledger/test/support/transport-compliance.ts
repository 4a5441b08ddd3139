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
  type Blockhash,
  type KeyPairSigner,
  type Signature,
} from '@solana/kit'
import { getTransferSolInstruction, SYSTEM_PROGRAM_ADDRESS } from '@solana-program/system'
import { isCoreError } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isLedgerError } from '../../src/errors.js'
import { createNonceAccountInstructions, readNonce } from '../../src/nonce.js'
import { buildTransaction, sendInstructions } from '../../src/transaction.js'
import { decodeTransaction } from '../../src/transaction-decode.js'
import type { LedgerTransport } from '../../src/transport/transport.js'
import { SOL, fundedWallet, type Chain, type ChainFactory } from './fixtures.js'

const FEE = 5_000n

/**
 * The contract every LedgerTransport keeps, run against each implementation (LiteSVM in-process, RPC against the
 * JSON-RPC double with and without WebSocket confirmation).
 */
export function transportComplianceSuite(factory: ChainFactory): void {
  let chain: Chain
  let transport: LedgerTransport
  let alice: KeyPairSigner

  beforeEach(async () => {
    chain = await factory()
    transport = chain.transport
    alice = await fundedWallet(transport, 2n)
  })

  afterEach(async () => {
    await chain.close()
  })

  async function transfer(amount: bigint, to?: string, blockhash?: Blockhash) {
    to ??= (await generateKeyPairSigner()).address
    const latest = await transport.getLatestBlockhash()
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(alice, m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash(
          { blockhash: blockhash ?? latest.blockhash, lastValidBlockHeight: latest.lastValidBlockHeight },
          m,
        ),
      (m) =>
        appendTransactionMessageInstruction(
          getTransferSolInstruction({ source: alice, destination: to as never, amount }),
          m,
        ),
    )
    return signTransactionMessageWithSigners(message)
  }

  describe('LedgerTransport compliance', () => {
    it('should report a latest blockhash and a validity height', async () => {
      const latest = await transport.getLatestBlockhash()
      expect(latest.blockhash).toMatch(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/)
      expect(latest.lastValidBlockHeight).toBeGreaterThan(0n)
    })

    it('should airdrop lamports and report the balance', async () => {
      expect(await transport.getBalance(alice.address)).toBe(2n * SOL)
    })

    it('should report a missing account as null and its balance as 0', async () => {
      const nobody = await generateKeyPairSigner()
      expect(await transport.getAccount(nobody.address)).toBeNull()
      expect(await transport.getBalance(nobody.address)).toBe(0n)
    })

    it('should read an existing account with owner, lamports and data', async () => {
      const account = await transport.getAccount(alice.address)
      expect(account).not.toBeNull()
      expect(account?.programAddress).toBe(SYSTEM_PROGRAM_ADDRESS)
      expect(account?.lamports).toBe(2n * SOL)
      expect(account?.data.byteLength).toBe(0)
    })

    it('should send and confirm a transfer, exact to the lamport', async () => {
      const bob = await generateKeyPairSigner()
      const tx = await transfer(SOL / 2n, bob.address)
      const signature = await transport.sendAndConfirm(tx)
      expect(signature).toBe(getSignatureFromTransaction(tx))
      expect(await transport.getBalance(bob.address)).toBe(SOL / 2n)
      expect(await transport.getBalance(alice.address)).toBe(2n * SOL - SOL / 2n - FEE)
      const status = await transport.getSignatureStatus(signature)
      expect(status?.err).toBeNull()
      expect(['confirmed', 'finalized']).toContain(status?.confirmationStatus)
    })

    it('should read a transaction back and decode its instructions', async () => {
      const bob = await generateKeyPairSigner()
      const signature = await transport.sendAndConfirm(await transfer(1_000_000n, bob.address))
      const record = await transport.getTransaction(signature)
      expect(record?.signature).toBe(signature)
      expect(record?.err).toBeNull()
      const decoded = decodeTransaction(record!.transaction)
      expect(decoded.feePayer).toBe(alice.address)
      expect(decoded.instructions[0]?.programAddress).toBe(SYSTEM_PROGRAM_ADDRESS)
      expect(decoded.instructions[0]?.accounts).toEqual([alice.address, bob.address])
    })

    it('should pay once when the same signed transaction is sent twice', async () => {
      const bob = await generateKeyPairSigner()
      const tx = await transfer(SOL / 4n, bob.address)
      const first = await transport.sendAndConfirm(tx)
      const second = await transport.sendAndConfirm(tx)
      expect(second).toBe(first)
      expect(await transport.getBalance(bob.address)).toBe(SOL / 4n)
    })

    it('should know nothing of an unknown signature', async () => {
      const tx = await transfer(1n)
      const unknown = getSignatureFromTransaction(tx) as Signature
      expect(await transport.getSignatureStatus(unknown)).toBeNull()
      expect(await transport.getTransaction(unknown)).toBeNull()
    })

    it('should refuse a transfer beyond the balance with LEDGER__INSUFFICIENT_FUNDS', async () => {
      const bob = await generateKeyPairSigner()
      const error = await transport.sendAndConfirm(await transfer(5n * SOL, bob.address)).catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
      expect(await transport.getBalance(bob.address)).toBe(0n)
    })

    it('should refuse an unknown blockhash with LEDGER__BLOCKHASH_EXPIRED', async () => {
      const bogus = (await generateKeyPairSigner()).address as string as Blockhash
      const error = await transport
        .sendAndConfirm(await transfer(1_000_000n, undefined, bogus))
        .catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__BLOCKHASH_EXPIRED')).toBe(true)
    })

    it('should report the rent-exempt minimum', async () => {
      expect(await transport.getMinimumBalanceForRentExemption(0n)).toBe(890_880n)
      expect(await transport.getMinimumBalanceForRentExemption(165n)).toBe(2_039_280n)
    })

    it('should run durable-nonce transactions once each and advance the nonce', async () => {
      const nonceAccount = await generateKeyPairSigner()
      await sendInstructions(transport, {
        feePayer: alice,
        instructions: await createNonceAccountInstructions(transport, {
          payer: alice,
          nonceAccount,
          authority: alice.address,
        }),
      })
      const bob = await generateKeyPairSigner()
      for (let i = 0; i < 2; i++) {
        const { nonce } = await readNonce(transport, nonceAccount.address)
        const tx = await buildTransaction({
          feePayer: alice,
          instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 10n })],
          lifetime: { nonce, nonceAccount: nonceAccount.address },
        })
        await transport.sendAndConfirm(tx)
        expect((await readNonce(transport, nonceAccount.address)).nonce).not.toBe(nonce)
        await transport.sendAndConfirm(tx)
      }
      expect(await transport.getBalance(bob.address)).toBe((2n * SOL) / 10n)
    })

    it('should reject every call with CORE__ABORTED once its signal has aborted', async () => {
      const options = { signal: AbortSignal.abort() }
      const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
      const tx = await transfer(1_000n)
      const signature = getSignatureFromTransaction(tx)
      await expect(transport.sendAndConfirm(tx, options)).rejects.toSatisfy(aborted)
      await expect(transport.getSignatureStatus(signature, options)).rejects.toSatisfy(aborted)
      await expect(transport.getTransaction(signature, options)).rejects.toSatisfy(aborted)
      await expect(transport.getAccount(alice.address, options)).rejects.toSatisfy(aborted)
      await expect(transport.getBalance(alice.address, options)).rejects.toSatisfy(aborted)
      await expect(transport.getLatestBlockhash(options)).rejects.toSatisfy(aborted)
      await expect(transport.getMinimumBalanceForRentExemption(0n, options)).rejects.toSatisfy(aborted)
      await expect(transport.requestAirdrop(alice.address, lamports(SOL), options)).rejects.toSatisfy(aborted)
      expect(await transport.getSignatureStatus(signature)).toBeNull()
    })

    it('should airdrop to a fresh address', async () => {
      const carol = await generateKeyPairSigner()
      await transport.requestAirdrop(carol.address, lamports(SOL))
      expect(await transport.getBalance(carol.address)).toBe(SOL)
    })
  })
}
