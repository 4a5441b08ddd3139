import { getAddressDecoder, type Address } from '@solana/kit'
import type { Receipt } from '@tessera/core'
import { SettlementMachine, type SettlementAction, type SettlementInput, type SettlementOutput } from '@tessera/ledger'
import type { AcceptedTask } from '@tessera/scheduler'
import { lognormal } from '../engine/distributions.js'
import type { WorldContext } from './context.js'
import type { Earner } from './economy.js'
import { MachineHost } from './machine-host.js'

/** Median time for a transaction to confirm on the modelled chain, ms (Solana's optimistic confirmation). */
const CONFIRM_MS = 800

const addresses = getAddressDecoder()

/** A deterministic Solana address for a simulated wallet: the 32 bytes of its index, base58-encoded by kit. */
export function simAddress(index: number): Address {
  const bytes = new Uint8Array(32)
  new DataView(bytes.buffer).setUint32(28, index + 1)
  bytes[0] = 0x54 // 'T', so simulated wallets stand out
  return addresses.decode(bytes)
}

interface Submitted {
  role: SettlementRole
  action: SettlementAction
}

/**
 * A creator's settlement: `@tessera/ledger`'s SettlementMachine batches the creator's receipts per epoch, asks for
 * one anchor and then for payouts batched per payee; the simulator plays the chain, confirming each action after a
 * modelled delay, or failing it when the creator never pays. Receipts carry the worker's wallet as `payee`; the
 * simulator does not sign them (the machine's `verifySignatures: false` is meant for this).
 */
export class SettlementRole {
  readonly host: MachineHost<SettlementInput, SettlementOutput>
  readonly #ctx: WorldContext
  readonly #creator: string
  readonly #pays: boolean
  readonly #byWallet: Map<string, Earner>
  /** Actions submitted to the modelled chain and not yet carried out, in submission order. */
  readonly #inFlight = new Set<Submitted>()
  #outstanding = 0n

  constructor(ctx: WorldContext, creator: string, pays: boolean, byWallet: Map<string, Earner>) {
    this.#ctx = ctx
    this.#creator = creator
    this.#pays = pays
    this.#byWallet = byWallet
    const machine = new SettlementMachine({
      settlementId: creator,
      feeBps: ctx.scenario.economics.feeBps,
      verifySignatures: false,
      // Nothing asks a simulated creator for inclusion proofs: a thousand creators keeping every batch of a long
      // run would hold each receipt's Merkle tree to the end.
      retainedEpochs: 0,
    })
    this.host = new MachineHost(
      ctx.sim,
      machine,
      (o) => this.#onOutput(o),
      (e) => ctx.rejected(e),
    )
  }

  /** An accepted task becomes a receipt of the current epoch. */
  receipt(task: AcceptedTask, worker: Earner, epoch: number): void {
    const receipt: Receipt = {
      jobId: task.jobId,
      taskId: task.taskId,
      creator: this.#creator,
      worker: task.worker,
      amount: task.amount,
      commitment: task.result.root,
      epoch,
      payee: worker.wallet,
    }
    this.#outstanding += task.amount
    this.host.feed({ type: 'receipt', receipt })
  }

  closeEpoch(epoch: number): void {
    this.host.feed({ type: 'close-epoch', epoch })
  }

  /**
   * Gross amount of the receipts filed here whose payout has neither confirmed nor failed for good: receipts of
   * an epoch still open, or of one whose actions are in flight. Zero once every closed epoch has settled.
   */
  get outstanding(): bigint {
    return this.#outstanding
  }

  /**
   * Carries out at once every action still in flight, and the actions their confirmations lead to (an anchor's
   * payouts), until the machine submits nothing more. For the run's end: nothing else happens after the horizon,
   * so the chain's delay would change no figure, only keep the last epoch from settling.
   */
  drain(): void {
    // A Set iterates over what is added while it iterates: the payouts an anchor's confirmation submits.
    for (const submitted of this.#inFlight) {
      this.#inFlight.delete(submitted)
      this.#execute(submitted.action)
    }
  }

  #onOutput(output: SettlementOutput): void {
    if (output.type === 'event') return
    const submitted: Submitted = { role: this, action: output.action }
    this.#inFlight.add(submitted)
    const delay = lognormal(this.#ctx.rng.chain, CONFIRM_MS, 0.3)
    this.#ctx.sim.after(delay, chainExecutes, submitted)
  }

  /** @internal The modelled chain carries out an action, unless {@link drain} already did. */
  static execute(submitted: Submitted): void {
    if (submitted.role.#inFlight.delete(submitted)) submitted.role.#execute(submitted.action)
  }

  #execute(action: SettlementAction): void {
    const { economy } = this.#ctx
    if (action.kind === 'payout') {
      this.#outstanding -= action.transfers.reduce((sum, t) => sum + t.amount, 0n) + action.fee
      if (!this.#pays) {
        for (const t of action.transfers) economy.owe(t.amount)
        economy.owe(action.fee)
        this.host.feed({ type: 'action-failed', key: action.key, code: 'SIM__CREATOR_NEVER_PAYS', retryable: false })
        return
      }
      for (const t of action.transfers) {
        const worker = this.#byWallet.get(t.payee)
        if (worker !== undefined) economy.pay(worker, t.amount)
      }
      economy.collectFee(action.fee)
    }
    this.host.feed({ type: 'action-confirmed', key: action.key, signature: `sim:${action.key}` })
  }
}

function chainExecutes(submitted: Submitted): void {
  SettlementRole.execute(submitted)
}
