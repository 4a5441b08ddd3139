import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  BlobAssembler,
  blobCid,
  decodeBlobRequest,
  decodeBlobResponseHeader,
  decodeMessage,
  domainOf,
  encodeBlobRequest,
  encodeBlobResponseHeader,
  encodeCanonical,
  encodeMessage,
  generateIdentity,
  isCoreError,
  MAX_BLOB_CHUNK_BYTES,
  MAX_FIRST_FRAME,
  MAX_FRAMES_PER_JOB,
  MAX_GOSSIP_ENVELOPE_BYTES,
  MESSAGE_TYPES,
  openEnvelope,
  parseBlobCid,
  capacitySchema,
  receiptSchema,
  renderSplitSchema,
  resultSchema,
  ReplayGuard,
  sealEnvelope,
  TOPICS,
  validateBody,
  type Identity,
  type MessageType,
  type WireMessage,
} from '../src/index.js'
import { anyMessage, authoredBy, hostileBytes, messageOf } from './arbitraries.js'

/** Runs `decode`; a thrown error must be a CoreError. Returns what it decoded, or the CoreError. */
function decodedOrCoded<T>(decode: () => T): T | Error {
  try {
    return decode()
  } catch (e) {
    if (!isCoreError(e)) throw new Error(`decoder raised a non-coded error: ${String(e)}`, { cause: e })
    return e
  }
}

/** Values DAG-CBOR can encode, nested: the raw material of structured garbage. */
const cborValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 4 }),
  ),
})).value

const garbage = cborValue.map((v) => encodeCanonical(v))

/** A message body with one field replaced by an arbitrary CBOR value: almost valid. */
function perturbed(type: MessageType): fc.Arbitrary<Uint8Array> {
  return fc.tuple(messageOf(type), fc.nat(), cborValue).map(([message, at, value]) => {
    const body = { ...(message.body as Record<string, unknown>) }
    const keys = Object.keys(body)
    body[keys[at % keys.length] as string] = value
    return encodeCanonical(body)
  })
}

