import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import {
  CapacityView,
  classCid,
  ManualClock,
  MAX_CAPACITY_RECORD_MS,
  TOPICS,
  validateBody,
  type CapacityRecord,
  type Inbound,
} from '../src/index.js'
import { sampleCapacity } from './helpers.js'

const inbound = (peer: string, seq: bigint, expiresAt: number, overrides = {}): Inbound => ({
  from: peer,
  topic: TOPICS.capacity,
  expiresAt,
  seq,
  message: {
    type: 'capacity',
    body: validateBody('capacity', { ...sampleCapacity(overrides), addrs: [], peer, issuedAt: 0 }),
  },
})

describe('CapacityView', () => {
  it('should hand a listener that throws to its error handler and still tell the other listeners', () => {
    const errors: Array<[unknown, string]> = []
    const view = new CapacityView({
      clock: new ManualClock(1000),
      onListenerError: (error, event) => errors.push([error, event.type]),
    })
    const told: string[] = []
    view.addEventListener('capacity:updated', () => {
      throw new Error('a bug in an embedder listener')
    })
    view.addEventListener('capacity:updated', (e) => told.push(e.detail.peer))
    expect(view.offer(inbound('w1', 1n, 10_000))).toBe(true)
    expect(told).toEqual(['w1'])
    expect(errors).toHaveLength(1)
    expect(errors[0]![1]).toBe('capacity:updated')
    expect((errors[0]![0] as Error).message).toBe('a bug in an embedder listener')
  })

  it('should keep the newest record per peer by sequence number', () => {
    const clock = new ManualClock(1000)
    const view = new CapacityView({ clock })
    expect(view.offer(inbound('w1', 5n, 10_000, { slots: 1 }))).toBe(true)
    expect(view.offer(inbound('w1', 4n, 20_000, { slots: 9 }))).toBe(false)
    expect(view.get('w1')?.capacity.slots).toBe(1)
    expect(view.offer(inbound('w1', 6n, 20_000, { slots: 3 }))).toBe(true)
    expect(view.get('w1')?.capacity.slots).toBe(3)
    expect(view.offer(inbound('w2', 1n, 20_000))).toBe(true)
    expect(view.size).toBe(2)
  })

  it('should drop expired records on read and announce each expiry once', () => {
    const clock = new ManualClock(1000)
    const view = new CapacityView({ clock })
    const expired: CapacityRecord[] = []
    view.addEventListener('capacity:expired', (e) => expired.push(e.detail))
    view.offer(inbound('w1', 1n, 5_000))
    view.offer(inbound('w2', 1n, 9_000))
    clock.set(5_001)
    expect(view.peers()).toEqual(['w2'])
    expect(view.get('w1')).toBeUndefined()
    expect(expired.map((r) => r.peer)).toEqual(['w1'])
    clock.set(9_001)
    expect(view.size).toBe(0)
    expect(expired.map((r) => r.peer)).toEqual(['w1', 'w2'])
  })

  it('should drop expired records on its timer', async () => {
    const clock = { now: () => Date.now() }
    const view = new CapacityView({ clock })
    view.start()
    const expired = new Promise<CapacityRecord>((resolve) =>
      view.addEventListener('capacity:expired', (e) => resolve(e.detail), { once: true }),
    )
    view.offer(inbound('w1', 1n, Date.now() + 50))
    expect((await expired).peer).toBe('w1')
    view.stop()
  })

  it('should ignore already expired records, our own, and other message types', () => {
    const clock = new ManualClock(10_000)
    const view = new CapacityView({ clock, self: 'me' })
    const updated: string[] = []
    view.addEventListener('capacity:updated', (e) => updated.push(e.detail.peer))
    expect(view.offer(inbound('w1', 1n, 9_999))).toBe(false)
    expect(view.offer(inbound('me', 1n, 20_000))).toBe(false)
    const notCapacity: Inbound = {
      from: 'w1',
      expiresAt: 20_000,
      message: { type: 'heartbeat', body: { jobId: 'j', worker: 'w1', taskIds: [], issuedAt: 0 } },
    }
    expect(view.offer(notCapacity)).toBe(false)
    expect(view.offer({ ...inbound('w2', 1n, 20_000), topic: TOPICS.orders })).toBe(false)
    expect(updated).toEqual([])
  })

  it('should refuse new peers when full, while held peers renew, until a record expires', () => {
    const clock = new ManualClock(0)
    const view = new CapacityView({ clock, maxRecords: 2 })
    expect(view.offer(inbound('w1', 1n, 5_000))).toBe(true)
    expect(view.offer(inbound('w2', 1n, 900_000))).toBe(true)
    // A newcomer does not push out w1, which expires soonest.
    expect(view.offer(inbound('w3', 1n, 900_000))).toBe(false)
    expect(view.peers().sort()).toEqual(['w1', 'w2'])
    expect(view.offer(inbound('w1', 2n, 8_000, { slots: 7 }))).toBe(true)
    expect(view.get('w1')?.capacity.slots).toBe(7)
    clock.set(8_001)
    expect(view.offer(inbound('w3', 1n, 900_000))).toBe(true)
    expect(view.peers().sort()).toEqual(['w2', 'w3'])
  })

  it('should expire each record at its own time however often peers renew, announcing only the live one', () => {
    const clock = new ManualClock(0)
    const view = new CapacityView({ clock })
    const expired: CapacityRecord[] = []
    view.addEventListener('capacity:expired', (e) => expired.push(e.detail))
    // Renewals to earlier and later expiries leave replaced entries behind, skipped as they come due.
    for (let seq = 1; seq <= 3_000; seq++)
      view.offer(inbound(`w${seq % 3}`, BigInt(seq), 10_000 + ((seq * 7919) % 5_000)))
    const live = view.list()
    expect(live).toHaveLength(3)
    expect(view.nextExpiry()).toBe(Math.min(...live.map((r) => r.expiresAt)))
    for (const record of [...live].sort((a, b) => a.expiresAt - b.expiresAt)) {
      clock.set(record.expiresAt + 1)
      expect(view.get(record.peer)).toBeUndefined()
    }
    expect(view.size).toBe(0)
    expect(view.nextExpiry()).toBeUndefined()
    expect(expired.map((r) => r.seq).sort()).toEqual(live.map((r) => r.seq).sort())
  })

  it('should hold no replaced record alive however often a peer renews', async () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const view = new CapacityView({ clock: new ManualClock(0) })
    // Expiring first, this record stays at the top of the expiry heap, above the entries the renewals leave behind.
    view.offer(inbound('w0', 1n, 10_000))
    const bodies: Array<WeakRef<object>> = []
    for (let seq = 1; seq <= 1_000; seq++) {
      const renewal = inbound('w1', BigInt(seq), 20_000 + seq)
      bodies.push(new WeakRef(renewal.message.body))
      view.offer(renewal)
    }
    // A WeakRef holds its target until the end of the job that made it.
    await new Promise((resolve) => setTimeout(resolve, 0))
    gc()
    expect(bodies.filter((body) => body.deref() !== undefined)).toHaveLength(1)
    expect(view.get('w1')?.seq).toBe(1_000n)
    expect(view.nextExpiry()).toBe(10_000)
  })

  it('should keep a record no longer than a capacity record may live, whatever its envelope says', () => {
    const clock = new ManualClock(1_000)
    const view = new CapacityView({ clock })
    view.offer(inbound('w1', 1n, 1_000 + 15 * 60_000))
    expect(view.get('w1')?.expiresAt).toBe(1_000 + MAX_CAPACITY_RECORD_MS)
    clock.set(1_001 + MAX_CAPACITY_RECORD_MS)
    expect(view.get('w1')).toBeUndefined()
  })

  it('should select workers by capability class', () => {
    const view = new CapacityView({ clock: new ManualClock(0) })
    view.offer(inbound('w1', 1n, 10_000, { classes: ['render/wgsl'] }))
    view.offer(inbound('w2', 1n, 10_000, { classes: ['inference/fp32'] }))
    expect(view.withClass('inference/fp32').map((r) => r.peer)).toEqual(['w2'])
  })
})

describe('classCid', () => {
  it('should be a stable v1 raw sha2-256 CID per class name', () => {
    const a = classCid('render/wgsl')
    expect(a.version).toBe(1)
    expect(a.code).toBe(0x55)
    expect(a.multihash.code).toBe(0x12)
    expect(classCid('render/wgsl').equals(a)).toBe(true)
    expect(classCid('inference/fp32').equals(a)).toBe(false)
    expect(() => classCid('')).toThrow(expect.objectContaining({ code: 'CORE__INVALID_CONFIG' }))
  })
})
