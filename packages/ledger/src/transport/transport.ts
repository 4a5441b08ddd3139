import type { AbortOptions } from '@tessera/core'
import type { Address, Blockhash, Commitment, EncodedAccount, Lamports, Signature, Transaction } from '@solana/kit'

/**
 * A transaction error in Solana's JSON shape, as the RPC returns it in `meta.err` and preflight replies:
 * `"BlockhashNotFound"`, `{ "InstructionError": [0, { "Custom": 1 }] }`, `{ "InstructionError": [1, "MissingRequiredSignature"] }`.
 * Both transports report errors in this one shape.
 */
export type TransactionErrorJson = string | { readonly [name: string]: unknown }

/** Where a signature stands on chain. */
export interface SignatureStatus {
  slot: bigint
  /** Null when the transaction succeeded. */
  err: TransactionErrorJson | null
  /**
   * The commitment the transaction has reached; null when the node did not say (Solana allows it), which is read as
   * no commitment at all: see {@link reachedCommitment}.
   */
  confirmationStatus: Commitment | null
}

const COMMITMENT_RANK: Record<Commitment, number> = { processed: 0, confirmed: 1, finalized: 2 }

/**
 * Whether `status` says its transaction has reached `commitment`, so that what it says (success or failure) is the
 * outcome to act on. A status without a confirmation status has reached none: the transport that waits for a
 * transaction and the executor that settles one after a restart decide by this one rule, so neither takes for done
 * what the other still waits for.
 */
export function reachedCommitment(status: SignatureStatus | null, commitment: Commitment): boolean {
  if (status === null || status.confirmationStatus === null) return false
  return COMMITMENT_RANK[status.confirmationStatus] >= COMMITMENT_RANK[commitment]
}

/** A transaction read back from the chain: the signed wire transaction itself, decoded, not its logs. */
export interface TransactionRecord {
  signature: Signature
  slot: bigint
  /** Null when the transaction succeeded; a transport that cannot tell throws instead of answering null. */
  err: TransactionErrorJson | null
  transaction: Transaction
}

/** A recent blockhash and the last block height at which a transaction using it can still land. */
export interface LatestBlockhash {
  blockhash: Blockhash
  lastValidBlockHeight: bigint
}

/**
 * The one seam between the ledger and a Solana chain, small enough that a fake is a few lines: send a signed
 * transaction and wait for it, read accounts, balances, blockhashes and transactions, airdrop where allowed.
 * `createLiteSvmTransport` runs the chain in-process (the embedded default); `createRpcTransport` talks to a cluster.
 * Everything above this interface (escrow, anchors, payouts, the settlement driver) runs unchanged on either.
 *
 * Errors are `LedgerError`s: `LEDGER__TRANSACTION_REJECTED` (the chain refused or failed it; context carries the
 * Solana error), `LEDGER__BLOCKHASH_EXPIRED`, `LEDGER__INSUFFICIENT_FUNDS`, `LEDGER__RPC_TIMEOUT`,
 * `LEDGER__RPC_UNAVAILABLE`, `LEDGER__RPC_MALFORMED_REPLY`, `LEDGER__CONFIRMATION_TIMEOUT`.
 */
export interface LedgerTransport {
  readonly kind: 'litesvm' | 'rpc'
  /** The commitment a transaction must reach to be confirmed ({@link reachedCommitment}). */
  readonly commitment: Commitment
  /**
   * Sends a fully signed transaction and resolves with its signature once it is confirmed and succeeded. Sending
   * the same signed transaction twice is safe: a copy the chain has already processed is reported by its status.
   */
  sendAndConfirm(transaction: Transaction, options?: AbortOptions): Promise<Signature>
  /** The status of a signature, or null when the chain does not know it. */
  getSignatureStatus(signature: Signature, options?: AbortOptions): Promise<SignatureStatus | null>
  /** An account, or null when it does not exist. */
  getAccount(address: Address, options?: AbortOptions): Promise<EncodedAccount | null>
  /** Lamports held by an address (0 when it does not exist). */
  getBalance(address: Address, options?: AbortOptions): Promise<Lamports>
  getLatestBlockhash(options?: AbortOptions): Promise<LatestBlockhash>
  /** A processed transaction, or null when the chain does not know the signature. */
  getTransaction(signature: Signature, options?: AbortOptions): Promise<TransactionRecord | null>
  getMinimumBalanceForRentExemption(space: bigint, options?: AbortOptions): Promise<Lamports>
  /** Free lamports on LiteSVM, a local validator or devnet; `LEDGER__AIRDROP_UNAVAILABLE` elsewhere. */
  requestAirdrop(address: Address, amount: Lamports, options?: AbortOptions): Promise<void>
  /** Releases sockets and, for LiteSVM, writes its state one last time. */
  close(): Promise<void>
}
