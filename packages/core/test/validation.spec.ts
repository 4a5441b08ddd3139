import * as lp from 'it-length-prefixed'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  PROTOCOLS,
  decodeCanonical,
  domainOf,
  encodeCanonical,
  jobIdOf,
  MAX_GOSSIP_ENVELOPE_BYTES,
  sealEnvelope,
  TOPICS,
  type CoreErrorCode,
  type Inbound,
  type OrderContent,
  type RejectedMessage,
  type TesseraNode,
  type Topic,
  type WireMessage,
} from '../src/index.js'
import { bid, NodeSet, tcpAddr, waitFor } from './helpers.js'

/** Short enough that a captured message can be replayed once gossipsub has forgotten it, within a test. */
const SEEN_TTL_MS = 1_000

/**
 * Acceptance 4: an attacker node publishes crafted bytes straight into gossipsub. The receiver's topic validator
 * must reject each before the application sees it, and gossipsub must lower the attacker's score (P4).
 */
describe('gossip validation', () => {
  const set = new NodeSet()
  const attackers = new NodeSet()
  let receiver: TesseraNode
  const delivered: Inbound[] = []
  const rejected: RejectedMessage[] = []

  beforeAll(async () => {
    receiver = await set.create({ seenTtlMs: SEEN_TTL_MS })
    for (const topic of [TOPICS.bids, TOPICS.orders, TOPICS.verdicts]) receiver.bus.subscribe(topic)
    receiver.bus.onMessage((m) => delivered.push(m))
    receiver.addEventListener('message:rejected', (e) => rejected.push(e.detail))
  })
  afterEach(() => attackers.stopAll())
  afterAll(() => set.stopAll())

  /** A fresh attacker, connected to the receiver and aware that it subscribes to `topic`. */
  async function attacker(topic: Topic): Promise<TesseraNode> {
    const node = await attackers.create({ bootstrap: [tcpAddr(receiver)], seenTtlMs: SEEN_TTL_MS })
    node.bus.subscribe(topic)
    await waitFor(
      () =>
        node.libp2p.services.pubsub.getSubscribers(topic).some((p) => p.equals(receiver.peerId)) &&
        receiver.libp2p.services.pubsub.getPeers().some((p) => p.equals(node.peerId)),
      'the attacker to see the receiver subscribed',
    )
    return node
  }

  /** Publishes `bytes` from the attacker and waits until the receiver rejected them and lowered its score. */
  async function expectRejected(
    from: TesseraNode,
    topic: Topic,
    bytes: Uint8Array,
    code: CoreErrorCode,
  ): Promise<void> {
    const peer = from.peerId.toString()
    const before = receiver.gossipScore(peer)
    const seenBefore = delivered.length
    await from.libp2p.services.pubsub.publish(topic, bytes)
    await waitFor(() => rejected.some((r) => r.from === peer && r.code === code), `a ${code} rejection`)
    await waitFor(() => receiver.gossipScore(peer) < before, 'the attacker score to drop')
    const after = receiver.gossipScore(peer)
    expect(after).toBeLessThan(before)
    expect(after).toBeLessThan(0)
    expect(rejected.find((r) => r.from === peer && r.code === code)).toMatchObject({ topic, penalised: true })
    expect(delivered.slice(seenBefore).filter((m) => m.from === peer)).toEqual([])
  }

  it('should reject a bad signature and lower the sender score', async () => {
    const a = await attacker(TOPICS.bids)
    const envelope = decodeCanonical(
      sealEnvelope(a.identity, bid(a.peerId.toString()), {
        domain: domainOf(TOPICS.bids),
        seq: 1n,
        expiresAt: Date.now() + 60_000,
      }),
    ) as Record<string, unknown>
    const sig = (envelope.sig as Uint8Array).slice()
    sig[0]! ^= 0xff
    await expectRejected(a, TOPICS.bids, encodeCanonical({ ...envelope, sig }), 'CORE__INVALID_SIGNATURE')
  })

  it('should reject a message signed for another domain and lower the sender score', async () => {
    const a = await attacker(TOPICS.bids)
    const bytes = sealEnvelope(a.identity, bid(a.peerId.toString()), {
      domain: domainOf(TOPICS.orders),
      seq: 1n,
      expiresAt: Date.now() + 60_000,
    })
    await expectRejected(a, TOPICS.bids, bytes, 'CORE__DOMAIN_MISMATCH')
  })

  it('should reject an expired message and lower the sender score', async () => {
    const a = await attacker(TOPICS.bids)
    const bytes = sealEnvelope(a.identity, bid(a.peerId.toString()), {
      domain: domainOf(TOPICS.bids),
      seq: 1n,
      expiresAt: Date.now() - 10 * 60_000,
    })
    await expectRejected(a, TOPICS.bids, bytes, 'CORE__MESSAGE_EXPIRED')
  })

  it('should drop a replayed message without lowering the score of the peer that relayed it', async () => {
    const honest = await attackers.create({ bootstrap: [tcpAddr(receiver)] })
    const a = await attacker(TOPICS.orders)
    honest.bus.subscribe(TOPICS.orders)
    await waitFor(
      () => honest.libp2p.services.pubsub.getSubscribers(TOPICS.orders).some((p) => p.equals(receiver.peerId)),
      'subscription',
    )
    const captured: Uint8Array[] = []
    a.libp2p.services.pubsub.addEventListener('message', (e) => captured.push(e.detail.data))
    await honest.dial(a.getMultiaddrs()[0]!)
    await waitFor(
      () => honest.libp2p.services.pubsub.getSubscribers(TOPICS.orders).some((p) => p.equals(a.peerId)),
      'subscription',
    )

    const content: OrderContent & { bidDeadline: number; issuedAt: number } = {
      creator: honest.peerId.toString(),
      nonce: '00000000000000aa',
      kind: 'render',
      inputs: ['bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'],
      split: {
        kind: 'render',
        firstFrame: 0,
        frames: 1,
        width: 64,
        height: 64,
        tileWidth: 32,
        tileHeight: 32,
        samples: 4,
      },
      tier: 2,
      maxPrice: 100n,
      benchHoursPerTask: 0.01,
      requirements: { features: [], minMemoryMb: 0 },
      bidDeadline: Date.now() + 10_000,
      minBids: 1,
      deadline: Date.now() + 60_000,
      verification: { detect: 0.9, withinTasks: 10, cheatRate: 0.1, maxOverhead: 0.2 },
      escrow: 'escrow-1',
      issuedAt: Date.now(),
    }
    const jobId = jobIdOf(content)
    const order: WireMessage = { type: 'order', body: { jobId, ...content } }
    await honest.bus.publish(TOPICS.orders, order)
    await waitFor(
      () => captured.length > 0 && delivered.some((m) => m.from === honest.peerId.toString()),
      'the order to reach both',
    )
    const original = captured[0]!

    const peer = a.peerId.toString()
    // Once both gossipsub seen-caches forget the message id (shortened here; by default they keep it as long as the
    // replay guard), the bytes reach the validator again: the replay guard stops them. The peer that hands them on
    // may be an honest newcomer that never saw the original, so it is not punished.
    await waitFor(
      async () => {
        await a.libp2p.services.pubsub.publish(TOPICS.orders, original)
        return rejected.some((r) => r.from === peer && r.code === 'CORE__MESSAGE_REPLAYED')
      },
      'the replay to be dropped',
      { intervalMs: 400 },
    )
    expect(rejected.find((r) => r.from === peer)).toMatchObject({ code: 'CORE__MESSAGE_REPLAYED', penalised: false })
    // Past a heartbeat, when gossipsub would have applied a penalty.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(receiver.gossipScore(peer)).toBeGreaterThanOrEqual(0)
    expect(delivered.filter((m) => m.message.type === 'order' && m.message.body.jobId === jobId)).toHaveLength(1)
  })

  it('should reject an oversized message and lower the sender score', async () => {
    const a = await attacker(TOPICS.verdicts)
    const reveal: WireMessage = {
      type: 'reveal',
      body: {
        jobId: 'job-1',
        taskId: 't1',
        worker: a.peerId.toString(),
        root: new Uint8Array(32),
        indices: [0],
        chunks: [new Uint8Array(MAX_GOSSIP_ENVELOPE_BYTES + 1024)],
        proofs: [[]],
        issuedAt: Date.now(),
      },
    }
    const bytes = sealEnvelope(a.identity, reveal, {
      domain: domainOf(TOPICS.verdicts),
      seq: 1n,
      expiresAt: Date.now() + 60_000,
    })
    expect(bytes.byteLength).toBeGreaterThan(MAX_GOSSIP_ENVELOPE_BYTES)
    await expectRejected(a, TOPICS.verdicts, bytes, 'CORE__MESSAGE_TOO_LARGE')
  })

  it('should reject malformed bytes and lower the sender score', async () => {
    const a = await attacker(TOPICS.bids)
    await expectRejected(
      a,
      TOPICS.bids,
      new TextEncoder().encode('definitely not an envelope'),
      'CORE__MALFORMED_MESSAGE',
    )
  })

  it('should reject a message on a channel its type does not travel on, and lower the sender score', async () => {
    const a = await attacker(TOPICS.verdicts)
    const reveal: WireMessage = {
      type: 'reveal',
      body: {
        jobId: 'job-1',
        taskId: 't1',
        worker: a.peerId.toString(),
        root: new Uint8Array(32),
        indices: [0],
        chunks: [new Uint8Array(16)],
        proofs: [[]],
        issuedAt: Date.now(),
      },
    }
    // A signer cannot flood a topic with direct-only messages: its own bus refuses, and peers reject and penalise.
    await expect(a.bus.publish(TOPICS.verdicts, reveal)).rejects.toMatchObject({ code: 'CORE__WRONG_CHANNEL' })
    const bytes = sealEnvelope(a.identity, reveal, {
      domain: domainOf(TOPICS.verdicts),
      seq: 1n,
      expiresAt: Date.now() + 60_000,
    })
    await expectRejected(a, TOPICS.verdicts, bytes, 'CORE__WRONG_CHANNEL')
    // Nor send a gossip-only message down a direct stream.
    const verdictBody = {
      jobId: 'job-1',
      taskId: 't1',
      worker: 'w',
      verifier: a.peerId.toString(),
      root: new Uint8Array(32),
      outcome: 'pass' as const,
      round: 0,
      issuedAt: Date.now(),
    }
    await expect(a.bus.send(receiver.peerId.toString(), { type: 'verdict', body: verdictBody })).rejects.toMatchObject({
      code: 'CORE__WRONG_CHANNEL',
    })
  })

  it('should count a malformed direct message against its sender, which gossipsub cannot see', async () => {
    const a = await attacker(TOPICS.bids)
    const peer = a.peerId.toString()
    const before = receiver.gossipScore(peer)
    const stream = await a.libp2p.dialProtocol(receiver.peerId, PROTOCOLS.task)
    stream.send(lp.encode.single(new TextEncoder().encode('definitely not an envelope')))
    await stream.close()
    await waitFor(
      () => rejected.some((r) => r.from === peer && r.code === 'CORE__MALFORMED_MESSAGE' && r.topic === undefined),
      'the direct message to be rejected',
    )
    expect(rejected.find((r) => r.from === peer && r.topic === undefined)).toMatchObject({ penalised: true })
    await waitFor(() => receiver.gossipScore(peer) < Math.min(before, 0), 'the sender score to drop')
  })

  it('should deliver an honest message and leave its sender score non-negative', async () => {
    const honest = await attacker(TOPICS.bids)
    await honest.bus.publish(TOPICS.bids, bid(honest.peerId.toString(), 'job-honest'))
    await waitFor(() => delivered.some((m) => m.from === honest.peerId.toString()), 'the honest bid')
    expect(receiver.gossipScore(honest.peerId.toString())).toBeGreaterThanOrEqual(0)
  })
})
