import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { blobCid, FsBlobstore, ManualClock, type MessageBus, type WireMessage } from '@tessera/core'
import { type Logger, pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { audienceBus } from '../src/peer/audience-bus.js'
import { AUDIENCE_PRUNE_MS, BlobAudience, relayHolder } from '../src/peer/blob-audience.js'
import { BlobHolds, jobHolder, PIN, taskHolder, UPLOAD } from '../src/peer/blob-holds.js'
import { inputKeeper, InputRelays, relayingSource } from '../src/peer/input-relays.js'
import { CREATOR, idleBus } from './fixtures.js'
import { tempDir } from './helpers.js'

const WORKER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const STRANGER = '12D3KooWBDDEm7gP7ZTf2JDnZRUCBo9DsaLTqJvR8iYZNXjXHNNT'
const HOUR = 3_600_000

describe('BlobAudience', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let datastore: Datastore
  let store: FsBlobstore
  let clock: ManualClock
  let holds: BlobHolds
  let audience: BlobAudience
  let logger: Logger

  const open = () => new BlobAudience({ datastore, holders: (cid) => holds.holders(cid), clock, logger })

  beforeEach(async () => {
    dir = await tempDir('tessera-audience-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    store = new FsBlobstore(join(dir.path, 'blobs'))
    clock = new ManualClock(1_000_000)
    logger = pino({ level: 'silent' })
    holds = new BlobHolds({ datastore, store, clock, logger })
    audience = open()
  })

  afterEach(async () => {
    await holds.stop()
    await datastore.close()
    await dir.cleanup()
  })

  /** A stored blob held by each of `holders`; resolves to its CID. */
  async function heldBlob(fill: number, ...holders: [string, number?][]) {
    const bytes = new Uint8Array(32).fill(fill)
    const cid = blobCid(bytes)
    for (const [holder, expiresAt] of holders) await holds.hold(cid.toString(), holder, expiresAt)
    await store.put(cid, bytes)
    return cid
  }

  const asks = (cid: ReturnType<typeof blobCid>, peer: string) => audience.hook(cid, peerIdFromString(peer))

  it('should serve a held blob only to the peers one of its holders admits, and an unheld one to everyone', async () => {
    const scene = await heldBlob(1, [jobHolder('job-1')])
    const output = await heldBlob(2, [taskHolder('job-9/f0/t0_0'), HOUR])
    const unheld = await heldBlob(3)
    await audience.admit(jobHolder('job-1'), WORKER)
    await audience.admit(taskHolder('job-9/f0/t0_0'), CREATOR, clock.now() + HOUR)

    expect(await asks(scene, WORKER)).toBe(true)
    expect(await asks(scene, STRANGER)).toBe(false)
    // Admitted to another job is not admitted to this one.
    await audience.admit(jobHolder('job-2'), STRANGER)
    expect(await asks(scene, STRANGER)).toBe(false)
    // A worker's output goes to the task's creator only, while the worker keeps it for it.
    expect(await asks(output, CREATOR)).toBe(true)
    expect(await asks(output, WORKER)).toBe(false)
    // Held for nothing, or not here at all: refused alike, so a refusal does not say what this peer holds.
    expect(await asks(unheld, STRANGER)).toBe(false)
    expect(await asks(blobCid(new Uint8Array([9])), STRANGER)).toBe(false)
    clock.advance(HOUR)
    expect(await asks(output, CREATOR)).toBe(false)
  })

  it('should serve an upload not ordered yet, or a pinned blob, to nobody', async () => {
    const upload = await heldBlob(1, [UPLOAD, clock.now() + HOUR])
    const pinned = await heldBlob(2, [PIN])
    await audience.admit(jobHolder('job-1'), WORKER)
    for (const cid of [upload, pinned]) expect(await asks(cid, WORKER)).toBe(false)
    // Once a job holds it too, the job's audience may fetch it.
    await holds.hold(upload.toString(), jobHolder('job-1'))
    expect(await asks(upload, WORKER)).toBe(true)
  })

  it("should serve a delegate's relayed inputs to its arbiter until the relay expires", async () => {
    const scene = await heldBlob(1, [relayHolder('job-1'), clock.now() + HOUR])
    await audience.admit(relayHolder('job-1'), WORKER, clock.now() + HOUR)
    expect(await asks(scene, WORKER)).toBe(true)
    // Another creator's job with the same id at this peer is not the relay.
    await audience.admit(jobHolder('job-1'), STRANGER)
    expect(await asks(scene, STRANGER)).toBe(false)
    clock.advance(HOUR)
    expect(await asks(scene, WORKER)).toBe(false)
  })

  /** The audience's keys on disk. */
  const keys = async () => {
    const found: string[] = []
    for await (const [key] of datastore.entries('audience')) found.push(key)
    return found
  }

  it('should keep the audience across a restart, drop expired entries and forget a deleted job', async () => {
    await audience.admit(jobHolder('job/with/slashes'), WORKER)
    await audience.admit(taskHolder('job-2/f0/t0_0'), WORKER, clock.now() + HOUR)
    await audience.admit(taskHolder('job-2/f0/t0_0'), STRANGER, clock.now() + 2 * HOUR)

    clock.advance(HOUR)
    const restarted = open()
    expect(await restarted.load()).toBe(2)
    expect(restarted.admits(jobHolder('job/with/slashes'), WORKER)).toBe(true)
    expect(restarted.admits(taskHolder('job-2/f0/t0_0'), WORKER)).toBe(false)
    expect(restarted.admits(taskHolder('job-2/f0/t0_0'), STRANGER)).toBe(true)
    // The expired entry went from disk at load.
    expect(await keys()).toEqual([`${STRANGER}/task:job-2/f0/t0_0`, `${WORKER}/job:job/with/slashes`])

    await restarted.forget(jobHolder('job/with/slashes'))
    expect(restarted.admits(jobHolder('job/with/slashes'), WORKER)).toBe(false)
    expect(await keys()).toEqual([`${STRANGER}/task:job-2/f0/t0_0`])
  })

  it('should drop expired admissions while it runs, at most once per prune period', async () => {
    await audience.admit(taskHolder('t1'), CREATOR, clock.now() + 1)
    await audience.admit(taskHolder('t2'), CREATOR, clock.now() + AUDIENCE_PRUNE_MS + 1)
    clock.advance(AUDIENCE_PRUNE_MS)
    // Admitting past the period prunes what expired, and only that.
    await audience.admit(jobHolder('job-1'), WORKER)
    expect(await keys()).toEqual([`${CREATOR}/task:t2`, `${WORKER}/job:job-1`])
    clock.advance(2)
    // Within the next period nothing is pruned; then the expired admission goes.
    await audience.admit(jobHolder('job-2'), WORKER)
    expect(await keys()).toHaveLength(3)
    expect(await audience.prune()).toBe(1)
    expect(await keys()).toEqual([`${WORKER}/job:job-1`, `${WORKER}/job:job-2`])
  })

  it('should skip and delete an unreadable entry at load', async () => {
    await datastore.put('audience', `${WORKER}/job:job-1`, { expiresAt: 'soon' })
    await datastore.put('audience', `${WORKER}/job:job-2`, {})
    expect(await audience.load()).toBe(1)
    expect(audience.admits(jobHolder('job-1'), WORKER)).toBe(false)
    expect(audience.admits(jobHolder('job-2'), WORKER)).toBe(true)
    expect(await datastore.get('audience', `${WORKER}/job:job-1`)).toBeUndefined()
  })

  it('should admit whom an award, an assignment, its own arbitration or a Result prompts to fetch, before it leaves', async () => {
    const sent: { to: string; admitted: boolean }[] = []
    const holderOf = (message: WireMessage) =>
      message.type === 'result' ? taskHolder(message.body.taskId) : jobHolder((message.body as { jobId: string }).jobId)
    const inner: MessageBus = {
      ...idleBus(CREATOR),
      send: async (to, message) => void sent.push({ to, admitted: audience.admits(holderOf(message), to) }),
    }
    const relayed: unknown[] = []
    const bus = audienceBus(inner, {
      audience,
      clock,
      outputRetentionMs: HOUR,
      relayInputs: async (order) => void relayed.push(order),
    })
    const jobId = 'job-1'
    const messages = [
      { type: 'award', body: { jobId } },
      { type: 'assign', body: { jobId } },
      { type: 'arbitrate', body: { jobId, creator: CREATOR, accuser: CREATOR } },
      { type: 'result', body: { jobId, taskId: `${jobId}/f0/t0_0` } },
    ] as unknown as WireMessage[]
    for (const [i, message] of messages.entries()) await bus.send(`${WORKER}${i}`, message)
    expect(sent).toEqual(messages.map((_, i) => ({ to: `${WORKER}${i}`, admitted: true })))
    // Its own arbitration names its own order: nothing to relay.
    expect(relayed).toEqual([])
    // The creator may fetch a Result's output for as long as the worker keeps it.
    clock.advance(HOUR)
    expect(audience.admits(taskHolder(`${jobId}/f0/t0_0`), `${WORKER}3`)).toBe(false)

    // A message that hands no work admits nobody; one whose admission cannot be written is not sent.
    await bus.send(STRANGER, { type: 'heartbeat', body: { jobId } } as unknown as WireMessage)
    expect(audience.admits(jobHolder(jobId), STRANGER)).toBe(false)
    await datastore.close()
    await expect(bus.send(STRANGER, messages[0]!)).rejects.toThrow()
    expect(sent).toHaveLength(5)
    datastore = await Datastore.open(join(dir.path, 'datastore'))
  })
})

describe('relayingSource', () => {
  const DELEGATE = STRANGER

  /** A source whose peers each hold the blobs listed, and refuse the rest; records who was asked. */
  function source(held: Record<string, string[]>) {
    const asked: string[] = []
    return {
      asked,
      holdsFor: async () => false,
      get: async () => new Uint8Array(),
      fetchFrom: async (peer: string, cid: string) => {
        asked.push(peer)
        if (held[peer]?.includes(cid) !== true) throw Object.assign(new Error('denied'), { peer })
        return new TextEncoder().encode(`${peer}:${cid}`)
      },
    }
  }

  it("should turn to the blob's relay only when the creator does not serve it", async () => {
    const relays = new InputRelays()
    relays.add(['bafkscene', 'bafksky'], DELEGATE)
    const served = source({ [CREATOR]: ['bafkscene'], [DELEGATE]: ['bafkscene', 'bafksky'] })
    const relaying = relayingSource(served, relays)
    const text = async (p: Promise<Uint8Array>) => new TextDecoder().decode(await p)
    expect(await text(relaying.fetchFrom(CREATOR, 'bafkscene'))).toBe(`${CREATOR}:bafkscene`)
    expect(await text(relaying.fetchFrom(CREATOR, 'bafksky'))).toBe(`${DELEGATE}:bafksky`)
    expect(served.asked).toEqual([CREATOR, CREATOR, DELEGATE])
  })

  it("should throw the creator's failure for a blob with no relay, and the relay's when both fail", async () => {
    const relays = new InputRelays()
    relays.add(['bafksky'], DELEGATE)
    const relaying = relayingSource(source({}), relays)
    await expect(relaying.fetchFrom(CREATOR, 'bafkscene')).rejects.toMatchObject({ peer: CREATOR })
    await expect(relaying.fetchFrom(CREATOR, 'bafksky')).rejects.toMatchObject({ peer: DELEGATE })
    // Aborted: no relay is asked.
    const controller = new AbortController()
    controller.abort()
    const counting = source({})
    await expect(
      relayingSource(counting, relays).fetchFrom(CREATOR, 'bafksky', { signal: controller.signal }),
    ).rejects.toThrow()
    expect(counting.asked).toEqual([CREATOR])
  })
})

describe('inputKeeper', () => {
  const DELEGATE_ORDER = { jobId: 'job-1', creator: CREATOR, inputs: ['bafkscene', 'bafksky', 'bafkunread'] }

  /** Holds and a blob service that record what the keeper does; `stored` are the CIDs already on disk. */
  function parts(stored: string[]) {
    const done: string[] = []
    return {
      done,
      holds: {
        holdIfStored: async (cid: string, holder: string, expiresAt?: number) => {
          if (!stored.includes(cid)) return false
          done.push(`renew ${cid} ${holder} ${expiresAt}`)
          return true
        },
        hold: async (cid: string, holder: string, expiresAt?: number) =>
          void done.push(`hold ${cid} ${holder} ${expiresAt}`),
      },
      blobs: {
        fetchFrom: async (peer: unknown, cid: unknown, options?: { signal?: AbortSignal }) => {
          options?.signal?.throwIfAborted()
          done.push(`fetch ${String(cid)} from ${String(peer)}`)
          return new Uint8Array([1])
        },
        put: async (_bytes: Uint8Array, options?: { verifiedCid?: unknown }) => {
          done.push(`put ${String(options?.verifiedCid)}`)
          return undefined as never
        },
      },
    }
  }

  it('should hold the inputs an arbiter reads, fetching from the creator those it lacks, stored unhashed', async () => {
    const p = parts(['bafkscene'])
    await inputKeeper(p as never)(DELEGATE_ORDER as never, 5_000)
    expect(p.done).toEqual([
      `renew bafkscene ${relayHolder('job-1')} 5000`,
      `hold bafksky ${relayHolder('job-1')} 5000`,
      `fetch bafksky from ${CREATOR}`,
      'put bafksky',
    ])
  })

  it('should stop with its caller', async () => {
    const p = parts([])
    const controller = new AbortController()
    controller.abort()
    await expect(
      inputKeeper(p as never)(DELEGATE_ORDER as never, 5_000, { signal: controller.signal }),
    ).rejects.toThrow()
    expect(p.done.filter((d) => d.startsWith('fetch'))).toEqual([])
  })
})
