import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MerkleTree, merkleRoot, verifyMerkleProof } from '../src/merkle.js'

const leavesArb = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 70 })

describe('merkle', () => {
  it('should verify a proof for every leaf of any tree', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const tree = MerkleTree.fromLeaves(leaves)
        leaves.forEach((leaf, i) => {
          expect(verifyMerkleProof(tree.root, leaf, i, leaves.length, tree.proof(i))).toBe(true)
        })
      }),
    )
  })

  it('should reject a proof at another index, size or with changed data', () => {
    fc.assert(
      fc.property(
        leavesArb.filter((l) => l.length >= 2),
        fc.nat(),
        (leaves, pick) => {
          const tree = MerkleTree.fromLeaves(leaves)
          const i = pick % leaves.length
          const j = (i + 1) % leaves.length
          const proof = tree.proof(i)
          const leaf = leaves[i] as Uint8Array
          if (!Buffer.from(leaf).equals(Buffer.from(leaves[j] as Uint8Array))) {
            expect(verifyMerkleProof(tree.root, leaf, j, leaves.length, proof)).toBe(false)
          }
          const changed = Uint8Array.from([...leaf, 1])
          expect(verifyMerkleProof(tree.root, changed, i, leaves.length, proof)).toBe(false)
          expect(verifyMerkleProof(tree.root, leaf, i, leaves.length, [...proof, tree.root])).toBe(false)
        },
      ),
    )
  })

  it('should give one leaf its own leaf hash as root and differ from the raw data', () => {
    const root = merkleRoot([Uint8Array.of(1, 2, 3)])
    expect(root).toHaveLength(32)
    expect(verifyMerkleProof(root, Uint8Array.of(1, 2, 3), 0, 1, [])).toBe(true)
  })
})
