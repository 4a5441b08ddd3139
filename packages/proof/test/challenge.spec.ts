import { nextBytes, seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { challengeIndices, hitProbability, merkleRoot } from '../src/index.js'

const rng = seededRng(42)
const root = merkleRoot([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)])
const nonce = nextBytes(rng, 32)

describe('challengeIndices', () => {
  it('should name count distinct ascending indices inside the output', () => {
    for (const [count, chunks] of [
      [1, 1],
      [4, 64],
      [64, 64],
      [10, 11],
      [256, 100_000],
    ] as const) {
      const indices = challengeIndices(root, nextBytes(rng, 32), count, chunks)
      expect(indices).toHaveLength(count)
      expect(new Set(indices).size).toBe(count)
      expect(indices.every((i) => Number.isInteger(i) && i >= 0 && i < chunks)).toBe(true)
      expect([...indices].sort((a, b) => a - b)).toEqual(indices)
    }
  })

  it('should name the pinned indices for fixed inputs (verifiers and workers on any version must agree)', () => {
    const fixedRoot = Uint8Array.from({ length: 32 }, (_, i) => i)
    const fixedNonce = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    expect(challengeIndices(fixedRoot, fixedNonce, 4, 8)).toEqual([1, 3, 6, 7])
    expect(challengeIndices(fixedRoot, fixedNonce, 5, 1000)).toEqual([119, 195, 734, 827, 891])
    // Counts and sizes above 2^32 / 2 exercise the u64 fields' high words and the rejection sampling's limit.
    expect(challengeIndices(fixedRoot, fixedNonce, 3, 2 ** 32)).toEqual([669427654, 2241126540, 2298725844])
    expect(challengeIndices(new Uint8Array(32), new Uint8Array(32), 16, 16)).toEqual([...Array(16).keys()])
  })

  it('should be a pure function of root, nonce, count and chunks', () => {
    expect(challengeIndices(root, nonce, 8, 1000)).toEqual(challengeIndices(root.slice(), nonce.slice(), 8, 1000))
  })

  it('should change when the root or the nonce changes (binding)', () => {
    const base = challengeIndices(root, nonce, 8, 1_000_000)
    const otherRoot = merkleRoot([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(4)])
    expect(challengeIndices(otherRoot, nonce, 8, 1_000_000)).not.toEqual(base)
    const flipped = nonce.slice()
    flipped[31] = (flipped[31] as number) ^ 1
    expect(challengeIndices(root, flipped, 8, 1_000_000)).not.toEqual(base)
    expect(challengeIndices(root, nonce, 9, 1_000_000).slice(0, 8)).not.toEqual(base)
  })

  it('should pick every index equally often', () => {
    const chunks = 16
    const counts = new Array<number>(chunks).fill(0)
    const draws = 4000
    for (let i = 0; i < draws; i++) for (const j of challengeIndices(root, nextBytes(rng, 32), 3, chunks)) counts[j]!++
    const expected = (draws * 3) / chunks
    // Chi-square with 15 degrees of freedom: 37.7 is its 99.9% quantile.
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(37.7)
  })

  it('should hit b bad chunks as often as the hypergeometric formula says', () => {
    const chunks = 64
    const bad = new Set([3, 17, 40, 41, 50, 60, 63])
    const trials = 4000
    let hits = 0
    for (let i = 0; i < trials; i++)
      if (challengeIndices(root, nextBytes(rng, 32), 4, chunks).some((j) => bad.has(j))) hits++
    const d = hitProbability(chunks, bad.size, 4)
    const sd = Math.sqrt(trials * d * (1 - d))
    expect(Math.abs(hits - trials * d)).toBeLessThan(3.29 * sd + 1)
  })

  it('should refuse malformed challenges with coded errors', () => {
    for (const [r, n, count, chunks] of [
      [root.slice(0, 31), nonce, 1, 4],
      [root, nonce.slice(0, 16), 1, 4],
      [root, nonce, 0, 4],
      [root, nonce, 5, 4],
      [root, nonce, 257, 1000],
      [root, nonce, 1, 0],
      [root, nonce, 1, 2 ** 32 + 1],
      [root, nonce, 1.5, 4],
    ] as const) {
      expect(() => challengeIndices(r, n, count, chunks)).toThrow(
        expect.objectContaining({ code: 'PROOF__INVALID_CHALLENGE' }),
      )
    }
  })
})
