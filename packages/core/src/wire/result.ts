import { z } from 'zod'
import { cid, hash, id, label, payeeAddress, peerId, posInt, uint } from './fields.js'

/** A worker's signed commitment to a task's output: a Merkle root over its chunks (tile rows, tensor slices). */
export const resultSchema = z.object({
  jobId: id,
  taskId: id,
  worker: peerId,
  root: hash,
  /** Number of chunks (Merkle leaves). */
  chunks: posInt,
  /** Where the full output can be fetched. */
  output: cid,
  /** Tolerance class the output is compared under (`bitwise`, `relative`, `psnr`). */
  tolerance: label,
  computeMs: uint,
  issuedAt: uint,
  /**
   * Where the worker is paid for this task (a base58 Solana address, as in its capacity record): the creator signs
   * the task's receipt to it, so a worker is paid whether or not the creator still holds its capacity record.
   * Absent (a peer of an older version): the capacity record's payee.
   */
  payee: payeeAddress.optional(),
})

export type Result = z.output<typeof resultSchema>
