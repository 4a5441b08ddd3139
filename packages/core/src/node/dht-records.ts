import type { AbortOptions } from '@libp2p/interface'
import type { Validators } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'
import { CoreError } from '../errors.js'

/** Where kad-dht keeps value records (PUT_VALUE): `<datastorePrefix>/record/<key>`, under its default prefix. */
export const DHT_VALUE_RECORD_PREFIX = '/dht/record/'

function refused(): CoreError {
  return new CoreError('CORE__DHT_RECORD_REFUSED', 'this node keeps no DHT value records', {})
}

/**
 * kad-dht validators that refuse every value record. Tessera's DHT carries provider records only; it never puts or
 * gets a value. kad-dht's own `pk` validator takes any key's public-key record padded with unknown protobuf fields,
 * and kad-dht keeps each one under {@link DHT_VALUE_RECORD_PREFIX} until someone reads it, which nobody does: one peer
 * made a node store 60 MiB that way over one stream. Namespaces without a validator are refused already; `pk` is the
 * one kad-dht validates by default.
 */
export const refuseValueRecords: Validators = {
  pk: async () => {
    throw refused()
  },
}

/**
 * Wraps a libp2p datastore so that it holds no DHT value records: a write under {@link DHT_VALUE_RECORD_PREFIX} is
 * refused with `CORE__DHT_RECORD_REFUSED`, whatever path it takes past the validators, and the records held already
 * (taken before this node refused them) are deleted now, since nothing else would ever delete them.
 */
export async function withoutValueRecords(store: Datastore, options: AbortOptions = {}): Promise<Datastore> {
  for await (const key of store.queryKeys({ prefix: DHT_VALUE_RECORD_PREFIX }, options))
    await store.delete(key, options)
  const put: Datastore['put'] = async (key, value, putOptions) => {
    if (key.toString().startsWith(DHT_VALUE_RECORD_PREFIX)) throw refused()
    return store.put(key, value, putOptions)
  }
  return new Proxy(store, {
    get(target, property) {
      if (property === 'put') return put
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
