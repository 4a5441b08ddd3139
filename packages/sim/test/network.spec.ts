import { TOPICS, type Inbound, type WireMessage } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { Simulation } from '../src/engine/simulation.js'
import { NetworkModel, type NetworkModelConfig } from '../src/net/network-model.js'
import { SimBus } from '../src/net/sim-bus.js'
import { SimNetwork, type SimEndpoint } from '../src/net/sim-network.js'
import { isSimError } from '../src/errors.js'

const heartbeat = (worker: string): WireMessage => ({
  type: 'heartbeat',
  body: { jobId: 'j1', worker, taskIds: [], issuedAt: 0 },
})

function world(config: Partial<NetworkModelConfig> = {}, audience = 0) {
  const sim = new Simulation({ seed: 9, start: 0 })
  const model = new NetworkModel(
    {
      regions: ['eu', 'us'],
      latencyMs: { eu: { eu: 10, us: 40 }, us: { us: 10 } },
      jitter: 0,
      lossRate: 0,
      gossipLossRate: 0,
      partitions: [],
      ...config,
    },
    sim.rng('network-model'),
  )
  const network = new SimNetwork(sim, model, { meshDegree: 6, hopDelayMs: 5, audience })
  const received: { at: number; to: string; inbound: Inbound }[] = []
  const bus = (id: string, region: number) => {
    const b = new SimBus(network, { id, region, bandwidthMbps: 1_000_000 })
    b.onMessage((inbound) => received.push({ at: sim.now, to: id, inbound }))
    return b
  }
  return { sim, network, received, bus }
}

/** The share of deliveries at each hop count (1-based) when `n` subscribers hear 200 publishes over a 6-mesh. */
function hopShares(n: number): number[] {
  const sim = new Simulation({ seed: 3, start: 0 })
  const model = new NetworkModel(
    { regions: ['x'], latencyMs: { x: { x: 0 } }, jitter: 0, lossRate: 0, gossipLossRate: 0, partitions: [] },
    sim.rng('m'),
  )
  // No latency, no transfer time: a delivery's delay is (hops - 1) x 1000 ms.
  const network = new SimNetwork(sim, model, { meshDegree: 6, hopDelayMs: 1000, audience: 0 })
  const counts: number[] = []
  const endpoint = (id: string): SimEndpoint => ({
    id,
    region: 0,
    bandwidthMbps: 1e12,
    alive: true,
    deliver: (_inbound, now) => {
      const hop = Math.round(now / 1000)
      counts[hop] = (counts[hop] ?? 0) + 1
    },
  })
  const publisher = endpoint('publisher')
  network.add(publisher)
  for (let i = 0; i < n; i++) {
    const peer = endpoint(`p${i}`)
    network.add(peer)
    network.subscribe(peer, TOPICS.orders)
  }
  for (let r = 0; r < 200; r++) network.publish(publisher, TOPICS.orders, heartbeat('publisher'), 0)
  sim.run(Infinity)
  return Array.from(counts, (c) => (c ?? 0) / (200 * n))
}

