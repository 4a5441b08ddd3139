import { z } from 'zod'
import { cid, hash, id, label, peerId, posInt, uint } from './fields.js'

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
})

export type Result = z.output<typeof resultSchema>
