import type { AbortOptions, Clock } from '@tessera/core'
import { throwIfAborted } from '@tessera/core'
import { type Evidence, MAX_TRACKED_PEERS, type Reputation } from '@tessera/proof'
import type { Logger } from 'pino'
import type { Datastore, DatastoreWrite } from '../datastore.js'
import { errorFields } from './error-fields.js'

/** How often changed evidence is written: a crash loses at most this much of it. */
export const REPUTATION_FLUSH_MS = 10_000

/** A peer's evidence as kept in the `reputation` namespace (keyed by peer id), with when it last changed. */
interface StoredEvidence extends Evidence {
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

/** What a {@link ReputationStore} keeps evidence in. */
export interface ReputationStoreComponents {
  datastore: Datastore
  clock: Clock
  logger: Logger
}

/**
 * Keeps a creator's evidence about peers (`@tessera/proof`'s {@link Reputation}) across restarts: without it a
 * restarted creator would score every worker as new, so its tier-2 jobs would find no eligible worker and a caught
 * cheater would start again level with newcomers. Changes are written in batches every
 * {@link REPUTATION_FLUSH_MS} and at {@link close}; at {@link load} the most recently changed `maxTracked` peers come
 * back (oldest first, so the reputation forgets the same peers first) and older records are deleted.
 */
export class ReputationStore {
  readonly #c: ReputationStoreComponents
  readonly #dirty = new Map<string, StoredEvidence>()
  #timer: ReturnType<typeof setInterval> | undefined
  #flushing: Promise<void> = Promise.resolve()
  #closed = false

  constructor(components: ReputationStoreComponents) {
    this.#c = components
  }

  /** Records a peer's changed evidence, to be written with the next batch (`Reputation`'s `onUpdate`). */
  record(peerId: string, evidence: Evidence): void {
    this.#dirty.delete(peerId)
    this.#dirty.set(peerId, { valid: evidence.valid, failed: evidence.failed, at: this.#c.clock.now() })
    if (this.#closed || this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.flush(), REPUTATION_FLUSH_MS)
    this.#timer.unref?.()
  }

  /**
   * Restores the evidence kept on disk into `reputation`: the `maxTracked` most recently changed peers, oldest first.
   * Records past that, and unreadable ones (logged), are deleted.
   */
  async load(reputation: Reputation, options: AbortOptions & { maxTracked?: number } = {}): Promise<number> {
    const maxTracked = options.maxTracked ?? MAX_TRACKED_PEERS
    const kept: Array<[string, StoredEvidence]> = []
    const unreadable: string[] = []
    for await (const entry of this.#c.datastore.entries('reputation', {
      parse: parseStoredEvidence,
      onCorrupt: (key) => void unreadable.push(key),
    })) {
      kept.push(entry)
      throwIfAborted(options.signal)
    }
    kept.sort((a, b) => a[1].at - b[1].at)
    const dropped = kept.splice(0, Math.max(0, kept.length - maxTracked))
    for (const [peerId, evidence] of kept) reputation.restore(peerId, evidence)
    const deletes = [...dropped.map(([key]) => key), ...unreadable]
    if (unreadable.length > 0) this.#c.logger.warn({ records: unreadable.length }, 'reputation:skipped')
    if (deletes.length > 0) {
      await this.#c.datastore.batch(deletes.map((key) => ({ type: 'del', ns: 'reputation', key })))
    }
    return kept.length
  }

  /** Writes the evidence changed since the last write, in one batch; a failure is logged and tried at the next. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#dirty.size === 0) return
      const writes: DatastoreWrite[] = []
      for (const [key, value] of this.#dirty) writes.push({ type: 'put', ns: 'reputation', key, value })
      const written = new Map(this.#dirty)
      this.#dirty.clear()
      try {
        await this.#c.datastore.batch(writes)
      } catch (e) {
        // Back for the next batch, unless changed again meanwhile.
        for (const [key, value] of written) if (!this.#dirty.has(key)) this.#dirty.set(key, value)
        this.#c.logger.warn({ ...errorFields(e), peers: written.size }, 'reputation:write-failed')
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
