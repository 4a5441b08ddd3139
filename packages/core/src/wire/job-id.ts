import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '../sha256.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Order } from './order.js'

/**
 * A job's id commits to its order's content: the first 16 bytes of SHA-256 over the fields below, in hex.
 *
 * Why: a worker's signed Result names only the job id, and arbiters and delegates recompute from the order someone
 * hands them. If the id were free, a creator could sign a second order under the same id (other inputs, another
 * split) and have an honest worker's output judged against it. With the id derived from the content, the Result
 * binds the one order the worker computed from, and every peer checks the binding when it decodes an order.
 */

/** Domain tag hashed first, so a job id is never the hash of some other structure. */
export const JOB_ID_DOMAIN = 'tessera/job/2'

/** Hex digits in a job id (16 bytes). */
export const JOB_ID_HEX_LENGTH = 32

/**
 * What the id commits to: everything but the bid window (`bidDeadline`, `issuedAt`) and `cancelled`, which change
 * when the creator re-opens or withdraws the job.
 */
export type OrderContent = Omit<Order, 'jobId' | 'bidDeadline' | 'issuedAt' | 'cancelled'>

/**
 * The job id for an order's content. The fields go into a DAG-CBOR array in a fixed order (not a map), so a field
 * added to Order later changes no existing id unless this function is changed to include it.
 */
export function jobIdOf(content: OrderContent): string {
  const s = content.split
  const split: unknown[] =
    s.kind === 'render'
      ? [s.kind, s.firstFrame, s.frames, s.width, s.height, s.tileWidth, s.tileHeight, s.samples]
      : [s.kind, s.items, s.itemsPerTask]
  // The panorama's lighting changes every pixel, so it is committed too; appended only when present, so the ids of
  // orders without a panorama stay what they were. `visible` is written out (absent means true): one meaning, one id.
  if (s.kind === 'render' && s.environment !== undefined) {
    const e = s.environment
    split.push([e.intensity, e.rotation, e.visible ?? true])
  }
  // Likewise the frame rate an animation plays at (tagged: it may come without a panorama before it).
  if (s.kind === 'render' && s.fps !== undefined) split.push(['fps', s.fps])
  if (s.kind === 'render' && s.animation !== undefined) split.push(['animation', s.animation])
  // An inference's declared work is what workers price it by and check its model against: committed, tagged, only
  // when present, so the ids of orders without it stay what they were.
  if (s.kind === 'inference' && s.flopsPerItem !== undefined) split.push(['flopsPerItem', s.flopsPerItem])
  const v = content.verification
  const bytes = dagCbor.encode([
    JOB_ID_DOMAIN,
    content.creator,
    content.nonce,
    content.kind,
    content.inputs,
    split,
    content.tier,
    content.maxPrice,
    content.benchHoursPerTask,
    [content.requirements.features, content.requirements.minMemoryMb],
    content.minBids,
    content.deadline,
    [v.detect, v.withinTasks, v.cheatRate, v.maxOverhead],
    content.escrow,
  ])
  return bytesToHex(sha256(bytes).subarray(0, JOB_ID_HEX_LENGTH / 2))
}

/** Whether an order's id is the one its content derives; false (not a throw) for a value that is not an order. */
export function orderIdMatches(order: Order): boolean {
  try {
    return order.jobId === jobIdOf(order)
  } catch {
    return false
  }
}
