import { z } from 'zod'
import { NONCE_BYTES, MAX_CHALLENGE_CHUNKS } from '../constants.js'
import { fixedBytes, hash, id, peerId, posInt, uint } from './fields.js'

/**
 * A verifier's challenge: the nonce is revealed only after the worker committed, and the chunk indices derive
 * from hash(root, nonce), so the worker could not predict them.
 */
export const challengeSchema = z.object({
  jobId: id,
  taskId: id,
  worker: peerId,
  verifier: peerId,
  root: hash,
  nonce: fixedBytes(NONCE_BYTES),
  count: posInt.max(MAX_CHALLENGE_CHUNKS),
  issuedAt: uint,
})

export type Challenge = z.output<typeof challengeSchema>
