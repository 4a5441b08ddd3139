import { type AbortOptions, type Blobstore, type Clock, parseBlobCid, SerialQueue, throwIfAborted } from '@tessera/core'
import type { Logger } from 'pino'
import type { Datastore, DatastoreWrite } from '../datastore.js'
import type { NodeError } from '../errors.js'
import { errorFields } from './error-fields.js'

type BlobCid = ReturnType<typeof parseBlobCid>

/** The holder that keeps a blob for good: what was on disk before it was first held. */
export const PIN = 'pin'
/** How often holds past their expiry are looked for while the peer runs. */
export const BLOB_HOLD_SWEEP_MS = 60 * 60_000

/** The holder of a creator's job `jobId`: its inputs and the outputs it accepted, until the job is deleted. */
export function jobHolder(jobId: string): string {
  return `job:${jobId}`
}

/** The holder of a blob uploaded for a job that has not been ordered yet (see {@link UPLOAD_RETENTION_MS}). */
export const UPLOAD = 'upload'
/** How long an uploaded blob waits for a job to use it before it is deleted. */
export const UPLOAD_RETENTION_MS = 24 * 60 * 60_000

/** The holder of a worker's output of task `taskId`. */
export function taskHolder(taskId: string): string {
  return `task:${taskId}`
}

/** A hold as stored: until when it keeps its blob, or for good. */
interface StoredHold {
  expiresAt?: number
}

/** Reads a stored record that lasts for good or until `expiresAt` (`what` names it in the error). */
export function parseExpiring(value: unknown, what: string): { expiresAt?: number } {
  const { expiresAt } = (value ?? {}) as { expiresAt?: unknown }
  if (typeof value !== 'object' || value === null || (expiresAt !== undefined && !Number.isSafeInteger(expiresAt))) {
    throw new TypeError(`${what} is {} or { expiresAt: integer }`)
  }
  return expiresAt === undefined ? {} : { expiresAt: expiresAt as number }
}

/** Reads a stored hold (the datastore's parser for the `holds` namespace). */
function parseHold(value: unknown): StoredHold {
  return parseExpiring(value, 'a hold')
}

/** What a {@link BlobHolds} needs from its peer. */
export interface BlobHoldsComponents {
  datastore: Datastore
  /** The blobs held (the node's blob store, which the blob protocol serves). */
  store: Pick<Blobstore, 'has' | 'delete'>
  clock: Clock
  logger: Logger
  /** Called after each blob deleted, with why. */
  onDeleted?: (cid: string, reason: BlobDeleteReason) => void
}

/** Why a blob was deleted: its last hold was released, or its holds all expired. */
export type BlobDeleteReason = 'released' | 'expired'

/** A hold's datastore key: grouped by blob, so the holds of one blob are one prefix read. */
function holdKey(cid: string, holder: string): string {
  return `${cid}/${holder}`
}

/** Where the expiry index's keys start (no CID spells `expiry`). */
const EXPIRY = 'expiry/'

/**
 * The expiry index's key of a hold that expires: time first (zero-padded, so keys sort by time), so a sweep reads
 * the holds that are due and stops, never the holds kept for good (every output a creator ever accepted).
 */
function expiryKey(expiresAt: number, cid: string, holder: string): string {
  return `${EXPIRY}${String(expiresAt).padStart(16, '0')}/${cid}/${holder}`
}

/** Where the holder index's keys start (no CID spells `holder`). */
const BY_HOLDER = 'holder/'

/** The holder index's key of a hold: holder first, so the holds of one holder (a deleted job's) are one prefix read. */
function holderKey(holder: string, cid: string): string {
  return `${BY_HOLDER}${holder}/${cid}`
}

/** The `meta` key set once every hold on disk has its index entries (holds written before the indexes existed). */
const INDEXED = 'holds-indexed'

/** The index entries that go with hold `holder` on `cid`, to put or delete in the batch that writes or drops it. */
function indexWrites(type: 'put' | 'del', cid: string, holder: string, expiresAt?: number): DatastoreWrite[] {
  const keys = [holderKey(holder, cid), ...(expiresAt === undefined ? [] : [expiryKey(expiresAt, cid, holder)])]
  return keys.map((key) => (type === 'put' ? { type, ns: 'holds', key, value: {} } : { type, ns: 'holds', key }))
}

/** The parts of an {@link expiryKey}, or undefined when `key` is not one. */
function parseExpiryKey(key: string): { expiresAt: number; cid: string; holder: string } | undefined {
  const rest = key.slice(EXPIRY.length)
  const [time, cid] = rest.split('/', 2)
  const expiresAt = Number(time)
  if (!key.startsWith(EXPIRY) || cid === undefined || !Number.isSafeInteger(expiresAt)) return undefined
  return { expiresAt, cid, holder: rest.slice(`${time}/${cid}/`.length) }
}

