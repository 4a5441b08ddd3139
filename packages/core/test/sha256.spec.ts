import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { dedupeKey, sha256 } from '../src/sha256.js'

describe('sha256 (one reused hasher)', () => {
  it('should give the FIPS 180-2 digests of "abc" and of the empty string', () => {
    expect(bytesToHex(sha256(utf8ToBytes('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    expect(bytesToHex(sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
  })

  it('should hash two parts as their concatenation, whatever was hashed before', () => {
    // Lengths around the 64-byte block and the 56-byte padding edge, in an order that leaves partial blocks behind.
    const lengths = [0, 1, 55, 56, 63, 64, 65, 119, 128, 200]
    for (const la of lengths) {
      for (const lb of lengths) {
        const a = Uint8Array.from({ length: la }, (_, i) => (i * 7 + la) & 255)
        const b = Uint8Array.from({ length: lb }, (_, i) => (i * 13 + lb) & 255)
        const joined = new Uint8Array(la + lb)
        joined.set(a)
        joined.set(b, la)
        expect(bytesToHex(sha256(a, b))).toBe(bytesToHex(nobleSha256(joined)))
        expect(bytesToHex(sha256(joined))).toBe(bytesToHex(nobleSha256(joined)))
      }
    }
  })

  it('should return a fresh array each time, not a view of the hasher', () => {
    const first = sha256(utf8ToBytes('first'))
    const copy = Uint8Array.from(first)
    const second = sha256(utf8ToBytes('second'))
    expect(first).toEqual(copy)
    expect(second).not.toEqual(first)
    expect(first.buffer).not.toBe(second.buffer)
  })

  it('should key equal texts alike and different texts apart, in 16 characters of the digest', () => {
    const texts = ['', 'a', 'b', 'job\u0000task/1', 'job\u0000task/10', 'job\u0000task/1\u0000', 'é', 'e\u0301', '🦀']
    // Long keys, multi-byte ones, and a short key after them (the UTF-8 buffer is reused and grown).
    texts.push('x'.repeat(300), '€'.repeat(200), '🦀'.repeat(150), 'short')
    const keys = texts.map(dedupeKey)
    expect(new Set(keys).size).toBe(texts.length)
    for (const [i, text] of texts.entries()) {
      expect(dedupeKey(text)).toBe(keys[i])
      expect(keys[i]).toHaveLength(16)
      // The key is the first 16 bytes of SHA-256 over the UTF-8 text, one character per byte.
      const digest = nobleSha256(utf8ToBytes(text)).subarray(0, 16)
      expect([...(keys[i] as string)].map((c) => c.charCodeAt(0))).toEqual([...digest])
    }
  })
})
