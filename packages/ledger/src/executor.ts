import {
  createAddressWithSeed,
  getBase64Decoder,
  getBase64Encoder,
  getSignatureFromTransaction,
  getTransactionEncoder,
  type Address,
  type Instruction,
  type Nonce,
  type Signature,
  type Transaction,
  type TransactionSigner,
} from '@solana/kit'
import {
  SYSTEM_PROGRAM_ADDRESS,
  getCreateAccountWithSeedInstruction,
  getInitializeNonceAccountInstruction,
} from '@solana-program/system'
import { logger as createLogger, type Logger } from '@libp2p/logger'
import { bytesToHex } from '@noble/hashes/utils.js'
import { encodeCanonical, sha256, throwIfAborted, type AbortOptions } from '@tessera/core'
import { ATTEMPT_MEMO_PREFIX, MAX_NONCE_RIVALS, NONCE_ACCOUNT_SPACE } from './constants.js'
import { LedgerError, isLedgerError, isRetryableLedgerError, type LedgerErrorCode } from './errors.js'
import type { IntentRecord, NonceRival, SettlementJournal } from './journal.js'
import { memoInstruction } from './memo.js'
import { readNonce } from './nonce.js'
import { SerialQueue } from '@tessera/core'
import { buildTransaction, sendInstructions } from './transaction.js'
import { transactionFromWire } from './transaction-decode.js'
import { reachedCommitment, type LedgerTransport } from './transport/transport.js'

/** One on-chain action: an idempotency key, a digest of what it does, and how to build its instructions. */
export interface LedgerAction {
  /** Stable across restarts, e.g. `payout/<settlement>/<epoch>/<chunk>`. */
  key: string
  /** Digest of the action's content; a key re-used with another digest is refused (`LEDGER__JOURNAL_MISMATCH`). */
  digest: string
  /** Called only when a new attempt is built (never when the journal or the chain already has the outcome). */
  instructions: () => Promise<readonly Instruction[]> | readonly Instruction[]
  /**
   * Facts to keep with the intent and hand back on every replay, e.g. the address of an account the action
   * creates with a fresh keypair (after a crash, the journal is the only place that knows it).
   */
  meta?: Readonly<Record<string, string>>
  /**
   * A key prefix whose open intents must be settled before this action runs, e.g. an escrow's releases before its
   * refund: built on a nonce an open intent was signed on and left unsent, this action would land in its place, and
   * the other could never run (a refund would take the tokens a verified tile is owed). One that cannot be settled
   * now refuses this action with `LEDGER__ACTION_PENDING`.
   */
  settleFirst?: string
}

/**
 * An action built when its turn comes, from the facts its key's intent journaled (undefined when it was never
 * tried): one that must carry on what an earlier try named (a slash, its first proof) reads them with no other call
 * of the executor in between.
 */
export interface JournaledLedgerAction {
  key: string
  build: (journaled: Readonly<Record<string, string>> | undefined) => LedgerAction
}

/** How an action ended: its confirmed signature, and whether this call only found it already done. */
export interface ActionResult {
  key: string
  signature: Signature
  /** True when the action had already happened (found in the journal or on chain) and nothing was sent now. */
  replayed: boolean
  meta: Readonly<Record<string, string>>
}

/**
 * Errors that are a definite refusal of a transaction: a node's preflight refused it, or the chain ran it and it
 * failed, or its lifetime is gone. Only these are journaled failed, which lets the next attempt be built anew. Any
 * other error (an RPC error, a timeout, a status poll that failed) may have come after the bytes reached a leader,
 * so the intent stays open and the chain decides: the same bytes are looked up and sent again, never built anew.
 */
const DEFINITE_REFUSALS: ReadonlySet<LedgerErrorCode> = new Set<LedgerErrorCode>([
  'LEDGER__TRANSACTION_REJECTED',
  'LEDGER__INSUFFICIENT_FUNDS',
  'LEDGER__BLOCKHASH_EXPIRED',
])

