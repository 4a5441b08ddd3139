import * as dagCbor from '@ipld/dag-cbor'
import { Tokenizer } from 'cborg'
import fc from 'fast-check'
import { z } from 'zod'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeCanonical,
  encodeMessage,
  generateIdentity,
  MAX_CHALLENGE_CHUNKS,
  MAX_MERKLE_DEPTH,
  MAX_TASKS_PER_MESSAGE,
  maxBodyItems,
  MESSAGE_SCHEMAS,
  MESSAGE_TYPES,
  type Identity,
} from '../src/index.js'
import { maxItemsOf } from '../src/wire/items.js'
import { anyMessage } from './arbitraries.js'

/** The CBOR data items `bytes` hold, counted as cborg reads them. */
function itemsIn(bytes: Uint8Array): number {
  const tokenizer = new Tokenizer(bytes, dagCbor.decodeOptions)
  let items = 0
  for (; !tokenizer.done(); items++) tokenizer.next()
  return items
}

/** Runs `fn`, which must throw; returns what it threw. */
function refusal(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  throw new Error('expected a refusal')
}

describe('maxItemsOf', () => {
  it('should count a map, its keys and values, arrays to their bound and a union by its largest branch', () => {
    const schema = z.object({
      a: z.array(z.number()).max(3),
      b: z.union([z.string(), z.object({ c: z.instanceof(Uint8Array), d: z.bigint().optional() })]),
    })
    // The map; a and its array of 3; b and its map of c and d.
    expect(maxItemsOf(schema)).toBe(1 + (1 + 1 + 3) + (1 + 1 + 4))
  })

  it('should find no bound where the schema sets none', () => {
    expect(maxItemsOf(z.array(z.number()))).toBe(Infinity)
    expect(maxItemsOf(z.record(z.string(), z.number()))).toBe(Infinity)
    expect(maxItemsOf(z.looseObject({ a: z.number() }))).toBe(Infinity)
  })
})

describe('message body item bounds', () => {
  let me: Identity

  beforeAll(async () => {
    me = await generateIdentity()
  })

  it('should bound the items of every message type', () => {
    for (const type of MESSAGE_TYPES) expect(maxBodyItems(type), type).toBeLessThan(10_000)
  })

  it("should hold every valid message within its schema's item bound", () => {
    fc.assert(
      fc.property(anyMessage, (message) => {
        expect(itemsIn(encodeMessage(message))).toBeLessThanOrEqual(maxItemsOf(MESSAGE_SCHEMAS[message.type]))
      }),
      { numRuns: 300 },
    )
  })

  it('should open the largest heartbeat and reveal their schemas allow', () => {
    const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`)
    const heartbeat = {
      jobId: 'j1',
      worker: me.peerId.toString(),
      taskIds: ids('t', MAX_TASKS_PER_MESSAGE),
      withdrawn: ids('w', MAX_TASKS_PER_MESSAGE),
      leaving: true,
      issuedAt: 1,
    }
    expect(decodeMessage('heartbeat', encodeCanonical(heartbeat))).toEqual(heartbeat)
    const hash = new Uint8Array(32)
    const reveal = {
      jobId: 'j1',
      taskId: 't1',
      worker: me.peerId.toString(),
      root: hash,
      indices: Array.from({ length: MAX_CHALLENGE_CHUNKS }, (_, i) => i),
      chunks: Array.from({ length: MAX_CHALLENGE_CHUNKS }, () => new Uint8Array(1)),
      proofs: Array.from({ length: MAX_CHALLENGE_CHUNKS }, () => Array.from({ length: MAX_MERKLE_DEPTH }, () => hash)),
      issuedAt: 1,
    }
    expect(decodeMessage('reveal', encodeCanonical(reveal))).toEqual(reveal)
  })

  it('should refuse a body holding more items than its type allows, before decoding them all', () => {
    // A field no schema reads (which a body may carry, for later versions) filled with a million empty maps.
    const body = { jobId: 'j1', worker: me.peerId.toString(), taskIds: ['t1'], issuedAt: 1, x: Array(1e6).fill({}) }
    const bytes = encodeCanonical(body)
    const started = performance.now()
    expect(refusal(() => decodeMessage('heartbeat', bytes))).toMatchObject({
      code: 'CORE__MALFORMED_MESSAGE',
      context: { what: 'heartbeat body', maxItems: maxBodyItems('heartbeat') },
    })
    // Refused at its bound: decoding a million maps and encoding them again takes a second or so.
    expect(performance.now() - started).toBeLessThan(250)
  })
})
