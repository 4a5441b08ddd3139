import type { Signature } from '@solana/kit'
import { getMultisigSize, getTokenSize } from '@solana-program/token'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isLedgerError } from '../../src/errors.js'
import { ActionExecutor, actionDigest } from '../../src/executor.js'
import {
  closeEscrow,
  escrowActionPrefix,
  openEscrow,
  refundEscrow,
  releaseEscrow,
  type Escrow,
} from '../../src/escrow.js'
import { getTokenBalance } from '../../src/token.js'
import { vaultTransferInstructions, verifyVault } from '../../src/vault.js'
import type { LedgerTransport } from '../../src/transport/transport.js'
import { createWorld, type Chain, type ChainFactory, type World } from './fixtures.js'

const LAMPORTS_PER_SIGNATURE = 5_000n

/** Fees paid for the given transactions: 5,000 lamports per signature, read from the transactions themselves. */
async function feesOf(transport: LedgerTransport, signatures: readonly Signature[]): Promise<bigint> {
  let total = 0n
  for (const signature of signatures) {
    const record = await transport.getTransaction(signature)
    if (record === null) throw new Error(`missing transaction ${signature}`)
    total += BigInt(Object.keys(record.transaction.signatures).length) * LAMPORTS_PER_SIGNATURE
  }
  return total
}

