/**
 * @packageDocumentation
 *
 * `@tessera/node`: The headless peer `tessera`: CLI, config, datastore, metrics, logs and the end-to-end demo. See README.md.
 */
export * from './errors.js'
