import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import * as lp from 'it-length-prefixed'
import { afterEach, describe, expect, it } from 'vitest'
import { DHT_PROTOCOL, generateIdentity } from '../src/index.js'
import { DHT_VALUE_RECORD_PREFIX, withoutValueRecords } from '../src/node/dht-records.js'
import { NodeSet, tcpAddr, waitFor } from './helpers.js'

/** A protobuf field: its tag, then a varint or length-delimited bytes. */
function field(number: number, value: number | Uint8Array): Uint8Array {
  const varint = (n: number): number[] => {
    const out: number[] = []
    for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80)
    out.push(n)
    return out
  }
  if (typeof value === 'number') return Uint8Array.from([...varint(number << 3), ...varint(value)])
  return Uint8Array.from([...varint((number << 3) | 2), ...varint(value.byteLength), ...value])
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]))

/**
 * A kad-dht PUT_VALUE of a public-key record that kad-dht's own `pk` validator accepts: the key's hash matches, and
 * `padding` bytes ride along in a protobuf field the key's decoder skips.
 */
async function paddedPutValue(padding: number): Promise<{ key: Uint8Array; message: Uint8Array }> {
  const publicKey = (await generateIdentity()).privateKey.publicKey
  const key = concat(new TextEncoder().encode('/pk/'), publicKey.toMultihash().bytes)
  const value = concat(publicKeyToProtobuf(publicKey), field(15, new Uint8Array(padding)))
  const record = concat(field(1, key), field(2, value), field(5, new TextEncoder().encode(new Date().toISOString())))
  // Message { type = PUT_VALUE (0), key, record }
  return { key, message: concat(field(1, 0), field(2, key), field(3, record)) }
}

async function valueRecords(store: MemoryDatastore): Promise<number> {
  let count = 0
  for await (const _ of store.queryKeys({ prefix: DHT_VALUE_RECORD_PREFIX })) count++
  return count
}

describe('DHT value records', () => {
  const set = new NodeSet()
  afterEach(() => set.stopAll())

  it('should not store a padded public-key record a peer puts', async () => {
    const datastore = new MemoryDatastore()
    const victim = await set.create({ datastore })
    const attacker = await set.create({ bootstrap: [tcpAddr(victim)] })
    await waitFor(() => attacker.libp2p.getConnections(victim.peerId).length > 0, 'the attacker to connect')
    const { message } = await paddedPutValue(64 * 1024)
    const stream = await attacker.libp2p.dialProtocol(victim.peerId, DHT_PROTOCOL)
    stream.send(lp.encode.single(message))
    // kad-dht echoes a record it stored and resets the stream on one it refused.
    const answer = await lp
      .decode(stream)
      .next()
      .then(
        (next) => (next.done === true ? 'closed' : 'stored'),
        () => 'refused',
      )
    expect(answer).toBe('refused')
    expect(await valueRecords(datastore)).toBe(0)
  })
})

describe('withoutValueRecords', () => {
  it('should refuse writes of value records and delete those held, leaving other keys alone', async () => {
    const inner = new MemoryDatastore()
    const bytes = new Uint8Array([1])
    await inner.put(new Key(`${DHT_VALUE_RECORD_PREFIX}old`), bytes)
    await inner.put(new Key('/dht/provider/c1/a'), bytes)
    const store = await withoutValueRecords(inner)
    expect(await valueRecords(inner)).toBe(0)
    await expect(store.put(new Key(`${DHT_VALUE_RECORD_PREFIX}new`), bytes)).rejects.toMatchObject({
      code: 'CORE__DHT_RECORD_REFUSED',
    })
    await store.put(new Key('/peers/a'), bytes)
    expect(await store.has(new Key('/dht/provider/c1/a'))).toBe(true)
    expect(await store.has(new Key('/peers/a'))).toBe(true)
  })
})
