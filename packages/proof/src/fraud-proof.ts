import * as dagCbor from '@ipld/dag-cbor'
import { sha256, type Result } from '@tessera/core'
import { challengeIndices } from './challenge.js'
import {
  HASH_BYTES,
  MAX_CHALLENGE_CHUNKS,
  MAX_CHUNK_BYTES,
  MAX_COMMITMENT_BYTES,
  MAX_FRAUD_PROOF_BYTES,
  MAX_MERKLE_DEPTH,
  NONCE_BYTES,
} from './constants.js'
import { isProofError, ProofError } from './errors.js'
import { equalBytes, verifyMerkleProof, type Hash } from './merkle.js'
import { compareChunks, parseTolerance, type Comparison, type ToleranceOptions } from './tolerance.js'

/** Fraud proof format version. */
export const FRAUD_PROOF_VERSION = 1
const MAX_PEER_ID_LENGTH = 128

/**
 * Evidence that a worker signed a wrong output, checkable by anyone who holds the task's inputs: the worker's
 * signed commitment (its Result envelope, so the root, the chunk count and the tolerance class are the worker's own
 * words), the challenge that named the chunk (nonce and count; the index must be among `challengeIndices(root,
 * nonce, count, chunks)`), the chunk as the worker revealed it with its Merkle path to the root, and the accuser's
 * recomputation. A checker recomputes the chunk itself and confirms that the accuser's recomputation agrees with its
 * own and that the worker's chunk does not.
 *
 * The bundle is DAG-CBOR (one deterministic encoding), so its SHA-256 is a stable name: a failure Verdict carries
 * it in `fraudProof`, and the slash record and arbitration refer to it.
 */
export interface FraudProof {
  v: typeof FRAUD_PROOF_VERSION
  /** The worker's signed Result envelope bytes. */
  commitment: Uint8Array
  /** Peer id of the accuser (the verifier that found the mismatch). */
  verifier: string
  nonce: Uint8Array
  count: number
  index: number
  /** The chunk as the worker revealed it. */
  chunk: Uint8Array
  /** Its Merkle path (sibling hashes, leaf to root). */
  path: Uint8Array[]
  /** The accuser's recomputation of the chunk. */
  recomputed: Uint8Array
}

/**
 * Opens a signed Result envelope: checks its signature and that its signer is `result.worker`, and returns the
 * Result; throws for anything else. Injected, because this package does not link the envelope code at run time:
 * use {@link openResultEnvelope} (the driver's, backed by `@tessera/core`), or the simulator's own.
 */
export type ResultOpener = (envelope: Uint8Array) => Result

/** What to recompute to check a fraud proof. */
export interface RecomputeTarget {
  jobId: string
  taskId: string
  index: number
  /** The committed Result, for the task's chunking. */
  result: Result
}

/** The checker's own recomputation of the challenged chunk, or a function producing it. */
export type Recompute = Uint8Array | ((target: RecomputeTarget) => Uint8Array)

/** How {@link checkFraudEvidence} and {@link checkFraudProof} open and compare what a fraud proof quotes. */
export interface CheckFraudProofOptions {
  openResult: ResultOpener
  /** The checker's thresholds for the result's tolerance class. */
  tolerance?: ToleranceOptions
  /**
   * The task's own tolerance class label, from its order (see the verifier's `JobPolicy`): chunks compare under it
   * whatever label the worker signed. Without it the worker's label is trusted.
   */
  taskTolerance?: string
  /** The hash a signed failure Verdict names: a bundle with any other hash is rejected. */
  expectedHash?: Uint8Array
}

/** A fraud proof that holds: the worker's chunk is outside tolerance of an honest recomputation. */
export interface FraudProofCheck {
  outcome: 'fail'
  jobId: string
  taskId: string
  worker: string
  root: Uint8Array
  index: number
  accuser: string
  fraudProofHash: Hash
  /** The worker's chunk against the checker's recomputation. */
  comparison: Comparison
  result: Result
}

