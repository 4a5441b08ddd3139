import type { Address } from '@solana/kit'
import { dedupeKey, Fifo, type Receipt, type SansIoMachine } from '@tessera/core'
import { EpochBatch, taskKey } from './batch.js'
import { EpochRanges } from './epoch-ranges.js'
import {
  DEFAULT_ACTION_MAX_ATTEMPTS,
  DEFAULT_ACTION_RETRY_BASE_MS,
  DEFAULT_ACTION_RETRY_MAX_MS,
  DEFAULT_FEE_BPS,
  MAX_PAYEES_PER_TRANSACTION,
  MAX_RECEIPTS_PER_EPOCH,
  MAX_REMEMBERED_TASKS,
  MAX_RETAINED_EPOCHS,
  MAX_TOKEN_UNITS,
} from './constants.js'
import { LedgerError } from './errors.js'
import { actionDigest } from './executor.js'
import { assertFeeBps } from './fee.js'
import { assertReceipt, parseReceipt } from './receipt.js'

/**
 * The settlement machine decides what goes on chain and when; it never touches the chain, a clock or a timer
 * (sans-IO, like quinn-proto). Receipts come in; closing an epoch builds its batch and asks for one anchor
 * transaction; once the anchor is confirmed it asks for the payouts, batched per payee, a few payees per
 * transaction; failures come back and are retried with exponential backoff or given up. Every action carries a
 * deterministic idempotency key (`<settlementId>/<epoch>/anchor`, `<settlementId>/<epoch>/payout/<chunk>`) and a
 * digest of its content, so a restarted node that replays the same receipts asks for the very same actions and
 * the executor's journal turns them into replays instead of second payments. The anchor's digest covers the whole
 * payout plan, so one replayed with other options stops at the anchor (`LEDGER__JOURNAL_MISMATCH`).
 */

/** Options of a {@link SettlementMachine}. */
export interface SettlementConfig {
  /** Namespace of the idempotency keys: one per paying party and settlement stream. */
  settlementId: string
  /** @default 100 (1%) */
  feeBps?: number
  /** Payees per payout transaction (the treasury rides along). @default 14 */
  maxPayeesPerTransaction?: number
  /** Check both receipt signatures on input. The simulator may skip it for receipts it made itself. @default true */
  verifySignatures?: boolean
  /** @default 100_000 */
  maxReceiptsPerEpoch?: number
  /**
   * Settled epochs kept in memory with their batches (for inclusion proofs); older ones are dropped, and a receipt
   * naming a dropped epoch is refused as closed. A simulator of many creators keeps none. @default 64
   */
  retainedEpochs?: number
  /** Retry policy for failed actions (virtual milliseconds). */
  retry?: { baseMs?: number; maxMs?: number; maxAttempts?: number }
}

/** Something the chain should carry. */
export type SettlementAction =
  | { kind: 'anchor'; key: string; digest: string; epoch: number; root: Uint8Array; size: number }
  | {
      kind: 'payout'
      key: string
      digest: string
      epoch: number
      chunk: number
      /** Net amounts per payee wallet (owner of its token account). */
      transfers: ReadonlyArray<{ payee: Address; amount: bigint }>
      /** Protocol fee of this chunk's payees, to the treasury. */
      fee: bigint
    }

/** What the driver feeds the machine: receipts, epoch closes, and the chain's answers to its actions. */
export type SettlementInput =
  | { type: 'receipt'; receipt: Receipt }
  | { type: 'close-epoch'; epoch: number }
  | { type: 'action-confirmed'; key: string; signature: string }
  | { type: 'action-failed'; key: string; code: string; retryable: boolean }
  /** Try a given-up action again (an operator fixed the cause, e.g. funded the vault). */
  | { type: 'retry'; key: string }

