import { sha256, type Hash } from '@tessera/core'

/**
 * A binary Merkle tree as in Certificate Transparency (RFC 6962 / RFC 9162): leaves hashed as H(0x00 || data),
 * interior nodes as H(0x01 || left || right), an odd node at the end of a level carried up unchanged. The domain
 * prefixes stop an interior node from being passed off as a leaf, and a proof binds the leaf's index and the
 * tree's size, which challenges depend on. (The popular npm Merkle libraries sort sibling pairs, which loses the
 * index binding, so this small module is our own.) Shared by `@tessera/proof` (output commitments) and
 * `@tessera/ledger` (receipt batches).
 */

export type { Hash }

const LEAF_PREFIX = Uint8Array.of(0x00)
const NODE_PREFIX = Uint8Array.of(0x01)
const HASH_BYTES = 32

/**
 * One interior node's input, prefix and both children, filled in place: a single `update` of 65 bytes hashes about
 * 20% faster than three (node hashing dominates building and checking proofs). Safe to share: hashing is synchronous.
 */
const nodeInput = new Uint8Array(1 + 2 * HASH_BYTES)
nodeInput.set(NODE_PREFIX)

/** The hash of a leaf's data. */
export function leafHash(data: Uint8Array): Hash {
  return sha256(LEAF_PREFIX, data)
}

/**
 * The hash of two child nodes, each a 32-byte hash; anything else throws a RangeError. Hashing other lengths as
 * given would make a node's input ambiguous: a 33-byte sibling can carry the next node's first byte, so one root
 * opens to paths no 32-byte tree has, and those cannot go into a fraud proof.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    throw new RangeError(`Merkle nodes are ${HASH_BYTES}-byte hashes, not ${left.length} and ${right.length} bytes`)
  }
  nodeInput.set(left, 1)
  nodeInput.set(right, 1 + HASH_BYTES)
  return sha256(nodeInput)
}

/** A Merkle tree, keeping every level so proofs cost nothing to build. */
export class MerkleTree {
  readonly #levels: Hash[][]

  private constructor(leafHashes: Hash[]) {
    this.#levels = buildLevels(leafHashes)
  }

  /** A tree over leaf data. */
  static fromLeaves(leaves: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree(leaves.map(leafHash))
  }

  /** A tree over leaves already hashed with {@link leafHash}: 32 bytes each, since {@link nodeHash} refuses others. */
  static fromLeafHashes(hashes: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree(hashes.map((h) => Uint8Array.from(h)))
  }

  get size(): number {
    return this.#levels[0]?.length ?? 0
  }

  get root(): Hash {
    const top = this.#levels[this.#levels.length - 1]
    if (top === undefined || top.length !== 1) throw new RangeError('an empty tree has no root')
    return top[0] as Hash
  }

  /** Sibling hashes from the leaf at `index` up to the root. */
  proof(index: number): Hash[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`leaf ${index} is outside a tree of ${this.size}`)
    }
    const path: Hash[] = []
    let i = index
    for (let level = 0; level < this.#levels.length - 1; level++) {
      const nodes = this.#levels[level] as Hash[]
      const sibling = i % 2 === 1 ? i - 1 : i + 1
      if (sibling < nodes.length) path.push(nodes[sibling] as Hash)
      i = Math.floor(i / 2)
    }
    return path
  }
}

function buildLevels(leafHashes: Hash[]): Hash[][] {
  const levels: Hash[][] = [leafHashes]
  let nodes = leafHashes
  while (nodes.length > 1) {
    const next: Hash[] = []
    for (let i = 0; i < nodes.length; i += 2) {
      next.push(i + 1 < nodes.length ? nodeHash(nodes[i] as Hash, nodes[i + 1] as Hash) : (nodes[i] as Hash))
    }
    levels.push(next)
    nodes = next
  }
  return levels
}

/** The root over leaf data. */
export function merkleRoot(leaves: readonly Uint8Array[]): Hash {
  return MerkleTree.fromLeaves(leaves).root
}

/**
 * Checks that `leaf` (data, not hash) sits at `index` in a tree of `size` leaves with the given root. Returns
 * false for any inconsistency (wrong index, wrong size, extra or missing siblings); never throws.
 */
export function verifyMerkleProof(
  root: Uint8Array,
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): boolean {
  return verifyMerkleProofOfHash(root, leafHash(leaf), index, size, proof)
}

/**
 * As {@link verifyMerkleProof}, for a leaf given by its hash. A leaf hash or sibling that is not 32 bytes fails the
 * proof (see {@link nodeHash}).
 */
export function verifyMerkleProofOfHash(
  root: Uint8Array,
  leafDigest: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false
  if (leafDigest.length !== HASH_BYTES) return false
  let hash = leafDigest
  let i = index
  let width = size
  let used = 0
  while (width > 1) {
    if (i % 2 === 1) {
      const sibling = proof[used++]
      if (sibling?.length !== HASH_BYTES) return false
      hash = nodeHash(sibling, hash)
    } else if (i + 1 < width) {
      const sibling = proof[used++]
      if (sibling?.length !== HASH_BYTES) return false
      hash = nodeHash(hash, sibling)
    }
    i = Math.floor(i / 2)
    width = Math.ceil(width / 2)
  }
  return used === proof.length && equalBytes(hash, root)
}

/** Byte-wise equality in time independent of where the first difference is. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}
