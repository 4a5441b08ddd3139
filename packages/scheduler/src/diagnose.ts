import { MAX_TILE_PIXELS, type Order } from '@tessera/core'
import { DEFAULT_WORK_TOLERANCE } from './constants.js'
import type { CapacityEntry } from './market.js'
import type { TierPolicy } from './tiers.js'
import { isTooLarge, isUnderpriced } from './work.js'

/**
 * Why a capacity record cannot serve an order, checked in this order (a record is counted under the first reason
 * that applies):
 *
 * - `expired`: the record's envelope has expired (the peer may be gone);
 * - `tier`: the creator's tier policy does not admit the peer (allowlist, reputation or stake);
 * - `features`: the peer lacks a required feature;
 * - `memory`: the peer has less memory than required;
 * - `tooLarge`: a render task's tile has more pixels than core's `MAX_TILE_PIXELS`, the default bound of a worker's
 *   `maxTilePixels`: a capacity record does not say what its device holds, so a peer with a larger device may bid yet;
 * - `underpriced`: a task's work, estimated from the order, is more than the default work tolerance (16) times what
 *   its benchmark-hours pay for, so a worker skips the order (the same for every peer: both scale with its score);
 * - `price`: the peer asks more than the order's maximum price;
 * - `busy`: every task slot of the peer is in use.
 */
export const EXCLUSION_REASONS = Object.freeze([
  'expired',
  'tier',
  'features',
  'memory',
  'tooLarge',
  'underpriced',
  'price',
  'busy',
] as const)

/** Why a capacity record's peer could not bid on an order: one of {@link EXCLUSION_REASONS}. */
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number]

/** The why-no-bid diagnostic of an order. */
export interface Diagnostic {
  readonly jobId: string
  /** When it was computed, ms. */
  readonly at: number
  /** Capacity records in the creator's view (expired ones included until pruned). */
  readonly seen: number
  /** Records that pass every check: peers that could have bid. */
  readonly eligible: number
  /** Records excluded, by first failing reason; `eligible` plus these sum to `seen`. */
  readonly excluded: Readonly<Record<ExclusionReason, number>>
  /** Valid bids received in the current (or last) bid window. */
  readonly bids: number
  /** Bids the order asked for (`minBids`). */
  readonly needed: number
}

/** True when `offered` holds every label in `required`. */
export function hasFeatures(required: readonly string[], offered: readonly string[]): boolean {
  if (required.length === 0) return true
  return required.every((feature) => offered.includes(feature))
}

/** What matching needs from an order. */
export type MatchableOrder = Pick<Order, 'tier' | 'maxPrice' | 'requirements' | 'split' | 'benchHoursPerTask'>

/**
 * The first reason `entry` cannot serve `order` at `now`, or undefined when it can. `stakeOf` overrides the
 * record's self-declared stake (e.g. with the ledger's figure) when it knows the peer.
 */
export function exclusionOf(
  order: MatchableOrder,
  entry: CapacityEntry,
  policy: TierPolicy,
  now: number,
  stakeOf?: (peerId: string) => bigint | undefined,
): ExclusionReason | undefined {
  const { record } = entry
  if (entry.expiresAt <= now) return 'expired'
  if (policy.refusal(order.tier, record.peer, stakeOf?.(record.peer) ?? record.stake) !== undefined) return 'tier'
  if (!hasFeatures(order.requirements.features, record.features)) return 'features'
  if (record.memoryMb < order.requirements.minMemoryMb) return 'memory'
  if (isTooLarge(order, MAX_TILE_PIXELS)) return 'tooLarge'
  if (isUnderpriced(order, record.score, DEFAULT_WORK_TOLERANCE)) return 'underpriced'
  if (record.price > order.maxPrice) return 'price'
  if (record.busy >= record.slots) return 'busy'
  return undefined
}

/** Counts `entries` by exclusion reason for `order`. */
export function diagnoseOrder(
  order: MatchableOrder & Pick<Order, 'jobId' | 'minBids'>,
  entries: Iterable<CapacityEntry>,
  policy: TierPolicy,
  now: number,
  bids: number,
  stakeOf?: (peerId: string) => bigint | undefined,
): Diagnostic {
  const excluded = Object.fromEntries(EXCLUSION_REASONS.map((reason) => [reason, 0])) as Record<ExclusionReason, number>
  let seen = 0
  let eligible = 0
  for (const entry of entries) {
    seen++
    const reason = exclusionOf(order, entry, policy, now, stakeOf)
    if (reason === undefined) eligible++
    else excluded[reason]++
  }
  return Object.freeze({
    jobId: order.jobId,
    at: now,
    seen,
    eligible,
    excluded: Object.freeze(excluded),
    bids,
    needed: order.minBids,
  })
}
