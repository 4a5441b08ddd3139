import { describe, expect, it, vi } from 'vitest'
import { GOSSIP_MAX_OUTBOUND_BUFFER_BYTES, isCoreError } from '../src/index.js'
import { asScored, type GossipSub, tesseraGossipsub } from '../src/node/gossip.js'

// The options gossipsub is built with, as Tessera passes them.
const built = vi.hoisted(() => ({ options: undefined as unknown }))
vi.mock('@libp2p/gossipsub', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@libp2p/gossipsub')>()
  return {
    ...actual,
    gossipsub: (options: unknown) => {
      built.options = options
      return actual.gossipsub(options as Parameters<typeof actual.gossipsub>[0])
    },
  }
})

describe('asScored', () => {
  it('should refuse a pubsub service without scores with CORE__INVALID_CONFIG', () => {
    expect(() => asScored({} as GossipSub)).toThrow(
      expect.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CONFIG') && e.context['getScore'] === 'undefined'),
    )
  })
})

describe('tesseraGossipsub', () => {
  it('should bound what it queues toward a peer that does not read', () => {
    tesseraGossipsub({
      heartbeatIntervalMs: 1_000,
      seenTtlMs: 120_000,
      localNetwork: true,
      ipColocationThreshold: 1,
      appSpecificScore: () => 0,
      debugName: 'test',
    })
    // Unset, gossipsub queues without end toward a peer that subscribes and never reads (yamux's default).
    expect(built.options).toMatchObject({ maxOutboundBufferSize: GOSSIP_MAX_OUTBOUND_BUFFER_BYTES })
  })
})
