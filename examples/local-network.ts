/**
 * Start a small Tessera network on this machine and keep it running until Ctrl-C.
 *
 * Each peer is a separate `tessera node start` process (libp2p over loopback TCP, the WebGPU engine, the market
 * and an embedded LiteSVM ledger) with its own data directory; the first is the bootstrap peer and the others join
 * through it. The script prints every peer's id, its libp2p addresses and its control API address, which the
 * `tessera` CLI and the other examples talk to; Ctrl-C (SIGINT) or SIGTERM stops them all gracefully.
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/local-network.ts [--peers 3] [--dir <dir>] [--once]
 *
 *   --peers N   how many peers (default 3)
 *   --dir DIR   parent of the peers' data directories, kept afterwards (default: a temporary directory, removed)
 *   --once      start the network, print it and stop at once (for tests)
 *
 * While it runs, any peer can be driven with the CLI, e.g.
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx packages/node/src/bin/tessera.ts \
 *     --data-dir <dir>/peer-1 job submit scene.glb --width 64 --height 64 --tile 32
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { wholeNumberFlag } from './lib/flags.js'
import { startLocalNetwork } from './lib/local-network.js'

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '3' },
    dir: { type: 'string' },
    once: { type: 'boolean', default: false },
  },
})
const count = wholeNumberFlag('peers', values.peers, 1, 16)
const dir = values.dir !== undefined ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'tessera-network-'))

console.log(`starting ${count} peers in ${dir}`)
const names = Array.from({ length: count }, (_, i) => `peer-${i + 1}`)
// Every peer is a worker (it bids on orders) and can also order work itself through its control API.
const network = await startLocalNetwork({ dir, peers: names.map((name) => ({ name })), capacityRecords: count - 1 })

for (const peer of network.peers) {
  const status = await peer.client.status()
  const api = JSON.parse(await readFile(peer.dir.apiAddress, 'utf8')) as { host: string; port: number }
  console.log(`${peer.name}  peer id ${status.peerId}`)
  console.log(`        libp2p  ${status.addrs.join('  ')}`)
  console.log(`        api     http://${api.host}:${api.port} (token in ${peer.dir.apiToken}; /metrics is open)`)
  console.log(`        data    ${peer.dir.root}`)
}
const first = await network.peers[0]!.client.status()
console.log(
  `network ready: ${count} peers; ${names[0]} is connected to ${first.peers} and sees ${first.capacityRecords} capacity records`,
)

if (!values.once) {
  console.log('press Ctrl-C to stop')
  const signal = await new Promise<string>((resolveSignal) => {
    process.once('SIGINT', () => resolveSignal('SIGINT'))
    process.once('SIGTERM', () => resolveSignal('SIGTERM'))
  })
  console.log(`${signal}: stopping`)
}
await network.stop()
if (values.dir === undefined) await rm(dir, { recursive: true, force: true })
console.log(`stopped ${count} peers`)
