import {
  createSolanaRpcFromTransport,
  getBase64EncodedWireTransaction,
  getBase64Encoder,
  getSignatureFromTransaction,
  isSolanaError,
  isTransactionWithBlockhashLifetime,
  lamports as toLamports,
  SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR,
  type Address,
  type Commitment,
  type EncodedAccount,
  type Lamports,
  type RpcSubscriptions,
  type RpcTransport,
  type Signature,
  type SolanaRpcSubscriptionsApi,
  type Transaction,
} from '@solana/kit'
import { logger as createLogger, type Logger } from '@libp2p/logger'
import { AbortError, delay, withTimeout, type AbortOptions } from '@tessera/core'
import type { z } from 'zod'
import {
  DEFAULT_CONFIRM_POLL_INTERVAL_MS,
  DEFAULT_CONFIRM_TIMEOUT_MS,
  DEFAULT_RPC_REQUEST_TIMEOUT_MS,
  RPC_NOTIFICATION_BOUND,
} from '../constants.js'
import { LedgerError, isLedgerError } from '../errors.js'
import { durableNonceOf, readNonce } from '../nonce.js'
import { base58, transactionFromWire, unverifiedSigner } from '../transaction-decode.js'
import { boundedHttpTransport } from './bounded-http.js'
import { boundedRpcSubscriptions } from './bounded-websocket.js'
import {
  accountInfoReply,
  balanceReply,
  epochInfoReply,
  jsonRpcEnvelope,
  lamportsReply,
  latestBlockhashReply,
  parseReply,
  preflightFailureData,
  signatureNotification,
  signatureReply,
  signatureStatusesReply,
  transactionReply,
} from './rpc-replies.js'
import { parseRetryAfter, withRetry, type RetryEvent, type RetryPolicy } from './retry.js'
import { ledgerErrorFromTransactionError } from './transaction-error.js'
import {
  reachedCommitment,
  type LatestBlockhash,
  type LedgerTransport,
  type SignatureStatus,
  type TransactionErrorJson,
  type TransactionRecord,
} from './transport.js'

/** Options of {@link createRpcTransport}. */
export interface RpcTransportOptions {
  /** HTTP JSON-RPC endpoint, e.g. `http://127.0.0.1:8899` (solana-test-validator) or `https://api.devnet.solana.com`. */
  url: string
  /** WebSocket endpoint for signature notifications; without it confirmation polls `getSignatureStatuses`. */
  wsUrl?: string
  /** @default 'confirmed' */
  commitment?: Commitment
  /** Each HTTP request is abandoned after this long (`LEDGER__RPC_TIMEOUT`, retried). @default 10_000 */
  requestTimeoutMs?: number
  /** `sendAndConfirm` gives up after this long (`LEDGER__CONFIRMATION_TIMEOUT`). @default 60_000 */
  confirmTimeoutMs?: number
  /** Between status polls; with a WebSocket, polls run 5× less often as a fallback. @default 400 */
  pollIntervalMs?: number
  /** Backoff for retryable failures (timeouts, unavailable or garbled endpoints). */
  retry?: RetryPolicy
  /** Called before each retry, e.g. for metrics. */
  onRetry?: (event: RetryEvent) => void
  /** Whether `requestAirdrop` may be used (a local validator or devnet). @default true */
  airdrop?: boolean
  /** @default logger('tessera:ledger:rpc') */
  logger?: Logger
}

/** JSON-RPC error codes a healthy node may return while behind or busy: worth retrying. */
const TRANSIENT_RPC_CODES = new Set([-32603, -32005, -32004, -32007, -32014, -32016, 429])
const PREFLIGHT_FAILURE = -32002
/** HTTP statuses whose `Retry-After` says when to ask again: 429 Too Many Requests, 503 Service Unavailable. */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503])
const WS_FALLBACK_POLL_FACTOR = 5
/** Rebroadcast an unconfirmed transaction this often (same bytes, same signature: harmless). */
const RESEND_EVERY_POLLS = 5

