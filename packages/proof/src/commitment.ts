import { MAX_CHUNK_BYTES, MAX_MERKLE_DEPTH } from './constants.js'
import { ProofError } from './errors.js'
import { equalBytes, MerkleTree, verifyMerkleProof, type Hash } from './merkle.js'

/**
 * A worker's commitment to a task's output: the Merkle root over its chunks (tile rows, tensor slices, as the GPU
 * engine splits them). The root goes into the signed Result; any chunk can later be revealed with its Merkle path,
 * and a path that leads to the root proves the chunk was part of what the worker signed.
 */
export interface Commitment {
  root: Hash
  /** Number of chunks (Merkle leaves). */
  chunks: number
  tree: MerkleTree
}

/** Commits to output chunks. */
export function commitOutput(chunks: readonly Uint8Array[]): Commitment {
  if (chunks.length === 0 || chunks.length > 2 ** MAX_MERKLE_DEPTH) {
    throw new ProofError(
      'PROOF__INVALID_INPUT',
      `an output has 1 to 2^${MAX_MERKLE_DEPTH} chunks, not ${chunks.length}`,
      {
        chunks: chunks.length,
      },
    )
  }
  chunks.forEach((chunk, index) => {
    if (chunk.byteLength > MAX_CHUNK_BYTES) {
      throw new ProofError(
        'PROOF__INVALID_INPUT',
        `chunk ${index} has ${chunk.byteLength} bytes; at most ${MAX_CHUNK_BYTES}`,
        {
          index,
          bytes: chunk.byteLength,
        },
      )
    }
  })
  const tree = MerkleTree.fromLeaves(chunks)
  return { root: tree.root, chunks: chunks.length, tree }
}

/** Revealed chunks and their Merkle paths, in the order of `indices`. */
export interface Opening {
  indices: number[]
  chunks: Uint8Array[]
  proofs: Hash[][]
}

/** Opens a commitment at `indices`. */
export function openChunks(tree: MerkleTree, chunks: readonly Uint8Array[], indices: readonly number[]): Opening {
  return {
    indices: [...indices],
    chunks: indices.map((i) => chunks[i] as Uint8Array),
    proofs: indices.map((i) => tree.proof(i)),
  }
}

/** Why an opening does not match a commitment, or undefined when every chunk's path leads to the root. */
export function checkOpening(
  root: Uint8Array,
  size: number,
  expectedIndices: readonly number[],
  opening: Opening,
): 'indices' | 'shape' | 'merkle' | undefined {
  if (
    opening.indices.length !== expectedIndices.length ||
    opening.indices.some((index, k) => index !== expectedIndices[k])
  ) {
    return 'indices'
  }
  if (opening.chunks.length !== expectedIndices.length || opening.proofs.length !== expectedIndices.length)
    return 'shape'
  for (let k = 0; k < expectedIndices.length; k++) {
    if (
      !verifyMerkleProof(
        root,
        opening.chunks[k] as Uint8Array,
        expectedIndices[k] as number,
        size,
        opening.proofs[k] as Uint8Array[],
      )
    ) {
      return 'merkle'
    }
  }
  return undefined
}

/**
 * True when `output` (a whole output blob, its chunks concatenated) cut into `chunks` equal chunks is what `root`
 * commits to. Sampling checks only a few chunks against the root; this binds the blob a creator keeps to the same
 * root, so a worker cannot commit to an honest output and deliver another. Every workload chunks evenly (tile rows
 * of one width, batch items of one shape), so a blob that does not divide evenly does not match.
 */
export function outputMatchesCommitment(output: Uint8Array, root: Uint8Array, chunks: number): boolean {
  if (!Number.isInteger(chunks) || chunks < 1 || chunks > 2 ** MAX_MERKLE_DEPTH) return false
  if (output.byteLength % chunks !== 0) return false
  const size = output.byteLength / chunks
  const leaves = Array.from({ length: chunks }, (_, i) => output.subarray(i * size, (i + 1) * size))
  return equalBytes(MerkleTree.fromLeaves(leaves).root, root)
}