describe('decoders (property)', () => {
  let me: Identity
  const now = 1_700_000_000_000
  const domain = domainOf(TOPICS.orders)

  beforeAll(async () => {
    me = await generateIdentity()
  })

  /** A message whose author field names `me`, so its envelope opens. */
  const authored = (message: WireMessage): WireMessage => authoredBy(message, me.peerId.toString())

  const sealed = () =>
    fc
      .tuple(anyMessage, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 60_000 }))
      .map(([m, seq, ttl]) => sealEnvelope(me, authored(m), { domain, seq, expiresAt: now + ttl }))

  const envelopeShaped = fc
    .record({
      v: fc.oneof(fc.constant(1), cborValue),
      domain: fc.oneof(fc.constant(domain), cborValue),
      type: fc.oneof(fc.constantFrom(...MESSAGE_TYPES), cborValue),
      schema: fc.oneof(fc.constant(1), cborValue),
      signer: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), cborValue),
      seq: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), cborValue),
      expiresAt: fc.oneof(fc.constant(now + 1000), cborValue),
      body: fc.oneof(garbage, cborValue),
      sig: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), cborValue),
    })
    .map((e) => encodeCanonical(e))

  it('should encode a value with undefined properties, at any depth, as the same value without them', () => {
    const withHoles = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        cborValue,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 4 }),
      ),
    })).value
    const stripped = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(stripped)
        : v !== null && typeof v === 'object' && !(v instanceof Uint8Array)
          ? Object.fromEntries(Object.entries(v).flatMap(([k, x]) => (x === undefined ? [] : [[k, stripped(x)]])))
          : v
    fc.assert(
      fc.property(withHoles, (v) => {
        expect(encodeCanonical(v)).toEqual(dagCbor.encode(stripped(v)))
      }),
      { numRuns: 300, seed: 7 },
    )
  })

  it('should open arbitrary bytes as an envelope or raise a CoreError, never anything else', () => {
    fc.assert(
      fc.property(fc.oneof(hostileBytes(sealed()), garbage, envelopeShaped), (bytes) => {
        const result = decodedOrCoded(() =>
          openEnvelope(bytes, { domain, maxBytes: MAX_GOSSIP_ENVELOPE_BYTES, now, replay: new ReplayGuard() }),
        )
        if (!(result instanceof Error)) expect(result.from).toBe(me.peerId.toString())
      }),
      { numRuns: 500 },
    )
  })

  for (const type of MESSAGE_TYPES) {
    it(`should decode arbitrary bytes as a ${type} or raise a CoreError`, () => {
      const valid = messageOf(type).map((m) => encodeMessage(m))
      fc.assert(
        fc.property(fc.oneof(hostileBytes(valid), garbage, perturbed(type)), (bytes) => {
          const result = decodedOrCoded(() => decodeMessage(type, bytes))
          if (!(result instanceof Error)) expect(validateBody(type, result)).toEqual(result)
        }),
        { numRuns: 300 },
      )
    })

    it(`should round-trip every valid ${type}`, () => {
      fc.assert(
        fc.property(messageOf(type), (message) => {
          const decoded = decodeMessage(type, encodeMessage(message))
          expect(decoded).toEqual(validateBody(type, message.body))
          // Canonical: the decoded value encodes to the same bytes.
          expect(encodeMessage({ type, body: decoded } as WireMessage)).toEqual(encodeMessage(message))
        }),
        { numRuns: 150 },
      )
    })
  }

  it('should round-trip every valid message through a signed envelope', () => {
    fc.assert(
      fc.property(anyMessage, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (message, seq) => {
        const m = authored(message)
        const opened = openEnvelope(sealEnvelope(me, m, { domain, seq, expiresAt: now + 1000 }), {
          domain,
          maxBytes: Number.MAX_SAFE_INTEGER,
          now,
        })
        expect(opened.message).toEqual({ type: m.type, body: validateBody(m.type, m.body) })
        expect(opened.seq).toBe(seq)
      }),
      { numRuns: 200 },
    )
  })

  it('should decode arbitrary bytes as a blob request or raise a CoreError', () => {
    const valid = fc.uint8Array({ maxLength: 64 }).map((b) => encodeBlobRequest({ cid: blobCid(b) }))
    const shaped = fc.record({
      v: fc.oneof(fc.constant(1), cborValue),
      cid: fc.oneof(fc.uint8Array({ maxLength: 40 }), cborValue),
    })
    fc.assert(
      fc.property(
        fc.oneof(
          hostileBytes(valid),
          garbage,
          shaped.map((s) => encodeCanonical(s)),
        ),
        (bytes) => {
          const result = decodedOrCoded(() => decodeBlobRequest(bytes))
          if (!(result instanceof Error)) expect(parseBlobCid(result.cid.toString())).toEqual(result.cid)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('should decode arbitrary bytes as a blob response header or raise a CoreError', () => {
    const status = fc.constantFrom('ok' as const, 'not-found' as const, 'denied' as const, 'too-large' as const)
    const valid = fc.record({ status, size: fc.nat() }).map((h) => encodeBlobResponseHeader(h))
    const shaped = fc.record({
      v: fc.oneof(fc.constant(1), cborValue),
      status: fc.oneof(status, cborValue),
      size: cborValue,
    })
    fc.assert(
      fc.property(
        fc.oneof(
          hostileBytes(valid),
          garbage,
          shaped.map((s) => encodeCanonical(s)),
        ),
        (bytes) => {
          const result = decodedOrCoded(() => decodeBlobResponseHeader(bytes))
          if (!(result instanceof Error))
            expect(decodeBlobResponseHeader(encodeBlobResponseHeader(result))).toEqual(result)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('should assemble arbitrary blob frames into the verified blob or raise a CoreError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 6 }),
        fc.integer({ min: -1, max: 10_000 }),
        fc.boolean(),
        (blob, frames, claimedSize, honest) => {
          const cid = blobCid(blob)
          const result = decodedOrCoded(() => {
            const size = honest ? blob.length : claimedSize
            const assembler = new BlobAssembler(cid, size, 8192)
            const chunks = honest ? splitInto(blob, frames.length + 1) : frames
            for (const chunk of chunks) assembler.push(chunk)
            return assembler.finish()
          })
          if (honest) expect(result).toEqual(blob)
          else if (!(result instanceof Error)) expect(blobCid(result)).toEqual(cid)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('should refuse a render whose frames run past the nine digits a task id spells', () => {
    const split = { kind: 'render', frames: 1, width: 8, height: 8, tileWidth: 8, tileHeight: 8, samples: 1 }
    expect(renderSplitSchema.safeParse({ ...split, firstFrame: MAX_FIRST_FRAME }).success).toBe(true)
    expect(renderSplitSchema.safeParse({ ...split, firstFrame: MAX_FIRST_FRAME + 1 }).success).toBe(false)
    expect(MAX_FIRST_FRAME + MAX_FRAMES_PER_JOB - 1).toBe(999_999_999)
  })

  it('should refuse a render lit by a panorama scaled to nothing, as the node refuses to order one', () => {
    const split = { kind: 'render', frames: 1, width: 8, height: 8, tileWidth: 8, tileHeight: 8, samples: 1 }
    const lit = (intensity: number) => ({ ...split, firstFrame: 0, environment: { intensity, rotation: 0 } })
    expect(renderSplitSchema.safeParse(lit(Number.MIN_VALUE)).success).toBe(true)
    expect(renderSplitSchema.safeParse(lit(0)).success).toBe(false)
  })

  it('should refuse a payee that is not a base58 Solana address, in a Result, a capacity record or a receipt', () => {
    const result = {
      jobId: 'j',
      taskId: 't',
      worker: 'w',
      root: new Uint8Array(32),
      chunks: 1,
      output: 'cid',
      tolerance: 'bitwise',
      computeMs: 0,
      issuedAt: 0,
    }
    expect(resultSchema.safeParse({ ...result, payee: 'SysvarRent111111111111111111111111111111111' }).success).toBe(
      true,
    )
    // 0, O, I and l are not base58; 31 characters are too few for 32 bytes.
    for (const payee of ['0ysvarRent111111111111111111111111111111111', 'x'.repeat(31), ' '.repeat(40)]) {
      expect(resultSchema.safeParse({ ...result, payee }).success).toBe(false)
      expect(receiptSchema.shape.payee.safeParse(payee).success).toBe(false)
      expect(capacitySchema.shape.payee.safeParse(payee).success).toBe(false)
    }
  })

  it('should refuse a blob frame longer than the bound', () => {
    const assembler = new BlobAssembler(blobCid(new Uint8Array(0)), 4 * MAX_BLOB_CHUNK_BYTES, 8 * MAX_BLOB_CHUNK_BYTES)
    expect(() => assembler.push(new Uint8Array(MAX_BLOB_CHUNK_BYTES + 1))).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_BLOB_FRAME' }),
    )
  })
})

function splitInto(bytes: Uint8Array, parts: number): Uint8Array[] {
  const size = Math.ceil(bytes.length / parts) || 1
  const out: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}
