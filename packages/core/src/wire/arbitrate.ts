import { z } from 'zod'
import { MAX_ARBITRATION_ROUNDS, MAX_FRAUD_PROOF_WIRE_BYTES, MAX_QUOTED_ENVELOPE_BYTES } from '../constants.js'
import { boundedBytes, id, peerId, posInt, uint } from './fields.js'
import { orderSchema } from './order.js'

/**
 * An accuser's request that a further peer arbitrate its fraud proof (round 1 or later). The arbiter recomputes the
 * disputed chunk from the job's inputs and publishes its verdict. It must trust the order it recomputes from as the
 * creator's: a creator accusing its own worker includes the order (signed with this message); a delegate forwards
 * the creator's signed `assign` envelope, which carries it.
 */
export const arbitrateSchema = z
  .object({
    jobId: id,
    taskId: id,
    accuser: peerId,
    creator: peerId,
    round: posInt.max(MAX_ARBITRATION_ROUNDS),
    /** The fraud proof (`@tessera/proof`'s DAG-CBOR encoding), which quotes the worker's signed Result. */
    fraudProof: boundedBytes(MAX_FRAUD_PROOF_WIRE_BYTES),
    /** The job's order, when the accuser is its creator. */
    order: orderSchema.optional(),
    /** The creator's signed `assign` envelope, when the accuser is the creator's delegate. */
    assignment: boundedBytes(MAX_QUOTED_ENVELOPE_BYTES).optional(),
    issuedAt: uint,
  })
  .refine(
    (a) =>
      a.accuser === a.creator
        ? a.order !== undefined &&
          a.assignment === undefined &&
          a.order.jobId === a.jobId &&
          a.order.creator === a.creator
        : a.order === undefined && a.assignment !== undefined,
    {
      message: "a creator's accusation carries its order; a delegate's carries the creator's assignment",
      path: ['order'],
    },
  )

export type Arbitrate = z.output<typeof arbitrateSchema>
