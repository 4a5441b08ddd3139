import { z } from 'zod'
import { MAX_TASKS_PER_MESSAGE } from '../constants.js'
import { id, peerId, uint } from './fields.js'

/** A worker's proof of life for its lease on a job's tasks. */
export const heartbeatSchema = z.object({
  jobId: id,
  worker: peerId,
  /** Tasks still in progress. */
  taskIds: z.array(id).max(MAX_TASKS_PER_MESSAGE),
  /** Tasks the worker gives back unfinished (it withdrew or failed them): the creator auctions them again. */
  withdrawn: z.array(id).max(MAX_TASKS_PER_MESSAGE).optional(),
  /**
   * The worker leaves the job (it withdrew, or a failure condemned the order): once it holds no task, the creator
   * awards it nothing more in the job and refuses its bids on it. Absent, the worker stays, whatever it gave back.
   */
  leaving: z.boolean().optional(),
  issuedAt: uint,
})

export type Heartbeat = z.output<typeof heartbeatSchema>
