/**
 * @packageDocumentation
 *
 * `@tessera/proof`: verification by redundant sampling as a sans-IO state machine. See README.md.
 */
export * from './errors.js'
export * from './merkle.js'
