/**
 * @packageDocumentation
 *
 * `@tessera/scheduler`: Tessera's market as sans-IO state machines. A {@link CreatorMachine} orders jobs, runs
 * each job's reverse auction within its reputation tier, awards tasks, keeps leases alive by heartbeats and
 * re-auctions what lost leases and failed verifications leave behind. A {@link WorkerMachine} bids on the orders
 * it can serve, runs awarded tasks through its driver and returns results. Neither reads a clock nor does I/O:
 * the real node drives them over `@tessera/core`'s message bus (see `./driver`), the simulator under virtual time.
 *
 * @example
 * ```ts
 * import { ManualClock, seededRng } from '@tessera/core'
 * import { CreatorMachine, WorkerMachine, fixedPrice } from '@tessera/scheduler'
 *
 * const clock = new ManualClock(0)
 * const creator = new CreatorMachine({ self: 'creator-peer-id', rng: seededRng(1), verify: false })
 * const jobId = creator.submit({
 *   kind: 'inference', inputs: ['bafy…model'], split: { kind: 'inference', items: 64, itemsPerTask: 16 },
 *   tier: 3, maxPrice: 100n, benchHoursPerTask: 0.01, minBids: 1,
 * }, clock.now())
 * const outputs = []
 * for (let out = creator.pollOutput(); out; out = creator.pollOutput()) outputs.push(out.kind)
 * ```
 */
export * from './constants.js'
export * from './creator.js'
export * from './diagnose.js'
export * from './errors.js'
export * from './events.js'
export * from './job.js'
export * from './market.js'
export * from './pricing.js'
export * from './ranking.js'
export * from './split.js'
export * from './tiers.js'
export * from './work.js'
export * from './worker.js'
