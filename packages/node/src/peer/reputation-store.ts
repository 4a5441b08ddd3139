import type { AbortOptions, Clock } from '@tessera/core'
import { throwIfAborted } from '@tessera/core'
import { type AdaptiveSampler, type Evidence, MAX_TRACKED_PEERS, type Reputation } from '@tessera/proof'
import type { Logger } from 'pino'
import type { Datastore, DatastoreWrite, Namespace, RecordParser } from '../datastore.js'
import { errorFields } from './error-fields.js'

/** How often changed evidence and streaks are written: a crash loses at most this much of them. */
export const REPUTATION_FLUSH_MS = 10_000

/** A peer's evidence as kept in the `reputation` namespace (keyed by peer id), with when it last changed. */
interface StoredEvidence extends Evidence {
  at: number
}

/** A worker's valid-result streak as kept in the `streaks` namespace (keyed by peer id), with when it last changed. */
interface StoredStreak {
  streak: number
  at: number
}

/** A stored evidence record, checked (the datastore's parser for the `reputation` namespace). */
function parseStoredEvidence(value: unknown): StoredEvidence {
  const { valid, failed, at } = (value ?? {}) as Partial<Record<keyof StoredEvidence, unknown>>
  const count = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0
  if (!count(valid) || !count(failed) || !Number.isSafeInteger(at)) {
    throw new TypeError('evidence is { valid: number >= 0, failed: number >= 0, at: integer }')
  }
  return { valid: valid as number, failed: failed as number, at: at as number }
}

/** A stored streak, checked (the datastore's parser for the `streaks` namespace). */
function parseStoredStreak(value: unknown): StoredStreak {
  const { streak, at } = (value ?? {}) as Partial<Record<keyof StoredStreak, unknown>>
  if (!Number.isSafeInteger(streak) || (streak as number) < 1 || !Number.isSafeInteger(at)) {
    throw new TypeError('a streak is { streak: integer >= 1, at: integer }')
  }
  return { streak: streak as number, at: at as number }
}

/** What a {@link ReputationStore} keeps evidence in. */
export interface ReputationStoreComponents {
  datastore: Datastore
  clock: Clock
  logger: Logger
}

/**
 * Keeps what a creator learnt of peers' results across restarts: its evidence about peers (`@tessera/proof`'s
 * {@link Reputation}, namespace `reputation`) and its workers' valid-result streaks (its verifier's
 * {@link AdaptiveSampler}, namespace `streaks`). Without them a restarted creator would score every worker as new,
 * so its tier-2 jobs would find no eligible worker, a caught cheater would start again level with newcomers, and
 * it would check every trusted worker's results as if it had never seen them. Changes are written in batches every
 * {@link REPUTATION_FLUSH_MS} and at {@link close}; at {@link load} and {@link loadStreaks} the most recently changed
 * `maxTracked` peers come back (oldest first, so the reputation and the sampler forget the same peers first) and
 * older records are deleted.
 */
export class ReputationStore {
  readonly #c: ReputationStoreComponents
  /** Writes waiting for the next batch, by namespace and key: a later change of a record replaces an earlier one. */
  readonly #dirty = new Map<string, DatastoreWrite>()
  #timer: ReturnType<typeof setInterval> | undefined
  #flushing: Promise<void> = Promise.resolve()
  #closed = false

  constructor(components: ReputationStoreComponents) {
    this.#c = components
  }

  /** Records a peer's changed evidence, to be written with the next batch (`Reputation`'s `onUpdate`). */
  record(peerId: string, evidence: Evidence): void {
    const value: StoredEvidence = { valid: evidence.valid, failed: evidence.failed, at: this.#c.clock.now() }
    this.#change({ type: 'put', ns: 'reputation', key: peerId, value })
  }

  /**
   * Records a worker's changed streak, to be written with the next batch (`AdaptiveSampler`'s `onUpdate`); a streak
   * reset to 0 deletes its record.
   */
  recordStreak(worker: string, streak: number): void {
    const value: StoredStreak = { streak, at: this.#c.clock.now() }
    this.#change(
      streak === 0 ? { type: 'del', ns: 'streaks', key: worker } : { type: 'put', ns: 'streaks', key: worker, value },
    )
    // A reset is a worker caught: written now, not at the next batch, or a crash meanwhile would bring back the long
    // streak that has it sampled at the floor. Resets are rare, so this costs little.
    if (streak === 0 && !this.#closed) void this.flush()
  }

  #change(write: DatastoreWrite): void {
    const id = `${write.ns}!${write.key}`
    this.#dirty.delete(id)
    this.#dirty.set(id, write)
    if (this.#closed || this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.flush(), REPUTATION_FLUSH_MS)
    this.#timer.unref?.()
  }

  /**
   * Restores the evidence kept on disk into `reputation`: the `maxTracked` most recently changed peers, oldest first.
   * Records past that, and unreadable ones (logged), are deleted.
   */
  async load(reputation: Reputation, options: AbortOptions & { maxTracked?: number } = {}): Promise<number> {
    const kept = await this.#loadNewest('reputation', parseStoredEvidence, options)
    for (const [peerId, evidence] of kept) reputation.restore(peerId, evidence)
    return kept.length
  }

  /**
   * Restores the streaks kept on disk into `sampler`: the `maxTracked` most recently changed workers, oldest first.
   * Records past that, and unreadable ones (logged), are deleted.
   */
  async loadStreaks(
    sampler: Pick<AdaptiveSampler, 'restore'>,
    options: AbortOptions & { maxTracked?: number } = {},
  ): Promise<number> {
    const kept = await this.#loadNewest('streaks', parseStoredStreak, options)
    for (const [worker, { streak }] of kept) sampler.restore(worker, streak)
    return kept.length
  }

  /** The `maxTracked` most recently changed records of `ns`, oldest first; deletes the others and unreadable ones. */
  async #loadNewest<T extends { at: number }>(
    ns: Namespace,
    parse: RecordParser<T>,
    options: AbortOptions & { maxTracked?: number },
  ): Promise<Array<[string, T]>> {
    const maxTracked = options.maxTracked ?? MAX_TRACKED_PEERS
    const kept: Array<[string, T]> = []
    const unreadable: string[] = []
    for await (const entry of this.#c.datastore.entries(ns, {
      parse,
      onCorrupt: (key) => void unreadable.push(key),
    })) {
      kept.push(entry)
      throwIfAborted(options.signal)
    }
    kept.sort((a, b) => a[1].at - b[1].at)
    const dropped = kept.splice(0, Math.max(0, kept.length - maxTracked))
    const deletes = [...dropped.map(([key]) => key), ...unreadable]
    if (unreadable.length > 0) this.#c.logger.warn({ ns, records: unreadable.length }, 'reputation:skipped')
    if (deletes.length > 0) await this.#c.datastore.batch(deletes.map((key) => ({ type: 'del', ns, key })))
    return kept
  }

  /** Writes what changed since the last write, in one batch; a failure is logged and tried at the next. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#dirty.size === 0) return
      const written = new Map(this.#dirty)
      this.#dirty.clear()
      try {
        await this.#c.datastore.batch([...written.values()])
      } catch (e) {
        // Back for the next batch, unless changed again meanwhile.
        for (const [id, write] of written) if (!this.#dirty.has(id)) this.#dirty.set(id, write)
        this.#c.logger.warn({ ...errorFields(e), records: written.size }, 'reputation:write-failed')
      }
    })
    return this.#flushing
  }

  /** Stops the timer and writes what changed (call before the datastore closes). */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.flush()
  }
}
