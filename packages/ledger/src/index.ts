/**
 * @packageDocumentation
 *
 * `@tessera/ledger`: Settlement on Solana: multisig escrow, receipts, Merkle-batched anchoring, stake and slash records, LiteSVM or RPC transport. See README.md.
 */
export * from './errors.js'
