import { z } from 'zod'
import { amount, id, nonNegative, peerId, posInt, uint } from './fields.js'

/** A worker's offer for an order, published on `/tessera/1/bids`. */
export const bidSchema = z.object({
  jobId: id,
  worker: peerId,
  /** Price per benchmark-hour, token units. */
  price: amount,
  /** Expected time to finish one task, milliseconds. */
  etaMs: uint,
  /** The worker's capacity score, benchmark units. */
  score: nonNegative,
  /** Tasks of this job the worker will take at most. */
  maxTasks: posInt,
  issuedAt: uint,
})

export type Bid = z.output<typeof bidSchema>
