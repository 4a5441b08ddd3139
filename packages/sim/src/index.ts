/**
 * @packageDocumentation
 *
 * `@tessera/sim`: A deterministic discrete-event simulator that drives the node's own scheduler, proof and settlement machines. See README.md.
 */
export * from './errors.js'
