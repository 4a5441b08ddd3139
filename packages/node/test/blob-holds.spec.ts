import { join } from 'node:path'
import { blobCid, encodeCanonical, FsBlobstore, ManualClock } from '@tessera/core'
import { ClassicLevel } from 'classic-level'
import { type Logger, pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { BlobHolds, jobHolder, PIN, taskHolder, UPLOAD } from '../src/peer/blob-holds.js'
import { tempDir } from './helpers.js'

const HOUR = 3_600_000

describe('BlobHolds', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let datastore: Datastore
  let store: FsBlobstore
  let clock: ManualClock
  let holds: BlobHolds
  let logged: Record<string, unknown>[]
  let logger: Logger

  beforeEach(async () => {
    dir = await tempDir('tessera-holds-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    store = new FsBlobstore(join(dir.path, 'blobs'))
    clock = new ManualClock(1_000_000)
    logged = []
    logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    holds = new BlobHolds({ datastore, store, clock, logger })
  })

  afterEach(async () => {
    await holds.stop()
    await datastore.close()
    await dir.cleanup()
  })

  /** A blob's bytes and CID (string). */
  function blob(fill: number): { bytes: Uint8Array; cid: string } {
    const bytes = new Uint8Array(64).fill(fill)
    return { bytes, cid: blobCid(bytes).toString() }
  }

  /** Holds `b` for `holder` and then writes it, as a worker stores a task's output. */
  async function holdAndWrite(b: { bytes: Uint8Array; cid: string }, holder: string, expiresAt?: number) {
    await holds.hold(b.cid, holder, expiresAt)
    await store.put(blobCid(b.bytes), b.bytes)
  }

  it('should keep a blob two tasks output until both are released', async () => {
    const sky = blob(1)
    await holdAndWrite(sky, taskHolder('job-1/f0/0'))
    await holdAndWrite(sky, taskHolder('job-1/f0/1'))
    expect(await holds.holders(sky.cid)).toEqual([taskHolder('job-1/f0/0'), taskHolder('job-1/f0/1')])

    await holds.release(sky.cid, taskHolder('job-1/f0/0'))
    expect(await store.has(blobCid(sky.bytes))).toBe(true)
    // Released twice: changes nothing.
    await holds.release(sky.cid, taskHolder('job-1/f0/0'))
    expect(await store.has(blobCid(sky.bytes))).toBe(true)

    await holds.release(sky.cid, taskHolder('job-1/f0/1'))
    expect(await store.has(blobCid(sky.bytes))).toBe(false)
    expect(await holds.holders(sky.cid)).toEqual([])
  })

  it('should pin a blob already stored when it is first held, so releasing the hold never deletes it', async () => {
    const input = blob(2)
    // Stored before holds existed (an older version), or by a part of the node that holds nothing.
    await store.put(blobCid(input.bytes), input.bytes)
    await holdAndWrite(input, taskHolder('job-1/f0/0'))
    expect(await holds.holders(input.cid)).toEqual([PIN, taskHolder('job-1/f0/0')])
    await holds.release(input.cid, taskHolder('job-1/f0/0'))
    expect(await store.has(blobCid(input.bytes))).toBe(true)
  })

  it("should keep a creator's pinned blob when a task output the same bytes and is released", async () => {
    const frame = blob(3)
    await holds.hold(frame.cid, PIN)
    await store.put(blobCid(frame.bytes), frame.bytes)
    await holdAndWrite(frame, taskHolder('job-2/f0/0'))
    await holds.release(frame.cid, taskHolder('job-2/f0/0'))
    expect(await store.has(blobCid(frame.bytes))).toBe(true)
    expect(await holds.holders(frame.cid)).toEqual([PIN])
  })

  it('should delete, when swept, the blobs whose every hold has expired, and only those, also after a restart', async () => {
    const [unpaid, live, mixed, pinned] = [blob(4), blob(5), blob(6), blob(7)]
    const now = clock.now()
    await holdAndWrite(unpaid, taskHolder('a'), now + HOUR)
    await holdAndWrite(live, taskHolder('b'), now + 48 * HOUR)
    await holdAndWrite(mixed, taskHolder('c'), now + HOUR)
    await holdAndWrite(mixed, taskHolder('d'), now + 48 * HOUR)
    await holds.hold(pinned.cid, PIN)
    await holdAndWrite(pinned, taskHolder('e'), now + HOUR)

    expect(await holds.sweep()).toBe(0)
    clock.advance(HOUR)
    // The holds are on disk: a restarted peer sweeps what the last run left.
    await holds.stop()
    await datastore.close()
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    holds = new BlobHolds({ datastore, store, clock, logger })

    expect(await holds.sweep()).toBe(1)
    const has = async (b: { bytes: Uint8Array }) => store.has(blobCid(b.bytes))
    expect(await Promise.all([unpaid, live, mixed, pinned].map(has))).toEqual([false, true, true, true])
    expect(await holds.holders(mixed.cid)).toEqual([taskHolder('d')])
    expect(await holds.holders(pinned.cid)).toEqual([PIN])
    expect(logged.filter((l) => l.msg === 'blob:deleted')).toEqual([
      expect.objectContaining({ cid: unpaid.cid, reason: 'expired' }),
    ])
  })

  it('should read only the holds that are due when it sweeps, and follow a hold given a later expiry', async () => {
    const [kept, unpaid] = [blob(16), blob(17)]
    await holdAndWrite(kept, jobHolder('forever'))
    await holdAndWrite(unpaid, taskHolder('u'), clock.now() + HOUR)
    // Held again for longer: the first expiry no longer applies.
    await holds.hold(unpaid.cid, taskHolder('u'), clock.now() + 3 * HOUR)
    // The first sweep of a data directory also indexes holds older than the indexes, once.
    await holds.sweep()
    const prefixes: (string | undefined)[] = []
    const entries = datastore.entries.bind(datastore)
    datastore.entries = ((ns, options) => (prefixes.push(options?.prefix), entries(ns, options))) as typeof entries
    clock.advance(2 * HOUR)
    expect(await holds.sweep()).toBe(0)
    expect(prefixes).toEqual(['expiry/'])
    expect(await store.has(blobCid(unpaid.bytes))).toBe(true)
    clock.advance(2 * HOUR)
    expect(await holds.sweep()).toBe(1)
    expect(await store.has(blobCid(unpaid.bytes))).toBe(false)
    expect(await store.has(blobCid(kept.bytes))).toBe(true)
    // Nothing is left of the expired hold, its index entries included.
    const left: string[] = []
    for await (const [key] of entries('holds')) left.push(key)
    expect(left).toEqual([`${kept.cid}/${jobHolder('forever')}`, `holder/${jobHolder('forever')}/${kept.cid}`])
  })

  it("should read only the holder's index entries when it releases all of a holder's holds", async () => {
    const [own, other] = [blob(18), blob(19)]
    await holdAndWrite(own, jobHolder('a'))
    await holdAndWrite(other, jobHolder('ab'))
    await holds.releaseAll(jobHolder('none'))
    const prefixes: (string | undefined)[] = []
    const entries = datastore.entries.bind(datastore)
    datastore.entries = ((ns, options) => (prefixes.push(options?.prefix), entries(ns, options))) as typeof entries
    expect(await holds.releaseAll(jobHolder('a'))).toBe(1)
    // The prefix read, then one read of the blob's holders before it goes.
    expect(prefixes).toEqual([`holder/${jobHolder('a')}/`, `${own.cid}/`])
    expect(await store.has(blobCid(other.bytes))).toBe(true)
  })

  it('should index, once, the holds of a data directory written before the indexes, so they expire and release', async () => {
    const [unpaid, input] = [blob(20), blob(21)]
    await holds.stop()
    await datastore.close()
    // What an older version wrote: the holds alone, with no index entries and no mark that they were indexed.
    const raw = new ClassicLevel<string, Uint8Array>(join(dir.path, 'datastore'), { valueEncoding: 'view' })
    await raw.put(`holds!${unpaid.cid}/${taskHolder('u')}`, encodeCanonical({ expiresAt: clock.now() + HOUR }))
    await raw.put(`holds!${input.cid}/${jobHolder('j')}`, encodeCanonical({}))
    await raw.close()
    for (const b of [unpaid, input]) await store.put(blobCid(b.bytes), b.bytes)
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    holds = new BlobHolds({ datastore, store, clock, logger })

    clock.advance(2 * HOUR)
    expect(await holds.sweep()).toBe(1)
    expect(await store.has(blobCid(unpaid.bytes))).toBe(false)
    expect(await holds.releaseAll(jobHolder('j'))).toBe(1)
    expect(await store.has(blobCid(input.bytes))).toBe(false)
    // A restart does not index again.
    holds = new BlobHolds({ datastore, store, clock, logger })
    const prefixes: (string | undefined)[] = []
    const entries = datastore.entries.bind(datastore)
    datastore.entries = ((ns, options) => (prefixes.push(options?.prefix), entries(ns, options))) as typeof entries
    await holds.sweep()
    expect(prefixes).toEqual(['expiry/'])
  })

  it('should count a hold it cannot read as a hold, log it and leave it on disk', async () => {
    const output = blob(8)
    await holdAndWrite(output, taskHolder('a'), clock.now() + HOUR)
    await holds.stop()
    await datastore.close()
    const raw = new ClassicLevel<string, Uint8Array>(join(dir.path, 'datastore'), { valueEncoding: 'view' })
    await raw.put(`holds!${output.cid}/task:b`, new Uint8Array([0xff, 0x00]))
    await raw.close()
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    holds = new BlobHolds({ datastore, store, clock, logger })

    clock.advance(2 * HOUR)
    expect(await holds.sweep()).toBe(0)
    expect(await store.has(blobCid(output.bytes))).toBe(true)
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'record:skipped', key: `${output.cid}/task:b` }))
    await holds.release(output.cid, taskHolder('a'))
    expect(await store.has(blobCid(output.bytes))).toBe(true)
  })

  it('should not lose a blob when an old hold is released while a new task holds the same bytes', async () => {
    const sky = blob(9)
    const has = () => store.has(blobCid(sky.bytes))
    await holdAndWrite(sky, taskHolder('old'))
    // The new hold is recorded first: the release sees it and keeps the blob.
    await Promise.all([holds.hold(sky.cid, taskHolder('new')), holds.release(sky.cid, taskHolder('old'))])
    expect(await has()).toBe(true)
    // The release runs first: the blob goes, and the new task's write that follows its hold brings it back.
    await Promise.all([holds.release(sky.cid, taskHolder('new')), holds.hold(sky.cid, taskHolder('newer'))])
    await store.put(blobCid(sky.bytes), sky.bytes)
    expect(await has()).toBe(true)
    expect(await holds.holders(sky.cid)).toEqual([taskHolder('newer')])
  })

  it('should release every hold of a deleted job, deleting the blobs nothing else holds', async () => {
    const [own, shared, other] = [blob(10), blob(11), blob(12)]
    await holdAndWrite(own, jobHolder('a'))
    await holdAndWrite(shared, jobHolder('a'))
    await holdAndWrite(shared, jobHolder('b'))
    // A task whose id ends like the holder is not the job's.
    await holdAndWrite(other, taskHolder('x/job:a'))
    expect(await holds.releaseAll(jobHolder('a'))).toBe(1)
    const has = async (b: { bytes: Uint8Array }) => store.has(blobCid(b.bytes))
    expect(await Promise.all([own, shared, other].map(has))).toEqual([false, true, true])
    expect(await holds.holders(shared.cid)).toEqual([jobHolder('b')])
    expect(await holds.releaseAll(jobHolder('a'))).toBe(0)
  })

  it('should count a blob once when a job is deleted twice at the same time', async () => {
    const own = blob(13)
    await holdAndWrite(own, jobHolder('c'))
    const counts = await Promise.all([holds.releaseAll(jobHolder('c')), holds.releaseAll(jobHolder('c'))])
    expect(counts.sort()).toEqual([0, 1])
    expect(await store.has(blobCid(own.bytes))).toBe(false)
  })

  it('should delete a blob before its last hold record, so a crash between leaves no blob that nothing holds', async () => {
    const [paid, unpaid] = [blob(14), blob(15)]
    await holdAndWrite(paid, taskHolder('p'))
    await holdAndWrite(unpaid, taskHolder('u'), clock.now() + HOUR)
    const heldWhenDeleted: string[][] = []
    const del = store.delete.bind(store)
    store.delete = async (cid, options) => {
      const prefix = `${cid.toString()}/`
      const held: string[] = []
      for await (const [key] of datastore.entries('holds', { prefix })) held.push(key.slice(prefix.length))
      heldWhenDeleted.push(held)
      return del(cid, options)
    }
    await holds.release(paid.cid, taskHolder('p'))
    clock.advance(HOUR)
    await holds.sweep()
    expect(heldWhenDeleted).toEqual([[taskHolder('p')], [taskHolder('u')]])
    expect(await holds.holders(paid.cid)).toEqual([])
    expect(await holds.holders(unpaid.cid)).toEqual([])
  })

  it('should hold a blob only if it is stored, renewing a hold that ran out so a sweep keeps it', async () => {
    const upload = blob(9)
    await holdAndWrite(upload, UPLOAD, clock.now() + HOUR)
    clock.advance(2 * HOUR)
    // Its hold ran out, not yet swept: renewed, the blob stays through the next sweep.
    expect(await holds.holdIfStored(upload.cid, UPLOAD, clock.now() + HOUR)).toBe(true)
    expect(await holds.sweep()).toBe(0)
    expect(await store.has(blobCid(upload.bytes))).toBe(true)
    // Another sweep an hour later lets it go.
    clock.advance(HOUR)
    expect(await holds.sweep()).toBe(1)
    // Not stored: nothing is held, so nothing is left to sweep or to pin the blob if it comes later.
    expect(await holds.holdIfStored(upload.cid, UPLOAD, clock.now() + HOUR)).toBe(false)
    expect(await holds.holders(upload.cid)).toEqual([])
  })

  it('should refuse a CID that is not one, with a coded error', async () => {
    await expect(holds.hold('not-a-cid', taskHolder('a'))).rejects.toMatchObject({
      code: expect.stringMatching(/^CORE__/),
    })
  })

  it('should answer who holds a blob now without waiting behind a sweep, which holders() waits for', async () => {
    for (let i = 0; i < 100; i++) await holdAndWrite(blob(i), taskHolder(`t${i}`), clock.now() + HOUR)
    const kept = blob(200)
    await holdAndWrite(kept, jobHolder('job-1'))
    clock.advance(HOUR)
    let swept = false
    const sweeping = holds.sweep().then(() => (swept = true))
    expect(await holds.holdersNow(kept.cid)).toEqual([jobHolder('job-1')])
    expect(swept).toBe(false)
    expect(await holds.holders(kept.cid)).toEqual([jobHolder('job-1')])
    expect(swept).toBe(true)
    await sweeping
  })
})