/**
 * Which blobs this peer still needs, and who needs them: a blob is deleted from the store once its last hold is
 * released or has expired. Blobs are addressed by content, so two tasks whose outputs are identical (two tiles of
 * empty sky) share one file, which stays while either needs it.
 *
 * A worker holds each task output until the creator pays for it (the creator fetched the output before it accepted
 * the task and signed the receipt) or until an expiry, for a creator that never does. A creator holds an upload for
 * a day ({@link UPLOAD}), and a job's inputs and accepted outputs until the job is deleted ({@link jobHolder}). A
 * blob already in the store the first time it is held (written before holds existed, or by a part of the node that
 * does not hold what it writes) is pinned ({@link PIN}) first, so releasing a hold never deletes what was kept for
 * another reason.
 *
 * Holds are records in the datastore (`holds/<cid>/<holder>`), so they outlive a restart, written in one batch with
 * their entries in two indexes: by expiry (`holds/expiry/<time>/<cid>/<holder>`, read by the sweep) and by holder
 * (`holds/holder/<holder>/<cid>`, read by {@link releaseAll}). Every change to them runs in one queue, so a blob is
 * never deleted between a new hold's record and its write.
 */
export class BlobHolds {
  readonly #c: BlobHoldsComponents
  readonly #queue = new SerialQueue()
  /** The indexes cover every hold on disk (see {@link #index}). */
  #indexed = false
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(components: BlobHoldsComponents) {
    this.#c = components
  }

  /** Sweeps expired holds now and every {@link BLOB_HOLD_SWEEP_MS} until {@link stop}. */
  start(): void {
    if (this.#timer !== undefined) return
    const sweep = () =>
      this.sweep().catch((e: unknown) => this.#c.logger.error({ ...errorFields(e) }, 'holds:sweep-failed'))
    void sweep()
    this.#timer = setInterval(sweep, BLOB_HOLD_SWEEP_MS)
    this.#timer.unref()
  }

  /** Stops sweeping; resolves once the change in progress, if any, is done. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#queue.idle()
  }

  /**
   * Holds blob `cid` for `holder` until `expiresAt` (epoch ms), or for good when it is undefined. Call it before the
   * blob is written: a hold on a blob not yet in the store is how a blob this peer makes is told from one it kept
   * before. Holding again replaces the expiry.
   */
  async hold(blob: string, holder: string, expiresAt?: number, options: AbortOptions = {}): Promise<void> {
    const parsed = parseBlobCid(blob)
    await this.#queue.run(() => this.#hold(parsed, holder, expiresAt, options), options)
  }

  /**
   * Holds blob `cid` as {@link hold} does if the store has it, and resolves to whether it did (nothing is written
   * when it does not). Atomic with sweeps and releases: a blob this finds stays until the hold ends, where a `has`
   * before a `hold` leaves a sweep room to delete it between the two.
   */
  async holdIfStored(blob: string, holder: string, expiresAt?: number, options: AbortOptions = {}): Promise<boolean> {
    const parsed = parseBlobCid(blob)
    return this.#queue.run(async () => {
      if (!(await this.#c.store.has(parsed, options))) return false
      await this.#hold(parsed, holder, expiresAt, options)
      return true
    }, options)
  }

  /** Writes a hold; runs in the queue. */
  async #hold(parsed: BlobCid, holder: string, expiresAt: number | undefined, options: AbortOptions): Promise<void> {
    const cid = parsed.toString()
    const writes: DatastoreWrite[] = [
      { type: 'put', ns: 'holds', key: holdKey(cid, holder), value: expiresAt === undefined ? {} : { expiresAt } },
      ...indexWrites('put', cid, holder, expiresAt),
    ]
    // Held again with another expiry: the old one's index entry goes with it.
    const before = await this.#c.datastore.get('holds', holdKey(cid, holder), parseHold).catch(() => undefined)
    if (before?.expiresAt !== undefined && before.expiresAt !== expiresAt) {
      writes.push({ type: 'del', ns: 'holds', key: expiryKey(before.expiresAt, cid, holder) })
    }
    if (holder !== PIN && (await this.#holders(cid)).length === 0 && (await this.#c.store.has(parsed, options))) {
      writes.push({ type: 'put', ns: 'holds', key: holdKey(cid, PIN), value: {} }, ...indexWrites('put', cid, PIN))
    }
    await this.#c.datastore.batch(writes)
  }

  /**
   * Releases every hold of `holder` (a deleted job's, say), deleting the blobs left with none; resolves to how many
   * blobs went. It reads that holder's entries in the holder index, not every hold.
   */
  async releaseAll(holder: string, options: AbortOptions = {}): Promise<number> {
    await this.#queue.run(() => this.#index(), options)
    const prefix = holderKey(holder, '')
    const cids: string[] = []
    for await (const [key] of this.#c.datastore.entries('holds', { prefix, onCorrupt: () => {} })) {
      const cid = key.slice(prefix.length)
      // Another holder whose name goes on past a slash (none does today) is not this one.
      if (!cid.includes('/')) cids.push(cid)
    }
    let deleted = 0
    for (const cid of cids) {
      // Released meanwhile (a second delete of the job): nothing more to do.
      if (await this.#queue.run(() => this.#release(cid, holder, 'released'), options)) deleted++
    }
    return deleted
  }

  /** Releases `holder`'s hold on blob `cid` (nothing when it holds none), deleting the blob if no hold is left. */
  async release(blob: string, holder: string, options: AbortOptions = {}): Promise<void> {
    const cid = parseBlobCid(blob).toString()
    await this.#queue.run(() => this.#release(cid, holder, 'released'), options)
  }

  /**
   * Drops `holder`'s hold on `cid`, if it has one, and the blob with it when no other hold is left; true when the
   * blob went. The blob goes before its last hold record: a crash between the two leaves a record of a blob that is
   * gone (swept later), never a blob that nothing holds (pinned for good the next time it is held).
   */
  async #release(cid: string, holder: string, reason: BlobDeleteReason): Promise<boolean> {
    const hold = await this.#c.datastore.get('holds', holdKey(cid, holder), parseHold)
    if (hold === undefined) return false
    const last = (await this.#holders(cid)).every((h) => h === holder)
    if (last) await this.#deleteBlob(cid, reason)
    await this.#c.datastore.batch([
      { type: 'del', ns: 'holds', key: holdKey(cid, holder) },
      ...indexWrites('del', cid, holder, hold.expiresAt),
    ])
    return last
  }

  /** The holders of blob `cid`. */
  async holders(blob: string): Promise<string[]> {
    const cid = parseBlobCid(blob).toString()
    return this.#queue.run(() => this.#holders(cid))
  }

  /**
   * The holders of blob `cid` as on disk now, without waiting behind the queue's writes (a sweep releasing thousands
   * of holds is one long turn): for an answer that may see a hold being written or released either way, such as
   * whether to serve the blob to a peer.
   */
  async holdersNow(blob: string): Promise<string[]> {
    return this.#holders(parseBlobCid(blob).toString())
  }

  /**
   * Releases every hold past its expiry and deletes the blobs left with none; resolves to how many blobs went. It
   * reads the expiry index up to now, not the holds kept for good. A hold record that cannot be read is logged and
   * left, and keeps its blob.
   */
  async sweep(options: AbortOptions = {}): Promise<number> {
    return this.#queue.run(async () => {
      await this.#index()
      const now = this.#c.clock.now()
      const skip = (key: string, error: unknown) =>
        this.#c.logger.error({ ...errorFields(error), ns: 'holds', key }, 'record:skipped')
      const due: { key: string; expiresAt: number; cid: string; holder: string }[] = []
      for await (const [key] of this.#c.datastore.entries('holds', { prefix: EXPIRY, onCorrupt: skip })) {
        const entry = parseExpiryKey(key)
        if (entry === undefined) {
          skip(key, new TypeError('not an expiry index key'))
          continue
        }
        if (entry.expiresAt > now) break
        due.push({ key, ...entry })
      }
      let deleted = 0
      for (const { key, expiresAt, cid, holder } of due) {
        throwIfAborted(options.signal)
        let hold: StoredHold | undefined
        try {
          hold = await this.#c.datastore.get('holds', holdKey(cid, holder), parseHold)
        } catch (e) {
          skip(holdKey(cid, holder), e)
          continue
        }
        // Released already, or held again with another expiry: only the index entry is left to go.
        if (hold?.expiresAt !== expiresAt) await this.#c.datastore.delete('holds', key)
        else if (await this.#release(cid, holder, 'expired')) deleted++
      }
      return deleted
    }, options)
  }

