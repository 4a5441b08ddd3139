/**
 * `npm run bench -w @tessera/core`: gossip delivery and latency across 20 nodes on loopback TCP, and blob throughput
 * against a plain TCP socket pair in the same run. Prints a table and writes bench/results.json.
 */
import { fork } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { createNode, TOPICS, type TesseraNode, type WireMessage } from '../src/index.js'

const GOSSIP_NODES = Number(process.env.BENCH_GOSSIP_NODES ?? 20)
const GOSSIP_MESSAGES = Number(process.env.BENCH_GOSSIP_MESSAGES ?? 200)
const GOSSIP_MESSAGE_BYTES = 1024
/** Publish rate: the bench measures latency, not how fast one process can saturate its cores. */
const GOSSIP_INTERVAL_MS = Number(process.env.BENCH_GOSSIP_INTERVAL_MS ?? 50)
const BLOB_BYTES = 64 * 1024 * 1024
const BLOB_RUNS = Number(process.env.BENCH_BLOB_RUNS ?? 3)
const MESH_MIN_PEERS = 4

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (condition()) return true
    await sleep(10)
  }
  return condition()
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

/** A reveal whose signed envelope is about 1 KiB. */
function kibMessage(worker: string, index: number, padding: number): WireMessage {
  return {
    type: 'reveal',
    body: {
      jobId: `bench-${index}`,
      taskId: 't',
      worker,
      root: new Uint8Array(32),
      indices: [index],
      chunks: [new Uint8Array(padding).fill(index & 0xff)],
      proofs: [[]],
      issuedAt: Date.now(),
    },
  }
}

async function benchGossip() {
  const t0 = performance.now()
  const first = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  const bootstrap = [first.getMultiaddrs()[0]!.toString()]
  const rest = await Promise.all(
    Array.from({ length: GOSSIP_NODES - 1 }, () => createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap })),
  )
  const nodes: TesseraNode[] = [first, ...rest]
  const topic = TOPICS.verdicts
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  let deliveries = 0
  for (const node of nodes) {
    node.bus.subscribe(topic)
    node.bus.onMessage(({ message }) => {
      if (message.type !== 'reveal') return
      const at = sentAt.get(message.body.jobId)
      if (at === undefined) return
      deliveries++
      latencies.push(performance.now() - at)
    })
  }
  const meshReady = await until(
    () => nodes.every((n) => n.meshPeers(topic).length >= Math.min(MESH_MIN_PEERS, GOSSIP_NODES - 1)),
    60_000,
  )
  const meshReadyMs = performance.now() - t0

  // Size the padding so the envelope itself is about 1 KiB.
  const probe = nodes[0]!
  let padding = GOSSIP_MESSAGE_BYTES
  const { sealEnvelope, domainOf } = await import('../src/index.js')
  const envelopeBytes = (p: number) =>
    sealEnvelope(probe.identity, kibMessage(probe.peerId.toString(), 0, p), {
      domain: domainOf(topic),
      seq: 1n,
      expiresAt: Date.now(),
    }).byteLength
  padding -= envelopeBytes(padding) - GOSSIP_MESSAGE_BYTES

  for (let i = 0; i < GOSSIP_MESSAGES; i++) {
    const publisher = nodes[i % nodes.length]!
    const message = kibMessage(publisher.peerId.toString(), i, padding)
    sentAt.set(`bench-${i}`, performance.now())
    await publisher.bus.publish(topic, message)
    await sleep(GOSSIP_INTERVAL_MS)
  }
  const expected = GOSSIP_MESSAGES * (GOSSIP_NODES - 1)
  await until(() => deliveries >= expected, 15_000)
  await Promise.all(nodes.map((n) => n.stop()))
  latencies.sort((a, b) => a - b)
  return {
    nodes: GOSSIP_NODES,
    messages: GOSSIP_MESSAGES,
    messageBytes: envelopeBytes(padding),
    deliveryRatio: round(deliveries / expected, 4),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    meshReadyMs: meshReady ? Math.round(meshReadyMs) : -1,
  }
}