/** Acceptance 1 and 2: the escrow life cycle, exact to the lamport and token unit, on any transport. */
export function escrowScenarioSuite(factory: ChainFactory): void {
  let chain: Chain
  let world: World

  beforeEach(async () => {
    chain = await factory()
    world = await createWorld(chain.transport, { creatorTokens: 1_000_000n })
  })

  afterEach(async () => {
    await world.close()
    await chain.close()
  })

  const open = (jobId: string, amount: bigint) =>
    openEscrow(world.executor, {
      jobId,
      creator: world.creator,
      source: world.accounts.creator,
      worker: world.worker.address,
      arbiter: world.arbiter.address,
      mint: world.mint,
      amount,
    })

  const release = (escrow: Escrow, tileId: string, amount: bigint, second = world.creator) =>
    releaseEscrow(world.executor, {
      escrow,
      tileId,
      amount,
      workerAccount: world.accounts.worker,
      treasuryAccount: world.accounts.treasury,
      feeBps: 100,
      signers: [world.worker, second],
    })

  describe('escrow', () => {
    it('should open, release per tile, refund and close with balances exact to the lamport and token unit', async () => {
      const { transport } = world
      const payerBefore = await transport.getBalance(world.payer.address)
      const creatorLamportsBefore = await transport.getBalance(world.creator.address)

      const opened = await open('job-1', 100_000n)
      const tile1 = await release(opened.escrow, 'tile-1', 30_000n)
      const tile2 = await release(opened.escrow, 'tile-2', 20_000n, world.arbiter)
      expect(await getTokenBalance(transport, opened.escrow.address)).toBe(50_000n)
      const refund = await refundEscrow(world.executor, {
        escrow: opened.escrow,
        creatorAccount: world.accounts.creator,
        signers: [world.creator, world.arbiter],
      })
      const close = await closeEscrow(world.executor, {
        escrow: opened.escrow,
        signers: [world.creator, world.arbiter],
      })

      expect(await getTokenBalance(transport, world.accounts.creator)).toBe(1_000_000n - 100_000n + 50_000n)
      expect(await getTokenBalance(transport, world.accounts.worker)).toBe(29_700n + 19_800n)
      expect(await getTokenBalance(transport, world.accounts.treasury)).toBe(300n + 200n)
      expect(await transport.getAccount(opened.escrow.address)).toBeNull()

      const multisigKey = [...opened.escrow.signers].sort().join(',')
      const multisigSignature = world.journal.get(`multisig/${multisigKey}`)?.signature as Signature
      const signatures = [
        multisigSignature,
        opened.result.signature,
        tile1.signature,
        tile2.signature,
        refund.signature,
        close.signature,
      ]
      const fees = await feesOf(transport, signatures)
      const multisigRent = await transport.getMinimumBalanceForRentExemption(BigInt(getMultisigSize()))
      const escrowRent = await transport.getMinimumBalanceForRentExemption(BigInt(getTokenSize()))
      expect(await transport.getBalance(world.payer.address)).toBe(payerBefore - fees - multisigRent - escrowRent)
      // Closing returns the escrow's rent to the creator's wallet.
      expect(await transport.getBalance(world.creator.address)).toBe(creatorLamportsBefore + escrowRent)
    })

    it('should reuse the multisig of a trio for the next job', async () => {
      const first = await open('job-a', 1_000n)
      const second = await open('job-b', 2_000n)
      expect(second.escrow.multisig).toBe(first.escrow.multisig)
      expect(second.escrow.address).not.toBe(first.escrow.address)
      expect(await verifyVault(world.transport, second.escrow)).toBe(2_000n)
    })

    it('should have the token program refuse a release signed by one party', async () => {
      const { escrow } = await open('job-1', 10_000n)
      const error = await world.executor
        .execute({
          key: 'one-signer-release',
          digest: actionDigest(['one-signer']),
          instructions: () =>
            vaultTransferInstructions(escrow, [{ destination: world.accounts.worker, amount: 5_000n }], [world.worker]),
        })
        .catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__TRANSACTION_REJECTED')).toBe(true)
      expect((error as { context: { instructionError: unknown } }).context.instructionError).toBe(
        'MissingRequiredSignature',
      )
      expect(await getTokenBalance(world.transport, escrow.address)).toBe(10_000n)
      expect(await getTokenBalance(world.transport, world.accounts.worker)).toBe(0n)
    })

    it('should refuse, before signing, a release without the worker or a refund without the arbiter', async () => {
      const { escrow } = await open('job-1', 10_000n)
      const withoutWorker = await releaseEscrow(world.executor, {
        escrow,
        tileId: 't',
        amount: 1_000n,
        workerAccount: world.accounts.worker,
        treasuryAccount: world.accounts.treasury,
        signers: [world.creator, world.arbiter],
      }).catch((e: unknown) => e)
      expect(isLedgerError(withoutWorker, 'LEDGER__INVALID_INPUT')).toBe(true)
      const refundByWorker = await refundEscrow(world.executor, {
        escrow,
        creatorAccount: world.accounts.creator,
        signers: [world.creator, world.worker],
      }).catch((e: unknown) => e)
      expect(isLedgerError(refundByWorker, 'LEDGER__INVALID_INPUT')).toBe(true)
      expect(await getTokenBalance(world.transport, escrow.address)).toBe(10_000n)
    })

    it('should pay a tile once however often its release is asked for', async () => {
      const { escrow } = await open('job-1', 10_000n)
      const first = await release(escrow, 'tile-7', 4_000n)
      const again = await release(escrow, 'tile-7', 4_000n, world.arbiter)
      expect(first.replayed).toBe(false)
      expect(again.replayed).toBe(true)
      expect(again.signature).toBe(first.signature)
      expect(await getTokenBalance(world.transport, world.accounts.worker)).toBe(3_960n)
    })

    it('should pay a release left open in the journal before a refund takes the rest', async () => {
      const { escrow } = await open('job-1', 1_000n)
      // The release's intent is journaled, then its run stops (a crash, an abort, a timeout) before it is sent.
      const stopping = await ActionExecutor.open({
        transport: world.transport,
        journal: world.journal,
        payer: world.payer,
        hooks: {
          afterIntent: () => {
            throw new Error('stopped after the intent')
          },
        },
      })
      const releaseInput = {
        escrow,
        tileId: 'tile-0',
        amount: 400n,
        workerAccount: world.accounts.worker,
        treasuryAccount: world.accounts.treasury,
        feeBps: 100,
        signers: [world.worker, world.creator] as const,
      }
      await expect(releaseEscrow(stopping, releaseInput)).rejects.toThrow('stopped after the intent')
      expect(world.journal.pending().map((i) => i.key)).toEqual([`${escrowActionPrefix(escrow.address)}release/tile-0`])
      // Built on the nonce the release was signed on, the refund landed in its place and the tile went unpaid.
      await refundEscrow(world.executor, {
        escrow,
        creatorAccount: world.accounts.creator,
        signers: [world.creator, world.arbiter],
      })
      expect(world.journal.pending()).toEqual([])
      expect(await getTokenBalance(world.transport, world.accounts.worker)).toBe(396n)
      expect(await getTokenBalance(world.transport, world.accounts.creator)).toBe(1_000_000n - 400n)
      expect((await release(escrow, 'tile-0', 400n)).replayed).toBe(true)
      await closeEscrow(world.executor, { escrow, signers: [world.creator, world.arbiter] })
    })

    it('should refuse to fund an escrow beyond the creator’s tokens', async () => {
      const error = await open('job-big', 2_000_000n).catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
    })

    it('should refuse to close an escrow that still holds tokens', async () => {
      const { escrow } = await open('job-1', 10_000n)
      const error = await closeEscrow(world.executor, { escrow, signers: [world.creator, world.arbiter] }).catch(
        (e: unknown) => e,
      )
      expect(isLedgerError(error, 'LEDGER__INVALID_INPUT')).toBe(true)
    })

    it('should detect an escrow descriptor that does not match the chain', async () => {
      const { escrow } = await open('job-1', 10_000n)
      const forged = { ...escrow, signers: [world.creator.address, world.worker.address, world.payer.address] as const }
      const error = await verifyVault(world.transport, forged).catch((e: unknown) => e)
      expect(isLedgerError(error, 'LEDGER__ESCROW_MISMATCH')).toBe(true)
    })
  })
}
