import { afterEach, describe, expect, it, vi } from 'vitest'
import * as lp from 'it-length-prefixed'
import type { Stream } from '@libp2p/interface'
import {
  createNode,
  decodeCanonical,
  domainOf,
  generateIdentity,
  isCoreError,
  DIRECT_SMALL_CHUNK_ALLOWANCE,
  MAX_DIRECT_ENVELOPE_BYTES,
  MIN_DIRECT_CHUNK_COST_BYTES,
  PROTOCOLS,
  sealEnvelope,
  TOPICS,
  validateBody,
  type Inbound,
  type ListenerFailure,
  type RejectedMessage,
} from '../src/index.js'
import { bid, NodeSet, sampleCapacity, tcpAddr, waitFor } from './helpers.js'

const heartbeat = (worker: string) => ({
  type: 'heartbeat' as const,
  body: { jobId: 'job-1', worker, taskIds: ['t1'], issuedAt: 1 },
})

/** An unsigned LEB128 varint, as length prefixes are written. */
function unsignedVarint(n: number): Uint8Array {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return Uint8Array.from(out)
}

describe('createNode', () => {
  const set = new NodeSet()
  afterEach(() => set.stopAll())

  it('should start and stop idempotently', async () => {
    const node = await set.create({ start: false })
    expect(node.status).toBe('stopped')
    await Promise.all([node.start(), node.start()])
    expect(node.status).toBe('started')
    expect(node.getMultiaddrs().length).toBeGreaterThan(0)
    await node.start()
    await Promise.all([node.stop(), node.stop()])
    expect(node.status).toBe('stopped')
    await node.stop()
    await expect(node.bus.publish(TOPICS.orders, heartbeat(node.peerId.toString()))).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__NOT_STARTED'),
    )
  })

  it('should run one start when several calls wait for a stop, and one stop when several wait for a start', async () => {
    const node = await set.create()
    const events: string[] = []
    node.addEventListener('node:started', () => events.push('started'))
    node.addEventListener('node:stopped', () => events.push('stopped'))
    const libp2pStarts = vi.spyOn(node.libp2p, 'start')
    const libp2pStops = vi.spyOn(node.libp2p, 'stop')

    await Promise.all([node.stop(), node.start(), node.start()])
    expect(node.status).toBe('started')
    expect(node.libp2p.status).toBe('started')
    expect(events).toEqual(['stopped', 'started'])

    await node.stop()
    await Promise.all([node.start(), node.stop(), node.stop()])
    expect(node.status).toBe('stopped')
    expect(node.libp2p.status).toBe('stopped')
    expect(events).toEqual(['stopped', 'started', 'stopped', 'started', 'stopped'])
    expect(libp2pStarts).toHaveBeenCalledTimes(2)
    expect(libp2pStops).toHaveBeenCalledTimes(3)
  })

  it('should subscribe to topics subscribed to while it was stopped once it starts', async () => {
    const node = await set.create({ start: false })
    node.bus.subscribe(TOPICS.bids)
    node.bus.subscribe(TOPICS.orders)
    await node.start()
    const topics = () => [...node.libp2p.services.pubsub.getTopics()].sort()
    expect(topics()).toEqual([TOPICS.bids, TOPICS.capacity, TOPICS.orders].sort())
    await node.stop()
    node.bus.unsubscribe(TOPICS.orders)
    node.bus.subscribe(TOPICS.verdicts)
    await node.start()
    expect(topics()).toEqual([TOPICS.bids, TOPICS.capacity, TOPICS.verdicts].sort())
  })

  it('should keep its subscriptions, message handlers and capacity announcement across a restart', async () => {
    const [a, b] = await set.network(2)
    a!.bus.subscribe(TOPICS.bids)
    b!.bus.subscribe(TOPICS.bids)
    const received: Inbound[] = []
    b!.bus.onMessage((m) => received.push(m))
    await b!.capacity.announce(sampleCapacity())
    await waitFor(() => a!.capacity.view.get(b!.peerId.toString()) !== undefined, "b's capacity record at a")

    await b!.stop()
    const restartedAt = Date.now()
    await b!.start()
    await b!.dial(tcpAddr(a!))
    await waitFor(
      () => (a!.capacity.view.get(b!.peerId.toString())?.capacity.issuedAt ?? 0) >= restartedAt,
      "b's capacity announced again after its restart",
    )
    await waitFor(() => a!.meshPeers(TOPICS.bids).includes(b!.peerId.toString()), 'b back in the bids mesh')
    await a!.bus.publish(TOPICS.bids, bid(a!.peerId.toString()))
    await waitFor(() => received.some((m) => m.topic === TOPICS.bids), 'the bid at b')
  })

  it('should catch a listener that throws or rejects, report it as listener:failed, and carry on', async () => {
    const node = await set.create({ start: false })
    const failures: ListenerFailure[] = []
    node.addEventListener('listener:failed', (e) => failures.push(e.detail))
    node.addEventListener('listener:failed', () => {
      throw new Error('a bug in the failure listener, only logged')
    })
    node.addEventListener('node:started', () => {
      throw new Error('a bug in a listener')
    })
    node.addEventListener('node:started', async () => {
      throw new Error('a bug in an async listener')
    })
    const removed = vi.fn()
    const once = vi.fn()
    node.addEventListener('node:stopped', removed)
    node.addEventListener('node:stopped', removed)
    node.removeEventListener('node:stopped', removed)
    node.addEventListener('node:stopped', once, { once: true })

    await node.start()
    await waitFor(() => failures.length === 2, 'both failures reported')
    expect(failures.map((f) => [f.event, (f.error as Error).message]).sort()).toEqual([
      ['node:started', 'a bug in a listener'],
      ['node:started', 'a bug in an async listener'],
    ])
    await node.stop()
    await node.start()
    await node.stop()
    expect(removed).not.toHaveBeenCalled()
    expect(once).toHaveBeenCalledOnce()
    expect(node.listenerCount('node:stopped')).toBe(0)
    expect(node.status).toBe('stopped')
  })

  it('should report a listener of its capacity view that throws as listener:failed, not end the process', async () => {
    const node = await set.create({ start: false })
    const failures: ListenerFailure[] = []
    node.addEventListener('listener:failed', (e) => failures.push(e.detail))
    node.capacity.view.addEventListener('capacity:updated', () => {
      throw new Error('a bug in a capacity listener')
    })
    const capacity = validateBody('capacity', { ...sampleCapacity(), addrs: [], peer: 'w1', issuedAt: 0 })
    const now = node.clock.now()
    expect(node.capacity.view.upsert({ peer: 'w1', capacity, seq: 1n, expiresAt: now + 60_000, receivedAt: now })).toBe(
      true,
    )
    expect(failures.map((f) => [f.event, (f.error as Error).message])).toEqual([
      ['capacity:updated', 'a bug in a capacity listener'],
    ])
  })

  it('should stop waiting when the signal of a start that joined another fires, and leave that start going', async () => {
    const node = await set.create({ start: false })
    const first = node.start()
    const controller = new AbortController()
    const joined = node.start({ signal: controller.signal })
    controller.abort()
    await expect(joined).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    await first
    expect(node.status).toBe('started')
  })

  it('should start again after stopping and serve its protocols', async () => {
    const a = await set.create()
    await a.stop()
    await a.start()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const received: Inbound[] = []
    a.bus.onMessage((m) => received.push(m))
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    await b.bus.send(a.peerId.toString(), heartbeat(b.peerId.toString()))
    expect(received.map((m) => m.from)).toEqual([b.peerId.toString()])
  })

  it('should reject with CORE__ABORTED when its signal aborts before the node is up', async () => {
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
    await expect(createNode({}, { signal: AbortSignal.abort() })).rejects.toSatisfy(aborted)
    const controller = new AbortController()
    const pending = createNode({}, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toSatisfy(aborted)
  })

  it('should stop what a start had started when its signal aborts, and start again after', async () => {
    const node = await set.create({ start: false })
    const controller = new AbortController()
    // libp2p.start takes no signal: abort once it is up, so the rest of the start must notice and undo it.
    node.libp2p.addEventListener('start', () => controller.abort(), { once: true })
    await expect(node.start({ signal: controller.signal })).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    expect(node.status).toBe('stopped')
    expect(node.libp2p.status).toBe('stopped')
    await node.start()
    expect(node.status).toBe('started')
    expect(node.getMultiaddrs().length).toBeGreaterThan(0)
  })

  it('should reject a self-lookup and a blob provide with CORE__ABORTED when their signal aborts', async () => {
    const [, b] = await set.network(2)
    await waitFor(() => b!.routingTable().length > 0, 'a DHT peer')
    const cid = await b!.blobs.put(new Uint8Array([9]))
    const calls = [
      (signal: AbortSignal) => b!.selfLookup({ signal }),
      (signal: AbortSignal) => b!.blobs.provide(cid, { signal }),
    ]
    for (const call of calls) {
      await expect(call(AbortSignal.abort())).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
      const controller = new AbortController()
      const pending = call(controller.signal)
      controller.abort()
      await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    }
  })

  it('should refuse an invalid configuration with a coded error', async () => {
    await expect(set.create({ bootstrap: ['/ip4/127.0.0.1/tcp/1'] })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__INVALID_CONFIG'),
    )
    await expect(set.create({ listen: ['not a multiaddr'] })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__INVALID_CONFIG'),
    )
    await expect(set.create({ bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWxxx'] })).rejects.toMatchObject({
      code: 'CORE__INVALID_CONFIG',
      message: expect.stringMatching(/12D3KooWxxx is not a peer id/),
    })
    await expect(set.create({ maxBlobBytes: -1 })).rejects.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CONFIG'))
    const node = await set.create()
    await expect(node.dial('neither')).rejects.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CONFIG'))
    const cid = await node.blobs.put(new Uint8Array([1]))
    await expect(node.blobs.fetch(cid, { providers: ['not-a-peer'] })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__INVALID_CONFIG'),
    )
    await expect(node.blobs.get('not-a-cid')).rejects.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CID'))
  })

  it('should reject a direct message to an unreachable peer with a coded error', async () => {
    const a = await set.create()
    const gone = await set.create()
    await a.dial(tcpAddr(gone))
    await gone.stop()
    await waitFor(() => a.libp2p.getConnections(gone.peerId).length === 0, 'the connection to close')
    await expect(a.bus.send(gone.peerId.toString(), heartbeat(a.peerId.toString()))).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__PEER_UNREACHABLE'),
    )
  })

  it('should refuse a direct message not signed by the peer that sends it, or of a type that is not sent direct', async () => {
    const a = await set.create()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const someoneElse = await generateIdentity()
    const received: Inbound[] = []
    const rejected: RejectedMessage[] = []
    a.bus.onMessage((m) => received.push(m))
    a.addEventListener('message:rejected', (e) => rejected.push(e.detail))
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    /** Sends raw envelope bytes from b to a and returns a's acknowledgement. */
    const sendRaw = async (bytes: Uint8Array): Promise<unknown> => {
      const stream = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
      stream.send(lp.encode.single(bytes))
      await stream.close()
      const ack = await lp.decode(stream).next()
      return decodeCanonical(ack.value!.subarray())
    }
    const direct = { domain: domainOf('direct'), seq: 1n, expiresAt: Date.now() + 60_000 }

    const forged = sealEnvelope(someoneElse, heartbeat(someoneElse.peerId.toString()), direct)
    expect(await sendRaw(forged)).toEqual({ r: 'CORE__SIGNER_MISMATCH' })
    // A verdict travels on the verdicts topic only, even signed by its sender for the direct domain.
    const verdict = sealEnvelope(
      b.identity,
      {
        type: 'verdict',
        body: {
          jobId: 'j',
          taskId: 't',
          worker: 'w',
          verifier: b.peerId.toString(),
          root: new Uint8Array(32),
          outcome: 'pass',
          round: 0,
          issuedAt: Date.now(),
        },
      },
      direct,
    )
    expect(await sendRaw(verdict)).toEqual({ r: 'CORE__WRONG_CHANNEL' })
    expect(received).toEqual([])
    expect(rejected).toMatchObject([
      { from: b.peerId.toString(), code: 'CORE__SIGNER_MISMATCH' },
      { from: b.peerId.toString(), code: 'CORE__WRONG_CHANNEL' },
    ])
  })

  it('should refuse a direct frame over the size bound before reading it', async () => {
    const a = await set.create()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    const stream = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
    // Only the length prefix of a frame one byte over MAX_DIRECT_ENVELOPE_BYTES: the receiver must not wait for it.
    stream.send(unsignedVarint(MAX_DIRECT_ENVELOPE_BYTES + 1))
    const ack = await lp.decode(stream).next()
    expect(decodeCanonical(ack.value!.subarray())).toEqual({ r: 'CORE__MESSAGE_TOO_LARGE' })
    stream.abort(new Error('done'))
  })

  it("should refuse a direct message past the sender's share of what is being read, and send it again once there is room", async () => {
    // Shares of one whole envelope (its length prefix, and the few small chunks it may come in) each.
    const a = await set.create({ maxInboundDirectBytes: 4 * (MAX_DIRECT_ENVELOPE_BYTES + 10) })
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const c = await set.create({ bootstrap: [tcpAddr(a)] })
    await waitFor(() => [b, c].every((n) => n.libp2p.getConnections(a.peerId).length > 0), 'b and c to connect to a')
    const received: Inbound[] = []
    a.bus.onMessage((m) => received.push(m))
    // b sends all of a maximum-size envelope but its last byte: a holds what it read, b's whole share but the room it
    // keeps for small chunks.
    const stalled = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
    stalled.send(unsignedVarint(MAX_DIRECT_ENVELOPE_BYTES))
    for (let sent = 0; sent < MAX_DIRECT_ENVELOPE_BYTES - 1; sent += 65_536) {
      if (!stalled.send(new Uint8Array(Math.min(65_536, MAX_DIRECT_ENVELOPE_BYTES - 1 - sent)))) await stalled.onDrain()
    }
    let seq = 1n
    const rawHeartbeat = async (): Promise<unknown> => {
      const stream = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
      const direct = { domain: domainOf('direct'), seq: seq++, expiresAt: Date.now() + 60_000 }
      // A byte a chunk, each counted as MIN_DIRECT_CHUNK_COST_BYTES: more than the room for small chunks b has left.
      // A turn of the event loop after each, so that a reads them one by one rather than gathered.
      const frame = lp.encode.single(sealEnvelope(b.identity, heartbeat(b.peerId.toString()), direct)).subarray()
      expect(frame.byteLength * MIN_DIRECT_CHUNK_COST_BYTES).toBeGreaterThan(
        DIRECT_SMALL_CHUNK_ALLOWANCE * MIN_DIRECT_CHUNK_COST_BYTES * 2,
      )
      for (const byte of frame) {
        stream.send(Uint8Array.of(byte))
        await new Promise((resolve) => setImmediate(resolve))
      }
      await stream.close()
      return decodeCanonical((await lp.decode(stream).next()).value!.subarray())
    }
    await waitFor(
      async () => ((await rawHeartbeat()) as { r: string }).r === 'CORE__PEER_BUSY',
      "b's next message to be refused as busy",
    )
    // Other peers are not held up by b.
    await c.bus.send(a.peerId.toString(), heartbeat(c.peerId.toString()))
    expect(received.map((m) => m.from)).toEqual([c.peerId.toString()])
    // Through the bus, b sends again until a has room: once the stalled envelope is given up.
    const sending = b.bus.send(a.peerId.toString(), heartbeat(b.peerId.toString()))
    await new Promise((resolve) => setTimeout(resolve, 200))
    stalled.abort(new Error('gave up'))
    await sending
    expect(received.map((m) => m.from)).toEqual([c.peerId.toString(), b.peerId.toString()])
  })

  it('should not penalise a sender whose direct stream broke before its envelope was whole, as it does a cut frame', async () => {
    const a = await set.create()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const rejected: RejectedMessage[] = []
    a.addEventListener('message:rejected', (e) => rejected.push(e.detail))
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    const half = lp.encode.single(new Uint8Array(100_000)).subarray(0, 50_000)
    /** Opens a direct stream from b to a and sends half of a frame, which a starts to read. */
    const halfSent = async (): Promise<Stream> => {
      const stream = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
      stream.send(half)
      await new Promise((resolve) => setTimeout(resolve, 50))
      return stream
    }
    const unreachable = { from: b.peerId.toString(), code: 'CORE__PEER_UNREACHABLE', penalised: false }
    // Reset by the sender, as its bus does when its caller gives up: three such cost a graylisting once.
    for (let i = 1; i <= 3; i++) {
      ;(await halfSent()).abort(new Error('the caller gave up'))
      await waitFor(() => rejected.length === i, `a to give up reading stream ${i}`)
    }
    expect(rejected).toEqual([unreachable, unreachable, unreachable])
    // Half a frame and a clean close is the sender's doing.
    const cut = await halfSent()
    await cut.close()
    expect(decodeCanonical((await lp.decode(cut).next()).value!.subarray())).toEqual({ r: 'CORE__MALFORMED_MESSAGE' })
    expect(rejected[3]).toEqual({ from: b.peerId.toString(), code: 'CORE__MALFORMED_MESSAGE', penalised: true })
    // One offence counted (-10 x 1²), not four (-10 x 4²).
    await waitFor(() => a.gossipScore(b.peerId.toString()) < 0, "b's score to drop")
    expect(a.gossipScore(b.peerId.toString())).toBeGreaterThan(-20)
    // Cut with its connection, as when the network drops it.
    await halfSent()
    for (const connection of b.libp2p.getConnections(a.peerId)) connection.abort(new Error('the network dropped it'))
    await waitFor(() => rejected.length === 5, 'a to give up reading the stream cut with its connection')
    expect(rejected[4]).toEqual(unreachable)
  })

  it('should count each chunk of a direct message as at least MIN_DIRECT_CHUNK_COST_BYTES', async () => {
    // The least budget there is: one peer's share of one maximum-size envelope and a few small chunks.
    const a = await set.create({ maxInboundDirectBytes: 1 })
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    const stream = await b.libp2p.dialProtocol(a.peerId, PROTOCOLS.task)
    stream.send(unsignedVarint(MAX_DIRECT_ENVELOPE_BYTES))
    // Counted by their bytes, these would be under a thousandth of the share; each holds a chunk all the same.
    const chunks = Math.ceil((MAX_DIRECT_ENVELOPE_BYTES * 1.1) / MIN_DIRECT_CHUNK_COST_BYTES)
    for (let sent = 0; sent < chunks && stream.writeStatus === 'writable'; sent++) {
      if (!stream.send(new Uint8Array(1))) await stream.onDrain()
    }
    const ack = await lp.decode(stream).next()
    expect(decodeCanonical(ack.value!.subarray())).toEqual({ r: 'CORE__PEER_BUSY' })
    stream.abort(new Error('done'))
  })

  it('should carry direct messages over WebSockets too', async () => {
    const a = await set.create()
    const b = await set.create({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const ws = a.getMultiaddrs().find((ma) => ma.toString().includes('/ws/'))!
    await b.dial(ws)
    expect(b.libp2p.getConnections(a.peerId)[0]!.remoteAddr.toString()).toContain('/ws')
    const received: Inbound[] = []
    a.bus.onMessage((m) => received.push(m))
    await b.bus.send(a.peerId.toString(), heartbeat(b.peerId.toString()))
    expect(received.map((m) => m.from)).toEqual([b.peerId.toString()])
  })

  it('should deliver a published message to a subscriber', async () => {
    const [a, b] = await set.network(2)
    b!.bus.subscribe(TOPICS.bids)
    a!.bus.subscribe(TOPICS.bids)
    const received: Inbound[] = []
    b!.bus.onMessage((m) => received.push(m))
    // The mesh, not just the subscription: a message published before the gossipsub streams are up may be dropped.
    await waitFor(() => a!.meshPeers(TOPICS.bids).includes(b!.peerId.toString()), 'a mesh link to b')
    await a!.bus.publish(TOPICS.bids, bid(a!.peerId.toString()))
    await waitFor(() => received.length > 0, 'delivery')
    expect(received[0]!.from).toBe(a!.peerId.toString())
    expect(received[0]!.topic).toBe(TOPICS.bids)
  })

  it('should send a direct message and resolve once the peer accepted it', async () => {
    const a = await set.create()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const received: Inbound[] = []
    a.bus.onMessage((m) => received.push(m))
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    await b.bus.send(a.peerId.toString(), heartbeat(b.peerId.toString()))
    expect(received).toHaveLength(1)
    expect(received[0]!.topic).toBeUndefined()
    expect(received[0]!.message.type).toBe('heartbeat')
  })

  it('should send a direct message of several MiB, past the 4 MiB it-length-prefixed allows by default', async () => {
    const a = await set.create()
    const b = await set.create({ bootstrap: [tcpAddr(a)] })
    const received: Inbound[] = []
    const rejected: RejectedMessage[] = []
    a.bus.onMessage((m) => received.push(m))
    a.addEventListener('message:rejected', (e) => rejected.push(e.detail))
    await waitFor(() => b.libp2p.getConnections(a.peerId).length > 0, 'b to connect to a')
    const chunks = Array.from({ length: 7 }, () => new Uint8Array(1024 * 1024 - 64).fill(7))
    const reveal = {
      type: 'reveal' as const,
      body: {
        jobId: 'job-1',
        taskId: 't1',
        worker: b.peerId.toString(),
        root: new Uint8Array(32),
        indices: chunks.map((_, i) => i),
        chunks,
        proofs: chunks.map(() => []),
        issuedAt: 1,
      },
    }
    await b.bus.send(a.peerId.toString(), reveal)
    expect(received.map((m) => m.message.type)).toEqual(['reveal'])
    expect(rejected).toEqual([])
  })

  it('should fetch a blob that another node put and provided', async () => {
    const [a, b] = await set.network(2)
    await waitFor(() => a!.routingTable().length > 0 && b!.routingTable().length > 0, 'DHT peers')
    const bytes = new TextEncoder().encode('a scene, content-addressed')
    const cid = await a!.blobs.put(bytes, { provide: true })
    const fetched = await b!.blobs.get(cid.toString())
    expect(new TextDecoder().decode(fetched)).toBe('a scene, content-addressed')
    expect(await b!.blobs.has(cid)).toBe(true)
  })

  it("should show announced capacity in the other node's view", async () => {
    const [a, b] = await set.network(2)
    await a!.capacity.announce(sampleCapacity())
    await waitFor(() => b!.capacity.view.get(a!.peerId.toString()) !== undefined, 'capacity record')
    const record = b!.capacity.view.get(a!.peerId.toString())!
    expect(record.capacity.classes).toEqual(['render/wgsl'])
    expect(record.capacity.peer).toBe(a!.peerId.toString())
    await waitFor(
      async () => (await b!.capacity.findWorkers('render/wgsl')).includes(a!.peerId.toString()),
      'DHT class record',
    )
  })
})
