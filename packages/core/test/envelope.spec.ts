import { beforeAll, describe, expect, it } from 'vitest'
import {
  CoreError,
  decodeMessage,
  domainOf,
  encodeCanonical,
  generateIdentity,
  MAX_CLOCK_SKEW_MS,
  MAX_DIRECT_ENVELOPE_BYTES,
  MAX_ENVELOPE_TTL_MS,
  MAX_REPLAY_HOLD_MS,
  openEnvelope,
  openQuotedEnvelope,
  ReplayGuard,
  sealEnvelope,
  SequenceCounter,
  TOPICS,
  decodeCanonical,
  type Identity,
  type WireMessage,
} from '../src/index.js'
import { reencode, type Reencoding } from './helpers.js'

const now = 1_700_000_000_000
const domain = domainOf(TOPICS.bids)

describe('envelope', () => {
  let alice: Identity
  let mallory: Identity
  let bid: WireMessage

  beforeAll(async () => {
    alice = await generateIdentity()
    mallory = await generateIdentity()
    bid = {
      type: 'bid',
      body: {
        jobId: 'j1',
        worker: alice.peerId.toString(),
        price: 42n,
        etaMs: 1000,
        score: 3.5,
        maxTasks: 4,
        issuedAt: now,
      },
    }
  })

  const seal = (
    message = bid,
    overrides: Partial<{ domain: string; seq: bigint; expiresAt: number }> = {},
    signer = alice,
  ) => sealEnvelope(signer, message, { domain, seq: 7n, expiresAt: now + 60_000, ...overrides })
  const open = (bytes: Uint8Array, overrides: Partial<Parameters<typeof openEnvelope>[1]> = {}) =>
    openEnvelope(bytes, { domain, maxBytes: 65_536, now, ...overrides })
  const code = (fn: () => unknown): string => {
    try {
      fn()
    } catch (e) {
      return (e as { code: string }).code
    }
    return 'none'
  }

  it('should open what it sealed, with the signer and sequence number', () => {
    const opened = open(seal())
    expect(opened.from).toBe(alice.peerId.toString())
    expect(opened.seq).toBe(7n)
    expect(opened.message).toEqual(bid)
  })

  it('should reject an envelope over the size bound', () => {
    expect(code(() => open(seal(), { maxBytes: 16 }))).toBe('CORE__MESSAGE_TOO_LARGE')
  })

  it('should reject bytes that are not an envelope', () => {
    expect(code(() => open(new Uint8Array([0xff, 0x00, 0x13])))).toBe('CORE__MALFORMED_MESSAGE')
    expect(code(() => open(encodeCanonical({ hello: 'world' })))).toBe('CORE__MALFORMED_MESSAGE')
  })

  it('should refuse bytes holding more CBOR items than an envelope, before decoding them all', () => {
    // 8 MiB of unsigned CBOR on a direct stream: an array of 8 million empty maps, each an object once decoded.
    const hostile = new Uint8Array(MAX_DIRECT_ENVELOPE_BYTES).fill(0xa0)
    hostile[0] = 0x9a
    new DataView(hostile.buffer).setUint32(1, hostile.byteLength - 5)
    const started = performance.now()
    let refusal: unknown
    try {
      open(hostile, { domain: domainOf('direct'), maxBytes: MAX_DIRECT_ENVELOPE_BYTES })
    } catch (e) {
      refusal = e
    }
    expect(refusal).toMatchObject({ code: 'CORE__MALFORMED_MESSAGE', context: { what: 'envelope', maxItems: 19 } })
    // Refused at its 20th item: decoding them all, and encoding them again, held the event loop for seconds.
    expect(performance.now() - started).toBeLessThan(250)
  })

  it('should reject an envelope signed for another channel', () => {
    expect(code(() => open(seal(bid, { domain: domainOf(TOPICS.orders) })))).toBe('CORE__DOMAIN_MISMATCH')
    expect(code(() => open(seal(bid, { domain: domainOf('direct') })))).toBe('CORE__DOMAIN_MISMATCH')
  })

  it('should reject an expired envelope and one that expires too far ahead', () => {
    expect(code(() => open(seal(bid, { expiresAt: now - 1 })))).toBe('CORE__MESSAGE_EXPIRED')
    expect(code(() => open(seal(bid, { expiresAt: now + MAX_ENVELOPE_TTL_MS + MAX_CLOCK_SKEW_MS + 1 })))).toBe(
      'CORE__EXPIRY_TOO_FAR',
    )
  })

  it('should reject a tampered body or a forged signature', () => {
    const envelope = decodeCanonical(seal()) as Record<string, unknown>
    const body = decodeCanonical(envelope.body as Uint8Array) as Record<string, unknown>
    const tampered = encodeCanonical({ ...envelope, body: encodeCanonical({ ...body, price: 1n }) })
    expect(code(() => open(tampered))).toBe('CORE__INVALID_SIGNATURE')
    const resigned = encodeCanonical({ ...envelope, signer: mallory.publicKey })
    expect(code(() => open(resigned))).toBe('CORE__INVALID_SIGNATURE')
  })

  it.each<Reencoding>(['float', 'unsorted', 'extra-key'])(
    'should refuse a signed envelope re-encoded into other bytes (%s), and still admit the original after it',
    (how) => {
      const replay = new ReplayGuard()
      const honest = seal()
      const forged = reencode(honest, how)
      expect(forged).not.toEqual(honest)
      // Arriving first, the forged copy is refused before the replay guard sees it, so it cannot have the original
      // refused as a replay (and its honest relays penalised).
      expect(code(() => open(forged, { replay }))).toBe('CORE__MALFORMED_MESSAGE')
      expect(open(honest, { replay }).message).toEqual(bid)
    },
  )

  it('should say a re-encoded envelope or body is not canonical', () => {
    const refusal = (fn: () => unknown): CoreError => {
      try {
        fn()
      } catch (e) {
        return e as CoreError
      }
      throw new Error('expected a refusal')
    }
    const float = refusal(() => open(reencode(seal(), 'float')))
    expect(float.context).toEqual({ what: 'envelope', canonical: false })
    // The body is signed byte for byte, so only its author can re-encode it; it is held to one encoding all the same.
    const body = (decodeCanonical(seal()) as { body: Uint8Array }).body
    const reordered = reencode(body, 'unsorted')
    expect(decodeCanonical(reordered)).toEqual(decodeCanonical(body))
    expect(refusal(() => decodeMessage('bid', reordered)).context).toEqual({ what: 'bid body', canonical: false })
    expect(decodeMessage('bid', body)).toEqual(bid.body)
  })

  it('should reject a message whose author is not its signer', () => {
    expect(code(() => open(seal(bid, {}, mallory)))).toBe('CORE__SIGNER_MISMATCH')
  })

  it('should reject an unknown type or schema version', () => {
    const envelope = decodeCanonical(seal()) as Record<string, unknown>
    expect(code(() => open(encodeCanonical({ ...envelope, type: 'telepathy' })))).toBe('CORE__UNKNOWN_MESSAGE_TYPE')
    expect(code(() => open(encodeCanonical({ ...envelope, schema: 99 })))).toBe('CORE__UNSUPPORTED_VERSION')
    expect(code(() => open(encodeCanonical({ ...envelope, v: 2 })))).toBe('CORE__UNSUPPORTED_VERSION')
  })

  it('should reject a replay while the envelope is valid, and accept the next sequence number', () => {
    const replay = new ReplayGuard()
    const bytes = seal()
    open(bytes, { replay })
    expect(code(() => open(bytes, { replay }))).toBe('CORE__MESSAGE_REPLAYED')
    expect(code(() => open(seal(bid, { seq: 8n }), { replay }))).toBe('none')
  })

  it('should tell an equivocation from a replay, and distrust the signer that equivocated', () => {
    const replay = new ReplayGuard()
    const first = seal(bid, { seq: 9n })
    const other = seal({ ...bid, body: { ...bid.body, etaMs: 2000 } } as WireMessage, { seq: 9n })
    expect(code(() => open(first, { replay }))).toBe('none')
    expect(code(() => open(first, { replay }))).toBe('CORE__MESSAGE_REPLAYED')
    // Other content under the same seq: only the signer can have signed it.
    expect(code(() => open(other, { replay }))).toBe('CORE__MESSAGE_EQUIVOCATED')
    expect(replay.distrusts(Buffer.from(alice.publicKey).toString('hex'), now)).toBe(true)
    expect(code(() => open(seal(bid, { seq: 10n }), { replay }))).toBe('CORE__SIGNER_DISTRUSTED')
    // Other signers are not affected.
    const malloryBid = { ...bid, body: { ...bid.body, worker: mallory.peerId.toString() } } as WireMessage
    expect(code(() => open(seal(malloryBid, { seq: 9n }, mallory), { replay }))).toBe('none')
  })

  it('should distrust an equivocating signer for the longest the guard holds an entry, and a bounded number', () => {
    const replay = new ReplayGuard(100, 100, 2)
    expect(replay.admit('aa', domain, 1n, now + 1000, now, 'x')).toBe('admitted')
    expect(replay.admit('aa', domain, 1n, now + 1000, now, 'x')).toBe('replayed')
    expect(replay.admit('aa', domain, 1n, now + 1000, now, 'y')).toBe('equivocated')
    expect(replay.admit('aa', domain, 2n, now + 1000, now + MAX_REPLAY_HOLD_MS, 'x')).toBe('distrusted')
    expect(replay.admit('aa', domain, 3n, now + 1000, now + MAX_REPLAY_HOLD_MS + 1, 'x')).toBe('admitted')
    // Past `maxDistrusted`, the oldest distrusted signer is forgotten first.
    for (const signer of ['bb', 'cc', 'dd']) {
      replay.admit(signer, domain, 1n, now + 1000, now, 'x')
      replay.admit(signer, domain, 1n, now + 1000, now, 'y')
    }
    expect(['bb', 'cc', 'dd'].map((signer) => replay.distrusts(signer, now))).toEqual([false, true, true])
  })

  it('should refuse an envelope another peer sends for its signer before the replay guard admits it', () => {
    const replay = new ReplayGuard()
    const bytes = seal()
    // Relayed by mallory as a direct message: refused, and not remembered as seen.
    expect(code(() => open(bytes, { replay, sender: mallory.peerId.toString() }))).toBe('CORE__SIGNER_MISMATCH')
    expect(code(() => open(bytes, { replay, sender: alice.peerId.toString() }))).toBe('none')
    expect(code(() => open(bytes, { replay, sender: alice.peerId.toString() }))).toBe('CORE__MESSAGE_REPLAYED')
  })

  it('should keep the replay cache bounded, making room from the heaviest signer and never from a lighter one', () => {
    const replay = new ReplayGuard(100, 100)
    expect(replay.admit('aa', domain, 0n, now + 1000, now, 'd')).toBe('admitted')
    // A flood of envelopes that live longer than the first fills the cache...
    for (let seq = 1n; seq < 1_000n; seq++) replay.admit('bb', domain, seq, now + 900_000, now, 'd')
    expect(replay.size).toBe(100)
    // ...and its signer, the heaviest, gets no more room: nothing lighter is forgotten for it.
    expect(replay.admit('bb', domain, 5_000n, now + 900_000, now, 'd')).toBe('full')
    expect(replay.admit('aa', domain, 0n, now + 1000, now + 500, 'd')).toBe('replayed')
    // A newcomer takes the flooder's oldest entry, not the first signer's.
    expect(replay.admit('cc', domain, 0n, now + 100_000, now + 600, 'd')).toBe('admitted')
    expect([replay.size, replay.heldBy('aa'), replay.heldBy('bb'), replay.heldBy('cc')]).toEqual([100, 1, 98, 1])
    // The flooder's forgotten entry is not let in again either: it still holds the most.
    expect(replay.admit('bb', domain, 1n, now + 900_000, now + 600, 'd')).toBe('full')
    expect(replay.admit('bb', domain, 2n, now + 900_000, now + 600, 'd')).toBe('replayed')
    // Once the first expires, its room is free again.
    expect(replay.admit('dd', domain, 0n, now + 100_000, now + 20_000, 'd')).toBe('admitted')
  })

  it('should make room from the signer holding the most when many keys each hold a small part of the cache', () => {
    const replay = new ReplayGuard(640, 80)
    // 80 flooding keys fill the cache, none holding a sixty-fourth of it: f0 holds 9, f79 holds 7, the rest 8.
    const holds = (k: number): number => (k === 0 ? 9 : k === 79 ? 7 : 8)
    for (let k = 0; k < 80; k++) {
      for (let seq = 0; seq < holds(k); seq++) replay.admit(`f${k}`, domain, BigInt(seq), now + 900_000, now, 'd')
    }
    expect(replay.size).toBe(640)
    // Honest newcomers take the oldest entry of the signer holding the most: f0, then one of those holding 8.
    expect(replay.admit('aa', domain, 0n, now + 1000, now, 'd')).toBe('admitted')
    expect(replay.heldBy('f0')).toBe(8)
    expect(replay.admit('aa', domain, 1n, now + 1000, now, 'd')).toBe('admitted')
    expect([replay.size, replay.heldBy('aa'), replay.heldBy('f79')]).toEqual([640, 2, 7])
    const held = Array.from({ length: 80 }, (_, k) => replay.heldBy(`f${k}`))
    expect(held.filter((count) => count === 7)).toHaveLength(2)
    // f0's forgotten entry was its oldest.
    expect(replay.admit('f0', domain, 0n, now + 900_000, now, 'd')).toBe('full')
    expect(replay.admit('f0', domain, 1n, now + 900_000, now, 'd')).toBe('replayed')
  })

  it('should refuse a newcomer when only signers no heavier than it are left to make room', () => {
    const replay = new ReplayGuard(4, 4)
    for (const signer of ['aa', 'bb', 'cc', 'dd']) replay.admit(signer, domain, 0n, now + 1000, now, 'd')
    expect(replay.admit('ee', domain, 0n, now + 1000, now, 'd')).toBe('full')
    expect(replay.admit('aa', domain, 1n, now + 1000, now, 'd')).toBe('full')
    expect(replay.size).toBe(4)
  })

  it('should hold one signer to its share of the replay cache', () => {
    const replay = new ReplayGuard(100, 10)
    const verdicts = Array.from({ length: 12 }, (_, i) => replay.admit('aa', domain, BigInt(i), now + 1000, now, 'd'))
    expect(verdicts.filter((v) => v === 'admitted')).toHaveLength(10)
    expect(verdicts.slice(10)).toEqual(['full', 'full'])
    expect(replay.admit('bb', domain, 0n, now + 1000, now, 'd')).toBe('admitted')
    // Its entries expired, the signer has its share back.
    expect(replay.admit('aa', domain, 99n, now + 100_000, now + 20_000, 'd')).toBe('admitted')
  })

  it('should refuse an envelope the full replay guard cannot remember with its own code', () => {
    const replay = new ReplayGuard(1, 1)
    open(seal(), { replay })
    expect(code(() => open(seal(bid, { seq: 8n }), { replay }))).toBe('CORE__REPLAY_GUARD_FULL')
  })

  it('should open quoted evidence long after it expired, checking everything but freshness', () => {
    const quote = (bytes: Uint8Array, options: Partial<Parameters<typeof openQuotedEnvelope>[1]> = {}) =>
      openQuotedEnvelope(bytes, { domain, maxBytes: 65_536, type: 'bid', ...options })
    // Expired a year ago, or (from a skewed clock) expiring further ahead than a live message may: still evidence.
    expect(quote(seal(bid, { expiresAt: 1 })).message).toEqual(bid)
    expect(quote(seal(bid, { expiresAt: now + 10 * MAX_ENVELOPE_TTL_MS })).from).toBe(alice.peerId.toString())
    const tampered = seal(bid, { expiresAt: 1 })
    tampered[tampered.length - 1]! ^= 1
    expect(code(() => quote(tampered))).toBe('CORE__INVALID_SIGNATURE')
    expect(code(() => quote(seal(bid, { domain: domainOf(TOPICS.orders) })))).toBe('CORE__DOMAIN_MISMATCH')
    expect(code(() => quote(seal(), { type: 'result' }))).toBe('CORE__UNEXPECTED_TYPE')
    expect(code(() => quote(seal(), { maxBytes: 16 }))).toBe('CORE__MESSAGE_TOO_LARGE')
    expect(code(() => quote(new Uint8Array([0xff, 0x00])))).toBe('CORE__MALFORMED_MESSAGE')
  })

  it('should issue strictly increasing sequence numbers, also when the clock stands still', () => {
    const counter = new SequenceCounter()
    const a = counter.next(now)
    const b = counter.next(now)
    const c = counter.next(now - 5)
    expect(b).toBeGreaterThan(a)
    expect(c).toBeGreaterThan(b)
  })
})