/** What happened, for logs and metrics: receipts accepted, epochs closed, anchored and settled, actions retried. */
export type SettlementEvent =
  | { name: 'receipt:accepted'; epoch: number; jobId: string; taskId: string }
  | { name: 'epoch:closed'; epoch: number; size: number; root?: Uint8Array; payees: number; transactions: number }
  | { name: 'epoch:anchored'; epoch: number; signature: string }
  | { name: 'epoch:settled'; epoch: number; signatures: string[] }
  | { name: 'action:retrying'; key: string; attempt: number; at: number; code: string }
  | { name: 'action:failed'; key: string; code: string }

/** What the machine asks of its driver: submit an action to the chain, or emit an event. */
export type SettlementOutput =
  { type: 'submit'; action: SettlementAction; attempt: number } | { type: 'event'; event: SettlementEvent }

/** Where an epoch stands: taking receipts, waiting for its anchor, paying out, or done. */
export type EpochState = 'open' | 'anchoring' | 'paying' | 'settled'

interface ActionState {
  action: SettlementAction
  attempts: number
  status: 'queued' | 'submitted' | 'waiting' | 'confirmed' | 'failed'
  retryAt?: number
  signature?: string
}

interface Epoch {
  state: EpochState
  receipts: Receipt[]
  /** Sum of the receipts' amounts: at most {@link MAX_TOKEN_UNITS}, so no payee's sum, fee or chunk can overflow. */
  total: bigint
  batch?: EpochBatch
  actions: string[]
}

/** The journal key prefix of every action (anchors, payouts) of the settlement `settlementId`. */
export function settlementActionPrefix(settlementId: string): string {
  return `${settlementId}/`
}

