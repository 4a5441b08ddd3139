import type { Topic } from '@tessera/core'

/**
 * Defaults and bounds for `@tessera/proof`. Every option of the planner, the sampler, the machines and the
 * tolerance classes resolves its default from here.
 */

/** The verdicts gossip topic (core's `TOPICS.verdicts`; spelled out because this package imports only core's types). */
export const VERDICTS_TOPIC: Topic = '/tessera/1/verdicts'

/** Byte length of a verifier's challenge nonce (core's `NONCE_BYTES`). */
export const NONCE_BYTES = 32
/** Byte length of a SHA-256 digest (roots, fraud proof hashes). */
export const HASH_BYTES = 32
/** Most chunks one challenge may name (core's `MAX_CHALLENGE_CHUNKS`). */
export const MAX_CHALLENGE_CHUNKS = 256
/** Plans `planFor` keeps, by budget and chunk count; the oldest is planned again when asked after. */
export const MAX_CACHED_PLANS = 1024
/**
 * Longest horizon `lengthenHorizon` gives a budget, in tasks of one worker: far past any job (65,536 tasks at most),
 * a budget it cannot meet by then asks for an overhead too small to check anything.
 */
export const MAX_VERIFICATION_HORIZON = 2 ** 40
/** Largest chunk accepted in a reveal or fraud proof (core's `MAX_CHUNK_BYTES`). */
export const MAX_CHUNK_BYTES = 1024 * 1024
/** Deepest Merkle proof accepted (core's `MAX_MERKLE_DEPTH`): 2^32 chunks. */
export const MAX_MERKLE_DEPTH = 32
/** Largest signed Result envelope a fraud proof may carry (core's `MAX_QUOTED_ENVELOPE_BYTES`). */
export const MAX_COMMITMENT_BYTES = 64 * 1024
/** Largest encoded fraud proof accepted (core's `MAX_FRAUD_PROOF_WIRE_BYTES`, what an `arbitrate` may carry). */
export const MAX_FRAUD_PROOF_BYTES = 2 * MAX_CHUNK_BYTES + MAX_COMMITMENT_BYTES + 8 * 1024

/** Planner: chunks per task when the job does not say. */
export const DEFAULT_CHUNKS_PER_TASK = 64
/**
 * Planner: the smallest fraction of a cheated task's chunks that are wrong and must still be caught. A cheater who
 * corrupts fewer chunks is caught less often per check; the plan is sized for this worst case.
 */
export const DEFAULT_MIN_BAD_FRACTION = 0.1
/** Planner: fixed cost of one check, in chunk units (fetching inputs, building the scene), beside the chunks recomputed. */
export const DEFAULT_CHECK_SETUP_CHUNKS = 0

/** Sampler: the probability a new or recently failed worker is checked with. */
export const DEFAULT_P_NEW = 1
/** Sampler: the floor when no plan is given (the plan's p replaces it). */
export const DEFAULT_P_MIN = 0.05
/** Sampler: the valid-result streak at which the excess over the floor has halved. */
export const DEFAULT_TRUST_HALF_STREAK = 10
/** Sampler and reputation: workers tracked at most; the least recently seen are forgotten (and start over as new). */
export const MAX_TRACKED_PEERS = 100_000

/**
 * Tolerance: relative error allowed per tensor element. With {@link DEFAULT_ATOL_SCALE} every element may differ by
 * at least 1e-4 of the chunk's largest magnitude, so whatever passes `@tessera/gpu`'s normwise bar
 * (max|a-b| <= 1e-4 max|b|) passes here too.
 */
export const DEFAULT_RTOL = 1e-4
/** Tolerance: absolute error allowed per tensor element, as a fraction of the chunk's largest magnitude. */
export const DEFAULT_ATOL_SCALE = 1e-4
/**
 * Tolerance: lowest PSNR (dB) an image chunk may have against the verifier's recomputation. `@tessera/gpu` sets 30 dB
 * between its CPU reference and lavapipe (measured: ULP-level differences, over 170 dB per row); rendering with a
 * quarter of the samples scores 12 to 18 dB.
 */
