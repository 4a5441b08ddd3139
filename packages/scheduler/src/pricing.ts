import type { Order } from '@tessera/core'
import { BENCH_HOUR_SCALE, MAX_AMOUNT, PRICE_MULTIPLIER_SCALE } from './constants.js'
import { SchedulerError } from './errors.js'

/** What a worker's pricing strategy sees when it prices a bid. */
export interface PricingContext {
  readonly order: Order
  /** The worker's load: tasks running or queued over its slots (0 idle, 1 full, above 1 queued beyond its slots). */
  readonly utilisation: number
  /** The market's depth: tasks of orders seeking bids over free task slots seen (see `MarketView.depth`). */
  readonly depth: number
  readonly now: number
}

/**
 * A worker's price per benchmark-hour for an order, in token units. A worker bids only when the price is within
 * the order's `maxPrice`. Strategies are pure functions of their context.
 */
export type PricingStrategy = (context: PricingContext) => bigint

/** Always asks `price`. Throws `SCHEDULER__INVALID_CONFIG` when it is outside the u64 range. */
export function fixedPrice(price: bigint): PricingStrategy {
  if (price < 0n || price > MAX_AMOUNT) invalidPricing('price', price, 'within the u64 range')
  return () => price
}

/** Options of {@link demandPrice}. */
export interface DemandPriceInit {
  /** The price when idle in a slack market, token units per benchmark-hour. */
  base: bigint
  /** Price rise at full utilisation: `base x (1 + utilisationWeight)`. @default 1 */
  utilisationWeight?: number
  /** Price rise per unit of market depth above 1 (more demand than free slots). @default 0.5 */
  depthWeight?: number
  /** The price never exceeds `base x maxMultiplier`. @default 4 */
  maxMultiplier?: number
}

/**
 * A price that rises with the worker's own utilisation and with the market's depth (options out of range throw
 * `SCHEDULER__INVALID_CONFIG`):
 * `base x min(maxMultiplier, (1 + utilisationWeight x min(utilisation, 1)) x (1 + depthWeight x max(0, depth - 1)))`.
 * It never falls below `base` and is non-decreasing in both utilisation and depth. The multiplier is applied in
 * fixed point (parts per million), so prices are exact bigints.
 */
export function demandPrice(init: DemandPriceInit): PricingStrategy {
  const { base, utilisationWeight = 1, depthWeight = 0.5, maxMultiplier = 4 } = init
  if (base < 0n || base > MAX_AMOUNT) invalidPricing('base', base, 'within the u64 range')
  for (const [name, v] of [
    ['utilisationWeight', utilisationWeight],
    ['depthWeight', depthWeight],
  ] as const) {
    if (!(v >= 0 && Number.isFinite(v))) invalidPricing(name, v, 'finite and non-negative')
  }
  if (!(maxMultiplier >= 1 && Number.isFinite(maxMultiplier))) {
    invalidPricing('maxMultiplier', maxMultiplier, 'finite and at least 1')
  }
  return ({ utilisation, depth }) => {
    const load = Math.min(Math.max(utilisation, 0), 1)
    const excess = Math.max(depth - 1, 0)
    const multiplier = Math.min(maxMultiplier, (1 + utilisationWeight * load) * (1 + depthWeight * excess))
    const scaled = (base * BigInt(Math.round(multiplier * Number(PRICE_MULTIPLIER_SCALE)))) / PRICE_MULTIPLIER_SCALE
    return scaled > MAX_AMOUNT ? MAX_AMOUNT : scaled
  }
}

function invalidPricing(option: string, value: bigint | number, expected: string): never {
  throw new SchedulerError('SCHEDULER__INVALID_CONFIG', `pricing option ${option} must be ${expected}, not ${value}`, {
    option,
    value,
  })
}

/** Benchmark-hours in fixed point (micro-benchmark-hours), so costs are exact bigints. */
export function benchMicroHours(benchHours: number): bigint {
  return BigInt(Math.round(benchHours * Number(BENCH_HOUR_SCALE)))
}

/**
 * What a task costs at `price` per benchmark-hour for `benchHours` benchmark-hours, token units, rounded down.
 * The creator ranks bids by it and settlement pays it.
 */
export function expectedCost(price: bigint, benchHours: number): bigint {
  return (price * benchMicroHours(benchHours)) / BENCH_HOUR_SCALE
}

/**
 * The most a job can cost: each of its `tasks` paid `maxPrice` for `benchHours` benchmark-hours. A creator funds its
 * escrow with it, so `resolveJobSpec` holds it to {@link MAX_AMOUNT}: within it, so is every task's pay.
 */
export function jobBudget(maxPrice: bigint, benchHours: number, tasks: number): bigint {
  return expectedCost(maxPrice, benchHours) * BigInt(tasks)
}
