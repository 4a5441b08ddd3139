import { AbortError, type AbortOptions, decodeCanonical, encodeCanonical, throwIfAborted } from '@tessera/core'
import { ClassicLevel } from 'classic-level'
import { NodeError } from './errors.js'

/** The namespaces the node persists; one LevelDB sublevel each. */
export const NAMESPACES = [
  'jobs',
  'leases',
  'receipts',
  'reputation',
  'streaks',
  'dht',
  'settlement',
  'meta',
  'holds',
  'audience',
  'accepts',
  'slashes',
] as const
/** One of {@link NAMESPACES}. */
export type Namespace = (typeof NAMESPACES)[number]

/**
 * Checks a decoded record and returns it typed (amounts as bigints: DAG-CBOR gives back a small bigint as a
 * number); throws when it is not such a record, which then counts as corrupt.
 */
export type RecordParser<T> = (value: unknown) => T

/** Which records {@link Datastore.entries} reads, and how it treats one it cannot decode. */
export interface EntriesOptions<T = unknown> extends AbortOptions {
  /** Only keys that start with this (ASCII), read from the store's index rather than filtered after a full scan. */
  prefix?: string
  /**
   * Called with a record's key and its `NODE__DATASTORE_CORRUPT` error; the record is then skipped and left on disk
   * untouched, for an operator to inspect.
   * @default none: the iteration throws the error instead
   */
  onCorrupt?: (key: string, error: NodeError) => void
  /** Checks each record; one it throws on is corrupt. */
  parse?: RecordParser<T>
}

/** One write of a {@link Datastore.batch}: a record stored (replacing what was there) or removed. */
export type DatastoreWrite =
  { type: 'put'; ns: Namespace; key: string; value: unknown } | { type: 'del'; ns: Namespace; key: string }

/** A stored record's value, or `NODE__DATASTORE_CORRUPT` naming it. */
function decode<T>(ns: Namespace, key: string, bytes: Uint8Array, parse?: RecordParser<T>): T {
  let value: unknown
  try {
    value = decodeCanonical(bytes, `${ns}/${key}`)
  } catch (cause) {
    throw new NodeError(
      'NODE__DATASTORE_CORRUPT',
      `stored value ${ns}/${key} cannot be decoded`,
      { ns, key },
      { cause },
    )
  }
  if (parse === undefined) return value as T
  try {
    return parse(value)
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause)
    throw new NodeError(
      'NODE__DATASTORE_CORRUPT',
      `stored value ${ns}/${key} is malformed: ${why}`,
      { ns, key },
      { cause },
    )
  }
}

/**
 * Opens a LevelDB store in `dir` (the node's datastore, libp2p's), with `openOptions`. A failure is coded by what
 * LevelDB said: told "corrupt", an operator may delete the store and the receipts in it, so only a store LevelDB found
 * damaged (`LEVEL_CORRUPTION`) is `NODE__DATASTORE_CORRUPT`. Its lock held is `NODE__DATA_DIR_IN_USE` (a node is
 * running on it); anything else (no permission, a file where its folder should be, an I/O error) is
 * `NODE__FILE_UNREADABLE`. Each names the store and says why, from LevelDB's own error.
 */
export async function openLevel(
  db: { open(options?: { compression?: boolean }): Promise<void> },
  dir: string,
  openOptions: { compression?: boolean } = {},
): Promise<void> {
  try {
    await db.open(openOptions)
  } catch (cause) {
    // abstract-level says only "Database failed to open"; why is in its cause.
    const inner = ((cause as { cause?: unknown }).cause ?? cause) as { code?: unknown; message?: unknown }
    const why = typeof inner.message === 'string' ? inner.message : String(inner)
    if (inner.code === 'LEVEL_LOCKED') {
      throw new NodeError(
        'NODE__DATA_DIR_IN_USE',
        `another node is running on ${dir} (it holds the datastore's lock); stop it first`,
        { dir },
        { cause },
      )
    }
    if (inner.code === 'LEVEL_CORRUPTION') {
      throw new NodeError(
        'NODE__DATASTORE_CORRUPT',
        `the datastore in ${dir} is damaged (${why}); restore it from a backup`,
        { dir },
        { cause },
      )
    }
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `cannot open the datastore in ${dir}: ${why}; check it and its permissions`,
      { path: dir },
      { cause },
    )
  }
}

