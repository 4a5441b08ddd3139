import { address, type Address } from '@solana/kit'

/** Defaults and bounds for `@tessera/ledger`. Every bound that protects a decoder or a transaction is named here. */

/**
 * SPL Memo v3. LiteSVM preloads Memo v1 and v3 but not v4, which `@solana-program/memo` targets by default, so every
 * memo instruction names this address explicitly.
 */
export const MEMO_V3_PROGRAM_ADDRESS: Address = address('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr')

/** Basis points in one whole. */
export const BPS_DENOMINATOR = 10_000n
/** Protocol fee taken from each payout, in basis points (1%; the Render seeds cite 0.5%–5%). */
export const DEFAULT_FEE_BPS = 100
/** A fee above this is refused as a configuration error. */
export const MAX_FEE_BPS = 10_000

/** Escrow and stake vaults are owned by an m-of-n SPL Token multisig. */
export const MULTISIG_THRESHOLD = 2
export const MULTISIG_SIGNER_COUNT = 3

/** Most token units a mint's supply, and so any token account, may hold: SPL Token counts them in a u64. */
export const MAX_TOKEN_UNITS = 0xffff_ffff_ffff_ffffn

/** Decimals of the local demo mint created on LiteSVM. */
export const DEFAULT_TOKEN_DECIMALS = 6

/** A legacy or v0 transaction on the wire holds at most this many bytes (1280 MTU less headers). */
export const TRANSACTION_SIZE_LIMIT = 1232
/**
 * Payees (plus the treasury) that one batched payout transaction carries. Measured (test/payout.spec.ts): with a
 * durable nonce, two multisig co-signers, plain transfers and a retry's attempt memo, 14 payees and the treasury
 * take 1,222 of the 1,232 bytes; each payee costs 49 bytes (its token account and a 17-byte transfer).
 */
export const MAX_PAYEES_PER_TRANSACTION = 14

/**
 * Signatures LiteSVM remembers. Its default (32) lets an identical transaction sent to it directly run again soon
 * after; through the transport one never does (it keeps the recent ones on record, and older ones can no longer
 * run: see `LiteSvmTransport`). Each remembered signature
 * costs about 330 bytes of the snapshot that is rewritten after every transaction: 100,000 made it 33 MB larger.
 */
export const DEFAULT_LITESVM_TRANSACTION_HISTORY = 1_024
/**
 * Transactions the embedded chain keeps readable (`getTransaction`, and its own record of what it ran), as a
 * non-archival RPC node keeps recent history: older ones answer null. A count, not slots: LiteSVM's clock does not
 * advance by itself. About ten times the signatures LiteSVM remembers, and far more than normally run between a
 * crash and the executor's next look at an intent the crash left open (see `LiteSvmTransport`).
 */
export const DEFAULT_LITESVM_RETAINED_TRANSACTIONS = 10_000
/**
 * The most transactions the embedded chain may keep: twice this many records of the largest transaction (about
 * 1.9 KB each) make a 380 MB log, read whole at every start, well under what a log may hold (2 GiB).
 */
export const MAX_LITESVM_RETAINED_TRANSACTIONS = 100_000
/**
 * The transaction log is compacted once it holds more than this many times the retained transactions, so each
 * transaction pays a constant share of one rewrite, and between transactions the log holds at most this multiple.
 */
export const LITESVM_LOG_COMPACTION_FACTOR = 2
/**
 * Failed transactions whose outcome the embedded chain keeps after their records are dropped (the most recent):
 * the executor looks a failed action's last attempt up before building it anew, which may be hours later, and an
 * unknown one with its nonce moved is ambiguous for good.
 */
export const MAX_LITESVM_KEPT_FAILURES = 1_024
/** Lamports LiteSVM's faucet hands out per local airdrop when asked without an amount. */
export const DEFAULT_LOCAL_AIRDROP_LAMPORTS = 10_000_000_000n

/** Space of a system-program durable nonce account. */
export const NONCE_ACCOUNT_SPACE = 80n

/** RPC transport defaults. */
export const DEFAULT_RPC_REQUEST_TIMEOUT_MS = 10_000
export const DEFAULT_CONFIRM_TIMEOUT_MS = 60_000
export const DEFAULT_CONFIRM_POLL_INTERVAL_MS = 400
export const DEFAULT_RETRY_ATTEMPTS = 5
export const DEFAULT_RETRY_BASE_DELAY_MS = 200
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000
/**
 * What reading one JSON-RPC reply may cost: its decoded bytes, and its number tokens. Kit's parser turns every integer
 * into a bigint at a cost far above a byte's (16 MiB of zeros stalled the event loop for tens of seconds and took
 * gigabytes), so a bound on bytes alone bounds neither memory nor time. A reply past either is
 * `LEDGER__RPC_REPLY_TOO_LARGE`, refused before it is parsed and not asked again.
 */
export interface RpcReplyBound {
  bytes: number
  numbers: number
}

/**
 * Replies of a few fixed fields — a balance, a blockhash, an epoch, a rent minimum, an airdrop's signature, the status
 * of the one signature the transport asks about at a time (its error nests at most 8 deep), or a JSON-RPC error
 * (its message up to 4 KiB) — are under 1 KB from an honest node, with a dozen numbers.
 */
export const SMALL_RPC_REPLY_BOUND: RpcReplyBound = { bytes: 16 * 1024, numbers: 256 }

