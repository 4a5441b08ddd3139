/**
 * @packageDocumentation
 *
 * `@tessera/ledger`: settlement on Solana. Multisig escrow per job, co-signed receipts batched per epoch into a
 * Merkle root anchored in one memo transaction, batched payouts, stake and slash records, and a crash-safe
 * settlement machine, over a `LedgerTransport`: LiteSVM in-process (the embedded default) or a cluster's JSON-RPC.
 * See README.md.
 *
 * @example
 * ```ts
 * import { openLedger, openEscrow, releaseEscrow } from '@tessera/ledger'
 *
 * const ledger = await openLedger({ dataDir: './data/ledger' })   // LiteSVM, persisted; a local demo mint
 * await ledger.airdrop({ tokens: 1_000_000n })
 * const { escrow } = await openEscrow(ledger.executor, {
 *   jobId: 'job-1', creator: ledger.wallet, source: await ledger.tokenAccount(),
 *   worker, arbiter, mint: ledger.mint, amount: 100_000n,
 * })
 * ```
 */
export * from './anchor.js'
export * from './batch.js'
export * from './constants.js'
export * from './data-dir-lock.js'
export * from './driver/settlement-driver.js'
export * from './errors.js'
export * from './escrow.js'
export * from './executor.js'
export * from './fee.js'
export * from './journal.js'
export * from './ledger.js'
export * from './memo.js'
export * from './nonce.js'
export * from './payout.js'
export * from './receipt.js'
export * from './settlement-machine.js'
export * from './stake.js'
export * from './token.js'
export * from './transaction.js'
export * from './transaction-decode.js'
export * from './vault.js'
export * from './wallet.js'
export * from './transport/litesvm-transport.js'
export * from './transport/retry.js'
export * from './transport/rpc-transport.js'
export * from './transport/transaction-error.js'
export * from './transport/transport.js'
