import { seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { commitOutput, outputMatchesCommitment } from '../src/index.js'
import { tensorOutput } from './harness.js'

describe('outputMatchesCommitment', () => {
  const chunks = tensorOutput(seededRng(41), 6, 8)
  const blob = Buffer.concat(chunks)
  const { root } = commitOutput(chunks)

  it('should match the blob of the chunks a root commits to, cut into that many equal chunks', () => {
    expect(outputMatchesCommitment(blob, root, 6)).toBe(true)
  })

  it('should refuse a blob with one byte changed, or cut into another count of chunks', () => {
    const changed = Uint8Array.from(blob)
    changed[blob.byteLength - 1]! ^= 1
    expect(outputMatchesCommitment(changed, root, 6)).toBe(false)
    expect(outputMatchesCommitment(blob, root, 3)).toBe(false)
    expect(outputMatchesCommitment(blob, root, 12)).toBe(false)
  })

  it('should refuse a blob that does not divide evenly and counts no tree can have', () => {
    expect(outputMatchesCommitment(blob.subarray(0, blob.byteLength - 1), root, 6)).toBe(false)
    for (const count of [0, -1, 1.5, Number.NaN, 2 ** 40])
      expect(outputMatchesCommitment(blob, root, count)).toBe(false)
  })
})