export const DEFAULT_MIN_PSNR_DB = 30
/**
 * Tolerance: the share of an image chunk's pixels a PSNR check leaves out, worst first, rounded down (a row of 128
 * pixels may have 4 outliers; a chunk under 32 pixels has none). On another driver a rounding difference sends an
 * occasional sample down another path: `@tessera/gpu` measured about one such pixel in 1,000 (lavapipe's Vulkan
 * and OpenGL ES backends and the CPU reference, a panorama-lit scene at 1 to 16 spp), and at 1 spp that single
 * pixel took a 128-pixel row down to 24 dB, failing an honest worker. Without its worst pixel the same row scores
 * over 60 dB, while a render with a quarter of the samples still scores at most 25 dB with 8 pixels left out: the
 * noise of lazy work is in every pixel. A cheater can alter this share of each chunk unseen, saving as little work.
 */
export const DEFAULT_PSNR_OUTLIER_FRACTION = 1 / 32
/** Tolerance: the largest outlier share a verifier may set; past it a check stops meaning the chunk was rendered. */
export const MAX_PSNR_OUTLIER_FRACTION = 1 / 4

/**
 * The tolerance class label each task type's Result carries: renders are `@tessera/gpu` tile rows of linear RGBA
 * float32, inference outputs are float32 batch items.
 */
export const TASK_TOLERANCE = Object.freeze({ render: 'psnr:rgba32f', inference: 'relative' } as const)

/** Machines: how long a worker has to reveal challenged chunks. */
export const DEFAULT_REVEAL_TIMEOUT_MS = 30_000
/** Machines: how long the verifier's own recomputation may take before the check is abandoned (not the worker's fault). */
export const DEFAULT_RECOMPUTE_TIMEOUT_MS = 10 * 60_000
/** Machines: how long a delegated verifier or an arbiter has to publish its verdict. */
export const DEFAULT_VERDICT_TIMEOUT_MS = 15 * 60_000
/** Machines: further peers asked in turn when arbiters disagree with the accuser or stay silent. */
export const DEFAULT_ARBITRATION_ROUNDS = 2
/** Most arbitration rounds an `arbitrate` message may name (core's `MAX_ARBITRATION_ROUNDS`). */
export const MAX_ARBITRATION_ROUNDS = 16
/** Machines: checks in flight per verifier at most. */
export const MAX_PENDING_CHECKS = 10_000
/**
 * Checks and arbitrations a verifier did for other peers and remembers, the latest, to refuse the same one asked
 * again: a creator replaying one signed Result as `assign` would otherwise have it challenged until the worker, which
 * answers few challenges per task, refuses, and each refusal marks the worker down.
 */
export const FINISHED_CHECKS_KEPT = 10_000
/** Prover: how long a worker keeps a task's chunks to answer challenges. */
export const DEFAULT_RETAIN_MS = 60 * 60_000
/** Prover: tasks held at most. */
export const MAX_PROVER_TASKS = 4_096
/** Prover: challenges answered per task (a first check and one retry); more are refused, so peers cannot mine outputs. */
export const DEFAULT_MAX_CHALLENGES_PER_TASK = 2
/** Relative weight of the creator itself when picking a task's verifier, beside third peers weighted by reputation. */
export const DEFAULT_SELF_VERIFY_WEIGHT = 1

/** Reputation: prior pseudo-counts of valid and failed results; a new identity starts at a / (a + b). */
export const DEFAULT_PRIOR_VALID = 1
export const DEFAULT_PRIOR_FAILED = 4
/** Reputation: one failure weighs as much as this many valid results. */
export const DEFAULT_FAILURE_WEIGHT = 5
/** Reputation: stake (token units) at which a gossiped verdict weighs half as much as one of our own. */
export const DEFAULT_STAKE_HALF_WEIGHT = 1_000_000n
/** Reputation: how much more an arbitrated (round 1+) gossiped failure weighs. */
export const DEFAULT_ARBITRATED_WEIGHT = 2
/**
 * Reputation: unsolicited gossiped verdicts remembered, to count each once. Never evicted: once full, such gossip
 * counts no more (a verdict forgotten could count again); a verdict a check of ours asked for counts all the same.
 */
export const DEFAULT_MAX_SEEN_VERDICTS = 10_000
/** Reputation: of those, what one issuer may fill, so that one issuer alone cannot shut the others out. */
export const DEFAULT_MAX_SEEN_PER_ISSUER = 1_000
/**
 * Reputation: the most one issuer's unsolicited gossip moves one peer's valid count, and its failed count, in units of
 * our own checks. Anyone staked can sign verdicts about tasks that never were: without a bound, one issuer could
 * raise a Sybil into the top tier or sink any worker. With 2, moving a new identity from 0.2 to the tier-2 bar of 0.8
 * takes eight issuers at full weight.
 */
export const DEFAULT_MAX_ISSUER_WEIGHT = 2
