/**
 * @packageDocumentation
 *
 * `@tessera/node`: the headless peer `tessera` (CLI, config, datastore, metrics, JSON logs, control API) and the
 * composition of a whole peer from the other packages: libp2p node, WebGPU engine, market, verification and
 * settlement. See README.md.
 *
 * @example
 * ```ts
 * import { runTessera, spawnPeer } from '@tessera/node'
 *
 * await runTessera(['--data-dir', './peer-a', 'init'])
 * const peer = await spawnPeer({ name: 'a', dataDir: './peer-a' })
 * console.log(await peer.client.status())
 * await peer.stop()
 * ```
 */
export * from './api/client.js'
export * from './api/contract.js'
export * from './api/proof.js'
export * from './api/server.js'
export * from './cli/program.js'
export * from './config.js'
export * from './data-dir.js'
export * from './datastore.js'
export * from './demo/run-demo.js'
export * from './errors.js'
export * from './local/spawn-peer.js'
export * from './metrics.js'
export * from './peer/peer.js'
export * from './peer/tensor-bundle.js'
