import type { Address, Instruction, TransactionSigner } from '@solana/kit'
import type { AbortOptions } from '@tessera/core'
import { associatedTokenAddress, ensureTokenAccount } from './token.js'
import { vaultTransferInstructions, type Vault } from './vault.js'

/**
 * Batched payouts leave one epoch vault, owned by a 2-of-3 multisig [creator, arbiter, settlement key], in one
 * transaction per chunk of payees. The signers of that transaction do not grow with the number of workers: two
 * co-signers authorise every transfer out of the vault, so each extra payee costs only its token account (32 bytes)
 * and a 17-byte transfer instruction. Per-job escrows would need each worker's signature (or a lookup table per
 * epoch) to batch; see README, "Why one epoch vault".
 */

/** The payout chunk's transfers: net to each payee's associated token account, the chunk's fee to the treasury. */
export async function payoutInstructions(input: {
  vault: Vault
  transfers: ReadonlyArray<{ payee: Address; amount: bigint }>
  fee: bigint
  treasuryAccount: Address
  signers: readonly TransactionSigner[]
}): Promise<Instruction[]> {
  const transfers = await Promise.all(
    input.transfers.map(async (t) => ({
      destination: await associatedTokenAddress(t.payee, input.vault.mint),
      amount: t.amount,
    })),
  )
  return vaultTransferInstructions(
    input.vault,
    [...transfers, { destination: input.treasuryAccount, amount: input.fee }],
    input.signers,
  )
}

/** Creates the payees' token accounts that do not exist yet (one-time set-up per payee, paid by `payer`). */
export async function ensurePayeeAccounts(
  executor: { transport: Parameters<typeof ensureTokenAccount>[0]; payer: TransactionSigner },
  mint: Address,
  payees: readonly Address[],
  options: AbortOptions = {},
): Promise<void> {
  for (const owner of payees)
    await ensureTokenAccount(executor.transport, { payer: executor.payer, owner, mint }, options)
}
