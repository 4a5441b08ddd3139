import { join } from 'node:path'
import { ManualClock } from '@tessera/core'
import { AdaptiveSampler, Reputation } from '@tessera/proof'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { ReputationStore } from '../src/peer/reputation-store.js'
import { tempDir } from './helpers.js'

/**
 * A creator's reputation of workers across a restart, on its real datastore: evidence written in batches comes back
 * as it was, in the order the reputation forgets peers, and what it would no longer track is deleted.
 */
describe('ReputationStore', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  const clock = new ManualClock(1_000)
  const logger = pino({ level: 'silent' })

  beforeEach(async () => {
    dir = await tempDir('tessera-reputation-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
  })

  afterEach(async () => {
    await datastore.close()
    await dir.cleanup()
  })

  /** A store and the reputation it keeps, as a peer puts them together at start. */
  async function open(maxTracked?: number): Promise<{ store: ReputationStore; reputation: Reputation }> {
    const store = new ReputationStore({ datastore, clock, logger })
    const reputation = new Reputation({
      ...(maxTracked === undefined ? {} : { maxTracked }),
      onUpdate: (peer, evidence) => store.record(peer, evidence),
    })
    await store.load(reputation, maxTracked === undefined ? {} : { maxTracked })
    return { store, reputation }
  }

  it('should give a restarted creator the evidence it had, a caught cheater below a newcomer', async () => {
    const first = await open()
    for (let i = 0; i < 3; i++) first.reputation.recordLocal('honest', 'pass')
    first.reputation.recordLocal('cheater', 'fail')
    await first.store.close()

    const { store, reputation } = await open()
    expect(reputation.evidence('honest')).toEqual({ valid: 3, failed: 0 })
    expect(reputation.evidence('cheater')).toEqual({ valid: 0, failed: 1 })
    expect(reputation.score('cheater')).toBeLessThan(reputation.score('newcomer'))
    expect(reputation.score('honest')).toBeGreaterThan(reputation.score('newcomer'))
    await store.close()
  })

  it('should bring back the most recently changed peers it tracks, oldest first, and delete the rest', async () => {
    const first = await open()
    for (const peer of ['a', 'b', 'c', 'd']) {
      first.reputation.recordLocal(peer, 'pass')
      clock.advance(1)
    }
    first.reputation.recordLocal('a', 'pass')
    await first.store.close()

    // Tracking two: `d` and `a` (changed last) come back; `b` and `c` go from disk too.
    const { store, reputation } = await open(2)
    expect(reputation.tracked).toBe(2)
    expect(reputation.evidence('a')).toEqual({ valid: 2, failed: 0 })
    expect(reputation.evidence('d')).toEqual({ valid: 1, failed: 0 })
    const kept: string[] = []
    for await (const [key] of datastore.entries('reputation')) kept.push(key)
    expect(kept.sort()).toEqual(['a', 'd'])
    // `d` was restored first, so it is forgotten first.
    reputation.recordLocal('e', 'pass')
    expect(reputation.evidence('d')).toEqual({ valid: 0, failed: 0 })
    expect(reputation.evidence('a')).toEqual({ valid: 2, failed: 0 })
    await store.close()
  })

  it('should skip and delete an unreadable record, keeping the others', async () => {
    await datastore.put('reputation', 'garbled', { valid: -1, failed: 'x' })
    await datastore.put('reputation', 'kept', { valid: 2, failed: 1, at: 5 })
    const { store, reputation } = await open()
    expect(reputation.evidence('kept')).toEqual({ valid: 2, failed: 1 })
    expect(await datastore.get('reputation', 'garbled')).toBeUndefined()
    await store.close()
  })

  /** A store and the sampler whose streaks it keeps, as a peer puts them together at start. */
  async function openStreaks(maxTracked?: number): Promise<{ store: ReputationStore; sampler: AdaptiveSampler }> {
    const store = new ReputationStore({ datastore, clock, logger })
    const sampler = new AdaptiveSampler({
      ...(maxTracked === undefined ? {} : { maxTracked }),
      onUpdate: (worker, streak) => store.recordStreak(worker, streak),
    })
    await store.loadStreaks(sampler, maxTracked === undefined ? {} : { maxTracked })
    return { store, sampler }
  }

  it("should give a restarted creator its workers' streaks, a reset one reset, the evidence left alone", async () => {
    const first = await openStreaks()
    const reputation = new Reputation({ onUpdate: (peer, evidence) => first.store.record(peer, evidence) })
    for (let i = 0; i < 20; i++) first.sampler.recordValid('trusted')
    for (let i = 0; i < 5; i++) first.sampler.recordValid('caught')
    first.sampler.recordFailure('caught')
    reputation.recordLocal('trusted', 'pass')
    await first.store.close()

    const { store, sampler } = await openStreaks()
    expect(sampler.streak('trusted')).toBe(20)
    expect(sampler.probability('trusted')).toBeLessThan(sampler.probability('newcomer'))
    expect(sampler.streak('caught')).toBe(0)
    expect(await datastore.get('streaks', 'caught')).toBeUndefined()
    // The evidence, in its own namespace, comes back whole beside them.
    const restored = new Reputation()
    expect(await store.load(restored)).toBe(1)
    expect(restored.evidence('trusted')).toEqual({ valid: 1, failed: 0 })
    await store.close()
  })

  it("should write a caught worker's reset streak at once, not with the next batch", async () => {
    const { store, sampler } = await openStreaks()
    for (let i = 0; i < 20; i++) sampler.recordValid('caught')
    await store.flush()
    expect(await datastore.get('streaks', 'caught')).toMatchObject({ streak: 20 })
    sampler.recordFailure('caught')
    // Long before the batch's 10 s: a crash now must not bring the streak back.
    await vi.waitFor(async () => expect(await datastore.get('streaks', 'caught')).toBeUndefined(), { timeout: 2_000 })
    await store.close()
  })

  it('should bring back the streaks of the most recently changed workers it tracks, and delete the rest', async () => {
    const first = await openStreaks()
    for (const worker of ['a', 'b', 'c']) {
      first.sampler.recordValid(worker)
      clock.advance(1)
    }
    first.sampler.recordValid('a')
    await first.store.close()

    const { store, sampler } = await openStreaks(2)
    expect(sampler.tracked).toBe(2)
    expect(sampler.streak('a')).toBe(2)
    expect(sampler.streak('c')).toBe(1)
    const kept: string[] = []
    for await (const [key] of datastore.entries('streaks')) kept.push(key)
    expect(kept.sort()).toEqual(['a', 'c'])
    await store.close()
  })
})
