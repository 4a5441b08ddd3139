import { type Address, type Instruction, type Nonce, type Transaction, type TransactionSigner } from '@solana/kit'
import {
  SYSTEM_PROGRAM_ADDRESS,
  getCreateAccountInstruction,
  getInitializeNonceAccountInstruction,
  getNonceDecoder,
} from '@solana-program/system'
import type { AbortOptions } from '@tessera/core'
import { NONCE_ACCOUNT_SPACE } from './constants.js'
import { LedgerError } from './errors.js'
import { decodeTransaction } from './transaction-decode.js'
import type { LedgerTransport } from './transport/transport.js'

/**
 * Durable nonces make every journaled action idempotent on chain. A transaction whose lifetime is a nonce stays
 * valid until that nonce advances, and the nonce advances exactly when a transaction using it executes. So after a
 * crash, "is the nonce still the one in my journal?" answers "did my transaction run?" without trusting signature
 * history (LiteSVM forgets signatures and then runs an identical transaction again; clusters forget after ~150
 * slots). It also lets co-signers sign at their own pace: a nonce does not expire as a blockhash does.
 */

/** The system program's AdvanceNonceAccount instruction index (u32 little-endian). */
const ADVANCE_NONCE_DISCRIMINATOR = 4
/** `Nonce` account state `Initialized`. */
const NONCE_INITIALIZED = 1

/** A nonce account and its authority. */
export interface NonceLane {
  nonceAccount: Address
  authority: Address
}

/** Instructions that create and initialise a nonce account owned by `authority`. */
export async function createNonceAccountInstructions(
  transport: LedgerTransport,
  input: { payer: TransactionSigner; nonceAccount: TransactionSigner; authority: Address },
  options: AbortOptions = {},
): Promise<Instruction[]> {
  const lamports = await transport.getMinimumBalanceForRentExemption(NONCE_ACCOUNT_SPACE, options)
  return [
    getCreateAccountInstruction({
      payer: input.payer,
      newAccount: input.nonceAccount,
      lamports,
      space: NONCE_ACCOUNT_SPACE,
      programAddress: SYSTEM_PROGRAM_ADDRESS,
    }),
    getInitializeNonceAccountInstruction({ nonceAccount: input.nonceAccount.address, nonceAuthority: input.authority }),
  ]
}

/** The current nonce value stored in a nonce account; `LEDGER__ACCOUNT_NOT_FOUND` / `LEDGER__MALFORMED_ACCOUNT`. */
export async function readNonce(
  transport: LedgerTransport,
  nonceAccount: Address,
  options: AbortOptions = {},
): Promise<{ nonce: Nonce; authority: Address }> {
  const account = await transport.getAccount(nonceAccount, options)
  if (account === null) {
    throw new LedgerError('LEDGER__ACCOUNT_NOT_FOUND', `nonce account ${nonceAccount} does not exist`, { nonceAccount })
  }
  if (account.programAddress !== SYSTEM_PROGRAM_ADDRESS || account.data.byteLength !== Number(NONCE_ACCOUNT_SPACE)) {
    throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `${nonceAccount} is not a nonce account`, { nonceAccount })
  }
  const decoded = getNonceDecoder().decode(account.data)
  if (decoded.state !== NONCE_INITIALIZED) {
    throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `nonce account ${nonceAccount} is not initialised`, {
      nonceAccount,
    })
  }
  return { nonce: decoded.blockhash as string as Nonce, authority: decoded.authority }
}

/** The nonce account and nonce value a signed transaction is bound to, or undefined for a blockhash lifetime. */
export function durableNonceOf(transaction: Transaction): { nonceAccount: Address; nonce: Nonce } | undefined {
  const decoded = decodeTransaction(transaction)
  const first = decoded.instructions[0]
  if (first === undefined || first.programAddress !== SYSTEM_PROGRAM_ADDRESS) return undefined
  const data = first.data
  if (
    data.byteLength !== 4 ||
    data[0] !== ADVANCE_NONCE_DISCRIMINATOR ||
    data[1] !== 0 ||
    data[2] !== 0 ||
    data[3] !== 0
  ) {
    return undefined
  }
  const nonceAccount = first.accounts[0]
  if (nonceAccount === undefined) return undefined
  return { nonceAccount, nonce: decoded.lifetimeToken as Nonce }
}