/** Encodes a fraud proof (DAG-CBOR), validating its shape first. */
export function encodeFraudProof(proof: FraudProof): Uint8Array {
  validate(proof)
  const bytes = dagCbor.encode({ ...proof, path: [...proof.path] })
  if (bytes.byteLength > MAX_FRAUD_PROOF_BYTES) tooLarge(bytes.byteLength)
  return bytes
}

/** Decodes and validates a fraud proof; every failure is a coded ProofError. */
export function decodeFraudProof(bytes: Uint8Array): FraudProof {
  if (bytes.byteLength > MAX_FRAUD_PROOF_BYTES) tooLarge(bytes.byteLength)
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (cause) {
    throw new ProofError('PROOF__MALFORMED_FRAUD_PROOF', 'fraud proof is not valid DAG-CBOR', {}, { cause })
  }
  validate(value)
  return value
}

/** SHA-256 of a fraud proof's encoding: the name Verdicts and slash records use. */
export function fraudProofHash(proof: FraudProof | Uint8Array): Hash {
  return sha256(proof instanceof Uint8Array ? proof : encodeFraudProof(proof))
}

/** A fraud proof's evidence without recomputation: what a checker must recompute, once the bundle is sound. */
export interface FraudEvidence {
  proof: FraudProof
  result: Result
  fraudProofHash: Hash
}

/**
 * Checks everything in a fraud proof that needs no recomputation: that it decodes, that the commitment is a Result
 * signed by its worker, that the index is inside the output and among the challenged ones, and that the chunk's
 * Merkle path leads to the signed root.
 */
export function checkFraudEvidence(proof: FraudProof | Uint8Array, options: CheckFraudProofOptions): FraudEvidence {
  const bytes = proof instanceof Uint8Array ? proof : encodeFraudProof(proof)
  const decoded = proof instanceof Uint8Array ? decodeFraudProof(proof) : proof
  const hash = sha256(bytes)
  if (options.expectedHash !== undefined && !equalBytes(hash, options.expectedHash)) {
    throw new ProofError(
      'PROOF__FRAUD_PROOF_HASH_MISMATCH',
      'fraud proof does not hash to the value its verdict names',
      {},
    )
  }
  let result: Result
  try {
    result = options.openResult(decoded.commitment)
  } catch (cause) {
    throw new ProofError(
      'PROOF__INVALID_COMMITMENT',
      'fraud proof commitment is not a Result signed by its worker',
      {
        code: isProofError(cause) ? cause.code : (cause as { code?: unknown }).code,
      },
      { cause },
    )
  }
  if (decoded.index >= result.chunks || decoded.count > result.chunks) {
    throw new ProofError(
      'PROOF__COMMITMENT_MISMATCH',
      `chunk ${decoded.index} of ${decoded.count} challenged lies outside an output of ${result.chunks}`,
      {
        index: decoded.index,
        count: decoded.count,
        chunks: result.chunks,
      },
    )
  }
  if (!verifyMerkleProof(result.root, decoded.chunk, decoded.index, result.chunks, decoded.path)) {
    throw new ProofError(
      'PROOF__INVALID_MERKLE_PROOF',
      `chunk ${decoded.index} and its path do not lead to the signed root`,
      {
        index: decoded.index,
      },
    )
  }
  if (!challengeIndices(result.root, decoded.nonce, decoded.count, result.chunks).includes(decoded.index)) {
    throw new ProofError(
      'PROOF__INDEX_NOT_CHALLENGED',
      `chunk ${decoded.index} is not among those the nonce challenges`,
      {
        index: decoded.index,
      },
    )
  }
  return { proof: decoded, result, fraudProofHash: hash }
}

/**
 * Checks a fraud proof end to end: the evidence ({@link checkFraudEvidence}), then the checker's own recomputation of
 * the chunk. The accuser's recomputation must agree with it (else `PROOF__RECOMPUTATION_MISMATCH`: the accuser is
 * wrong) and the worker's chunk must not (else `PROOF__FRAUD_NOT_SHOWN`). Returns the failure it proves.
 */
