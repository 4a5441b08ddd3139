import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/proof`. Codes are stable: never reused or renamed. */
export type ProofErrorCode =
  /** An argument is out of its documented range. */
  | 'PROOF__INVALID_INPUT'
  /** A verification budget has a value outside its range (probabilities in (0, 1), positive horizon). */
  | 'PROOF__INVALID_BUDGET'
  /** No sampling probability and challenge size meet the budget's detection target within its overhead. */
  | 'PROOF__BUDGET_INFEASIBLE'
  /** A challenge names more chunks than the output has, or none. */
  | 'PROOF__INVALID_CHALLENGE'
  /** A message or input refers to a task this machine does not hold. */
  | 'PROOF__TASK_NOT_FOUND'
  /** A task is already held or already being checked. */
  | 'PROOF__DUPLICATE_TASK'
  /** The prover held as many tasks as it may (no longer raised: it forgets its oldest task instead). */
  | 'PROOF__TASK_LIMIT_EXCEEDED'
  /** The verifier has as many checks in flight as it may. */
  | 'PROOF__PENDING_LIMIT_EXCEEDED'
  /** A task was challenged more often than a prover answers. */
  | 'PROOF__CHALLENGE_LIMIT_EXCEEDED'
  /** A challenge or reveal names another root than the committed one. */
  | 'PROOF__ROOT_MISMATCH'
  /** A message came from a peer, or at a time, the check does not expect. */
  | 'PROOF__UNEXPECTED_MESSAGE'
  /** A result's tolerance label names no known tolerance class. */
  | 'PROOF__UNKNOWN_TOLERANCE'
  /** A recomputation has a different number of chunks than were asked for. */
  | 'PROOF__RECOMPUTE_MISMATCH'
  /** A fraud proof does not decode, or a field has the wrong type or size. */
  | 'PROOF__MALFORMED_FRAUD_PROOF'
  /** A fraud proof does not hash to the value its signed verdict names. */
  | 'PROOF__FRAUD_PROOF_HASH_MISMATCH'
  /** A fraud proof is larger than any honest one. */
  | 'PROOF__FRAUD_PROOF_TOO_LARGE'
  /** A fraud proof's signed commitment does not open (bad signature, not a Result). */
  | 'PROOF__INVALID_COMMITMENT'
  /** A fraud proof's index lies outside the committed output. */
  | 'PROOF__COMMITMENT_MISMATCH'
  /** A fraud proof's chunk and Merkle path do not lead to the committed root. */
  | 'PROOF__INVALID_MERKLE_PROOF'
  /** A fraud proof's index is not among those its nonce challenges. */
  | 'PROOF__INDEX_NOT_CHALLENGED'
  /** A fraud proof's recomputation differs from an independent one: the accuser's claim is wrong. */
  | 'PROOF__RECOMPUTATION_MISMATCH'
  /** A fraud proof's revealed chunk is within tolerance of the recomputation: it shows no fraud. */
  | 'PROOF__FRAUD_NOT_SHOWN'

/** An error raised by `@tessera/proof`. */
export class ProofError extends TesseraError<ProofErrorCode> {
  static override name = 'ProofError'
}

/** Narrows `e` to a {@link ProofError}, optionally with the given code. */
export function isProofError<C extends ProofErrorCode>(e: unknown, code?: C): e is ProofError & { code: C } {
  return e instanceof ProofError && (code === undefined || e.code === code)
}