/**
 * A Solana cluster over JSON-RPC, through `@solana/kit`'s RPC client with a transport wrapper that turns every
 * failure into a coded error: HTTP failures and transient node errors are `LEDGER__RPC_UNAVAILABLE`, slow replies
 * `LEDGER__RPC_TIMEOUT`, replies that are not JSON-RPC or not the documented shape `LEDGER__RPC_MALFORMED_REPLY`;
 * all three are retried with exponential backoff. A reply past its method's bound (`RPC_REPLY_BOUNDS`) is
 * `LEDGER__RPC_REPLY_TOO_LARGE`, not asked again. Preflight rejections carry Solana's error.
 */
export class SolanaRpcTransport implements LedgerTransport {
  readonly kind = 'rpc' as const
  readonly commitment: Commitment
  readonly #rpc: ReturnType<typeof createSolanaRpcFromTransport<RpcTransport>>
  readonly #subscriptions: RpcSubscriptions<SolanaRpcSubscriptionsApi> | undefined
  readonly #requestTimeoutMs: number
  readonly #confirmTimeoutMs: number
  readonly #pollIntervalMs: number
  readonly #retry: RetryPolicy
  readonly #onRetry: ((event: RetryEvent) => void) | undefined
  readonly #airdrop: boolean
  readonly #logger: Logger
  readonly #closer = new AbortController()

  constructor(options: RpcTransportOptions) {
    this.#rpc = createSolanaRpcFromTransport(codedTransport(boundedHttpTransport(options.url)))
    this.#subscriptions =
      options.wsUrl === undefined ? undefined : boundedRpcSubscriptions(options.wsUrl, RPC_NOTIFICATION_BOUND)
    this.commitment = options.commitment ?? 'confirmed'
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_RPC_REQUEST_TIMEOUT_MS
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_CONFIRM_POLL_INTERVAL_MS
    this.#retry = options.retry ?? {}
    this.#onRetry = options.onRetry
    this.#airdrop = options.airdrop ?? true
    this.#logger = options.logger ?? createLogger('tessera:ledger:rpc')
  }

  async sendAndConfirm(transaction: Transaction, options: AbortOptions = {}): Promise<Signature> {
    const signature = getSignatureFromTransaction(transaction)
    const signal = this.#signal(options)
    const deadline = withTimeout(signal, this.#confirmTimeoutMs)
    try {
      await this.#send(transaction, signature, { signal })
      return await this.#confirm(transaction, signature, deadline)
    } catch (e) {
      if (deadline.aborted && !signal.aborted) {
        throw new LedgerError(
          'LEDGER__CONFIRMATION_TIMEOUT',
          `transaction ${signature} was not confirmed within ${this.#confirmTimeoutMs} ms; it may still land, so check its status before building another`,
          { signature },
          { cause: e },
        )
      }
      throw e
    }
  }

  async getSignatureStatus(signature: Signature, options: AbortOptions = {}): Promise<SignatureStatus | null> {
    return (await this.#signatureStatus(signature, options)).status
  }

  /**
   * A signature's status, with the slot the answering node had reached (its reply's context). With `successTrusted`
   * (an airdrop's, whose success pays no one) a success is believed as reported, without its record.
   */
  async #signatureStatus(
    signature: Signature,
    options: AbortOptions,
    successTrusted = false,
  ): Promise<{ slot: bigint; status: SignatureStatus | null }> {
    const reply = await this.#call(
      'getSignatureStatuses',
      signatureStatusesReply,
      (abortSignal) =>
        this.#rpc.getSignatureStatuses([signature], { searchTransactionHistory: true }).send({ abortSignal }),
      options,
    )
    if (reply.value.length !== 1) {
      throw new LedgerError(
        'LEDGER__RPC_MALFORMED_REPLY',
        'getSignatureStatuses returned the wrong number of statuses',
        {
          method: 'getSignatureStatuses',
          count: reply.value.length,
        },
      )
    }
    const status = reply.value[0]
    if (status === null || status === undefined) return { slot: reply.context.slot, status: null }
    const reported = { slot: status.slot, err: status.err, confirmationStatus: confirmationOf(status) }
    if (!reachedCommitment(reported, this.commitment) || (successTrusted && reported.err === null)) {
      return { slot: reply.context.slot, status: reported }
    }
    // An outcome at the commitment is believed only as the transaction's record tells it: unproven, it reaches none.
    const recorded = await this.#recordedStatus(signature, options)
    return { slot: reply.context.slot, status: recorded ?? { ...reported, confirmationStatus: null } }
  }

