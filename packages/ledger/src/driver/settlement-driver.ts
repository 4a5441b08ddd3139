import type { Address, Signature, TransactionSigner } from '@solana/kit'
import { logger as createLogger, type Logger } from '@libp2p/logger'
import { delay, isTesseraError, systemClock, throwIfAborted, type AbortOptions, type Clock } from '@tessera/core'
import { anchorMemo } from '../anchor.js'
import { memoInstruction } from '../memo.js'
import { isLedgerError, isRetryableLedgerError } from '../errors.js'
import { actionDigest, type ActionExecutor, type ActionResult } from '../executor.js'
import { ensurePayeeAccounts, payoutInstructions } from '../payout.js'
import type { SettlementAction, SettlementEvent, SettlementInput, SettlementMachine } from '../settlement-machine.js'
import type { Vault } from '../vault.js'

/** What a {@link SettlementDriver} runs: the machine, the executor that acts on chain, and the epoch vault. */
export interface SettlementDriverOptions {
  machine: SettlementMachine
  executor: ActionExecutor
  /** The epoch vault payouts come from, and the two co-signers that authorise them. */
  vault: Vault
  signers: readonly [TransactionSigner, TransactionSigner]
  /** The treasury's token account (protocol fees). */
  treasuryAccount: Address
  /** Create payees' token accounts that are missing before paying them. @default true */
  createPayeeAccounts?: boolean
  /** @default systemClock */
  clock?: Clock
  logger?: Logger
}

/**
 * Runs a {@link SettlementMachine} against a chain: turns its `submit` outputs into journaled transactions through
 * the {@link ActionExecutor} (anchor memo; payouts out of the epoch vault), feeds back confirmations and failures,
 * and sleeps until its retry timers are due. All side effects of settlement live here; all decisions in the machine.
 */
export class SettlementDriver {
  readonly #options: SettlementDriverOptions
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #listeners = new Set<(event: SettlementEvent) => void>()
  /** Results of executed actions, for callers that want the signatures and whether they were replays. */
  readonly results = new Map<string, ActionResult>()

  constructor(options: SettlementDriverOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? createLogger('tessera:ledger:settlement')
  }

  /** Settles whatever the journal left unfinished before the last shutdown. Call once before {@link run}. */
  async reconcile(options: AbortOptions = {}): Promise<void> {
    for (const { key, error } of await this.#options.executor.reconcile(options)) {
      if (error !== undefined) this.#logger.error('could not reconcile %s: %s', key, String(error))
    }
  }

  /** Feeds one input to the machine at the clock's time (throws the machine's coded errors for bad input). */
  handle(input: SettlementInput): void {
    this.#options.machine.handle(input, this.#clock.now())
  }

  /** Calls `listener` for every event the machine emits; returns a function that removes it. */
  onEvent(listener: (event: SettlementEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Carries out the machine's outputs, waiting out its retry timers, until it has nothing left to do. An abort (or
   * an error that is not the ledger's) rejects the call and hands the action in flight back to the machine as a
   * retryable failure: the next run tries it again after its backoff, and the journal replays what this one did.
   */
  async run(options: AbortOptions = {}): Promise<void> {
    const { machine } = this.#options
    for (;;) {
      throwIfAborted(options.signal)
      const output = machine.pollOutput()
      if (output?.type === 'event') {
        for (const listener of this.#listeners) listener(output.event)
        continue
      }
      if (output?.type === 'submit') {
        await this.#execute(output.action, options)
        continue
      }
      const due = machine.pollTimeout()
      if (due === undefined) return
      await delay(Math.max(0, due - this.#clock.now()), options.signal)
      machine.handleTimeout(this.#clock.now())
    }
  }

  async #execute(action: SettlementAction, options: AbortOptions): Promise<void> {
    const { machine, executor } = this.#options
    try {
      const result = await executor.execute(
        {
          key: action.key,
          digest: actionDigest([action.digest, this.#options.vault.address, this.#options.treasuryAccount]),
          instructions: () => this.#instructions(action, options),
        },
        options,
      )
      this.results.set(action.key, result)
      machine.handle({ type: 'action-confirmed', key: action.key, signature: result.signature }, this.#clock.now())
    } catch (e) {
      if (!isLedgerError(e)) {
        // An abort, or a fault outside the chain's answer: the machine still counts the action submitted, and left
        // so it would never ask for it again. Tried again later, the journal replays whatever this try left.
        const code = isTesseraError(e) ? e.code : e instanceof Error ? e.name : 'UNKNOWN'
        machine.handle({ type: 'action-failed', key: action.key, code, retryable: true }, this.#clock.now())
        throw e
      }
      this.#logger('action %s failed: %s', action.key, e.message)
      machine.handle(
        { type: 'action-failed', key: action.key, code: e.code, retryable: isRetryableLedgerError(e) },
        this.#clock.now(),
      )
    }
  }

  async #instructions(action: SettlementAction, options: AbortOptions) {
    if (action.kind === 'anchor') return [memoInstruction(anchorMemo(action))]
    const { executor, vault, signers, treasuryAccount } = this.#options
    if (this.#options.createPayeeAccounts ?? true) {
      await ensurePayeeAccounts(
        executor,
        vault.mint,
        action.transfers.map((t) => t.payee),
        options,
      )
    }
    return payoutInstructions({ vault, transfers: action.transfers, fee: action.fee, treasuryAccount, signers })
  }

  /** The signature an action was confirmed with (anchor keys give the anchor to read back). */
  signatureOf(key: string): Signature | undefined {
    return this.results.get(key)?.signature
  }
}
