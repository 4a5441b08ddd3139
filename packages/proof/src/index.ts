/**
 * @packageDocumentation
 *
 * `@tessera/proof`: verification by redundant sampling as sans-IO state machines. Workers commit to outputs as
 * Merkle roots over chunks ({@link ProverMachine}); verifiers check a per-worker adaptive sample of results by
 * challenging chunks the worker could not predict, recomputing them and comparing under the task's tolerance class
 * ({@link VerifierMachine}); mismatches become fraud proofs that further peers arbitrate and anyone can re-check
 * ({@link verifyFraudProof}); {@link planVerification} sizes the sampling for a job's budget and
 * {@link honestEquilibrium} checks that cheating does not pay; {@link Reputation} scores peers from verdicts.
 *
 * @example
 * ```ts
 * import { planVerification, ProverMachine, VerifierMachine, openResultEnvelope } from '@tessera/proof'
 * import { seededRng } from '@tessera/core'
 *
 * const plan = planVerification({ detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 })
 * const verifier = new VerifierMachine({ self: creatorId, rng: seededRng(1), openResult: openResultEnvelope, plan })
 * const prover = new ProverMachine({ self: workerId })
 * prover.handle({ kind: 'commit', jobId, taskId, creator: creatorId, chunks, output: cid, tolerance: 'relative', computeMs }, now)
 * ```
 */
export * from './challenge.js'
export * from './commitment.js'
export * from './constants.js'
export { defaultPlan, DEFAULT_BUDGET, type SamplingPlan } from './default-plan.js'
export { planFor, type PlanChoice } from './plan-choice.js'
export { lengthenHorizon, type HorizonOptions } from './horizon.js'
export * from './equilibrium.js'
export * from './errors.js'
export * from './fraud-proof.js'
export * from './merkle.js'
export * from './planner.js'
export * from './prover-machine.js'
export * from './reputation.js'
export * from './sampler.js'
export * from './tolerance.js'
export * from './verifier-machine.js'
export { openResultEnvelope } from './driver/open-result.js'
export { verifyFraudProof } from './driver/verify-fraud-proof.js'
export { checkKey, taskKey } from './outputs.js'
