import { z } from 'zod'
import { MAX_CHALLENGE_CHUNKS, MAX_CHUNK_BYTES, MAX_MERKLE_DEPTH } from '../constants.js'
import { boundedBytes, hash, id, peerId, uint } from './fields.js'

/** A worker's answer to a challenge: the chunks at the challenged indices with their Merkle proofs. */
export const revealSchema = z.object({
  jobId: id,
  taskId: id,
  worker: peerId,
  root: hash,
  indices: z.array(uint).max(MAX_CHALLENGE_CHUNKS),
  chunks: z.array(boundedBytes(MAX_CHUNK_BYTES)).max(MAX_CHALLENGE_CHUNKS),
  proofs: z.array(z.array(hash).max(MAX_MERKLE_DEPTH)).max(MAX_CHALLENGE_CHUNKS),
  issuedAt: uint,
})

export type Reveal = z.output<typeof revealSchema>
