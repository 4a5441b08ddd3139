/**
 * @packageDocumentation
 *
 * `@tessera/sim`: a deterministic discrete-event simulator that drives the node's own scheduler, proof and
 * settlement machines under virtual time. See README.md.
 */
export * from './constants.js'
export * from './errors.js'
export * from './engine/distributions.js'
export * from './engine/event-queue.js'
export * from './engine/simulation.js'
export * from './engine/streams.js'
export * from './net/message-size.js'
export * from './net/network-model.js'
export * from './net/sim-bus.js'
export * from './net/sim-network.js'
export * from './scenario/duration.js'
export * from './scenario/load.js'
export * from './scenario/schema.js'
export type * from './scenario/types.js'