  /**
   * `signature`'s outcome as its `getTransaction` record tells it, or null when no node has the record at the
   * commitment it is read at. A failure is believed only from here: the record is tied to the signature (its bytes
   * are the transaction the signature signs, see {@link verifiedTransaction}), where a status is tied to it only by
   * its place in a list and a notification by a subscription number, which a node can mix up with another's. A
   * failure believed on a mixed-up reply lets a payment that landed be built anew, and paid twice; a success, one that
   * never landed be journaled paid, and its payee never paid.
   */
  async #recordedStatus(signature: Signature, options: AbortOptions): Promise<SignatureStatus | null> {
    const record = await this.getTransaction(signature, options)
    if (record === null) return null
    return { slot: record.slot, err: record.err, confirmationStatus: this.#recordCommitment }
  }

  /** The commitment transactions are read at: `getTransaction` refuses `processed`. */
  get #recordCommitment(): Commitment {
    return this.commitment === 'processed' ? 'confirmed' : this.commitment
  }

  async getAccount(address: Address, options: AbortOptions = {}): Promise<EncodedAccount | null> {
    const reply = await this.#call(
      'getAccountInfo',
      accountInfoReply,
      (abortSignal) =>
        this.#rpc.getAccountInfo(address, { encoding: 'base64', commitment: this.commitment }).send({ abortSignal }),
      options,
    )
    if (reply.value === null) return null
    const data = new Uint8Array(getBase64Encoder().encode(reply.value.data[0]))
    return {
      address,
      data,
      executable: reply.value.executable,
      lamports: toLamports(reply.value.lamports),
      programAddress: reply.value.owner,
      space: BigInt(data.byteLength),
    }
  }

  async getBalance(address: Address, options: AbortOptions = {}): Promise<Lamports> {
    const reply = await this.#call(
      'getBalance',
      balanceReply,
      (abortSignal) => this.#rpc.getBalance(address, { commitment: this.commitment }).send({ abortSignal }),
      options,
    )
    return toLamports(reply.value)
  }

  async getLatestBlockhash(options: AbortOptions = {}): Promise<LatestBlockhash> {
    const reply = await this.#call(
      'getLatestBlockhash',
      latestBlockhashReply,
      (abortSignal) => this.#rpc.getLatestBlockhash({ commitment: this.commitment }).send({ abortSignal }),
      options,
    )
    return reply.value
  }

  async getTransaction(signature: Signature, options: AbortOptions = {}): Promise<TransactionRecord | null> {
    const reply = await this.#call(
      'getTransaction',
      transactionReply,
      (abortSignal) =>
        this.#rpc
          .getTransaction(signature, {
            encoding: 'base64',
            maxSupportedTransactionVersion: 0,
            commitment: this.#recordCommitment,
          })
          .send({ abortSignal }),
      options,
    )
    if (reply === null) return null
    // Solana allows `meta: null` (a node that kept the transaction but not its status). Its outcome is then
    // unknown, and callers read `err: null` as success (an anchor or slash record is believed on it), so it is
    // refused like any reply that does not answer the question; another node, or a later attempt, may have it.
    if (reply.meta === null) {
      throw new LedgerError(
        'LEDGER__RPC_MALFORMED_REPLY',
        `getTransaction returned ${signature} without its status meta, so whether it succeeded is unknown`,
        { method: 'getTransaction', signature },
      )
    }
    return {
      signature,
      slot: reply.slot,
      err: reply.meta.err,
      transaction: verifiedTransaction(reply.transaction[0], signature),
    }
  }

  async getMinimumBalanceForRentExemption(space: bigint, options: AbortOptions = {}): Promise<Lamports> {
    const reply = await this.#call(
      'getMinimumBalanceForRentExemption',
      lamportsReply,
      (abortSignal) => this.#rpc.getMinimumBalanceForRentExemption(space).send({ abortSignal }),
      options,
    )
    return toLamports(reply)
  }

  async requestAirdrop(address: Address, amount: Lamports, options: AbortOptions = {}): Promise<void> {
    if (!this.#airdrop) {
      throw new LedgerError('LEDGER__AIRDROP_UNAVAILABLE', 'airdrops are disabled for this cluster; fund the wallet', {
        address,
      })
    }
    const signature = await this.#call(
      'requestAirdrop',
      signatureReply,
      (abortSignal) => this.#rpc.requestAirdrop(address, amount, { commitment: this.commitment }).send({ abortSignal }),
      options,
    )
    const deadline = withTimeout(this.#signal(options), this.#confirmTimeoutMs)
    await this.#confirm(undefined, signature, deadline, true)
  }

  async close(): Promise<void> {
    this.#closer.abort()
  }

  #signal(options: AbortOptions): AbortSignal {
    return options.signal === undefined ? this.#closer.signal : AbortSignal.any([options.signal, this.#closer.signal])
  }

  /** One RPC call: per-request timeout, reply validation, retries with backoff for retryable failures. */
  #call<S extends z.ZodType>(
    method: string,
    schema: S,
    request: (signal: AbortSignal) => Promise<unknown>,
    options: AbortOptions,
  ): Promise<z.output<S>> {
    const signal = this.#signal(options)
    return withRetry(
      method,
      async () => {
        const attemptSignal = withTimeout(signal, this.#requestTimeoutMs)
        let reply: unknown
        try {
          reply = await request(attemptSignal)
        } catch (e) {
          throw this.#coded(e, method, signal)
        }
        return parseReply(schema, reply, method)
      },
      this.#retry,
      { signal, onRetry: (event) => this.#retried(event) },
    )
  }

  #retried(event: RetryEvent): void {
    this.#logger(
      'retrying %s (attempt %d) in %d ms: %s',
      event.operation,
      event.attempt,
      event.delayMs,
      String(event.error),
    )
    this.#onRetry?.(event)
  }

  /**
   * Maps anything a request threw to a coded error (or AbortError when the caller gave up). An endpoint out of reach
   * is already `LEDGER__RPC_UNAVAILABLE` (see {@link boundedHttpTransport}); anything else uncoded, such as a
   * `TypeError` of a reply's reader, is `LEDGER__RPC_ERROR`, not retried.
   */
  #coded(e: unknown, method: string, callerSignal: AbortSignal): unknown {
    if (e instanceof LedgerError) return e
    if (callerSignal.aborted) return new AbortError()
    if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      return new LedgerError('LEDGER__RPC_TIMEOUT', `${method} got no reply in ${this.#requestTimeoutMs} ms`, {
        method,
      })
    }
    if (isSolanaError(e, SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR)) {
      const status = e.context.statusCode
      // A busy or rate-limiting endpoint may say when to come back (RFC 9110, 10.2.3): the retry waits at least that.
      const retryAfterMs = RETRY_AFTER_STATUSES.has(status)
        ? parseRetryAfter(e.context.headers.get('retry-after'), Date.now())
        : undefined
      return new LedgerError('LEDGER__RPC_UNAVAILABLE', `${method} failed with HTTP ${status}`, {
        method,
        status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      })
    }
    return new LedgerError('LEDGER__RPC_ERROR', `${method} failed: ${String(e)}`, { method }, { cause: e })
  }

  /** Sends the wire transaction (retrying transport failures: the same bytes cannot execute twice). */
  async #send(transaction: Transaction, signature: Signature, options: { signal: AbortSignal }): Promise<void> {
    try {
      const sent = await this.#call(
        'sendTransaction',
        signatureReply,
        (abortSignal) =>
          this.#rpc
            .sendTransaction(getBase64EncodedWireTransaction(transaction), {
              encoding: 'base64',
              preflightCommitment: this.commitment,
            })
            .send({ abortSignal }),
        options,
      )
      if (sent !== signature) {
        throw new LedgerError('LEDGER__RPC_MALFORMED_REPLY', 'sendTransaction returned another signature', {
          method: 'sendTransaction',
          expected: signature,
          got: sent,
        })
      }
    } catch (e) {
      // A copy already landed (an earlier attempt whose reply we lost, or a deliberate re-send): the chain refuses
      // it as AlreadyProcessed, or as BlockhashNotFound once its nonce has moved on. Its status decides the outcome.
      if (isLedgerError(e) && e.context.err === 'AlreadyProcessed') return
      if (isLedgerError(e, 'LEDGER__BLOCKHASH_EXPIRED')) {
        if ((await this.getSignatureStatus(signature, options)) !== null) return
        // Its nonce moved while no node knows it: ours may have moved it, so it is ambiguous, not expired.
        if (await this.#failIfNonceMoved(transaction, signature, this.#signal(options))) return
      }
      throw e
    }
  }

  /**
   * Waits for `signature` to reach the commitment: the first of a WebSocket notification (when configured) and
   * status polling decides. The WebSocket side never fails the wait on its own: a broken subscription or a garbled
   * notification leaves polling to finish the job. `successTrusted`: see {@link #signatureStatus}.
   */
  async #confirm(
    transaction: Transaction | undefined,
    signature: Signature,
    deadline: AbortSignal,
    successTrusted = false,
  ): Promise<Signature> {
    const done = new AbortController()
    const signal = AbortSignal.any([deadline, done.signal])
    const waiters = [this.#poll(transaction, signature, signal, successTrusted)]
    if (this.#subscriptions !== undefined) {
      waiters.push(this.#notified(transaction, signature, signal, successTrusted))
    }
    try {
      return await Promise.race(waiters)
    } finally {
      done.abort()
      await Promise.allSettled(waiters)
    }
  }

  async #notified(
    transaction: Transaction | undefined,
    signature: Signature,
    signal: AbortSignal,
    successTrusted: boolean,
  ): Promise<Signature> {
    let err: TransactionErrorJson | null | undefined
    try {
      const notifications = await this.#subscriptions!.signatureNotifications(signature, {
        commitment: this.commitment,
      }).subscribe({ abortSignal: signal })
      for await (const raw of notifications) {
        const notification = parseReply(signatureNotification, raw, 'signatureNotification')
        if (notification.value === 'receivedSignature') continue
        err = notification.value.err as TransactionErrorJson | null
        break
      }
    } catch (e) {
      // A closed channel says why in its cause (e.g. a message past the bound).
      const cause = e instanceof Error && e.cause !== undefined ? ` (${String(e.cause)})` : ''
      if (!signal.aborted) this.#logger('signature notifications failed, polling instead: %s%s', String(e), cause)
    }
    if (err === undefined) return never(signal)
    if (err === null && successTrusted) return signature
    // An outcome is believed only as the transaction's record tells it (see #recordedStatus); without one, polling
    // decides.
    const recorded = await this.#recordedStatus(signature, { signal }).catch(() => null)
    if (recorded === null) return never(signal)
    if (recorded.err !== null) {
      throw ledgerErrorFromTransactionError(recorded.err, { signature, transaction, executed: true })
    }
    return signature
  }

  async #poll(
    transaction: Transaction | undefined,
    signature: Signature,
    signal: AbortSignal,
    successTrusted: boolean,
  ): Promise<Signature> {
    const interval =
      this.#subscriptions === undefined ? this.#pollIntervalMs : this.#pollIntervalMs * WS_FALLBACK_POLL_FACTOR
    // A transaction read back from its wire bytes has lost it: it is then only waited for, up to confirmTimeoutMs.
    const lastValidBlockHeight =
      transaction !== undefined && isTransactionWithBlockhashLifetime(transaction)
        ? transaction.lifetimeConstraint.lastValidBlockHeight
        : undefined
    for (let round = 1; ; round++) {
      const { status } = await this.#signatureStatus(signature, { signal }, successTrusted)
      // A failure, like a success, is the outcome only once the transaction reaches the commitment.
      if (status !== null && status.err !== null && reachedCommitment(status, this.commitment)) {
        throw ledgerErrorFromTransactionError(status.err, { signature, transaction, executed: true })
      }
      if (reachedCommitment(status, this.commitment)) return signature
      if (status === null && transaction !== undefined) {
        await this.#failIfNonceMoved(transaction, signature, signal)
        if (lastValidBlockHeight !== undefined) {
          await this.#failIfBlockhashExpired(signature, lastValidBlockHeight, signal)
        }
        if (round % RESEND_EVERY_POLLS === 0) await this.#send(transaction, signature, { signal }).catch(() => {})
      }
      await delay(interval, signal)
    }
  }

  /**
   * A blockhash past its last valid block height while our signature is unknown: the transaction can never land, so
   * it is `LEDGER__BLOCKHASH_EXPIRED` and may be built anew with a fresh blockhash (a rebroadcast is refused as
   * BlockhashNotFound, which says no more than that the node asked does not know the blockhash). The status is asked
   * again after the height is read, since the transaction may have landed in the last valid blocks, and it is believed
   * unknown only from a node that has reached the slot at which the height was read: one behind may not have seen
   * the block it landed in.
   */
  async #failIfBlockhashExpired(
    signature: Signature,
    lastValidBlockHeight: bigint,
    signal: AbortSignal,
  ): Promise<void> {
    const epoch = await this.#call(
      'getEpochInfo',
      epochInfoReply,
      (abortSignal) => this.#rpc.getEpochInfo({ commitment: this.commitment }).send({ abortSignal }),
      { signal },
    )
    if (epoch.blockHeight <= lastValidBlockHeight) return
    const { slot, status } = await this.#signatureStatus(signature, { signal })
    if (status !== null || slot < epoch.absoluteSlot) return
    throw new LedgerError(
      'LEDGER__BLOCKHASH_EXPIRED',
      `the blockhash of ${signature} expired (block height ${epoch.blockHeight} is past ${lastValidBlockHeight}) ` +
        'before it landed; rebuild it with a fresh blockhash',
      { signature, lastValidBlockHeight, blockHeight: epoch.blockHeight },
    )
  }

  /**
   * A nonce that moved on while our signature is unknown: our transaction can no longer land, but the one that moved
   * the nonce may be ours, run on a node this one has not caught up with (only our lane signs with this nonce). It
   * must not be built anew, which would pay twice: the outcome is ambiguous until a node knows the signature.
   * Resolves to whether a node knows it after all (its nonce moved because it ran).
   */
  async #failIfNonceMoved(transaction: Transaction, signature: Signature, signal: AbortSignal): Promise<boolean> {
    const bound = durableNonceOf(transaction)
    if (bound === undefined) return false
    const { nonce } = await readNonce(this, bound.nonceAccount, { signal })
    if (nonce === bound.nonce) return false
    if ((await this.getSignatureStatus(signature, { signal })) !== null) return true
    throw new LedgerError(
      'LEDGER__RECONCILE_AMBIGUOUS',
      `the durable nonce of ${signature} has moved on, and no node knows it yet`,
      { signature, nonceAccount: bound.nonceAccount },
    )
  }
}

