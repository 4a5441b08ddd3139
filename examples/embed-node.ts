/**
 * Embed a Tessera node in an application, with `@tessera/core` only.
 *
 * Two nodes in this process (the app's node and one peer it joins through) listen on loopback TCP, the app node
 * announces a capacity record that the peer sees in its market view, the app publishes a signed bid on the gossip
 * bus that the peer receives, the peer finds a content-addressed blob through the DHT and fetches it from the app node, and both stop.
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/embed-node.ts
 *
 * Add `DEBUG='tessera:*'` to see each node's log lines.
 */
import { type Capacity, createNode, type Inbound, TOPICS } from '@tessera/core'

/** How long to wait for anything to arrive over the network before giving up. */
const WAIT_MS = 30_000

/** Polls `ready` every 100 ms until it holds, or fails after {@link WAIT_MS}. */
async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Resolves with the first value `register` hands to its callback, or rejects after {@link WAIT_MS}. */
function first<T>(what: string, register: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS)
    register((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

// The app's node: a fresh Ed25519 identity in memory (`loadOrCreateIdentity(path)` keeps one on disk), listening on
// loopback TCP on a free port (the default adds WebSockets; `localNetwork` settings follow from loopback addresses).
const app = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
// A second peer that joins through the app node (a real deployment bootstraps from known public peers).
const peer = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [app.getMultiaddrs()[0]!.toString()] })

try {
  console.log(`app node  ${app.peerId.toString()} listening on ${app.getMultiaddrs().map(String).join(', ')}`)
  console.log(`peer node ${peer.peerId.toString()} listening on ${peer.getMultiaddrs().map(String).join(', ')}`)

  // Gossip: both subscribe; handlers see only envelopes that passed validation (signature, schema, expiry, replay).
  // A message published before the gossipsub mesh has formed reaches nobody, so wait for the peer to join it.
  app.bus.subscribe(TOPICS.bids)
  peer.bus.subscribe(TOPICS.bids)
  const peerId = peer.peerId.toString()
  await until('the gossip mesh', () =>
    [TOPICS.capacity, TOPICS.bids].every((topic) => app.meshPeers(topic).includes(peerId)),
  )

  // Capacity: the app announces what it offers; the peer's live market view picks the signed record up.
  const seen = first<Capacity>('the capacity record', (resolve) =>
    peer.addEventListener('capacity:updated', (e) => resolve(e.detail.capacity)),
  )
  await app.capacity.announce({
    gpu: { vendor: 'mesa', architecture: 'llvmpipe', description: 'lavapipe', backend: 'vulkan' },
    memoryMb: 4096,
    features: [],
    score: 12.5,
    price: 100n,
    tiers: [3],
    stake: 0n,
    classes: ['render/wgsl'],
    slots: 1,
    busy: 0,
  })
  const capacity = await seen
  console.log(
    `capacity: the peer sees ${capacity.peer.slice(-6)} offering ${capacity.classes.join(', ')} at ${capacity.price} per benchmark-hour (${peer.capacity.view.size} record in its market view)`,
  )

  // A signed bid on the bids topic; the peer's handler gets the verified signer and the decoded message.
  const received = first<Inbound>('the bid', (resolve) =>
    peer.bus.onMessage((inbound) => {
      if (inbound.message.type === 'bid') resolve(inbound)
    }),
  )
  await app.bus.publish(TOPICS.bids, {
    type: 'bid',
    body: {
      jobId: 'job-1',
      worker: app.peerId.toString(),
      price: 100n,
      etaMs: 2_000,
      score: 12.5,
      maxTasks: 4,
      issuedAt: Date.now(),
    },
  })
  const { from, message, topic } = await received
  if (message.type !== 'bid') throw new Error('expected a bid')
  console.log(
    `bus: the peer received a bid for ${message.body.jobId} at ${message.body.price} from ${from.slice(-6)} on ${topic}`,
  )

  // Blobs: CIDv1 (raw, sha2-256) content addressing; the peer fetches from the app node and checks the hash.
  const text = 'scene.glb bytes, or a model, or a tensor bundle'
  const cid = await app.blobs.put(new TextEncoder().encode(text), { provide: true })
  const bytes = await peer.blobs.get(cid) // not held by the peer: providers found through the DHT, fetched, hashed
  const fetched = new TextDecoder().decode(bytes)
  if (fetched !== text) throw new Error('the fetched blob differs from the one put')
  console.log(
    `blob: put ${cid.toString()} (${bytes.byteLength} bytes) on the app node; the peer fetched and verified it`,
  )
} finally {
  await Promise.all([app.stop(), peer.stop()])
}
console.log('stopped both nodes')