/** Seconds to receive the provider's bytes over a plain loopback TCP connection. */
async function rawTcpSeconds(port: number, expected: number): Promise<number> {
  const start = performance.now()
  const socket = connect(port, '127.0.0.1')
  let total = 0
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      total += chunk.byteLength
    })
    socket.on('end', () => resolve())
    socket.on('error', reject)
  })
  if (total !== expected) throw new Error(`raw TCP received ${total} of ${expected} bytes`)
  return (performance.now() - start) / 1000
}

/**
 * The blob comes from a provider in another process (as it would from another peer); the plain TCP baseline comes
 * from the same process, so both cross the same process boundary and loopback.
 */
async function benchBlob() {
  const child = fork(fileURLToPath(new URL('./blob-provider.ts', import.meta.url)), [String(BLOB_BYTES)], {
    execArgv: ['--conditions=tessera-src', '--import', 'tsx'],
  })
  const ready = await new Promise<{ addr: string; cid: string; rawPort: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { addr: string; cid: string; rawPort: number }))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`blob provider exited with ${code}`)))
  })
  const fetcher = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  await fetcher.dial(ready.addr)
  const provider = peerIdFromString(ready.addr.split('/p2p/')[1]!)
  const blobSeconds: number[] = []
  const rawSeconds: number[] = []
  for (let run = 0; run < BLOB_RUNS; run++) {
    rawSeconds.push(await rawTcpSeconds(ready.rawPort, BLOB_BYTES))
    const start = performance.now()
    const fetched = await fetcher.blobs.fetchFrom(provider, ready.cid)
    blobSeconds.push((performance.now() - start) / 1000)
    if (fetched.byteLength !== BLOB_BYTES) throw new Error('blob fetch returned the wrong length')
  }
  child.removeAllListeners('exit')
  child.send('stop')
  await fetcher.stop()
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const mib = BLOB_BYTES / (1024 * 1024)
  const mibPerSec = mib / median(blobSeconds)
  const rawMibPerSec = mib / median(rawSeconds)
  return {
    bytes: BLOB_BYTES,
    mibPerSec: round(mibPerSec),
    rawTcpMibPerSec: round(rawMibPerSec),
    ratioToRawTcp: round(mibPerSec / rawMibPerSec, 3),
    runs: BLOB_RUNS,
  }
}

const only = process.env.BENCH_ONLY
const gossip = only === 'blob' ? undefined : await benchGossip()
const blob = only === 'gossip' ? undefined : await benchBlob()
if (gossip === undefined || blob === undefined) {
  console.table({ ...gossip, ...blob })
  process.exit(0)
}
const results = {
  gossip,
  blob,
  environment: {
    node: process.version,
    cpus: availableParallelism(),
    // Other work on the machine slows every figure here: the one-minute load average when the run ended.
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    date: new Date().toISOString(),
  },
}
console.table({
  'gossip.nodes': { value: gossip.nodes, target: '' },
  'gossip.deliveryRatio': { value: gossip.deliveryRatio, target: 1 },
  'gossip.p50Ms': { value: gossip.p50Ms, target: '' },
  'gossip.p99Ms': { value: gossip.p99Ms, target: '<= 300' },
  'gossip.meshReadyMs': { value: gossip.meshReadyMs, target: '<= 5000' },
  'blob.bytes': { value: blob.bytes, target: '' },
  'blob.mibPerSec': { value: blob.mibPerSec, target: '' },
  'blob.rawTcpMibPerSec': { value: blob.rawTcpMibPerSec, target: '' },
  'blob.ratioToRawTcp': { value: blob.ratioToRawTcp, target: '>= 0.4' },
})
await writeFile(fileURLToPath(new URL('./results.json', import.meta.url)), `${JSON.stringify(results, null, 2)}\n`)
process.exit(0)
