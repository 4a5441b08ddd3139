import { decodeCanonical, encodeCanonical, validateBody, type Result } from '@tessera/core'
import { ProofError } from '@tessera/proof'

/**
 * The simulator's stand-in for a worker's signed Result envelope, which fraud proofs carry as the worker's own
 * words. The real envelope is signed and the real opener checks the signature; the simulator does not forge, so its
 * envelope is the Result's canonical encoding and its opener checks only the schema. Costs one DAG-CBOR encoding per
 * Result, no key operations.
 */
export function sealSimResult(result: Result): Uint8Array {
  return encodeCanonical(result)
}

/** The `ResultOpener` the simulator hands to `@tessera/proof`'s VerifierMachine. */
export function openSimResult(envelope: Uint8Array): Result {
  try {
    return validateBody('result', decodeCanonical(envelope, 'commitment'))
  } catch (cause) {
    throw new ProofError('PROOF__INVALID_COMMITMENT', 'commitment is not a simulated Result envelope', {}, { cause })
  }
}
