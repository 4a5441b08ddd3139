import {
  appendTransactionMessageInstructions,
  createTransactionMessage,
  getTransactionSize,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  setTransactionMessageLifetimeUsingDurableNonce,
  signTransactionMessageWithSigners,
  type Address,
  type Instruction,
  type Nonce,
  type Signature,
  type Transaction,
  type TransactionSigner,
} from '@solana/kit'
import type { AbortOptions } from '@tessera/core'
import { TRANSACTION_SIZE_LIMIT } from './constants.js'
import { LedgerError, isLedgerError } from './errors.js'
import type { LatestBlockhash, LedgerTransport } from './transport/transport.js'

/** A transaction's lifetime: a recent blockhash, or a durable nonce held by the fee payer. */
export type Lifetime = { blockhash: LatestBlockhash } | { nonce: Nonce; nonceAccount: Address }

/**
 * Builds and signs a v0 transaction with every signer its instructions name (kit collects them from the account
 * metas: multisig co-signers may be remote partial signers). Refuses one over the 1,232-byte limit.
 */
export async function buildTransaction(input: {
  feePayer: TransactionSigner
  instructions: readonly Instruction[]
  lifetime: Lifetime
}): Promise<Transaction> {
  const base = pipe(createTransactionMessage({ version: 0 }), (m) =>
    setTransactionMessageFeePayerSigner(input.feePayer, m),
  )
  const message =
    'nonce' in input.lifetime
      ? appendTransactionMessageInstructions(
          input.instructions,
          setTransactionMessageLifetimeUsingDurableNonce(
            {
              nonce: input.lifetime.nonce,
              nonceAccountAddress: input.lifetime.nonceAccount,
              nonceAuthorityAddress: input.feePayer.address,
            },
            base,
          ),
        )
      : appendTransactionMessageInstructions(
          input.instructions,
          setTransactionMessageLifetimeUsingBlockhash(input.lifetime.blockhash, base),
        )
  const transaction = await signTransactionMessageWithSigners(message)
  const size = getTransactionSize(transaction)
  if (size > TRANSACTION_SIZE_LIMIT) {
    throw new LedgerError(
      'LEDGER__TRANSACTION_TOO_LARGE',
      `the transaction is ${size} bytes; at most ${TRANSACTION_SIZE_LIMIT} fit (split it)`,
      { size, limit: TRANSACTION_SIZE_LIMIT, instructions: input.instructions.length },
    )
  }
  return transaction
}

/**
 * Sends instructions once with a fresh blockhash: for set-up that is safe to repeat (creating accounts that a
 * second run would find existing) and needs no journal. Rebuilds once if the blockhash expired on the way (the
 * expired transaction can no longer run, so the rebuilt one cannot run beside it). The same instructions sent again
 * before the blockhash moves are the same transaction, byte for byte, which a chain runs once and answers after with
 * its outcome: that is what makes a repeated set-up safe, and why an action meant to happen at every call (a mint)
 * must make its own instructions differ (see `mintTokens`).
 */
export async function sendInstructions(
  transport: LedgerTransport,
  input: { feePayer: TransactionSigner; instructions: readonly Instruction[] },
  options: AbortOptions = {},
): Promise<Signature> {
  for (let attempt = 0; ; attempt++) {
    const blockhash = await transport.getLatestBlockhash(options)
    const transaction = await buildTransaction({ ...input, lifetime: { blockhash } })
    try {
      return await transport.sendAndConfirm(transaction, options)
    } catch (e) {
      if (attempt === 0 && isLedgerError(e, 'LEDGER__BLOCKHASH_EXPIRED')) continue
      throw e
    }
  }
}
