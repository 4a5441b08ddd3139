import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TesseraNode } from '../src/index.js'
import { NodeSet, sampleCapacity, waitFor } from './helpers.js'

const NODES = 10

/** Acceptance 2: ten nodes on loopback TCP, each given only node 0 as bootstrap. */
describe('discovery', () => {
  const set = new NodeSet()
  let nodes: TesseraNode[]

  beforeAll(async () => {
    nodes = await set.network(NODES, { listen: ['/ip4/127.0.0.1/tcp/0'] })
  }, 60_000)
  afterAll(() => set.stopAll())

  it('should give every node at least five DHT peers beyond its bootstrap peer', async () => {
    const bootstrap = nodes[0]!.peerId.toString()
    expect(
      nodes.slice(1).every((n) => n.config.bootstrap.length === 1 && n.config.bootstrap[0]!.endsWith(bootstrap)),
    ).toBe(true)
    const learned = (node: TesseraNode) => node.routingTable().filter((p) => p !== bootstrap)
    await waitFor(
      () => nodes.every((n) => learned(n).length >= 5),
      'every routing table to hold 5 peers besides node 0',
      {
        timeoutMs: 60_000,
      },
    )
    for (const node of nodes.slice(1)) {
      const table = learned(node)
      expect(table.length).toBeGreaterThanOrEqual(5)
      expect(table).not.toContain(node.peerId.toString())
      // What the DHT taught us is in the peer store, with addresses we can dial.
      for (const peer of table) {
        const stored = await node.libp2p.peerStore.get(nodes.find((n) => n.peerId.toString() === peer)!.peerId)
        expect(stored.addresses.length).toBeGreaterThan(0)
      }
    }
  }, 90_000)

  it('should deliver every node the capacity records of all nine others over gossipsub', async () => {
    await Promise.all(nodes.map((n, i) => n.capacity.announce(sampleCapacity({ slots: i + 1 }))))
    const others = (node: TesseraNode) => nodes.filter((n) => n !== node).map((n) => n.peerId.toString())
    await waitFor(
      () => nodes.every((n) => others(n).every((p) => n.capacity.view.get(p) !== undefined)),
      'every node to hold nine capacity records',
      { timeoutMs: 60_000 },
    )
    for (const [i, node] of nodes.entries()) {
      expect(node.capacity.view.peers().sort()).toEqual(others(node).sort())
      expect(node.capacity.view.get(node.peerId.toString())).toBeUndefined()
      for (const [j, other] of nodes.entries()) {
        if (i !== j) expect(node.capacity.view.get(other.peerId.toString())!.capacity.slots).toBe(j + 1)
      }
    }
  }, 90_000)

  it('should find workers by capability class through the DHT alone', async () => {
    const creator = nodes[NODES - 1]!
    const workers = nodes.slice(1, 4)
    await Promise.all(workers.map((w) => w.capacity.announce(sampleCapacity({ classes: ['inference/fp32'] }))))
    const expected = workers.map((w) => w.peerId.toString()).sort()
    let found: string[] = []
    await waitFor(
      async () => {
        found = await creator.capacity.findWorkers('inference/fp32')
        return expected.every((p) => found.includes(p))
      },
      'the creator to find the three inference workers',
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    expect(found.filter((p) => expected.includes(p)).sort()).toEqual(expected)
    expect(found).not.toContain(creator.peerId.toString())
  }, 90_000)
})