/**
 * The node's on-disk store (LevelDB through classic-level), keys prefixed `<namespace>!`: jobs, leases, receipts, reputation and DHT records,
 * values DAG-CBOR encoded so bigints and bytes survive a restart. Writes are synchronous to disk (`sync: true`)
 * because a lost receipt or settlement step is a lost payment.
 *
 * Each call rejects with `AbortError` when its `signal` has aborted, checked before the operation: LevelDB takes no
 * signal, so an operation begun is finished.
 */
export class Datastore {
  readonly #db: ClassicLevel<string, Uint8Array>

  private constructor(db: ClassicLevel<string, Uint8Array>) {
    this.#db = db
  }

  /**
   * Opens (creating when absent) the store in `dir`; rejects as {@link openLevel} does when it cannot be opened. An
   * abort while it opens closes it again.
   */
  static async open(dir: string, options: AbortOptions = {}): Promise<Datastore> {
    throwIfAborted(options.signal)
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await openLevel(db, dir)
    // Closed, not left holding the lock that would stop the next open.
    if (options.signal?.aborted === true) {
      await db.close()
      throw new AbortError()
    }
    return new Datastore(db)
  }

  /** Stores `value` under `ns`/`key`, replacing what was there, synced to disk before it resolves. */
  async put(ns: Namespace, key: string, value: unknown, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#db.put(`${ns}!${key}`, encodeCanonical(value), { sync: true })
  }

  /**
   * Applies `writes` all together or not at all (one LevelDB batch), synced to disk before it resolves: records that
   * point at each other are never seen half written after a crash.
   */
  async batch(writes: readonly DatastoreWrite[], options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#db.batch(
      writes.map((w) =>
        w.type === 'put'
          ? { type: 'put' as const, key: `${w.ns}!${w.key}`, value: encodeCanonical(w.value) }
          : { type: 'del' as const, key: `${w.ns}!${w.key}` },
      ),
      { sync: true },
    )
  }

  /**
   * The value under `ns`/`key`, or undefined; rejects with `NODE__DATASTORE_CORRUPT` when it cannot be decoded, or
   * when `parse` throws on it.
   */
  async get<T = unknown>(
    ns: Namespace,
    key: string,
    parse?: RecordParser<T>,
    options: AbortOptions = {},
  ): Promise<T | undefined> {
    throwIfAborted(options.signal)
    const bytes = await this.#db.get(`${ns}!${key}`)
    return bytes === undefined ? undefined : decode(ns, key, bytes, parse)
  }

  /** Removes `ns`/`key` (nothing when absent), synced to disk before it resolves. */
  async delete(ns: Namespace, key: string, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#db.del(`${ns}!${key}`, { sync: true })
  }

  /** Whether namespace `ns` holds any record (one that cannot be decoded included), reading at most one key. */
  async holds(ns: Namespace, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    for await (const _ of this.#db.keys({ gt: `${ns}!`, lt: `${ns}"`, limit: 1 })) return true
    return false
  }

  /**
   * Every entry of a namespace, in key order. A record that cannot be decoded throws `NODE__DATASTORE_CORRUPT`, as
   * {@link Datastore.get} does, unless `onCorrupt` is given.
   */
  async *entries<T = unknown>(ns: Namespace, options: EntriesOptions<T> = {}): AsyncGenerator<[string, T]> {
    throwIfAborted(options.signal)
    // '"' is the character after '!', so the range covers exactly this namespace's keys; keys are ASCII, so a prefix's
    // keys sort below it followed by U+FFFF.
    const prefix = options.prefix ?? ''
    const range =
      prefix === '' ? { gt: `${ns}!`, lt: `${ns}"` } : { gte: `${ns}!${prefix}`, lt: `${ns}!${prefix}\uffff` }
    for await (const [key, bytes] of this.#db.iterator(range)) {
      throwIfAborted(options.signal)
      const name = key.slice(ns.length + 1)
      let value: T
      try {
        value = decode(ns, name, bytes, options.parse)
      } catch (e) {
        if (options.onCorrupt === undefined) throw e
        options.onCorrupt(name, e as NodeError)
        continue
      }
      yield [name, value]
    }
  }

  /** Closes the store, releasing its files and lock. */
  async close(): Promise<void> {
    await this.#db.close()
  }
}