/**
 * The bound of each method whose replies can be larger than {@link SMALL_RPC_REPLY_BOUND}; any other takes that one.
 *
 * - `getAccountInfo`: data up to {@link MAX_ACCOUNT_DATA_BYTES} in base64 (21.3 KiB) and a few fields.
 * - `sendTransaction`: a signature, or a preflight failure (-32002) carrying the simulation: logs under Solana's
 *   10,000-byte log limit (60 KB even if every character were escaped as `\uXXXX`), return data under 1 KiB, and one
 *   balance, and at most one token balance of about 300 bytes, per account (at most 256); about 110 KB and 1,500
 *   numbers at worst.
 * - `getTransaction`: the ledger reads its own transactions (at most 1,232 bytes on the wire, 1,644 in base64; memos,
 *   transfers, account creations whose few inner instructions are small) and anchors or slash records of others, of
 *   the same kinds; the same logs, balances and token balances as a simulation. A transaction with many large inner
 *   instructions may pass it: it is none the ledger reads.
 */
export const RPC_REPLY_BOUNDS: Readonly<Record<string, RpcReplyBound>> = {
  getAccountInfo: { bytes: 32 * 1024, numbers: 256 },
  sendTransaction: { bytes: 256 * 1024, numbers: 4096 },
  getTransaction: { bytes: 256 * 1024, numbers: 4096 },
}
/**
 * The largest WebSocket message read, and the most number tokens it may hold: a signature notification is under
 * 200 bytes with a few numbers, as are the replies to subscribe, unsubscribe and ping. Past either the channel closes
 * (1009), before the message is parsed, and confirmation polls instead.
 */
export const RPC_NOTIFICATION_BOUND: RpcReplyBound = { bytes: 16 * 1024, numbers: 256 }
/**
 * The deepest a JSON-RPC reply may nest arrays and objects (the transport's replies nest under 10): kit's reply
 * transformers recurse over a reply, so one nested hundreds of thousands deep would overflow the stack. Past it the
 * reply is refused as malformed, before it is parsed.
 */
export const MAX_RPC_REPLY_DEPTH = 64
/**
 * The deepest a transaction error's JSON may nest: Solana's nest at most 3 deep (`{ "InstructionError": [0,
 * { "Custom": 1 }] }`). A deeper one is not Solana's, and is refused as a malformed reply.
 */
export const MAX_TRANSACTION_ERROR_DEPTH = 8
/**
 * Account data larger than this in an RPC reply is refused: the accounts the ledger reads (nonce, mint, token and
 * multisig accounts of the SPL Token program) hold at most 355 bytes.
 */
export const MAX_ACCOUNT_DATA_BYTES = 16 * 1024
/** Signatures asked about in one getSignatureStatuses call (Solana's own limit is 256). */
export const MAX_SIGNATURES_PER_STATUS_REQUEST = 256

/** Settlement machine bounds and defaults. */
export const MAX_RECEIPTS_PER_EPOCH = 100_000
/** Epochs whose batches (for inclusion proofs) the machine keeps in memory. */
export const MAX_RETAINED_EPOCHS = 64
/** Task keys (`jobId/taskId`) remembered to refuse a receipt paid in an earlier epoch. */
export const MAX_REMEMBERED_TASKS = 1_000_000
export const DEFAULT_ACTION_RETRY_BASE_MS = 1_000
export const DEFAULT_ACTION_RETRY_MAX_MS = 60_000
export const DEFAULT_ACTION_MAX_ATTEMPTS = 8

/** Signing context of receipts: a receipt signature is never valid for anything else. */
export const RECEIPT_SIGNING_CONTEXT = 'tessera-receipt-v1'
/** Memo prefixes: `tessera:anchor:1:<epoch>:<size>:<root hex>` and `tessera:slash:1:<proof hash hex>:<vault>`. */
export const ANCHOR_MEMO_PREFIX = 'tessera:anchor:1'
export const SLASH_MEMO_PREFIX = 'tessera:slash:1'
/** Memo on a retried action's transaction, `tessera:attempt:<n>`, so that it differs from the failed attempt. */
export const ATTEMPT_MEMO_PREFIX = 'tessera:attempt'
/**
 * Memo on every local token mint, `tessera:mint:<random hex>`, so that a mint like an earlier one (same amount, same
 * account, same blockhash) is a transaction of its own rather than that one again.
 */
export const MINT_MEMO_PREFIX = 'tessera:mint'
/** Random bytes in a mint's memo: enough that two mints never draw the same. */
export const MINT_MEMO_RANDOM_BYTES = 16
/**
 * Earlier attempts an intent names as built on its own nonce (`rivals`), the latest: each costs its journal line
 * about 150 bytes, and only liveness hangs on them. All attempts on one nonce exclude each other whatever is kept;
 * a forgotten one that lands instead leaves the action `LEDGER__RECONCILE_AMBIGUOUS`, never paid twice.
 */
export const MAX_NONCE_RIVALS = 16
/** Memos longer than this are not ours and are not parsed. */
export const MAX_MEMO_BYTES = 512

/** Largest journal line accepted when reading (a base64 wire transaction is at most 1,644 characters). */
export const MAX_JOURNAL_LINE_BYTES = 16 * 1024

/** The fewest droppable journal records worth a rewrite at open (see `compactJournal`). */
export const JOURNAL_COMPACT_MIN_RECORDS = 256

/**
 * The largest LiteSVM snapshot read at open: what Node reads into one buffer. The snapshot holds every account and
 * the signatures LiteSVM remembers (each about 330 bytes), so a real one stays far below it.
 */
export const MAX_LITESVM_SNAPSHOT_BYTES = 2 ** 31 - 1

/** File names inside a ledger data directory. */
export const STATE_FILE = 'litesvm-state.bin'
export const TRANSACTION_LOG_FILE = 'litesvm-transactions.log'
export const JOURNAL_FILE = 'settlement-journal.log'
export const WALLET_FILE = 'wallet.json'
export const MULTISIG_REGISTRY_FILE = 'multisigs.json'
