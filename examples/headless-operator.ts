/**
 * What a node operator does, scripted: `tessera init`, `tessera node start` as a long-running process, a look at
 * its status over the control API, a Prometheus scrape of `/metrics`, and a graceful stop with SIGTERM.
 *
 * By hand the same steps are:
 *
 *   tessera init --data-dir ~/.tessera                       # identity (0600), config.json, api.token
 *   tessera node start --data-dir ~/.tessera --price 100     # JSON logs on stdout; api.json appears when ready
 *   curl -H "authorization: Bearer $(cat ~/.tessera/api.token)" http://<api.json host:port>/v1/status
 *   curl http://<api.json host:port>/metrics                  # open, for Prometheus
 *   tessera wallet --data-dir ~/.tessera                     # any CLI command finds the node through api.json
 *   kill -TERM <pid>
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/headless-operator.ts [--dir <data dir>]
 *
 *   --dir DIR   the node's data directory, kept afterwards (default: a temporary directory, removed)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runTessera, spawnPeer } from '@tessera/node'

const { values } = parseArgs({ options: { dir: { type: 'string' } } })
const dataDir =
  values.dir !== undefined ? resolve(values.dir) : join(await mkdtemp(join(tmpdir(), 'tessera-operator-')), 'node')

// 1. `tessera init`: creates the data directory with the peer identity, the config file and the API token.
process.stdout.write(await runTessera(['--data-dir', dataDir, 'init']))
const config = JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')) as {
  listen: string[]
  worker: { enabled: boolean; price: string; tiers: number[]; stake: string }
}
console.log(
  `config: listen ${config.listen.join(', ')}; worker ${config.worker.enabled ? 'on' : 'off'} at ${config.worker.price} per benchmark-hour, tiers ${config.worker.tiers.join(',')}, stake ${config.worker.stake}`,
)

// 2. `tessera node start` as a child process; spawnPeer returns once the control API answers.
const node = await spawnPeer({ name: 'operator', dataDir, args: ['--price', '100'] })
try {
  console.log(`node started: pid ${node.child.pid}`)

  // 3. The control API listens on loopback; the running node writes its address to <data dir>/api.json.
  const api = JSON.parse(await readFile(node.dir.apiAddress, 'utf8')) as { host: string; port: number }
  const base = `http://${api.host}:${api.port}`
  console.log(`control API: ${base} (address from ${node.dir.apiAddress})`)

  // The /v1 routes want the bearer token from <data dir>/api.token; the typed client (node.client) does the same.
  const token = (await readFile(node.dir.apiToken, 'utf8')).trim()
  const res = await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${token}` } })
  const status = (await res.json()) as {
    peerId: string
    addrs: string[]
    peers: number
    worker: boolean
    payee: string
  }
  console.log(
    `status: peer id ${status.peerId}, ${status.peers} peers, worker ${status.worker}, paid at ${status.payee}`,
  )
  console.log(`        listening on ${status.addrs.join(', ')}`)
  // Other CLI commands talk to the running node the same way, e.g. `tessera wallet` (the embedded LiteSVM ledger).
  console.log('$ tessera wallet')
  process.stdout.write(await runTessera(['--data-dir', dataDir, 'wallet']))

  // 4. /metrics is open to scrapers: libp2p's metrics, Node's process metrics and Tessera's own share one registry.
  const metrics = await (await fetch(`${base}/metrics`)).text()
  const samples = metrics.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
  const tessera = samples.filter((line) => line.startsWith('tessera_') && !line.includes('_bucket'))
  const libp2p = samples.filter((line) => line.startsWith('libp2p_'))
  console.log(`metrics: ${samples.length} samples, ${libp2p.length} from libp2p, ${tessera.length} from Tessera, e.g.`)
  for (const line of [...tessera.slice(0, 4), ...libp2p.slice(0, 3)]) console.log(`  ${line}`)
} finally {
  // 5. SIGTERM: the node closes its API, finishes its ledger writes, stops libp2p and exits 0.
  const code = await node.stop()
  console.log(`node stopped on SIGTERM with exit code ${code}`)
  if (values.dir === undefined) await rm(resolve(dataDir, '..'), { recursive: true, force: true })
}
