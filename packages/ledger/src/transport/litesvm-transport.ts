import {
  getBase58Decoder,
  getBase64Decoder,
  getBase64Encoder,
  getSignatureFromTransaction,
  getTransactionEncoder,
  isSignature,
  lamports as toLamports,
  type Address,
  type EncodedAccount,
  type Lamports,
  type Signature,
  type Transaction,
} from '@solana/kit'
import { logger as createLogger, type Logger } from '@libp2p/logger'
import { throwIfAborted, type AbortOptions } from '@tessera/core'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import {
  DEFAULT_LITESVM_RETAINED_TRANSACTIONS,
  DEFAULT_LITESVM_TRANSACTION_HISTORY,
  LITESVM_LOG_COMPACTION_FACTOR,
  MAX_LITESVM_KEPT_FAILURES,
  MAX_LITESVM_RETAINED_TRANSACTIONS,
} from '../constants.js'
import type { DurableLog } from '../durable-file.js'
import { LedgerError } from '../errors.js'
import { durableNonceOf, readNonce } from '../nonce.js'
import { SerialQueue } from '@tessera/core'
import { transactionFromWire } from '../transaction-decode.js'
import { type KeptFailure, loadLiteSvmState, saveLiteSvmSnapshot, type StoredTransaction } from './litesvm-state.js'
import { ledgerErrorFromTransactionError, transactionErrorJsonFromLiteSvm } from './transaction-error.js'
import type { LatestBlockhash, LedgerTransport, SignatureStatus, TransactionRecord } from './transport.js'

/** Blocks a LiteSVM blockhash is reported valid for, as on a cluster (LiteSVM itself only checks the latest). */
const BLOCKHASH_VALIDITY_BLOCKS = 150n

/** Options of {@link createLiteSvmTransport}. */
export interface LiteSvmTransportOptions {
  /**
   * Directory for the chain's state. When set, state is loaded from it and written back (atomically) after every
   * transaction and airdrop, so a restart keeps balances. When absent the chain lives in memory only.
   */
  dataDir?: string
  /**
   * Signatures LiteSVM remembers (its own default is 32, after which an identical transaction executes again; given
   * fewer than 32 it remembers none at all). The transport itself refuses to run again a transaction it has on
   * record, and tells a failed transaction LiteSVM ran from one it refused, whatever this says.
   * @default DEFAULT_LITESVM_TRANSACTION_HISTORY
   */
  transactionHistory?: number
  /**
   * Transactions kept on record, as a non-archival RPC node keeps recent history: the last this many (at times up
   * to twice as many) answer `getTransaction` and `getSignatureStatus`, also after a restart; older ones answer
   * null, and can no longer run again. From 1 to `MAX_LITESVM_RETAINED_TRANSACTIONS`.
   * @default DEFAULT_LITESVM_RETAINED_TRANSACTIONS
   */
  retainedTransactions?: number
  hooks?: LiteSvmTransportHooks
  /** @default logger('tessera:ledger:litesvm') */
  logger?: Logger
}

/**
 * Test seams inside log compaction. Every write before each is synced, so copying the data directory there gives
 * what a crash at that moment would leave.
 */
export interface LiteSvmTransportHooks {
  /** Compaction is due: the transaction that made it so is logged and in the snapshot; nothing is dropped yet. */
  beforeCompaction?(): void | Promise<void>
  /** The snapshot says which records are kept; the log still holds the older ones. */
  afterCompactionSnapshot?(): void | Promise<void>
}

/**
 * The embedded chain: LiteSVM in this process, with System, SPL Token, ATA, Memo v1/v3 and ComputeBudget loaded.
 * Transactions execute synchronously, so "confirmed" means executed; with a data directory the state is on disk
 * before `sendAndConfirm` resolves.
 */
