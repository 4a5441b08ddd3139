import { z } from 'zod'
import { hash, id, peerId, uint } from './fields.js'

/** A verifier's signed judgement of a task's output, published on `/tessera/1/verdicts`. */
export const verdictSchema = z.object({
  jobId: id,
  taskId: id,
  worker: peerId,
  verifier: peerId,
  root: hash,
  outcome: z.union([z.literal('pass'), z.literal('fail'), z.literal('refused')]),
  /** Hash of the fraud proof that backs a failure, when there is one. */
  fraudProof: hash.optional(),
  /** Arbitration round: 0 for the first check, 1+ for further peers. */
  round: uint,
  /** On a failure: the further peer asked to arbitrate it (it fetches the fraud proof by its hash). */
  arbiter: peerId.optional(),
  issuedAt: uint,
})

export type Verdict = z.output<typeof verdictSchema>
