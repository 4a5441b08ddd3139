import { z } from 'zod'
import { MAX_QUOTED_ENVELOPE_BYTES } from '../constants.js'
import { boundedBytes, id, peerId, uint } from './fields.js'
import { orderSchema } from './order.js'

/**
 * A creator's request that a third peer verify one of its workers' Results for it (a verifier chosen
 * unpredictably, DESIGN.md). The delegate challenges the worker itself, recomputes the revealed chunks from the
 * order's inputs, publishes its verdict on `/tessera/1/verdicts`, and is owed for the chunks it checked.
 */
export const assignSchema = z
  .object({
    jobId: id,
    taskId: id,
    creator: peerId,
    /** The worker's signed Result envelope as the creator received it: the delegate checks the worker's signature. */
    result: boundedBytes(MAX_QUOTED_ENVELOPE_BYTES),
    /** The job's order, to fetch its inputs and recompute: this message's signature is the creator's word for it. */
    order: orderSchema,
    issuedAt: uint,
  })
  .refine((a) => a.order.jobId === a.jobId && a.order.creator === a.creator, {
    message: "the order must be the assigned job's, issued by the assigning creator",
    path: ['order'],
  })

export type Assign = z.output<typeof assignSchema>