export class LiteSvmTransport implements LedgerTransport {
  readonly kind = 'litesvm' as const
  /** What runs here is final at once: every status it reports is `finalized`. */
  readonly commitment = 'finalized' as const
  /** The LiteSVM instance, for demos and tests (e.g. `expireBlockhash()`). */
  readonly svm: LiteSVM
  readonly #dataDir: string | undefined
  readonly #log: DurableLog<StoredTransaction> | undefined
  /** The transactions on record, oldest first; `#first` is the absolute index of the first. */
  readonly #retained: StoredTransaction[] = []
  readonly #records = new Map<string, StoredTransaction>()
  /**
   * Outcomes of failed transactions whose records were dropped, oldest first, the latest MAX_LITESVM_KEPT_FAILURES:
   * a failed action is looked up before it is built anew, hours later perhaps (see `#compact`).
   */
  readonly #failures = new Map<string, KeptFailure>()
  #first: number
  /** The absolute index of the log file's first record: behind `#first` until the log is rewritten. */
  #logFirst: number
  readonly #retention: number
  readonly #hooks: LiteSvmTransportHooks
  readonly #logger: Logger
  readonly #queue = new SerialQueue()
  #closed = false

  private constructor(
    svm: LiteSVM,
    init: {
      dataDir?: string
      log?: DurableLog<StoredTransaction>
      first: number
      retention: number
      hooks: LiteSvmTransportHooks
      logger: Logger
    },
  ) {
    this.svm = svm
    this.#dataDir = init.dataDir
    this.#log = init.log
    this.#first = init.first
    this.#logFirst = init.first
    this.#retention = init.retention
    this.#hooks = init.hooks
    this.#logger = init.logger
  }

  /** Opens the chain, loading state from `options.dataDir` when there is some. */
  static async open(options: LiteSvmTransportOptions = {}): Promise<LiteSvmTransport> {
    const history = BigInt(options.transactionHistory ?? DEFAULT_LITESVM_TRANSACTION_HISTORY)
    const retention = retainedTransactionsOf(options)
    const logger = options.logger ?? createLogger('tessera:ledger:litesvm')
    const hooks = options.hooks ?? {}
    if (options.dataDir === undefined) {
      const svm = new LiteSVM().withTransactionHistory(history)
      return new LiteSvmTransport(svm, { first: 0, retention, hooks, logger })
    }
    const state = await loadLiteSvmState(options.dataDir)
    let svm: LiteSVM
    try {
      svm = state.svm === undefined ? new LiteSVM() : LiteSVM.fromBytes(state.svm)
    } catch (cause) {
      await state.log.close()
      throw new LedgerError(
        'LEDGER__STATE_CORRUPT',
        'LiteSVM could not load its snapshot',
        { dir: options.dataDir },
        { cause },
      )
    }
    svm.withTransactionHistory(history)
    const transport = new LiteSvmTransport(svm, {
      dataDir: options.dataDir,
      log: state.log,
      first: state.first,
      retention,
      hooks,
      logger,
    })
    for (const record of state.transactions) transport.#remember(record)
    for (const failure of state.failures) transport.#failures.set(failure.signature, failure)
    logger('opened LiteSVM state in %s with %d transactions', options.dataDir, state.transactions.length)
    // A log written before retention, or under a larger one, is cut down now rather than read whole again.
    await transport.#compactIfDue()
    return transport
  }