describe('NetworkModel', () => {
  it('should use the region-pair latency symmetrically', () => {
    const { sim, received, bus } = world()
    const a = bus('a', 0)
    bus('b', 1)
    const c = bus('c', 0)
    void a.send('b', heartbeat('a'))
    void a.send('c', heartbeat('a'))
    sim.run(Infinity)
    expect(received.map((r) => [r.to, r.at])).toEqual([
      ['c', 10],
      ['b', 40],
    ])
    expect(received[0]?.inbound.from).toBe('a')
    expect(received[0]?.inbound.topic).toBeUndefined()
    void c
  })

  it('should put min(D^h, those left) of the mesh h hops away, cut at the mesh size', () => {
    // A mesh of n peers holds n - 1 besides the publisher: 6 at one hop, then 36, then the rest.
    const expected = (atHop: number[]): number[] => atHop.map((k) => k / atHop.reduce((a, b) => a + b, 0))
    for (const [n, atHop] of [
      [36, [6, 29]],
      [37, [6, 30]],
      [216, [6, 36, 173]],
    ] as const) {
      const shares = hopShares(n)
      expect(shares.length, `n = ${n}`).toBe(atHop.length)
      expected([...atHop]).forEach((share, h) => expect(shares[h], `n = ${n}, hop ${h + 1}`).toBeCloseTo(share, 1.7))
    }
  })

  it('should add transfer time from bandwidth', () => {
    const sim = new Simulation({ seed: 1, start: 0 })
    const model = new NetworkModel(
      { regions: ['x'], latencyMs: { x: { x: 0 } }, jitter: 0, lossRate: 0, gossipLossRate: 0, partitions: [] },
      sim.rng('m'),
    )
    // 1 MB over 8 Mbit/s takes one second.
    expect(model.transferMs(1_000_000, 8, 100)).toBe(1000)
  })

  it('should drop messages across a partition only while it lasts', () => {
    const { sim, network, received, bus } = world({ partitions: [{ start: 100, end: 200, groups: [['eu'], ['us']] }] })
    const a = bus('a', 0)
    bus('b', 1)
    const sendAt = (t: number) => sim.at(t, () => void a.send('b', heartbeat('a')), null)
    sendAt(50)
    sendAt(150)
    sendAt(250)
    sim.run(Infinity)
    expect(received.map((r) => r.at)).toEqual([90, 290])
    expect(network.stats.dropped.partition).toBe(1)
  })

  it('should keep regions in the same group connected during a partition', () => {
    const { sim, received, bus } = world({ partitions: [{ start: 0, end: 1000, groups: [['us']] }] })
    const a = bus('a', 0)
    bus('b', 0)
    sim.at(10, () => void a.send('b', heartbeat('a')), null)
    sim.run(Infinity)
    expect(received).toHaveLength(1)
  })

  it('should lose about the configured fraction of direct messages', () => {
    const { sim, network, received, bus } = world({ lossRate: 0.2 })
    const a = bus('a', 0)
    bus('b', 0)
    for (let i = 0; i < 5000; i++) void a.send('b', heartbeat('a'))
    sim.run(Infinity)
    expect(network.stats.dropped.loss + received.length).toBe(5000)
    expect(network.stats.dropped.loss / 5000).toBeGreaterThan(0.17)
    expect(network.stats.dropped.loss / 5000).toBeLessThan(0.23)
  })

  it('should reject a latency matrix that misses a region pair', () => {
    const sim = new Simulation({ seed: 1 })
    let caught: unknown
    try {
      new NetworkModel(
        {
          regions: ['eu', 'us'],
          latencyMs: { eu: { eu: 1, us: 2 } },
          jitter: 0,
          lossRate: 0,
          gossipLossRate: 0,
          partitions: [],
        },
        sim.rng('m'),
      )
    } catch (e) {
      caught = e
    }
    expect(isSimError(caught, 'SIM__INVALID_SCENARIO')).toBe(true)
    expect((caught as { context: { path: string } }).context.path).toBe('/network/latencyMs/us/us')
  })
})

describe('SimNetwork', () => {
  it('should deliver a publish to every live subscriber but the sender, after at least the base latency', () => {
    const { sim, received, bus } = world()
    const peers = Array.from({ length: 20 }, (_, i) => bus(`p${i}`, i % 2))
    for (const p of peers) p.subscribe(TOPICS.orders)
    peers[3]?.stop()
    void peers[0]?.publish(TOPICS.orders, heartbeat('p0'))
    sim.run(Infinity)
    const to = received.map((r) => r.to).sort()
    expect(to).toHaveLength(18)
    expect(to).not.toContain('p0')
    expect(to).not.toContain('p3')
    for (const r of received) {
      expect(r.inbound.topic).toBe(TOPICS.orders)
      expect(r.at).toBeGreaterThanOrEqual(r.to.slice(1) === '' ? 0 : Number(r.to.slice(1)) % 2 === 0 ? 10 : 40)
    }
  })

  it('should not deliver to a peer that crashed while the message was in flight', () => {
    const { sim, network, received, bus } = world()
    const a = bus('a', 0)
    const b = bus('b', 1)
    void a.send('b', heartbeat('a'))
    sim.at(
      20,
      () => {
        b.alive = false
      },
      null,
    )
    sim.run(Infinity)
    expect(received).toHaveLength(0)
    expect(network.stats.dropped.offline).toBe(1)
  })

  it('should cap a publish at its audience but always reach the must-reach peers', () => {
    const { sim, network, received, bus } = world({}, 5)
    const peers = Array.from({ length: 100 }, (_, i) => bus(`p${i}`, 0))
    for (const p of peers) p.subscribe(TOPICS.bids)
    const from = peers[0] as SimBus
    network.publish(from, TOPICS.bids, heartbeat('p0'), 200, ['p77'])
    sim.run(Infinity)
    const to = received.map((r) => r.to)
    expect(to).toContain('p77')
    expect(to).not.toContain('p0')
    expect(new Set(to).size).toBe(to.length)
    expect(to.length).toBe(6)
  })

  it('should count a send to an unknown peer as dropped', () => {
    const { sim, network, bus } = world()
    void bus('a', 0).send('nobody', heartbeat('a'))
    sim.run(Infinity)
    expect(network.stats.dropped.unknown).toBe(1)
  })
})
