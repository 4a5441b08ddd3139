/**
 * The reverse auction's order of preference among the bids for one job, best first:
 *
 * 1. lower expected cost per task (price per benchmark-hour x the order's benchmark-hours per task);
 * 2. higher reputation;
 * 3. lower ETA;
 * 4. lower peer id (plain string order), so no two bids ever tie and every run picks the same winners.
 *
 * When the order estimates zero benchmark-hours every cost is zero and price does not decide.
 */
export interface RankableBid {
  readonly peer: string
  readonly price: bigint
  readonly etaMs: number
  readonly reputation: number
}

/** Negative when `a` is preferred to `b`; `microHours` is the order's benchmark-hours per task in fixed point. */
export function compareBids(a: RankableBid, b: RankableBid, microHours: bigint): number {
  const costA = a.price * microHours
  const costB = b.price * microHours
  if (costA !== costB) return costA < costB ? -1 : 1
  if (a.reputation !== b.reputation) return b.reputation - a.reputation
  if (a.etaMs !== b.etaMs) return a.etaMs - b.etaMs
  if (a.peer === b.peer) return 0
  return a.peer < b.peer ? -1 : 1
}

/** The bids sorted best first (a new array). */
export function rankBids<T extends RankableBid>(bids: readonly T[], microHours: bigint): T[] {
  return [...bids].sort((a, b) => compareBids(a, b, microHours))
}
