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
  /**
   * The worker keeps this bid for an award until this time (ms), then forgets it and refuses an award for it: its
   * window's close plus the worker's award grace, or the order's deadline. Absent (a peer of an older version): the
   * creator assumes the default award grace.
   */
  standsUntil: uint.optional(),
})

export type Bid = z.output<typeof bidSchema>