  async sendAndConfirm(transaction: Transaction, options: AbortOptions = {}): Promise<Signature> {
    return this.#exclusive(options, async () => {
      const signature = signatureOf(transaction)
      // Every transaction this chain ran recently is on record: one sent again gets its outcome and never runs
      // twice, however few signatures LiteSVM remembers (a cluster refuses it as processed, or its blockhash as
      // expired). An older one can no longer run at all: see #compact.
      if (this.#records.has(signature)) return this.#outcomeOfEarlier(signature, transaction)
      let result = this.#execute(transaction)
      if (
        result instanceof FailedTransactionMetadata &&
        (await this.#isNonceWaitingForNextBlock(transaction, result))
      ) {
        // A nonce cannot advance twice in one block; LiteSVM's block only moves when told to, so move it.
        this.svm.expireBlockhash()
        result = this.#execute(transaction)
      }
      if (!(result instanceof FailedTransactionMetadata)) {
        await this.#record(signature, transaction, null)
        return signature
      }
      const err = transactionErrorJsonFromLiteSvm(result.err())
      // A copy that already ran is refused as AlreadyProcessed, or as BlockhashNotFound once the nonce it used has
      // advanced (the age check comes first, as on a validator): either way its recorded outcome is the answer.
      if (err === 'AlreadyProcessed' || (err === 'BlockhashNotFound' && this.#records.has(signature))) {
        return this.#outcomeOfEarlier(signature, transaction)
      }
      const executed = ranAndFailed(result, signature)
      if (executed) await this.#record(signature, transaction, err)
      this.#logger('transaction %s failed: %o', signature, err)
      throw ledgerErrorFromTransactionError(err, { signature, transaction, executed, logs: result.meta().logs() })
    })
  }

  async getSignatureStatus(signature: Signature, options: AbortOptions = {}): Promise<SignatureStatus | null> {
    throwIfAborted(options.signal)
    assertSignature(signature)
    const record = this.#records.get(signature) ?? this.#failures.get(signature)
    if (record !== undefined) return { slot: BigInt(record.slot), err: record.err, confirmationStatus: 'finalized' }
    const meta = this.svm.getTransaction(signature)
    if (meta === null) return null
    const err = meta instanceof FailedTransactionMetadata ? transactionErrorJsonFromLiteSvm(meta.err()) : null
    return { slot: this.svm.getClock().slot, err, confirmationStatus: 'finalized' }
  }

  async getAccount(address: Address, options: AbortOptions = {}): Promise<EncodedAccount | null> {
    throwIfAborted(options.signal)
    const account = this.svm.getAccount(address)
    if (!account.exists) return null
    return {
      address: account.address,
      data: account.data,
      executable: account.executable,
      lamports: account.lamports,
      programAddress: account.programAddress,
      space: account.space,
    }
  }

  async getBalance(address: Address, options: AbortOptions = {}): Promise<Lamports> {
    throwIfAborted(options.signal)
    return this.svm.getBalance(address) ?? toLamports(0n)
  }

  async getLatestBlockhash(options: AbortOptions = {}): Promise<LatestBlockhash> {
    throwIfAborted(options.signal)
    return {
      blockhash: this.svm.latestBlockhash(),
      lastValidBlockHeight: this.svm.getClock().slot + BLOCKHASH_VALIDITY_BLOCKS,
    }
  }

  async getTransaction(signature: Signature, options: AbortOptions = {}): Promise<TransactionRecord | null> {
    throwIfAborted(options.signal)
    assertSignature(signature)
    const record = this.#records.get(signature)
    if (record === undefined) return null
    return {
      signature,
      slot: BigInt(record.slot),
      err: record.err,
      transaction: transactionFromWire(new Uint8Array(getBase64Encoder().encode(record.wire))),
    }
  }

  async getMinimumBalanceForRentExemption(space: bigint, options: AbortOptions = {}): Promise<Lamports> {
    throwIfAborted(options.signal)
    return toLamports(this.svm.minimumBalanceForRentExemption(space))
  }

  async requestAirdrop(address: Address, amount: Lamports, options: AbortOptions = {}): Promise<void> {
    await this.#exclusive(options, async () => {
      let result = this.svm.airdrop(address, amount)
      // The faucet signs its transfer on the latest blockhash, which LiteSVM moves only when told to: an airdrop of
      // the amount asked before is that very transaction, refused as processed. Each call asks for a new airdrop (none
      // retries one), so the blockhash is moved and the faucet signs another.
      if (
        result instanceof FailedTransactionMetadata &&
        transactionErrorJsonFromLiteSvm(result.err()) === 'AlreadyProcessed'
      ) {
        this.svm.expireBlockhash()
        result = this.svm.airdrop(address, amount)
      }
      if (result === null || result instanceof FailedTransactionMetadata) {
        throw new LedgerError('LEDGER__AIRDROP_UNAVAILABLE', `LiteSVM refused to airdrop to ${address}`, {
          address,
          err: result === null ? null : transactionErrorJsonFromLiteSvm(result.err()),
        })
      }
      await this.save()
    })
  }

  /** Writes the state snapshot now (it is also written after every transaction when a data directory is set). */
  async save(): Promise<void> {
    if (this.#dataDir === undefined) return
    await saveLiteSvmSnapshot(this.#dataDir, this.svm.toBytes(), {
      first: this.#first,
      transactions: this.#end,
      failures: [...this.#failures.values()],
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#queue.idle()
    await this.save()
    await this.#log?.close()
  }

  #execute(transaction: Transaction) {
    try {
      return this.svm.sendTransaction(transaction)
    } catch (cause) {
      throw new LedgerError(
        'LEDGER__INVALID_INPUT',
        'LiteSVM could not take the transaction (is it fully signed?)',
        {},
        { cause },
      )
    }
  }

  /** True when a durable-nonce transaction failed only because its nonce was set in the current block. */
  async #isNonceWaitingForNextBlock(transaction: Transaction, result: FailedTransactionMetadata): Promise<boolean> {
    if (transactionErrorJsonFromLiteSvm(result.err()) !== 'BlockhashNotFound') return false
    const bound = durableNonceOf(transaction)
    if (bound === undefined) return false
    try {
      return (await readNonce(this, bound.nonceAccount)).nonce === bound.nonce
    } catch {
      return false
    }
  }

  /** The outcome of a transaction LiteSVM says it has already processed. */
  async #outcomeOfEarlier(signature: Signature, transaction: Transaction): Promise<Signature> {
    const status = await this.getSignatureStatus(signature)
    if (status === null || status.err === null) return signature
    throw ledgerErrorFromTransactionError(status.err, { signature, transaction, executed: true })
  }

  async #record(signature: Signature, transaction: Transaction, err: StoredTransaction['err']): Promise<void> {
    const record: StoredTransaction = {
      n: this.#end,
      signature,
      slot: this.svm.getClock().slot.toString(),
      err,
      wire: getBase64Decoder().decode(getTransactionEncoder().encode(transaction)),
    }
    this.#remember(record)
    await this.#log?.append(record)
    await this.save()
    await this.#compactIfDue()
  }

  #remember(record: StoredTransaction): void {
    this.#retained.push(record)
    this.#records.set(record.signature, record)
  }

  /** The absolute index the next transaction logged gets: the number ever logged. */
  get #end(): number {
    return this.#first + this.#retained.length
  }

  /**
   * Compacts once the log holds more than LITESVM_LOG_COMPACTION_FACTOR times the retention. The transaction that
   * made it due is durable already, so a failure is logged rather than thrown at its sender, and compaction is
   * tried again after the next transaction.
   */
  async #compactIfDue(): Promise<void> {
    if (this.#end - this.#logFirst <= this.#retention * LITESVM_LOG_COMPACTION_FACTOR) return
    try {
      await this.#compact()
    } catch (e) {
      this.#logger.error('compacting the transaction log failed; trying again after the next transaction: %e', e)
    }
  }

  /**
   * Drops the records of all but the last `retainedTransactions` transactions: from memory, then from the snapshot
   * (which says where the kept ones start), then from the log, rewritten atomically (the order litesvm-state.ts
   * relies on).
   *
   * A dropped transaction must never succeed twice, though the transport no longer knows it (nor, further back than
   * `transactionHistory`, does LiteSVM). With a durable nonce it cannot: succeeding moved the nonce (LiteSVM may
   * leave it where it was after a failure, and that transaction may run again, to succeed at most once). With a
   * blockhash it could, since LiteSVM takes its latest blockhash for as long as nothing expires it; so the
   * blockhash is expired here, in the same snapshot that drops the records and before the log does, and every
   * dropped transaction's blockhash is old for good (LiteSVM accepts only its latest). A sender holding the expired
   * one gets `LEDGER__BLOCKHASH_EXPIRED` once and builds anew, as after any expiry.
   *
   * Nor may a dropped transaction make a journaled intent look as if it never ran, which could pay twice. On
   * LiteSVM an intent is left open only by a crash (or an abort) between the transaction's record and the
   * journal's outcome; the executor asks `getSignatureStatus` about it when it next reconciles (`openLedger` does as
   * it opens, so at the restart) or runs that action again, normally a handful of transactions later, well within
   * the retention: it finds the outcome. Nothing bounds that wait, so safety does not rest on it:
   * an unknown signature makes the executor read the intent's durable nonce. Moved, the intent is
   * `LEDGER__RECONCILE_AMBIGUOUS`, refused and never built anew (an operator checks it by hand); not moved, the
   * transaction never succeeded (succeeding moves it), so its same bytes sent again succeed at most once. A failed
   * action's last attempt is looked up before it is built anew, which may be an hour later (a settlement's retries
   * pause up to that long) when thousands of transactions may have run: so the outcomes of dropped failed
   * transactions are kept (the latest MAX_LITESVM_KEPT_FAILURES, in the snapshot), and its failure is still known.
   * Dropping history costs liveness at worst, never a second payment.
   */
  async #compact(): Promise<void> {
    const end = this.#end
    await this.#hooks.beforeCompaction?.()
    const first = end - this.#retention
    // Not so when only the rewrite of the log is left, after it failed.
    if (first > this.#first) {
      this.svm.expireBlockhash()
      for (const record of this.#retained.splice(0, first - this.#first)) {
        if (this.#records.get(record.signature) === record) this.#records.delete(record.signature)
        if (record.err !== null) this.#keepFailure({ signature: record.signature, slot: record.slot, err: record.err })
      }
      this.#first = first
      await this.save()
      await this.#hooks.afterCompactionSnapshot?.()
    }
    await this.#log?.replace(this.#retained)
    this.#logFirst = this.#first
    this.#logger('kept transactions %d to %d of the log', this.#first, end - 1)
  }

  /** Keeps a dropped failed transaction's outcome, forgetting the oldest kept past MAX_LITESVM_KEPT_FAILURES. */
  #keepFailure(failure: KeptFailure): void {
    this.#failures.delete(failure.signature)
    this.#failures.set(failure.signature, failure)
    if (this.#failures.size > MAX_LITESVM_KEPT_FAILURES) {
      this.#failures.delete(this.#failures.keys().next().value as string)
    }
  }

  /** Runs state-changing work one call at a time, so each snapshot holds whole transactions. */
  #exclusive<T>(options: AbortOptions, work: () => Promise<T>): Promise<T> {
    return this.#queue.run(() => {
      if (this.#closed) throw new LedgerError('LEDGER__INVALID_INPUT', 'the LiteSVM transport is closed')
      return work()
    }, options)
  }
}

