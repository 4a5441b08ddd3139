import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'
import { CoreError } from '../errors.js'

/** Options of {@link withProviderQuota}. */
export interface ProviderQuotaInit {
  /** Provider records one peer may have us hold. */
  perPeer: number
  /** Provider records held from all peers together. */
  total: number
  /** This node's peer id: its own records are never refused. */
  self: string
  /** Where kad-dht keeps provider records: `<datastorePrefix>/provider/<multihash>/<peer id>`. @default '/dht/provider/' */
  prefix?: string
}

/**
 * Wraps a libp2p datastore so the DHT holds at most `perPeer` provider records for any one peer and `total` in all.
 *
 * kad-dht stores every ADD_PROVIDER a peer sends about itself, for 48 hours, with no bound: one peer announcing
 * made-up CIDs could fill a node's memory (the default datastore) or disk. A record past the quota is refused (kad-dht
 * drops that message); a refresh of a record already held is always taken. Counts start from what the store holds.
 */
export async function withProviderQuota(
  store: Datastore,
  init: ProviderQuotaInit,
  options: AbortOptions = {},
): Promise<Datastore> {
  const prefix = init.prefix ?? '/dht/provider/'
  const counts = new Map<string, number>()
  let total = 0
  const providerOf = (key: Key): string | undefined => {
    const text = key.toString()
    if (!text.startsWith(prefix)) return undefined
    const peer = text.slice(text.lastIndexOf('/') + 1)
    return peer === init.self ? undefined : peer
  }
  const count = (peer: string, by: number): void => {
    const next = (counts.get(peer) ?? 0) + by
    if (next <= 0) counts.delete(peer)
    else counts.set(peer, next)
    total += by
  }
  for await (const key of store.queryKeys({ prefix }, options)) {
    const peer = providerOf(key)
    if (peer !== undefined) count(peer, 1)
  }

  /**
   * Writes and deletes of one provider key run one after another: kad-dht writes a peer's records concurrently (one
   * ADD_PROVIDER may list the same record many times), and a record counted twice would never be uncounted.
   */
  const tails = new Map<string, Promise<unknown>>()
  const serially = <T>(key: Key, work: () => Promise<T>): Promise<T> => {
    const id = key.toString()
    const result = (tails.get(id) ?? Promise.resolve()).then(work)
    const tail = result.catch(() => undefined)
    tails.set(id, tail)
    void tail.then(() => {
      if (tails.get(id) === tail) tails.delete(id)
    })
    return result
  }

  const put: Datastore['put'] = async (key, value, putOptions) => {
    const peer = providerOf(key)
    if (peer === undefined) return store.put(key, value, putOptions)
    return serially(key, async () => {
      if (await store.has(key, putOptions)) return store.put(key, value, putOptions)
      const held = counts.get(peer) ?? 0
      if (held >= init.perPeer || total >= init.total) {
        throw new CoreError('CORE__PROVIDER_QUOTA', `no room for another provider record from ${peer}`, {
          peer,
          held,
          total,
        })
      }
      // Counted with the check, before the write: writes of a peer's other records, which run alongside, see it.
      count(peer, 1)
      try {
        return await store.put(key, value, putOptions)
      } catch (e) {
        count(peer, -1)
        throw e
      }
    })
  }
  const remove: Datastore['delete'] = async (key, deleteOptions) => {
    const peer = providerOf(key)
    if (peer === undefined) return store.delete(key, deleteOptions)
    return serially(key, async () => {
      const held = await store.has(key, deleteOptions)
      await store.delete(key, deleteOptions)
      if (held) count(peer, -1)
    })
  }

  return new Proxy(store, {
    get(target, property) {
      if (property === 'put') return put
      if (property === 'delete') return remove
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
