import type { Address } from '@solana/kit'
import type { Receipt } from '@tessera/core'
import { MerkleTree, taskKey as proofTaskKey, verifyMerkleProof } from '@tessera/proof'
import { MAX_RECEIPTS_PER_EPOCH } from './constants.js'
import { LedgerError } from './errors.js'
import { splitFee } from './fee.js'
import { receiptLeaf, verifyReceipt } from './receipt.js'

/** What one payee receives for an epoch: the sum of its receipts, less the protocol fee on that sum. */
export interface Payout {
  payee: Address
  gross: bigint
  net: bigint
  fee: bigint
  receipts: number
}

/** Where a receipt sits in its epoch's tree: enough, with the receipt, to check it against the anchor. */
export interface InclusionProof {
  epoch: number
  index: number
  size: number
  path: Uint8Array[]
}

/** The anchored facts of an epoch (as read back from the chain). */
export interface AnchorFacts {
  epoch: number
  size: number
  root: Uint8Array
}

/**
 * An epoch's receipts in canonical order (by job, then task), their Merkle tree and the payouts they add up to.
 * Pure and deterministic: the same receipts always give the same root and the same payouts, which is what lets a
 * restarted node rebuild the very actions it had journaled.
 */
export class EpochBatch {
  readonly epoch: number
  readonly receipts: readonly Receipt[]
  readonly payouts: readonly Payout[]
  readonly fee: bigint
  readonly #tree: MerkleTree
  readonly #index = new Map<string, number>()

  private constructor(epoch: number, keyed: KeyedReceipt[], feeBps: number) {
    this.epoch = epoch
    const receipts = keyed.map((k) => k.receipt)
    this.receipts = Object.freeze(receipts)
    this.#tree = MerkleTree.fromLeaves(receipts.map(receiptLeaf))
    keyed.forEach((k, i) => this.#index.set(k.key, i))
    const byPayee = new Map<Address, { gross: bigint; receipts: number }>()
    for (const r of receipts) {
      const payee = r.payee as Address
      const entry = byPayee.get(payee) ?? { gross: 0n, receipts: 0 }
      entry.gross += r.amount
      entry.receipts++
      byPayee.set(payee, entry)
    }
    this.payouts = Object.freeze(
      [...byPayee.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([payee, { gross, receipts: count }]) =>
          Object.freeze({ payee, gross, ...splitFee(gross, feeBps), receipts: count }),
        ),
    )
    this.fee = this.payouts.reduce((sum, p) => sum + p.fee, 0n)
  }

  /** Builds the batch of an epoch; receipts must already be checked (see `assertReceipt`) and of that epoch. */
  static build(epoch: number, receipts: readonly Receipt[], feeBps: number): EpochBatch {
    if (receipts.length === 0)
      throw new LedgerError('LEDGER__INVALID_INPUT', `epoch ${epoch} has no receipts`, { epoch })
    if (receipts.length > MAX_RECEIPTS_PER_EPOCH) {
      throw new LedgerError('LEDGER__RECEIPTS_EXCEEDED', `epoch ${epoch} has ${receipts.length} receipts`, {
        epoch,
        max: MAX_RECEIPTS_PER_EPOCH,
      })
    }
    for (const r of receipts) {
      if (r.epoch !== epoch || r.payee === undefined) {
        throw new LedgerError('LEDGER__INVALID_INPUT', `receipt ${taskKey(r)} does not belong to epoch ${epoch}`, {
          epoch,
        })
      }
    }
    // Each key built once: comparing by `taskKey` built two strings per comparison, n log n of them.
    const keyed = receipts.map((receipt) => ({ key: taskKey(receipt), receipt })).sort(compareKeyed)
    return new EpochBatch(epoch, keyed, feeBps)
  }

  get root(): Uint8Array {
    return this.#tree.root
  }

  get size(): number {
    return this.receipts.length
  }

  /** Gross token units owed across the epoch. */
  get total(): bigint {
    return this.payouts.reduce((sum, p) => sum + p.gross, 0n)
  }

  /** The position of a task's receipt, or undefined when it is not in this epoch. */
  indexOf(jobId: string, taskId: string): number | undefined {
    return this.#index.get(proofTaskKey(jobId, taskId))
  }

  /** The inclusion proof of the receipt at `index`. */
  proof(index: number): InclusionProof {
    return { epoch: this.epoch, index, size: this.size, path: this.#tree.proof(index) }
  }
}

/**
 * Checks that `receipt` is in the anchored epoch: its leaf and path lead to the anchored root at the claimed
 * index of a tree of the anchored size, its epoch matches, and both its signatures hold. Never throws.
 */
export function verifyReceiptInclusion(anchor: AnchorFacts, receipt: Receipt, proof: InclusionProof): boolean {
  if (proof.epoch !== anchor.epoch || receipt.epoch !== anchor.epoch || proof.size !== anchor.size) return false
  if (!verifyReceipt(receipt)) return false
  try {
    return verifyMerkleProof(anchor.root, receiptLeaf(receipt), proof.index, proof.size, proof.path)
  } catch {
    return false
  }
}

/** A receipt's task key (`@tessera/proof`'s `taskKey`): a task is paid at most once, ever. */
export function taskKey(receipt: Pick<Receipt, 'jobId' | 'taskId'>): string {
  return proofTaskKey(receipt.jobId, receipt.taskId)
}

/** A receipt with its task key, the batch's sort order. */
interface KeyedReceipt {
  key: string
  receipt: Receipt
}

function compareKeyed(a: KeyedReceipt, b: KeyedReceipt): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}
