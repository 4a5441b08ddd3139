import * as core from '@tessera/core'
import { describe, expect, it } from 'vitest'
import * as proof from '../src/index.js'

describe('constants', () => {
  it("should spell core's topic and bounds the same way (this package links only core's types)", () => {
    expect(proof.VERDICTS_TOPIC).toBe(core.TOPICS.verdicts)
    expect(proof.NONCE_BYTES).toBe(core.NONCE_BYTES)
    expect(proof.HASH_BYTES).toBe(core.HASH_BYTES)
    expect(proof.MAX_CHALLENGE_CHUNKS).toBe(core.MAX_CHALLENGE_CHUNKS)
    expect(proof.MAX_CHUNK_BYTES).toBe(core.MAX_CHUNK_BYTES)
    expect(proof.MAX_COMMITMENT_BYTES).toBe(core.MAX_QUOTED_ENVELOPE_BYTES)
    expect(proof.MAX_FRAUD_PROOF_BYTES).toBe(core.MAX_FRAUD_PROOF_WIRE_BYTES)
    expect(proof.MAX_ARBITRATION_ROUNDS).toBe(core.MAX_ARBITRATION_ROUNDS)
    expect(proof.MAX_MERKLE_DEPTH).toBe(core.MAX_MERKLE_DEPTH)
  })

  it('should plan the default budget within its overhead', () => {
    const plan = proof.defaultPlan()
    expect(plan.budget).toEqual(proof.DEFAULT_BUDGET)
    expect(plan.expectedOverhead).toBeLessThanOrEqual(proof.DEFAULT_BUDGET.maxOverhead)
  })
})