/**
 * The commitment a status from `getSignatureStatuses` says its transaction reached. Solana allows
 * `confirmationStatus: null` (nodes from before the field); its own client then reads `confirmations`, of which only
 * `null` (rooted) says anything a vote backs: that is `finalized`, and any count is taken for no commitment at all
 * (null), so the transaction is waited for until it is rooted rather than believed on a count.
 */
function confirmationOf(status: { confirmationStatus?: Commitment | null; confirmations?: bigint | null }) {
  if (status.confirmationStatus != null) return status.confirmationStatus
  return status.confirmations === null ? 'finalized' : null
}

function never(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(new AbortError())
    signal.addEventListener('abort', () => reject(new AbortError()), { once: true })
  })
}

/**
 * The transaction of a `getTransaction` reply, once it is shown to be the one `signature` names: its first
 * signature (the fee payer's, which is the transaction's id) is `signature`, and every signature verifies over its
 * message. Without the check an endpoint could pair a real signature with any message, e.g. an anchor memo the
 * fee payer never signed. Anything else is `LEDGER__RPC_MALFORMED_REPLY`.
 */
function verifiedTransaction(wire: string, signature: Signature): Transaction {
  const method = 'getTransaction'
  let transaction: Transaction
  try {
    transaction = transactionFromWire(new Uint8Array(getBase64Encoder().encode(wire)))
  } catch (cause) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `getTransaction returned bytes that are not a wire transaction for ${signature}`,
      { method, signature },
      { cause },
    )
  }
  const first = Object.values(transaction.signatures)[0]
  if (first == null || base58(first) !== signature) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `getTransaction returned another transaction for ${signature}`,
      { method, signature },
    )
  }
  const signer = unverifiedSigner(transaction)
  if (signer !== undefined) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `getTransaction returned ${signature} with a signature by ${signer} that does not verify over its message`,
      { method, signature, signer },
    )
  }
  return transaction
}

