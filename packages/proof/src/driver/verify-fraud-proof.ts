import {
  checkFraudProof,
  type CheckFraudProofOptions,
  type FraudProof,
  type FraudProofCheck,
  type Recompute,
} from '../fraud-proof.js'
import { openResultEnvelope } from './open-result.js'

/**
 * Checks a fraud proof as anyone holding the task's inputs can: {@link checkFraudProof} with the real envelope
 * opener. `recompute` is the checker's own recomputation of the challenged chunk (or a function producing it; an
 * asynchronous engine recomputes first, reading the index from `decodeFraudProof`). Returns the failure it proves,
 * or throws a coded ProofError naming what does not hold.
 *
 * @example
 * ```ts
 * const { index } = decodeFraudProof(bytes)
 * const chunk = await engine.recomputeChunk(index)
 * const check = verifyFraudProof(bytes, chunk, { expectedHash: verdict.fraudProof })
 * ```
 */
export function verifyFraudProof(
  proof: FraudProof | Uint8Array,
  recompute: Recompute,
  options: Partial<CheckFraudProofOptions> = {},
): FraudProofCheck {
  return checkFraudProof(proof, recompute, { ...options, openResult: options.openResult ?? openResultEnvelope })
}
