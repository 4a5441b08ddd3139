import { decodeCanonical, encodeCanonical } from '@tessera/core'
import { ClassicLevel } from 'classic-level'
import { NodeError } from './errors.js'

/** The namespaces the node persists; one LevelDB sublevel each. */
export const NAMESPACES = ['jobs', 'leases', 'receipts', 'reputation', 'dht', 'settlement', 'meta'] as const
export type Namespace = (typeof NAMESPACES)[number]

/**
 * The node's on-disk store (LevelDB through classic-level), keys prefixed `<namespace>!`: jobs, leases, receipts, reputation and DHT records,
 * values DAG-CBOR encoded so bigints and bytes survive a restart. Writes are synchronous to disk (`sync: true`)
 * because a lost receipt or settlement step is a lost payment.
 */
export class Datastore {
  readonly #db: ClassicLevel<string, Uint8Array>

  private constructor(db: ClassicLevel<string, Uint8Array>) {
    this.#db = db
  }

  /** Opens (creating when absent) the store in `dir`. */
  static async open(dir: string): Promise<Datastore> {
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
    try {
      await db.open()
    } catch (cause) {
      throw new NodeError(
        'NODE__DATASTORE_CORRUPT',
        `cannot open the datastore in ${dir}: ${String(cause)}`,
        { dir },
        {
          cause,
        },
      )
    }
    return new Datastore(db)
  }

  async put(ns: Namespace, key: string, value: unknown): Promise<void> {
    await this.#db.put(`${ns}!${key}`, encodeCanonical(value), { sync: true })
  }

  async get<T = unknown>(ns: Namespace, key: string): Promise<T | undefined> {
    const bytes = await this.#db.get(`${ns}!${key}`)
    if (bytes === undefined) return undefined
    try {
      return decodeCanonical(bytes, `${ns}/${key}`) as T
    } catch (cause) {
      throw new NodeError(
        'NODE__DATASTORE_CORRUPT',
        `stored value ${ns}/${key} cannot be decoded`,
        { ns, key },
        {
          cause,
        },
      )
    }
  }

  async delete(ns: Namespace, key: string): Promise<void> {
    await this.#db.del(`${ns}!${key}`, { sync: true })
  }

  /** Every entry of a namespace, in key order. */
  async *entries<T = unknown>(ns: Namespace): AsyncGenerator<[string, T]> {
    // '"' is the character after '!', so the range covers exactly this namespace's keys.
    for await (const [key, bytes] of this.#db.iterator({ gt: `${ns}!`, lt: `${ns}"` })) {
      const name = key.slice(ns.length + 1)
      yield [name, decodeCanonical(bytes, `${ns}/${name}`) as T]
    }
  }

  async close(): Promise<void> {
    await this.#db.close()
  }
}
