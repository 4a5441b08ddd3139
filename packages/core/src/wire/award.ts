import { z } from 'zod'
import { MAX_TASKS_PER_MESSAGE } from '../constants.js'
import { amount, id, peerId, posInt, uint } from './fields.js'

/** The creator's signed grant of tasks to a worker: a lease that lives while heartbeats arrive. */
export const awardSchema = z.object({
  jobId: id,
  creator: peerId,
  worker: peerId,
  taskIds: z.array(id).min(1).max(MAX_TASKS_PER_MESSAGE),
  /** Agreed price per benchmark-hour, token units. */
  price: amount,
  /** A lease with no heartbeat for this long is lost. */
  leaseMs: posInt,
  /** Heartbeats are expected this often. */
  heartbeatMs: posInt,
  issuedAt: uint,
})

export type Award = z.output<typeof awardSchema>