function retainedTransactionsOf(options: LiteSvmTransportOptions): number {
  const retention = options.retainedTransactions ?? DEFAULT_LITESVM_RETAINED_TRANSACTIONS
  if (!Number.isSafeInteger(retention) || retention < 1 || retention > MAX_LITESVM_RETAINED_TRANSACTIONS) {
    throw new LedgerError(
      'LEDGER__INVALID_INPUT',
      `retainedTransactions must be a whole number from 1 to ${MAX_LITESVM_RETAINED_TRANSACTIONS}, got ${retention}`,
      { retainedTransactions: retention, max: MAX_LITESVM_RETAINED_TRANSACTIONS },
    )
  }
  return retention
}

/** LiteSVM's native code aborts the process on a malformed signature, so check it here. */
function assertSignature(signature: string): void {
  if (!isSignature(signature)) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'not a base58 transaction signature', {
      signature: signature.slice(0, 100),
    })
  }
}

/**
 * Whether LiteSVM ran a failed transaction (loaded it and charged its fee, so a cluster would record it) rather than
 * refuse it up front (an expired blockhash, a fee payer that cannot pay): only then does the result's metadata name
 * its signature. LiteSVM's signature history cannot say: it may hold nothing (see `transactionHistory`).
 */
function ranAndFailed(result: FailedTransactionMetadata, signature: Signature): boolean {
  return getBase58Decoder().decode(result.meta().signature()) === signature
}

function signatureOf(transaction: Transaction): Signature {
  try {
    return getSignatureFromTransaction(transaction)
  } catch (cause) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'the transaction has no fee payer signature', {}, { cause })
  }
}

/** Opens the embedded LiteSVM chain. */
export function createLiteSvmTransport(options: LiteSvmTransportOptions = {}): Promise<LiteSvmTransport> {
  return LiteSvmTransport.open(options)
}