  /**
   * Gives every hold its index entries, once per data directory: holds written before the holder and expiry indexes
   * existed would otherwise never expire, nor be released with their job. Runs in the queue.
   */
  async #index(): Promise<void> {
    if (this.#indexed) return
    if ((await this.#c.datastore.get('meta', INDEXED)) === undefined) {
      const writes: DatastoreWrite[] = []
      const skip = (key: string, error: unknown) =>
        this.#c.logger.error({ ...errorFields(error), ns: 'holds', key }, 'record:skipped')
      for await (const [key, hold] of this.#c.datastore.entries('holds', { parse: parseHold, onCorrupt: skip })) {
        if (key.startsWith(EXPIRY) || key.startsWith(BY_HOLDER)) continue
        const slash = key.indexOf('/')
        writes.push(...indexWrites('put', key.slice(0, slash), key.slice(slash + 1), hold.expiresAt))
      }
      await this.#c.datastore.batch([...writes, { type: 'put', ns: 'meta', key: INDEXED, value: 1 }])
    }
    this.#indexed = true
  }

  async #holders(cid: string): Promise<string[]> {
    const holders: string[] = []
    // A record that cannot be read still counts as a hold: a blob is never deleted on a guess.
    const onCorrupt = (key: string, error: NodeError) => {
      this.#c.logger.error({ ...errorFields(error), ns: 'holds', key }, 'record:skipped')
      holders.push(key.slice(cid.length + 1))
    }
    for await (const [key] of this.#c.datastore.entries('holds', { prefix: `${cid}/`, onCorrupt })) {
      holders.push(key.slice(cid.length + 1))
    }
    return holders
  }

  async #deleteBlob(cid: string, reason: BlobDeleteReason): Promise<void> {
    await this.#c.store.delete(parseBlobCid(cid))
    this.#c.logger.debug({ cid, reason }, 'blob:deleted')
    this.#c.onDeleted?.(cid, reason)
  }
}