export function checkFraudProof(
  proof: FraudProof | Uint8Array,
  recompute: Recompute,
  options: CheckFraudProofOptions,
): FraudProofCheck {
  const evidence = checkFraudEvidence(proof, options)
  const { result } = evidence
  const p = evidence.proof
  const tolerance = parseTolerance(options.taskTolerance ?? result.tolerance, options.tolerance)
  const own =
    recompute instanceof Uint8Array
      ? recompute
      : recompute({ jobId: result.jobId, taskId: result.taskId, index: p.index, result })
  const accuser = compareChunks(tolerance, p.recomputed, own)
  if (!accuser.ok) {
    throw new ProofError(
      'PROOF__RECOMPUTATION_MISMATCH',
      "the accuser's recomputation differs from an independent one",
      {
        index: p.index,
        metric: accuser.metric,
      },
    )
  }
  const comparison = compareChunks(tolerance, p.chunk, own)
  if (comparison.ok) {
    throw new ProofError(
      'PROOF__FRAUD_NOT_SHOWN',
      "the worker's chunk is within tolerance of an independent recomputation",
      {
        index: p.index,
        metric: comparison.metric,
      },
    )
  }
  return {
    outcome: 'fail',
    jobId: result.jobId,
    taskId: result.taskId,
    worker: result.worker,
    root: result.root,
    index: p.index,
    accuser: p.verifier,
    fraudProofHash: evidence.fraudProofHash,
    comparison,
    result,
  }
}

function validate(value: unknown): asserts value is FraudProof {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) malformed('(root)', 'a map')
  const o = value as Record<string, unknown>
  const keys = Object.keys(o).sort().join(',')
  if (keys !== 'chunk,commitment,count,index,nonce,path,recomputed,v,verifier')
    malformed('(keys)', 'exactly the fraud proof fields')
  if (o.v !== FRAUD_PROOF_VERSION) malformed('v', `version ${FRAUD_PROOF_VERSION}`)
  bytesField(o, 'commitment', 1, MAX_COMMITMENT_BYTES)
  if (typeof o.verifier !== 'string' || o.verifier.length < 1 || o.verifier.length > MAX_PEER_ID_LENGTH)
    malformed('verifier', 'a peer id')
  bytesField(o, 'nonce', NONCE_BYTES, NONCE_BYTES)
  if (!Number.isInteger(o.count) || (o.count as number) < 1 || (o.count as number) > MAX_CHALLENGE_CHUNKS)
    malformed('count', `1..${MAX_CHALLENGE_CHUNKS}`)
  if (!Number.isInteger(o.index) || (o.index as number) < 0 || (o.index as number) >= 2 ** MAX_MERKLE_DEPTH)
    malformed('index', 'a chunk index')
  bytesField(o, 'chunk', 0, MAX_CHUNK_BYTES)
  bytesField(o, 'recomputed', 0, MAX_CHUNK_BYTES)
  if (!Array.isArray(o.path) || o.path.length > MAX_MERKLE_DEPTH)
    malformed('path', `at most ${MAX_MERKLE_DEPTH} hashes`)
  for (const h of o.path as unknown[]) {
    if (!(h instanceof Uint8Array) || h.byteLength !== HASH_BYTES) malformed('path', `${HASH_BYTES}-byte hashes`)
  }
}

function bytesField(o: Record<string, unknown>, field: string, min: number, max: number): void {
  const b = o[field]
  if (!(b instanceof Uint8Array) || b.byteLength < min || b.byteLength > max) malformed(field, `${min}..${max} bytes`)
}

function malformed(field: string, expected: string): never {
  throw new ProofError('PROOF__MALFORMED_FRAUD_PROOF', `fraud proof field ${field} must be ${expected}`, { field })
}

function tooLarge(bytes: number): never {
  throw new ProofError(
    'PROOF__FRAUD_PROOF_TOO_LARGE',
    `fraud proof of ${bytes} bytes exceeds ${MAX_FRAUD_PROOF_BYTES}`,
    {
      bytes,
      max: MAX_FRAUD_PROOF_BYTES,
    },
  )
}
