import { describe, expect, it } from 'vitest'
import {
  bitwiseEqual,
  bytesToFloat32,
  compareOutputs,
  float32Bytes,
  psnr,
  relativeError,
  tensor,
  tensorItemChunks,
  TOLERANCE,
} from '../src/index.js'

describe('tolerance classes', () => {
  it('should declare a class per task type as frozen data', () => {
    expect(TOLERANCE.render).toEqual({ kind: 'psnr', minDb: 30 })
    expect(TOLERANCE.inference).toEqual({ kind: 'relative', maxRelativeError: 1e-4 })
    expect(TOLERANCE.sameDriver).toEqual({ kind: 'bitwise' })
    expect(Object.isFrozen(TOLERANCE)).toBe(true)
  })

  it('should measure PSNR over sRGB-encoded colour and ignore alpha', () => {
    const a = new Float32Array([0.5, 0.5, 0.5, 1, 0.2, 0.2, 0.2, 1])
    expect(psnr(a, a.slice())).toBe(Infinity)
    const b = a.slice()
    b[3] = 0
    expect(psnr(a, b)).toBe(Infinity)
    b[0] = 0.6
    const db = psnr(a, b)
    expect(db).toBeGreaterThan(20)
    expect(db).toBeLessThan(40)
  })

  it('should measure normwise relative error', () => {
    const e = new Float32Array([1, -2, 4])
    expect(relativeError(e, e)).toBe(0)
    expect(relativeError(new Float32Array([1, -2, 4.004]), e)).toBeCloseTo(1e-3, 6)
    expect(relativeError(new Float32Array([NaN, 0, 0]), new Float32Array([1, 0, 0]))).toBe(Infinity)
  })

  it('should judge outputs under each class', () => {
    const x = new Float32Array([1, 2, 3, 1])
    const y = new Float32Array([1, 2, 3.00001, 1])
    expect(compareOutputs(TOLERANCE.sameDriver, x, x.slice()).ok).toBe(true)
    expect(compareOutputs(TOLERANCE.sameDriver, x, y).ok).toBe(false)
    expect(compareOutputs(TOLERANCE.inference, y, x).ok).toBe(true)
    expect(compareOutputs(TOLERANCE.inference, new Float32Array([1, 2, 3.1, 1]), x).ok).toBe(false)
    expect(compareOutputs(TOLERANCE.render, x, y).ok).toBe(true)
    expect(() => compareOutputs(TOLERANCE.render, x, y.subarray(1))).toThrow(
      expect.objectContaining({ code: 'GPU__SHAPE_MISMATCH' }),
    )
  })
})

describe('chunks', () => {
  it('should round-trip float32 little-endian bytes', () => {
    const v = new Float32Array([1.5, -0, Infinity, 3.25e-20])
    const bytes = float32Bytes(v)
    expect(bytes.byteLength).toBe(16)
    expect(new DataView(bytes.buffer).getFloat32(0, true)).toBe(1.5)
    expect(bitwiseEqual(bytesToFloat32(bytes), v)).toBe(true)
    expect(() => bytesToFloat32(new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'GPU__INVALID_INPUT' }))
  })

  it('should split a tensor into one chunk per batch item', () => {
    const t = tensor(
      [3, 2, 2],
      Float32Array.from({ length: 12 }, (_, i) => i),
    )
    const chunks = tensorItemChunks(t)
    expect(chunks).toHaveLength(3)
    expect(Array.from(bytesToFloat32(chunks[1]!))).toEqual([4, 5, 6, 7])
  })
})
