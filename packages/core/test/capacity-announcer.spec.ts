import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { CapacityAnnouncer, classCid, isCoreError, systemClock, type Capacity } from '../src/index.js'
import { sampleCapacity, waitFor } from './helpers.js'

function harness(ttlMs = 1_000) {
  const published: Array<{ body: Capacity; ttlMs: number }> = []
  const provided: string[] = []
  const cancelled: string[] = []
  const announcer = new CapacityAnnouncer(
    {
      self: 'worker-1',
      clock: systemClock,
      publish: async (message, options) => {
        published.push({ body: message.body, ttlMs: options.ttlMs })
      },
      provide: async (cid: CID) => {
        provided.push(cid.toString())
      },
      cancelProvide: async (cid: CID) => {
        cancelled.push(cid.toString())
      },
      addrs: () => ['/ip4/127.0.0.1/tcp/4001'],
      log: logger('tessera:test'),
    },
    { ttlMs },
  )
  return { announcer, published, provided, cancelled }
}

describe('CapacityAnnouncer', () => {
  it('should publish at once, fill in peer, addresses and issue time, and re-publish before expiry', async () => {
    const { announcer, published } = harness()
    try {
      const record = await announcer.announce(sampleCapacity())
      expect(record).toMatchObject({ peer: 'worker-1', addrs: ['/ip4/127.0.0.1/tcp/4001'] })
      expect(published).toHaveLength(1)
      expect(published[0]!.ttlMs).toBe(1_000)
      await waitFor(() => published.length >= 3, 'two re-publishes', { timeoutMs: 5_000 })
      expect(published[2]!.body.issuedAt).toBeGreaterThan(published[0]!.body.issuedAt)
    } finally {
      announcer.stop()
    }
  })

  it('should provide every capability class in the DHT, and stop on withdraw', async () => {
    const { announcer, published, provided, cancelled } = harness()
    await announcer.announce(sampleCapacity({ classes: ['render/wgsl', 'inference/fp32'] }))
    const expected = [classCid('render/wgsl').toString(), classCid('inference/fp32').toString()].sort()
    await waitFor(() => provided.length === 2, 'class records')
    expect([...provided].sort()).toEqual(expected)
    announcer.withdraw()
    expect(announcer.current).toBeUndefined()
    await waitFor(() => cancelled.length === 2, 'cancelled class records')
    const count = published.length
    await announcer.republish()
    expect(published).toHaveLength(count)
  })

  it('should re-publish for a new subscriber at most once per second', async () => {
    // A long lifetime, so the periodic re-publish stays out of the way.
    const { announcer, published } = harness(300_000)
    try {
      await announcer.announce(sampleCapacity())
      for (let i = 0; i < 5; i++) announcer.requestRepublish()
      expect(published).toHaveLength(1)
      await waitFor(() => published.length === 2, 'one extra publish', { timeoutMs: 3_000 })
      announcer.requestRepublish()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(published).toHaveLength(2)
    } finally {
      announcer.stop()
    }
  })

  it('should announce its record again when resumed after a stop, and nothing once withdrawn', async () => {
    const { announcer, published, provided } = harness(300_000)
    try {
      await announcer.announce(sampleCapacity())
      await waitFor(() => provided.length === 1, 'the class record')
      announcer.stop()
      announcer.resume()
      await waitFor(() => published.length === 2 && provided.length === 2, 'the record published and provided again')
      expect(published[1]!.body.issuedAt).toBeGreaterThanOrEqual(published[0]!.body.issuedAt)
      announcer.withdraw()
      announcer.resume()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(published).toHaveLength(2)
    } finally {
      announcer.stop()
    }
  })

  it('should refuse an invalid record with a coded error', async () => {
    const { announcer } = harness()
    await expect(announcer.announce(sampleCapacity({ slots: -1 }))).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__MALFORMED_MESSAGE'),
    )
  })
})
