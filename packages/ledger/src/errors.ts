import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/ledger`. Codes are stable: never reused or renamed. */
export type LedgerErrorCode =
  | 'LEDGER__INVALID_INPUT'
  | 'LEDGER__INVALID_FEE'
  | 'LEDGER__RPC_MALFORMED_REPLY'
  | 'LEDGER__RPC_REPLY_TOO_LARGE'
  | 'LEDGER__RPC_TIMEOUT'
  | 'LEDGER__RPC_UNAVAILABLE'
  | 'LEDGER__RPC_ERROR'
  | 'LEDGER__TRANSACTION_REJECTED'
  | 'LEDGER__TRANSACTION_TOO_LARGE'
  | 'LEDGER__BLOCKHASH_EXPIRED'
  | 'LEDGER__CONFIRMATION_TIMEOUT'
  | 'LEDGER__INSUFFICIENT_FUNDS'
  | 'LEDGER__ACCOUNT_NOT_FOUND'
  | 'LEDGER__MALFORMED_ACCOUNT'
  | 'LEDGER__ESCROW_MISMATCH'
  | 'LEDGER__AIRDROP_UNAVAILABLE'
  | 'LEDGER__STATE_CORRUPT'
  | 'LEDGER__JOURNAL_CORRUPT'
  | 'LEDGER__JOURNAL_MISMATCH'
  | 'LEDGER__LOG_WRITE_FAILED'
  | 'LEDGER__ACTION_RETIRED'
  | 'LEDGER__RECONCILE_AMBIGUOUS'
  | 'LEDGER__INVALID_KEY_FILE'
  | 'LEDGER__KEY_FILE_PERMISSIONS'
  | 'LEDGER__INVALID_RECEIPT'
  | 'LEDGER__INVALID_RECEIPT_SIGNATURE'
  | 'LEDGER__DUPLICATE_RECEIPT'
  | 'LEDGER__RECEIPTS_EXCEEDED'
  | 'LEDGER__EPOCH_CLOSED'
  | 'LEDGER__EPOCH_NOT_FOUND'
  | 'LEDGER__ANCHOR_NOT_FOUND'
  | 'LEDGER__MALFORMED_ANCHOR'
  | 'LEDGER__INVALID_FRAUD_PROOF'
  | 'LEDGER__ACTION_NOT_FOUND'
  | 'LEDGER__DATA_DIR_IN_USE'
  | 'LEDGER__DATA_DIR_UNREADABLE'
  | 'LEDGER__WALLET_MISSING'
  | 'LEDGER__JOURNAL_MISSING'
  | 'LEDGER__ACTION_PENDING'

/** An error raised by `@tessera/ledger`. */
export class LedgerError extends TesseraError<LedgerErrorCode> {
  static override name = 'LedgerError'
}

/** Narrows `e` to a {@link LedgerError}, optionally with the given code. */
export function isLedgerError<C extends LedgerErrorCode>(e: unknown, code?: C): e is LedgerError & { code: C } {
  return e instanceof LedgerError && (code === undefined || e.code === code)
}

/** Failures of the endpoint, not of the request: the same call may succeed later, so transports retry them. */
const TRANSIENT: ReadonlySet<LedgerErrorCode> = new Set<LedgerErrorCode>([
  'LEDGER__RPC_MALFORMED_REPLY',
  'LEDGER__RPC_TIMEOUT',
  'LEDGER__RPC_UNAVAILABLE',
])

/**
 * Failures after which an action may be tried again (by the settlement machine, with backoff): transient endpoint
 * failures, a reply too large to read (not asked again at once, as a transient failure is: the endpoint may mend by
 * the next try), a transaction that was not confirmed in time, a lifetime that ran out, and a transaction whose nonce
 * moved while no node knows it yet (tried again, its journaled intent is only looked up and re-sent as it is, never
 * built anew, until the chain says how it went). Rejections by the chain are not: the same transaction would be
 * rejected again.
 */
const RETRYABLE: ReadonlySet<LedgerErrorCode> = new Set<LedgerErrorCode>([
  ...TRANSIENT,
  'LEDGER__RPC_REPLY_TOO_LARGE',
  'LEDGER__CONFIRMATION_TIMEOUT',
  'LEDGER__BLOCKHASH_EXPIRED',
  'LEDGER__RECONCILE_AMBIGUOUS',
])

/** True when `e` is a transient endpoint failure that a transport retries with backoff. */
export function isTransientLedgerError(e: unknown): boolean {
  return e instanceof LedgerError && TRANSIENT.has(e.code)
}

/** True when an action that failed with `e` may be tried again later. */
export function isRetryableLedgerError(e: unknown): boolean {
  return e instanceof LedgerError && RETRYABLE.has(e.code)
}