/**
 * The nonce a new attempt is built on: read fresh when no earlier attempt can still run, else the nonce the last
 * attempt was built on and left where it was, with the attempts that share it. Rebuilt on that nonce, the new
 * attempt and any earlier copy still on its way exclude each other (a nonce runs one transaction), however late the
 * copy lands; built on a nonce read after the copy landed, both would pay.
 */
type AttemptBasis = { nonce?: undefined } | { nonce: Nonce; rivals: NonceRival[] }

/** Where an attempt's nonce stands: see {@link ActionExecutor}'s `#nonceState`. */
type NonceState = { t: 'unchanged' } | { t: 'spent' } | { t: 'unspent' } | { t: 'rival-landed'; rival: NonceRival }

/** Test seams around the dangerous moments; a crash test kills the process inside one. */
export interface ExecutorHooks {
  /** The intent is on disk; the transaction is not yet sent. */
  afterIntent?(key: string, signature: Signature): void | Promise<void>
  /** The transaction is confirmed; its outcome is not yet on disk. */
  afterSubmit?(key: string, signature: Signature): void | Promise<void>
}

/** Options of {@link ActionExecutor.open}. */
export interface ActionExecutorOptions {
  transport: LedgerTransport
  journal: SettlementJournal
  /** Fee payer, nonce authority and base of the nonce account address. */
  payer: TransactionSigner
  /** Which of the payer's nonce accounts to use: one executor per lane. @default 0 */
  lane?: number
  hooks?: ExecutorHooks
  logger?: Logger
}

/**
 * Executes ledger actions exactly once across crashes. Every transaction it builds has a durable-nonce lifetime
 * from the payer's nonce account, and its intent (signature, nonce, signed bytes) is journaled and synced before
 * it is sent. After a restart an unfinished intent is settled against the chain: a known signature gives the
 * outcome; an unknown signature with the nonce unchanged means the transaction never ran, so the same bytes are
 * sent again (they can run at most once: running advances the nonce); an unknown signature with the nonce moved
 * is ambiguous and is refused rather than paid twice. Only a definite refusal is journaled failed; an action
 * that failed is built anew only once its last attempt is shown not to have run, and on that attempt's own nonce
 * while it is unchanged, so a copy of it still on its way and the new attempt can never both run. Actions run one at
 * a time (one nonce, one lane).
 */
export class ActionExecutor {
  readonly nonceAccount: Address
  /** The chain this executor acts on. */
  readonly transport: LedgerTransport
  /** Fee payer of every action. */
  readonly payer: TransactionSigner
  readonly #transport: LedgerTransport
  readonly #journal: SettlementJournal
  readonly #payer: TransactionSigner
  readonly #hooks: ExecutorHooks
  readonly #logger: Logger
  readonly #queue = new SerialQueue()

  private constructor(options: ActionExecutorOptions, nonceAccount: Address) {
    this.nonceAccount = nonceAccount
    this.transport = options.transport
    this.payer = options.payer
    this.#transport = options.transport
    this.#journal = options.journal
    this.#payer = options.payer
    this.#hooks = options.hooks ?? {}
    this.#logger = options.logger ?? createLogger('tessera:ledger:executor')
  }

  /** Creates the payer's nonce account for the lane if it does not exist yet (one-time set-up). */
  static async open(options: ActionExecutorOptions, abort: AbortOptions = {}): Promise<ActionExecutor> {
    const nonceAccount = await ensureNonceAccount(options.transport, options.payer, options.lane ?? 0, abort)
    return new ActionExecutor(options, nonceAccount)
  }

