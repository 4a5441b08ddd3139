import * as core from '@tessera/core'
import { MAX_TENSOR_RANK, tensor } from '@tessera/gpu'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeTensorBundle, encodeTensorBundle, MAX_TENSOR_BUNDLE_BYTES } from '../src/peer/tensor-bundle.js'

vi.mock('@tessera/core', async (importOriginal) => {
  const original = await importOriginal<typeof core>()
  return { ...original, decodeCanonical: vi.fn(original.decodeCanonical) }
})

/** A CBOR head: major type and length (or value), in its shortest form as DAG-CBOR asks. */
function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n]
  if (n < 2 ** 8) return [(major << 5) | 24, n]
  if (n < 2 ** 16) return [(major << 5) | 25, n >> 8, n & 255]
  return [(major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255]
}
const text = (s: string): number[] => [...head(3, s.length), ...new TextEncoder().encode(s)]
const map = (n: number): number[] => head(5, n)
const array = (n: number): number[] => head(4, n)
const EMPTY_BYTES = head(2, 0)
/** `{ "data": h'', "dims": <dims> }`, keys in DAG-CBOR's order. */
const tensorOf = (dims: number[]): number[] => [...map(2), ...text('data'), ...EMPTY_BYTES, ...text('dims'), ...dims]

describe('decodeTensorBundle', () => {
  afterEach(() => {
    vi.mocked(core.decodeCanonical).mockClear()
  })

  /** Asserts `bytes` is refused with NODE__UNSUPPORTED_INPUT before the DAG-CBOR decoder builds anything from it. */
  function expectRefusedUnread(bytes: Uint8Array): void {
    expect(() => decodeTensorBundle(bytes)).toThrow(expect.objectContaining({ code: 'NODE__UNSUPPORTED_INPUT' }))
    expect(core.decodeCanonical).not.toHaveBeenCalled()
  }

  it('should decode the tensors it encodes, up to the most tensors of the highest rank', () => {
    const shape = Array.from({ length: MAX_TENSOR_RANK }, () => 1)
    const tensors = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`input${i}`, tensor(shape, new Float32Array([i]))]),
    )
    const decoded = decodeTensorBundle(encodeTensorBundle(tensors))
    expect(Object.keys(decoded)).toHaveLength(64)
    expect(decoded.input7?.shape).toEqual(shape)
    expect([...(decoded.input7?.data ?? [])]).toEqual([7])
  })

  it('should refuse dims longer than the engine rank before decoding', () => {
    // The audit's bundle, a million times smaller: `{ "x": { "data": h'', "dims": [0, 0, ...] } }`.
    const zeros = 1 << 20
    expectRefusedUnread(
      new Uint8Array([...map(1), ...text('x'), ...tensorOf([...array(zeros), ...new Array(zeros).fill(0)])]),
    )
    const rank = MAX_TENSOR_RANK + 1
    expectRefusedUnread(
      new Uint8Array([...map(1), ...text('x'), ...tensorOf([...array(rank), ...new Array(rank).fill(1)])]),
    )
  })

  it('should refuse more tensors than a bundle holds before decoding', () => {
    const names = Array.from({ length: 65 }, (_, i) => `t${String(i).padStart(2, '0')}`)
    expectRefusedUnread(
      new Uint8Array([...map(65), ...names.flatMap((name) => [...text(name), ...tensorOf(array(0))])]),
    )
  })

  it('should refuse a tensor with more fields than dims and data before decoding', () => {
    const bundle = [...map(1), ...text('x'), ...map(3), ...text('a'), ...EMPTY_BYTES]
    expectRefusedUnread(new Uint8Array([...bundle, ...text('data'), ...EMPTY_BYTES, ...text('dims'), ...array(0)]))
  })

  it('should refuse values nested deeper than a bundle, and tags, before decoding', () => {
    expectRefusedUnread(new Uint8Array([...map(1), ...text('x'), ...tensorOf([...array(1), ...array(1), 0])]))
    // A CID (tag 42), which DAG-CBOR would decode and a bundle never holds.
    expectRefusedUnread(new Uint8Array([...map(1), ...text('x'), 0xd8, 42, ...head(2, 1), 0]))
  })

  it('should refuse a bundle cut short or followed by more bytes', () => {
    const bundle = [...map(1), ...text('x'), ...tensorOf(array(0))]
    expectRefusedUnread(new Uint8Array(bundle.slice(0, -1)))
    expectRefusedUnread(new Uint8Array([...bundle, 0]))
  })

  it('should refuse a blob larger than any bundle a creator can upload, unread', () => {
    // An empty bundle that says it is one byte past the bound: nothing that large is allocated.
    const bytes = Object.defineProperty(encodeTensorBundle({}), 'byteLength', { value: MAX_TENSOR_BUNDLE_BYTES + 1 })
    expect(() => decodeTensorBundle(bytes)).toThrow(
      expect.objectContaining({
        code: 'NODE__UNSUPPORTED_INPUT',
        context: expect.objectContaining({ limit: MAX_TENSOR_BUNDLE_BYTES }),
      }),
    )
    expect(core.decodeCanonical).not.toHaveBeenCalled()
  })
})
