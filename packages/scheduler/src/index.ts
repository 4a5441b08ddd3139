/**
 * @packageDocumentation
 *
 * `@tessera/scheduler`: The market as a sans-IO state machine: jobs, task splitting, orders, bids, reverse auction within tiers, awards, leases and reassignment. See README.md.
 */
export * from './errors.js'