  /**
   * Runs `action` unless the journal or the chain shows it already ran; resolves with its signature. Calls run one
   * at a time; one whose signal aborts while it waits its turn rejects with an AbortError and never runs. A
   * {@link JournaledLedgerAction} is built once its turn comes.
   */
  execute(given: LedgerAction | JournaledLedgerAction, options: AbortOptions = {}): Promise<ActionResult> {
    return this.#queue.run(async () => {
      const action = 'build' in given ? given.build(this.#journal.intent(given.key)?.meta) : given
      if (action.key !== given.key) {
        throw new LedgerError('LEDGER__INVALID_INPUT', `action ${given.key} was built as ${action.key}`, {
          key: given.key,
        })
      }
      // Its owner keeps its outcome elsewhere and said it is over: running it again could pay twice.
      if (this.#journal.retired(action.key)) {
        throw new LedgerError('LEDGER__ACTION_RETIRED', `action ${action.key} is retired and never runs again`, {
          key: action.key,
        })
      }
      if (action.settleFirst !== undefined) await this.#settleUnder(action.settleFirst, action.key, options)
      const latest = this.#journal.get(action.key)
      const intent = this.#journal.intent(action.key)
      if (latest !== undefined && intent !== undefined && intent.digest !== action.digest) {
        throw new LedgerError('LEDGER__JOURNAL_MISMATCH', `action ${action.key} was journaled with other content`, {
          key: action.key,
          journaled: intent.digest,
          requested: action.digest,
        })
      }
      if (latest?.t === 'confirmed') {
        return { key: action.key, signature: latest.signature as Signature, replayed: true, meta: intent?.meta ?? {} }
      }
      if (latest?.t === 'intent') return this.#settle(latest, options)
      let basis: AttemptBasis = {}
      if (latest?.t === 'failed' && intent !== undefined) {
        const checked = await this.#unlessLanded(intent, options)
        if ('result' in checked) return checked.result
        basis = checked.basis
      }
      return this.#attempt(action, (latest?.attempt ?? 0) + 1, basis, options)
    }, options)
  }

  /** Where `key` stands in the journal: undefined (never tried), or its latest step. */
  status(key: string): 'intent' | 'confirmed' | 'failed' | undefined {
    return this.#journal.get(key)?.t
  }

  /**
   * Settles every journaled intent that has no outcome yet (call once after a restart). One intent's failure is
   * reported with its key and the rest still run; an abort rejects the whole call with an AbortError (queued
   * behind other calls like {@link execute}, and abortable while it waits the same way).
   */
  reconcile(options: AbortOptions = {}): Promise<Array<{ key: string; result?: ActionResult; error?: unknown }>> {
    return this.#queue.run(async () => {
      const out: Array<{ key: string; result?: ActionResult; error?: unknown }> = []
      for (const intent of this.#journal.pending()) {
        try {
          out.push({ key: intent.key, result: await this.#settle(intent, options) })
        } catch (error) {
          // Every later intent would fail the same way: the caller aborted, not the chain.
          throwIfAborted(options.signal)
          out.push({ key: intent.key, error })
        }
      }
      return out
    }, options)
  }

  /**
   * Settles the open intents under `prefix` other than `key`'s own: each lands, or is shown never to run (journaled
   * failed). One still open after that (the chain away, ambiguous) refuses `key` with `LEDGER__ACTION_PENDING`.
   */
  async #settleUnder(prefix: string, key: string, options: AbortOptions): Promise<void> {
    for (const intent of this.#journal.pending()) {
      if (intent.key === key || !intent.key.startsWith(prefix)) continue
      try {
        await this.#settle(intent, options)
      } catch (error) {
        throwIfAborted(options.signal)
        if (this.#journal.get(intent.key)?.t !== 'intent') continue
        throw new LedgerError(
          'LEDGER__ACTION_PENDING',
          `action ${key} waits for ${intent.key}, which is still open (${error instanceof Error ? error.message : String(error)}); try again once it is settled`,
          { key, pending: intent.key, signature: intent.signature },
          { cause: error },
        )
      }
    }
  }

  async #attempt(
    action: LedgerAction,
    attempt: number,
    basis: AttemptBasis,
    options: AbortOptions,
  ): Promise<ActionResult> {
    // Never read afresh when an earlier attempt may still land: a read after it landed would pay twice.
    const nonce = basis.nonce ?? (await this.#freshNonce(options))
    const instructions = [...(await action.instructions())]
    // A failed attempt may leave the nonce where it was (LiteSVM does not advance it; a preflight refusal never
    // does). Rebuilt byte for byte, the retry would carry the failed one's signature and be refused as already
    // processed, so later attempts say which attempt they are.
    if (attempt > 1) instructions.push(memoInstruction(`${ATTEMPT_MEMO_PREFIX}:${attempt}`))
    const transaction = await buildTransaction({
      feePayer: this.#payer,
      instructions,
      lifetime: { nonce, nonceAccount: this.nonceAccount },
    })
    const intent: IntentRecord = {
      t: 'intent',
      key: action.key,
      attempt,
      digest: action.digest,
      signature: getSignatureFromTransaction(transaction),
      nonceAccount: this.nonceAccount,
      nonce,
      wire: getBase64Decoder().decode(getTransactionEncoder().encode(transaction)),
      meta: action.meta ?? {},
      ...(basis.nonce === undefined ? {} : { rivals: basis.rivals }),
    }
    await this.#journal.append(intent)
    await this.#hooks.afterIntent?.(action.key, intent.signature as Signature)
    return this.#submit(intent, transaction, options, false)
  }

  /** The lane's nonce as it is now, once its account is shown to be ours. */
  async #freshNonce(options: AbortOptions): Promise<Nonce> {
    const { nonce, authority } = await readNonce(this.#transport, this.nonceAccount, options)
    if (authority !== this.#payer.address) {
      throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `nonce account ${this.nonceAccount} has another authority`, {
        nonceAccount: this.nonceAccount,
        authority,
      })
    }
    return nonce
  }

  async #submit(
    intent: IntentRecord,
    transaction: Transaction,
    options: AbortOptions,
    replayed: boolean,
  ): Promise<ActionResult> {
    const signature = intent.signature as Signature
    try {
      await this.#transport.sendAndConfirm(transaction, options)
    } catch (e) {
      await this.#recordFailure(intent, e)
      throw e
    }
    await this.#hooks.afterSubmit?.(intent.key, signature)
    await this.#journal.append({
      t: 'confirmed',
      key: intent.key,
      attempt: intent.attempt,
      signature: intent.signature,
    })
    this.#logger('action %s confirmed as %s', intent.key, signature)
    return { key: intent.key, signature, replayed, meta: intent.meta }
  }

  /**
   * A definite refusal ({@link DEFINITE_REFUSALS}) is journaled as failed, so the next attempt may build anew once
   * this one is shown not to have run. Anything else leaves the intent open: the transaction may still land (or may
   * have landed where no node yet says so), and only the chain can say.
   */
  async #recordFailure(intent: IntentRecord, e: unknown): Promise<void> {
    if (!isLedgerError(e) || !DEFINITE_REFUSALS.has(e.code)) return
    await this.#journal.append({
      t: 'failed',
      key: intent.key,
      attempt: intent.attempt,
      signature: intent.signature,
      code: e.code,
      retryable: isRetryableLedgerError(e),
    })
    this.#logger('action %s failed: %s', intent.key, e.code)
  }

  /**
   * A failure is a node's word: before a failed action is built anew, which would pay twice had it run after all, its
   * last attempt is looked up. Known and succeeded, it is journaled confirmed (its result returned); known and not
   * failed (short of the commitment so far), it is settled as an open intent is, or, its bytes compacted away, tried
   * again later. Otherwise its nonce decides (see {@link #nonceState}): unchanged, the new attempt is built on that
   * same nonce, so that this one, should a copy of it still land, and the new one cannot both run; moved by one of its
   * rivals that succeeded, that rival is the outcome; moved with nothing to say what ran on it, it is ambiguous while
   * no node knows the attempt, and built on a fresh nonce when the chain says it ran and failed.
   */
  async #unlessLanded(
    intent: IntentRecord,
    options: AbortOptions,
  ): Promise<{ result: ActionResult } | { basis: AttemptBasis }> {
    const signature = intent.signature as Signature
    const status = await this.#transport.getSignatureStatus(signature, options)
    const landed = await this.#confirmedBy(intent, status)
    if (landed !== undefined) return { result: landed }
    if (status !== null && status.err === null) return { result: await this.#settle(intent, options) }
    const state = await this.#nonceState(intent, options)
    if (state.t === 'rival-landed') return { result: await this.#confirmRival(intent, state.rival) }
    if (state.t === 'unchanged') return { basis: { nonce: intent.nonce as Nonce, rivals: rivalsAfter(intent) } }
    // A fresh nonce only once the chain says, at the commitment, that this attempt failed: a failure short of it
    // (which is what the RPC transport makes of one the transaction's record does not back) may still be a success.
    const failed = status !== null && status.err !== null && reachedCommitment(status, this.#transport.commitment)
    if (state.t === 'unspent' && !failed) throw ambiguous(intent)
    return { basis: {} }
  }

  /**
   * Where `intent`'s nonce stands: where it was (`unchanged`: the transaction has not run yet); moved by one of its
   * rivals that succeeded (`rival-landed`: that is the action's outcome); spent on another action confirmed in the
   * journal, or on a rival that ran and failed (`spent`: this one never can run); or moved on with nothing to say
   * what ran on it (`unspent`), which includes a rival whose status has not reached the transport's commitment.
   */
  async #nonceState(intent: IntentRecord, options: AbortOptions): Promise<NonceState> {
    const { nonce } = await readNonce(this.#transport, intent.nonceAccount as Address, options)
    if (nonce === intent.nonce) return { t: 'unchanged' }
    if (this.#journal.nonceSpent(intent.nonceAccount, intent.nonce, intent.key)) return { t: 'spent' }
    let state: NonceState = { t: 'unspent' }
    let pending = false
    for (const rival of intent.rivals ?? []) {
      const status = await this.#transport.getSignatureStatus(rival.signature as Signature, options)
      if (status === null) continue
      if (!reachedCommitment(status, this.#transport.commitment)) pending = true
      else if (status.err !== null) state = { t: 'spent' }
      else return { t: 'rival-landed', rival }
    }
    return pending ? { t: 'unspent' } : state
  }

  /** Journals `intent` confirmed when `status` says it succeeded at the commitment, and gives its result. */
  async #confirmedBy(
    intent: IntentRecord,
    status: Awaited<ReturnType<LedgerTransport['getSignatureStatus']>>,
  ): Promise<ActionResult | undefined> {
    if (status === null || status.err !== null || !reachedCommitment(status, this.#transport.commitment)) {
      return undefined
    }
    await this.#journal.append({
      t: 'confirmed',
      key: intent.key,
      attempt: intent.attempt,
      signature: intent.signature,
    })
    this.#logger('action %s had landed as %s', intent.key, intent.signature)
    return { key: intent.key, signature: intent.signature as Signature, replayed: true, meta: intent.meta }
  }

  /**
   * Journals the action confirmed as `rival`, an earlier attempt on `intent`'s nonce that a node knows succeeded:
   * its intent again (with its own facts, which a replay hands back), then its outcome.
   */
  async #confirmRival(intent: IntentRecord, rival: NonceRival): Promise<ActionResult> {
    const { key, digest, nonceAccount, nonce } = intent
    const { attempt, signature, meta } = rival
    // Its signed bytes were not kept, and are never needed again: it has run.
    await this.#journal.append({ t: 'intent', key, attempt, digest, signature, nonceAccount, nonce, wire: '', meta })
    await this.#journal.append({ t: 'confirmed', key, attempt, signature })
    this.#logger('action %s had landed as %s, an earlier attempt on the same nonce', key, signature)
    return { key, signature: signature as Signature, replayed: true, meta }
  }

  /** Settles an intent with no outcome: see the class comment. */
  async #settle(intent: IntentRecord, options: AbortOptions): Promise<ActionResult> {
    const signature = intent.signature as Signature
    const status = await this.#transport.getSignatureStatus(signature, options)
    const landed = await this.#confirmedBy(intent, status)
    if (landed !== undefined) return landed
    if (status === null) {
      const state = await this.#nonceState(intent, options)
      if (state.t === 'rival-landed') return this.#confirmRival(intent, state.rival)
      if (state.t === 'unspent') throw ambiguous(intent)
      if (state.t === 'spent') {
        // Another transaction ran on this very nonce (another action's, or a rival that failed): this one never can.
        const error = new LedgerError(
          'LEDGER__BLOCKHASH_EXPIRED',
          `action ${intent.key}: its nonce was spent on another`,
          {
            key: intent.key,
            signature,
          },
        )
        await this.#recordFailure(intent, error)
        throw error
      }
    }
    if (intent.wire === '') {
      throw new LedgerError('LEDGER__CONFIRMATION_TIMEOUT', `action ${intent.key}: ${signature} is not confirmed yet`, {
        key: intent.key,
        signature,
      })
    }
    // Unknown with the nonce unchanged (never ran), short of the commitment, or failed: sending the same
    // bytes again lets the transport report the outcome; they cannot run twice.
    this.#logger('action %s: re-sending %s', intent.key, signature)
    const transaction = transactionFromWire(new Uint8Array(getBase64Encoder().encode(intent.wire)))
    return this.#submit(intent, transaction, options, status !== null)
  }
}

/** The rivals of an attempt built on `intent`'s nonce: `intent`'s own, and `intent` itself (the latest kept). */
function rivalsAfter(intent: IntentRecord): NonceRival[] {
  const own = { attempt: intent.attempt, signature: intent.signature, meta: intent.meta }
  return [...(intent.rivals ?? []), own].slice(-MAX_NONCE_RIVALS)
}

/** An intent the chain does not know although its nonce moved on: it may have run where no node says yet. */
function ambiguous(intent: IntentRecord): LedgerError {
  return new LedgerError(
    'LEDGER__RECONCILE_AMBIGUOUS',
    `action ${intent.key}: the chain does not know ${intent.signature} but its nonce has moved on; it is looked up again at every retry (check the payees by hand if no node ever knows it)`,
    { key: intent.key, signature: intent.signature, nonceAccount: intent.nonceAccount },
  )
}

/** A digest of an action's content for {@link LedgerAction.digest}: SHA-256 of its DAG-CBOR encoding, hex. */
export function actionDigest(content: unknown): string {
  return bytesToHex(sha256(encodeCanonical(content)))
}

/** The address of the payer's nonce account for `lane` (derived from the payer, so restarts find it). */
export function nonceAccountAddress(payer: Address, lane: number): Promise<Address> {
  return createAddressWithSeed({ baseAddress: payer, programAddress: SYSTEM_PROGRAM_ADDRESS, seed: nonceSeed(lane) })
}

function nonceSeed(lane: number): string {
  if (!Number.isSafeInteger(lane) || lane < 0 || lane > 9999) {
    throw new LedgerError('LEDGER__INVALID_INPUT', `nonce lane must be 0–9999, got ${lane}`, { lane })
  }
  return `tessera-nonce-${lane}`
}

async function ensureNonceAccount(
  transport: LedgerTransport,
  payer: TransactionSigner,
  lane: number,
  options: AbortOptions,
): Promise<Address> {
  const address = await nonceAccountAddress(payer.address, lane)
  if ((await transport.getAccount(address, options)) !== null) {
    await readNonce(transport, address, options)
    return address
  }
  const amount = await transport.getMinimumBalanceForRentExemption(NONCE_ACCOUNT_SPACE, options)
  await sendInstructions(
    transport,
    {
      feePayer: payer,
      instructions: [
        getCreateAccountWithSeedInstruction({
          payer,
          newAccount: address,
          base: payer.address,
          seed: nonceSeed(lane),
          amount,
          space: NONCE_ACCOUNT_SPACE,
          programAddress: SYSTEM_PROGRAM_ADDRESS,
        }),
        getInitializeNonceAccountInstruction({ nonceAccount: address, nonceAuthority: payer.address }),
      ],
    },
    options,
  )
  return address
}
