import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sha256 } from '@tessera/core'
import {
  leafHash,
  MerkleTree,
  merkleRoot,
  nodeHash,
  verifyMerkleProof,
  verifyMerkleProofOfHash,
} from '../src/merkle.js'

const leavesArb = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 70 })

/** RFC 6962's test leaves and the roots of their first 1..8 (the Certificate Transparency reference vectors). */
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
]

describe('merkle', () => {
  it('should give the RFC 6962 reference roots', () => {
    const leaves = CT_LEAVES.map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')))
    for (let n = 1; n <= leaves.length; n++) {
      expect(Buffer.from(MerkleTree.fromLeaves(leaves.slice(0, n)).root).toString('hex')).toBe(CT_ROOTS[n - 1])
    }
  })

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

  it('should reject a path through a sibling that is not a 32-byte hash, even one that leads to the root', () => {
    const [l0, l1] = [Uint8Array.of(7), Uint8Array.of(8)].map(leafHash) as [Uint8Array, Uint8Array]
    const root = sha256(Uint8Array.of(0x01), Uint8Array.from([...l0, ...l1]))
    expect(verifyMerkleProof(root, Uint8Array.of(7), 0, 2, [l1])).toBe(true)
    // The same 65 bytes under the node prefix, one byte moved from the left child to the right.
    const shifted = [Uint8Array.from([...l0.subarray(31), ...l1])]
    expect(verifyMerkleProofOfHash(root, l0.subarray(0, 31), 0, 2, shifted)).toBe(false)
    // A root that opens either of its two leaves through a 33-byte sibling, with no 32-byte tree under it.
    const ambiguous = sha256(Uint8Array.of(0x01), Uint8Array.from([...l0, 0xab, ...l1]))
    expect(verifyMerkleProof(ambiguous, Uint8Array.of(7), 0, 2, [Uint8Array.from([0xab, ...l1])])).toBe(false)
    expect(verifyMerkleProof(ambiguous, Uint8Array.of(8), 1, 2, [Uint8Array.from([...l0, 0xab])])).toBe(false)
    expect(() => nodeHash(l0, Uint8Array.from([0xab, ...l1]))).toThrow(RangeError)
  })

  it('should give one leaf its own leaf hash as root and differ from the raw data', () => {
    const root = merkleRoot([Uint8Array.of(1, 2, 3)])
    expect(root).toHaveLength(32)
    expect(verifyMerkleProof(root, Uint8Array.of(1, 2, 3), 0, 1, [])).toBe(true)
  })
})