/** The sans-IO settlement machine described above: receipts in, anchor and payout actions out. */
export class SettlementMachine implements SansIoMachine<SettlementInput, SettlementOutput> {
  readonly #config: Required<Omit<SettlementConfig, 'retry'>> & {
    retry: Required<NonNullable<SettlementConfig['retry']>>
  }
  readonly #epochs = new Map<number, Epoch>()
  readonly #actions = new Map<string, ActionState>()
  readonly #tasks = new Set<string>()
  /** Settled epochs dropped from memory: closed for good (runs of numbers, so a few bytes per gap between them). */
  readonly #dropped = new EpochRanges()
  readonly #outputs = new Fifo<SettlementOutput>()

  constructor(config: SettlementConfig) {
    if (config.settlementId.length === 0 || config.settlementId.length > 128) {
      throw new LedgerError('LEDGER__INVALID_INPUT', 'settlementId must be 1–128 characters', {})
    }
    const feeBps = config.feeBps ?? DEFAULT_FEE_BPS
    assertFeeBps(feeBps)
    const retainedEpochs = config.retainedEpochs ?? MAX_RETAINED_EPOCHS
    if (!Number.isSafeInteger(retainedEpochs) || retainedEpochs < 0) {
      throw new LedgerError('LEDGER__INVALID_INPUT', 'retainedEpochs must be a non-negative integer', {
        retainedEpochs,
      })
    }
    const maxPayees = config.maxPayeesPerTransaction ?? MAX_PAYEES_PER_TRANSACTION
    if (!Number.isInteger(maxPayees) || maxPayees < 1 || maxPayees > MAX_PAYEES_PER_TRANSACTION) {
      throw new LedgerError(
        'LEDGER__INVALID_INPUT',
        `maxPayeesPerTransaction must be 1–${MAX_PAYEES_PER_TRANSACTION}`,
        {
          maxPayees,
        },
      )
    }
    const retry = {
      baseMs: config.retry?.baseMs ?? DEFAULT_ACTION_RETRY_BASE_MS,
      maxMs: config.retry?.maxMs ?? DEFAULT_ACTION_RETRY_MAX_MS,
      maxAttempts: config.retry?.maxAttempts ?? DEFAULT_ACTION_MAX_ATTEMPTS,
    }
    // A NaN delay gives a NaN retry time, which no clock ever reaches: the action would wait for good.
    assertIntegerOption('maxReceiptsPerEpoch', config.maxReceiptsPerEpoch ?? MAX_RECEIPTS_PER_EPOCH, 1)
    assertIntegerOption('retry.baseMs', retry.baseMs, 0)
    assertIntegerOption('retry.maxMs', retry.maxMs, retry.baseMs)
    assertIntegerOption('retry.maxAttempts', retry.maxAttempts, 1)
    this.#config = {
      settlementId: config.settlementId,
      feeBps,
      maxPayeesPerTransaction: maxPayees,
      verifySignatures: config.verifySignatures ?? true,
      maxReceiptsPerEpoch: Math.min(config.maxReceiptsPerEpoch ?? MAX_RECEIPTS_PER_EPOCH, MAX_RECEIPTS_PER_EPOCH),
      retainedEpochs,
      retry,
    }
  }

  /**
   * Feeds one input. Bad input throws a coded `LedgerError` and changes nothing: `LEDGER__INVALID_RECEIPT`,
   * `LEDGER__INVALID_RECEIPT_SIGNATURE`, `LEDGER__DUPLICATE_RECEIPT`, `LEDGER__EPOCH_CLOSED`,
   * `LEDGER__RECEIPTS_EXCEEDED` (the epoch is full, or its receipts would add up past `MAX_TOKEN_UNITS`),
   * `LEDGER__EPOCH_NOT_FOUND`, `LEDGER__ACTION_NOT_FOUND`.
   */
  handle(input: SettlementInput, now: number): void {
    switch (input.type) {
      case 'receipt':
        this.#receipt(input.receipt)
        return
      case 'close-epoch':
        this.#close(input.epoch)
        return
      case 'action-confirmed':
        this.#confirmed(input.key, input.signature)
        return
      case 'action-failed':
        this.#failed(input.key, input.code, input.retryable, now)
        return
      case 'retry':
        this.#retry(input.key)
        return
    }
  }

  handleTimeout(now: number): void {
    for (const state of this.#actions.values()) {
      if (state.status === 'waiting' && state.retryAt !== undefined && state.retryAt <= now) this.#submit(state)
    }
  }

  pollOutput(): SettlementOutput | undefined {
    return this.#outputs.shift()
  }

  pollTimeout(): number | undefined {
    let next: number | undefined
    for (const state of this.#actions.values()) {
      if (state.status === 'waiting' && state.retryAt !== undefined && (next === undefined || state.retryAt < next)) {
        next = state.retryAt
      }
    }
    return next
  }

  /** Where an epoch stands, or undefined when the machine has no receipts for it. */
  epochState(epoch: number): EpochState | undefined {
    return this.#epochs.get(epoch)?.state
  }

  /** The closed batch of an epoch (for inclusion proofs), while retained. */
  batch(epoch: number): EpochBatch | undefined {
    return this.#epochs.get(epoch)?.batch
  }

  /** The signature an action was confirmed with. */
  signatureOf(key: string): string | undefined {
    return this.#actions.get(key)?.signature
  }

  /** True when nothing is in flight or waiting to retry: the machine needs new input to do more. */
  get idle(): boolean {
    return (
      this.#outputs.length === 0 &&
      [...this.#actions.values()].every((a) => a.status !== 'submitted' && a.status !== 'waiting')
    )
  }

  #receipt(value: Receipt): void {
    const receipt = this.#config.verifySignatures ? assertReceipt(value) : parseReceipt(value)
    if (receipt.payee === undefined) {
      throw new LedgerError('LEDGER__INVALID_RECEIPT', 'receipt has no payee address', { jobId: receipt.jobId })
    }
    // A digest of the key: up to a million are remembered per machine (MAX_REMEMBERED_TASKS).
    const key = dedupeKey(taskKey(receipt))
    if (this.#tasks.has(key)) {
      throw new LedgerError(
        'LEDGER__DUPLICATE_RECEIPT',
        `task ${receipt.jobId}/${receipt.taskId} already has a receipt`,
        {
          jobId: receipt.jobId,
          taskId: receipt.taskId,
        },
      )
    }
    const epoch = this.#epoch(receipt.epoch)
    if (epoch.state !== 'open') {
      throw new LedgerError(
        'LEDGER__EPOCH_CLOSED',
        `epoch ${receipt.epoch} is closed; put the receipt in a later epoch`,
        {
          epoch: receipt.epoch,
        },
      )
    }
    if (epoch.receipts.length >= this.#config.maxReceiptsPerEpoch) {
      throw new LedgerError('LEDGER__RECEIPTS_EXCEEDED', `epoch ${receipt.epoch} is full`, {
        epoch: receipt.epoch,
        max: this.#config.maxReceiptsPerEpoch,
      })
    }
    // A token account counts to 2^64 - 1: an epoch owing more could never be paid, and its payouts never encoded.
    if (receipt.amount > MAX_TOKEN_UNITS - epoch.total) {
      throw new LedgerError(
        'LEDGER__RECEIPTS_EXCEEDED',
        `epoch ${receipt.epoch}'s receipts would add up past ${MAX_TOKEN_UNITS} token units; put the receipt in a later epoch`,
        { epoch: receipt.epoch, jobId: receipt.jobId, taskId: receipt.taskId, total: epoch.total.toString() },
      )
    }
    // Bounded, oldest first: a Set iterates in insertion order.
    if (this.#tasks.size >= MAX_REMEMBERED_TASKS) this.#tasks.delete(this.#tasks.values().next().value as string)
    this.#tasks.add(key)
    epoch.receipts.push(receipt)
    epoch.total += receipt.amount
    this.#emit({ name: 'receipt:accepted', epoch: receipt.epoch, jobId: receipt.jobId, taskId: receipt.taskId })
  }

  #close(number: number): void {
    if (this.#dropped.has(number)) return
    const epoch = this.#epoch(number)
    if (epoch.state !== 'open') return
    if (epoch.receipts.length === 0) {
      epoch.state = 'settled'
      this.#emit({ name: 'epoch:closed', epoch: number, size: 0, payees: 0, transactions: 0 })
      this.#emit({ name: 'epoch:settled', epoch: number, signatures: [] })
      this.#retainEpochs()
      return
    }
    const batch = EpochBatch.build(number, epoch.receipts, this.#config.feeBps)
    const prefix = `${settlementActionPrefix(this.#config.settlementId)}${number}`
    const payouts: SettlementAction[] = []
    for (
      let start = 0, chunk = 0;
      start < batch.payouts.length;
      start += this.#config.maxPayeesPerTransaction, chunk++
    ) {
      const slice = batch.payouts.slice(start, start + this.#config.maxPayeesPerTransaction)
      const transfers = slice.map((p) => ({ payee: p.payee, amount: p.net }))
      const fee = slice.reduce((sum, p) => sum + p.fee, 0n)
      payouts.push({
        kind: 'payout',
        key: `${prefix}/payout/${chunk}`,
        digest: actionDigest(['payout', number, chunk, transfers.map((t) => [t.payee, t.amount]), fee]),
        epoch: number,
        chunk,
        transfers,
        fee,
      })
    }
    // A chunk's key names only its index, so the anchor answers for the whole payout plan (which payees each chunk
    // pays, and how much): payouts run only once it is confirmed, and a restart that splits or prices them otherwise
    // (another maxPayeesPerTransaction or fee) finds it journaled with another digest and stops there, before a
    // chunk index that was never used pays some payees a second time.
    const anchor: SettlementAction = {
      kind: 'anchor',
      key: `${prefix}/anchor`,
      digest: actionDigest(['anchor', number, batch.size, batch.root, payouts.map((p) => p.digest)]),
      epoch: number,
      root: batch.root,
      size: batch.size,
    }
    epoch.batch = batch
    epoch.receipts = []
    epoch.state = 'anchoring'
    epoch.actions = [anchor.key, ...payouts.map((p) => p.key)]
    for (const action of [anchor, ...payouts]) this.#actions.set(action.key, { action, attempts: 0, status: 'queued' })
    this.#emit({
      name: 'epoch:closed',
      epoch: number,
      size: batch.size,
      root: batch.root,
      payees: batch.payouts.length,
      transactions: 1 + payouts.length,
    })
    this.#submit(this.#state(anchor.key))
    this.#retainEpochs()
  }

  #confirmed(key: string, signature: string): void {
    const state = this.#state(key)
    if (state.status === 'confirmed') return
    state.status = 'confirmed'
    state.signature = signature
    state.retryAt = undefined
    const epoch = this.#epochs.get(state.action.epoch)
    if (epoch === undefined) return
    if (state.action.kind === 'anchor') {
      epoch.state = 'paying'
      this.#emit({ name: 'epoch:anchored', epoch: state.action.epoch, signature })
      for (const payoutKey of epoch.actions.slice(1)) this.#submit(this.#state(payoutKey))
      return
    }
    const states = epoch.actions.map((k) => this.#state(k))
    if (states.every((s) => s.status === 'confirmed')) {
      epoch.state = 'settled'
      this.#emit({
        name: 'epoch:settled',
        epoch: state.action.epoch,
        signatures: states.map((s) => s.signature as string),
      })
      this.#retainEpochs()
    }
  }

  #failed(key: string, code: string, retryable: boolean, now: number): void {
    const state = this.#state(key)
    if (state.status === 'confirmed' || state.status === 'failed') return
    if (!retryable || state.attempts >= this.#config.retry.maxAttempts) {
      state.status = 'failed'
      this.#emit({ name: 'action:failed', key, code })
      return
    }
    const delay = Math.min(this.#config.retry.maxMs, this.#config.retry.baseMs * 2 ** (state.attempts - 1))
    state.status = 'waiting'
    state.retryAt = now + delay
    this.#emit({ name: 'action:retrying', key, attempt: state.attempts + 1, at: state.retryAt, code })
  }

  #retry(key: string): void {
    const state = this.#state(key)
    if (state.status !== 'failed') return
    state.attempts = 0
    this.#submit(state)
  }

  #submit(state: ActionState): void {
    state.attempts++
    state.status = 'submitted'
    state.retryAt = undefined
    this.#outputs.push({ type: 'submit', action: state.action, attempt: state.attempts })
  }

  #state(key: string): ActionState {
    const state = this.#actions.get(key)
    if (state === undefined) throw new LedgerError('LEDGER__ACTION_NOT_FOUND', `no action ${key}`, { key })
    return state
  }

  #epoch(number: number): Epoch {
    if (!Number.isSafeInteger(number) || number < 0) {
      throw new LedgerError('LEDGER__EPOCH_NOT_FOUND', `epoch must be a non-negative integer, got ${number}`, {
        epoch: number,
      })
    }
    let epoch = this.#epochs.get(number)
    if (epoch === undefined) {
      // A dropped epoch was settled: opening it again would anchor a second batch under the same action keys.
      if (this.#dropped.has(number)) {
        throw new LedgerError('LEDGER__EPOCH_CLOSED', `epoch ${number} is settled; put the receipt in a later epoch`, {
          epoch: number,
        })
      }
      epoch = { state: 'open', receipts: [], total: 0n, actions: [] }
      this.#epochs.set(number, epoch)
    }
    return epoch
  }

  #emit(event: SettlementEvent): void {
    this.#outputs.push({ type: 'event', event })
  }

  /** Drops the oldest settled epochs beyond the retention bound (their anchors stay on chain). */
  #retainEpochs(): void {
    const settled = [...this.#epochs.entries()]
      .filter(([, e]) => e.state === 'settled')
      .map(([n]) => n)
      .sort((a, b) => a - b)
    for (const number of settled.slice(0, Math.max(0, settled.length - this.#config.retainedEpochs))) {
      const epoch = this.#epochs.get(number)
      for (const key of epoch?.actions ?? []) this.#actions.delete(key)
      this.#epochs.delete(number)
      this.#dropped.add(number)
    }
  }
}

/** Refuses an option that is not a safe integer of at least `min` (`LEDGER__INVALID_INPUT`). */
function assertIntegerOption(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new LedgerError('LEDGER__INVALID_INPUT', `${name} must be an integer of at least ${min}, got ${value}`, {
      option: name,
      value,
    })
  }
}