/**
 * Wraps kit's HTTP transport: checks the JSON-RPC envelope, and turns preflight rejections into coded errors that
 * keep Solana's raw error (kit would otherwise re-wrap it before we could read it).
 */
function codedTransport(inner: RpcTransport): RpcTransport {
  return (async (config: Parameters<RpcTransport>[0]) => {
    const method = (config.payload as { method?: string }).method ?? 'unknown'
    const response: unknown = await inner(config)
    const envelope = parseReply(jsonRpcEnvelope, response, method)
    // A reply is to the request whose id it echoes: another's (a proxy or a node that mixed two up) answers another
    // question, e.g. another account's balance or another signature's status.
    const id = (config.payload as { id?: unknown }).id
    if (envelope.id !== id) {
      throw new LedgerError('LEDGER__RPC_MALFORMED_REPLY', `${method} got the reply to another request`, {
        method,
        id,
        replyId: typeof envelope.id === 'string' ? envelope.id.slice(0, 64) : typeof envelope.id,
      })
    }
    if ('error' in envelope) {
      const { code, message, data } = envelope.error as { code: number | bigint; message: string; data?: unknown }
      const numeric = Number(code)
      if (numeric === PREFLIGHT_FAILURE && data !== null && typeof data === 'object' && 'err' in data) {
        // Solana's error, checked as a status's is: an odd one read as a definite refusal would let it be built anew.
        const failure = parseReply(preflightFailureData, data, method)
        const wire = (config.payload as { params?: unknown[] }).params?.[0]
        let transaction: Transaction | undefined
        try {
          transaction =
            typeof wire === 'string' ? transactionFromWire(new Uint8Array(getBase64Encoder().encode(wire))) : undefined
        } catch {
          transaction = undefined
        }
        throw ledgerErrorFromTransactionError(failure.err, {
          signature: transaction === undefined ? undefined : getSignatureFromTransaction(transaction),
          transaction,
          executed: false,
          logs: failure.logs?.filter((l): l is string => typeof l === 'string'),
        })
      }
      throw new LedgerError(
        TRANSIENT_RPC_CODES.has(numeric) ? 'LEDGER__RPC_UNAVAILABLE' : 'LEDGER__RPC_ERROR',
        `${method} failed: ${message} (${numeric})`,
        { method, rpcCode: numeric },
      )
    }
    return envelope
  }) as RpcTransport
}

/** Connects to a Solana cluster over JSON-RPC (and WebSocket when `wsUrl` is given). */
export function createRpcTransport(options: RpcTransportOptions): LedgerTransport {
  return new SolanaRpcTransport(options)
}
