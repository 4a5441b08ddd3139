import { z } from 'zod'
import { amount, hash, id, payeeAddress, peerId, signature, uint } from './fields.js'

/**
 * What a creator owes a worker for an accepted task, signed by both (`@tessera/ledger` defines the signed
 * bytes). Receipts batch per epoch into a Merkle root anchored on chain.
 */
export const receiptSchema = z.object({
  jobId: id,
  taskId: id,
  creator: peerId,
  worker: peerId,
  /**
   * Where the worker is paid: a base58 Solana address that owns its token account (`@tessera/ledger` checks it and
   * refuses to settle a receipt without one). Both signatures cover it, so nobody can redirect the payment.
   */
  payee: payeeAddress.optional(),
  /** Token units owed for the task, before the protocol fee. */
  amount,
  /** The output commitment (Merkle root) the payment is for. */
  commitment: hash,
  epoch: uint,
  creatorSig: signature.optional(),
  workerSig: signature.optional(),
})

export type Receipt = z.output<typeof receiptSchema>
