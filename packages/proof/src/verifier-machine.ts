import {
  Deadlines,
  Fifo,
  type Challenge,
  type NetworkOutput,
  type Result,
  type Reveal,
  type Rng,
  type SansIoMachine,
  type Verdict,
} from '@tessera/core'
import { challengeIndices } from './challenge.js'
import { checkOpening } from './commitment.js'
import {
  DEFAULT_ARBITRATION_ROUNDS,
  DEFAULT_RECOMPUTE_TIMEOUT_MS,
  DEFAULT_REVEAL_TIMEOUT_MS,
  DEFAULT_SELF_VERIFY_WEIGHT,
  DEFAULT_VERDICT_TIMEOUT_MS,
  FINISHED_CHECKS_KEPT,
  MAX_ARBITRATION_ROUNDS,
  MAX_CHALLENGE_CHUNKS,
  MAX_MERKLE_DEPTH,
  MAX_PENDING_CHECKS,
  NONCE_BYTES,
  VERDICTS_TOPIC,
} from './constants.js'
import { isProofError, ProofError } from './errors.js'
import {
  checkFraudEvidence,
  encodeFraudProof,
  fraudProofHash,
  FRAUD_PROOF_VERSION,
  type ResultOpener,
} from './fraud-proof.js'
import { equalBytes, type Hash } from './merkle.js'
import { checkKey } from './outputs.js'
import { defaultPlan, type SamplingPlan } from './default-plan.js'
import { pickWeighted, randomBytes } from './random.js'
import { Reputation } from './reputation.js'
import { AdaptiveSampler, type SamplerOptions } from './sampler.js'
import {
  compareChunks,
  isToleranceLabel,
  parseTolerance,
  validateToleranceOptions,
  type ToleranceClass,
  type ToleranceOptions,
} from './tolerance.js'

/** Options of a {@link VerifierMachine}. */
export interface VerifierInit {
  /** This peer's id: the verifier named in challenges and verdicts. */
  self: string
  /** Nonces, the sampling draw and verifier/arbiter choice come from here (seeded in the simulator). */
  rng: Rng
  /** Opens a signed Result envelope (checks signature and author); used on fraud proofs sent for arbitration. */
  openResult: ResultOpener
  /**
   * Default sampling floor and challenge size; a `result` input may carry its job's own plan.
   * @default planVerification({ detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 })
   */
  plan?: SamplingPlan
  /** Adaptive sampling options (`pMin` defaults to the plan's `p`); unused when `sampler` is given. */
  sampling?: SamplerOptions
  /**
   * Per-worker streaks, for a driver that keeps them across restarts (through the sampler's `onUpdate` and
   * `restore`); every draw raises its floor to the plan's `p`.
   * @default an AdaptiveSampler with `sampling`
   */
  sampler?: AdaptiveSampler
  /**
   * Scores peers; shared with the scheduler's tier gate.
   * @default a Reputation with no stake lookup
   */
  reputation?: Reputation
  /** Third peers that may be asked to verify or arbitrate (updated with a `verifiers` input). */
  verifiers?: readonly string[]
  /** Thresholds of the tolerance classes. */
  tolerance?: ToleranceOptions
  /**
   * Weight of checking a task ourselves against third peers, each weighted by its reputation score.
   * @default 1
   */
  selfVerifyWeight?: number
  /** @default 30000 */
  revealTimeoutMs?: number
  /** @default 600000 */
  recomputeTimeoutMs?: number
  /** How long a delegate or arbiter has to publish its verdict. @default 900000 */
  verdictTimeoutMs?: number
  /** Arbiters asked at most for one accusation. @default 2 */
  arbitrationRounds?: number
  /** @default 10000 */
  maxPending?: number
}

/**
 * A job's override of the default plan, and what an honest Result for the task looks like. The shape comes from
 * the job's order, never from the worker: a Result that strays from it fails unchecked (event `result:mismatched`),
 * since a worker that picked its own tolerance class or chunking could pass garbage under a looser comparison or
 * hide most of its output from the sampler.
 */
export interface JobPolicy {
  plan?: SamplingPlan
  /**
   * The task's tolerance class label (`relative` for tensors, `psnr:rgba32f` for renders, ...): chunks compare
   * under it. When absent, the Result's own label is trusted (a deployment with one task type and trusted workers)
   * as long as it names a tolerance class.
   */
  tolerance?: string
  /** How many chunks the task's output has (tile rows, batch items); when absent, any count from 1 to 2^32 is taken. */
  chunks?: number
}

/** What an honest Result for a task looks like, from its order: the shape part of {@link JobPolicy}. */
export type ResultShape = Omit<JobPolicy, 'plan'>

/** Which part of a Result differs from its task's {@link JobPolicy}. */
export type ResultMismatch = 'tolerance' | 'chunks'

/** Inputs of the {@link VerifierMachine}. */
export type VerifierInput =
  /** A Result for one of our jobs arrived (we are its creator); `envelope` is its signed bytes. */
  | ({ kind: 'result'; result: Result; envelope: Uint8Array } & JobPolicy)
  /** The creator `from` asks us to verify a Result (it forwarded the worker's signed envelope). */
  | ({ kind: 'assigned'; from: string; result: Result; envelope: Uint8Array } & JobPolicy)
  /** A worker's answer to our challenge, signed by `from`. */
  | { kind: 'reveal'; from: string; reveal: Reveal }
  /** Our driver's recomputation of the chunks a `recompute` output asked for, in the same order. */
  | { kind: 'recomputed'; jobId: string; taskId: string; worker: string; chunks: readonly Uint8Array[] }
  /** The accuser `from` asks us to arbitrate its fraud proof (round 1+) for the job of `creator`. */
  | ({ kind: 'arbitrate'; from: string; creator: string; round: number; fraudProof: Uint8Array } & ResultShape)
  /** A verdict gossiped on `/tessera/1/verdicts`, signed by `from`. */
  | { kind: 'verdict'; from: string; verdict: Verdict }
  /** The third peers that may verify or arbitrate. */
  | { kind: 'verifiers'; peers: readonly string[] }

/** What a {@link VerifierMachine} decided about a task, a Result or an accusation. */
export type VerifierEvent =
  | { name: 'task:accepted'; jobId: string; taskId: string; worker: string; checked: boolean; overturned?: boolean }
  | {
      name: 'task:rejected'
      jobId: string
      taskId: string
      worker: string
      outcome: 'fail' | 'refused'
      fraudProofHash?: Hash
    }
  | { name: 'proof:upheld'; jobId: string; taskId: string; worker: string; fraudProofHash: Hash; arbitrated: boolean }
  | { name: 'proof:overturned'; jobId: string; taskId: string; worker: string; fraudProofHash: Hash }
  | { name: 'check:abandoned'; jobId: string; taskId: string; worker: string; reason: 'recompute-timeout' }
  /**
   * The Result's tolerance label or chunk count is not its task's, or is one no Result can have (a label naming no
   * tolerance class, a count outside 1 to 2^32): it fails without being sampled.
   */
  | { name: 'result:mismatched'; jobId: string; taskId: string; worker: string; mismatch: ResultMismatch }

/** Outputs of the {@link VerifierMachine}: messages, work for the driver's engine, ledger records and events. */
export type VerifierOutput =
  | NetworkOutput
  /** Recompute these chunks of the task (exactly, on our own engine) and feed back `recomputed` for `worker`. */
  | { kind: 'recompute'; jobId: string; taskId: string; worker: string; indices: number[] }
  /** Forward the worker's signed Result to `to`, which verifies it for us (an `assigned` input there). */
  | { kind: 'delegate'; to: string; jobId: string; taskId: string; creator: string; envelope: Uint8Array }
  /** Deliver the fraud proof to the arbiter `to` (an `arbitrate` input there); the verdict naming it is published. */
  | {
      kind: 'escalate'
      to: string
      jobId: string
      taskId: string
      creator: string
      round: number
      fraudProof: Uint8Array
      fraudProofHash: Hash
    }
  /**
   * For the ledger: slash `worker`; the fraud proof lets anyone re-check. The accuser emits one, and so does a creator
   * that watched its delegate's accusation upheld: the creator holds the worker's bond, so only its record forfeits it.
   */
  | {
      kind: 'slash'
      worker: string
      jobId: string
      taskId: string
      /** The job's creator: the peer holding the worker's bond for it. */
      creator: string
      fraudProofHash: Hash
      /** Absent from a watching creator's record: it learnt the proof's hash only, from the verdicts naming it. */
      fraudProof?: Uint8Array
      accuser: string
      /** Arbiters that upheld the accusation. */
      arbiters: string[]
      round: number
      /** False when no arbiter answered: the ledger should check the fraud proof itself. */
      arbitrated: boolean
    }
  /** For the ledger: `payer` (the job's creator) owes `payee` for verification work of `chunks` chunks. */
  | {
      kind: 'payment'
      payer: string
      payee: string
      jobId: string
      taskId: string
      role: 'verify' | 'arbitrate'
      chunks: number
    }
  | { kind: 'event'; event: VerifierEvent }

type Phase = 'delegated' | 'challenged' | 'recomputing' | 'arbitrating' | 'watching'

interface Check {
  key: string
  /** creator: our job; delegate: a creator asked us; arbiter: an accuser asked us. */
  role: 'creator' | 'delegate' | 'arbiter'
  phase: Phase
  result: Result
  envelope: Uint8Array
  creator: string
  tolerance: ToleranceClass
  /** How the Result strays from its task's shape: it is failed before any comparison. */
  mismatch: ResultMismatch | undefined
  challengeChunks: number
  deadline: number
  nonce?: Uint8Array
  indices?: number[]
  revealed?: Uint8Array[]
  paths?: Uint8Array[][]
  delegate?: string
  /** Arbitration: the fraud proof, the arbiters asked (accuser) or named (watcher), and their answers. */
  fraudProof?: Uint8Array
  fraudProofHash?: Hash
  arbiters: string[]
  answers: Map<string, 'pass' | 'fail'>
  /** Arbiter role: the round judged, the accuser, and the chunk in dispute. */
  round: number
  accuser?: string
  index?: number
  chunk?: Uint8Array
}

/**
 * The first part of `result` that differs from what `policy` says its task's Result looks like, or that no task's
 * Result can have. Both come from the worker, so they end as a mismatch, never as a throw that leaves the check
 * undecided.
 */
function mismatchOf(result: Result, policy: JobPolicy): ResultMismatch | undefined {
  if (policy.tolerance !== undefined ? result.tolerance !== policy.tolerance : !isToleranceLabel(result.tolerance))
    return 'tolerance'
  if (!Number.isInteger(result.chunks) || result.chunks < 1 || result.chunks > 2 ** MAX_MERKLE_DEPTH) return 'chunks'
  if (policy.chunks !== undefined && result.chunks !== policy.chunks) return 'chunks'
  return undefined
}

/**
 * The codes with which {@link checkFraudEvidence} rejects evidence that quotes a soundly signed Result but does not
 * show what it claims (an index outside the output, a path that does not lead to the root, a chunk the nonce never
 * challenged): the accuser's fault alone.
 */
const UNFOUNDED_EVIDENCE: ReadonlySet<string> = new Set([
  'PROOF__COMMITMENT_MISMATCH',
  'PROOF__INVALID_MERKLE_PROOF',
  'PROOF__INDEX_NOT_CHALLENGED',
])

/** The class a mismatched check carries: it is failed before any comparison, so none is ever made under it. */
const UNCOMPARED: ToleranceClass = Object.freeze({ kind: 'bitwise' })

/**
 * The verifying side: a creator checking its workers' Results, a third peer checking for a creator, or an arbiter
 * judging an accusation. For each Result it draws whether to check (adaptive per-worker probability, floored by the
 * job's plan), picks who checks (itself, or a third peer weighted by reputation and never the worker), challenges
 * chunks the worker could not predict, checks the reveal against the root, asks its driver to recompute the chunks,
 * compares them under the task's tolerance class, and publishes a signed Verdict (the driver signs). A worker that
 * does not reveal in time, or reveals chunks that do not match its root, has failed. A mismatch yields a fraud proof
 * and goes to further peers: the accusation stands when a majority of the accuser and the arbiters asked agree
 * (two of three by default), and then a slash record goes to the ledger.
 *
 * Bad input (a reveal from another peer, an unknown task, a recomputation of the wrong length) throws a coded
 * {@link ProofError} and changes nothing. A malformed Result is not bad input but a failing worker: whatever its
 * fields say, it ends in `result:mismatched` and a failure, so no caller waits on a check that was never decided.
 * Per-worker state is one streak counter and one reputation entry; a check holds state only while in flight.
 */
export class VerifierMachine implements SansIoMachine<VerifierInput, VerifierOutput> {
  readonly #self: string
  readonly #rng: Rng
  readonly #openResult: ResultOpener
  readonly #plan: SamplingPlan
  readonly #sampler: AdaptiveSampler
  readonly #reputation: Reputation
  readonly #tolerance: ToleranceOptions
  readonly #selfWeight: number
  readonly #revealTimeout: number
  readonly #recomputeTimeout: number
  readonly #verdictTimeout: number
  readonly #rounds: number
  readonly #maxPending: number
  // Frozen and replaced whole: `Reputation.scoresOf` remembers slots for the array it is given.
  #verifiers: readonly string[]
  /** Scratch for `#drawVerifier`: our own weight, then one per verifier. */
  #weights = new Float64Array(1)
  readonly #checks = new Map<string, Check>()
  /** Checks (delegate) and arbitrations (arbiter) done for other peers, by role and key, the oldest forgotten first. */
  readonly #finished = new Set<string>()
  readonly #deadlines = new Deadlines<Check>()
  readonly #out = new Fifo<VerifierOutput>()
  readonly #deadlineOf = (check: Check): number => check.deadline

  constructor(init: VerifierInit) {
    this.#self = init.self
    this.#rng = init.rng
    this.#openResult = init.openResult
    this.#plan = init.plan ?? defaultPlan()
    assertPlan(this.#plan)
    this.#sampler = init.sampler ?? new AdaptiveSampler({ pMin: this.#plan.p, ...init.sampling })
    this.#reputation = init.reputation ?? new Reputation()
    this.#tolerance = init.tolerance ?? {}
    validateToleranceOptions(this.#tolerance)
    this.#selfWeight = init.selfVerifyWeight ?? DEFAULT_SELF_VERIFY_WEIGHT
    this.#revealTimeout = init.revealTimeoutMs ?? DEFAULT_REVEAL_TIMEOUT_MS
    this.#recomputeTimeout = init.recomputeTimeoutMs ?? DEFAULT_RECOMPUTE_TIMEOUT_MS
    this.#verdictTimeout = init.verdictTimeoutMs ?? DEFAULT_VERDICT_TIMEOUT_MS
    this.#rounds = init.arbitrationRounds ?? DEFAULT_ARBITRATION_ROUNDS
    if (!Number.isInteger(this.#rounds) || this.#rounds < 0 || this.#rounds > MAX_ARBITRATION_ROUNDS) {
      // The wire bounds the round an arbiter is asked for: a higher round could never be sent.
      throw new ProofError('PROOF__INVALID_INPUT', `arbitrationRounds must be 0 to ${MAX_ARBITRATION_ROUNDS}`, {
        arbitrationRounds: this.#rounds,
      })
    }
    this.#maxPending = init.maxPending ?? MAX_PENDING_CHECKS
    this.#verifiers = Object.freeze([...(init.verifiers ?? [])])
  }

  /** The adaptive sampler (per-worker streaks), for metrics and tests. */
  get sampler(): AdaptiveSampler {
    return this.#sampler
  }

  /** The peer scores this verifier keeps and consults (shared with the scheduler's tier gate when given). */
  get reputation(): Reputation {
    return this.#reputation
  }

  /** Checks in flight. */
  get pending(): number {
    return this.#checks.size
  }

  handle(input: VerifierInput, now: number): void {
    switch (input.kind) {
      case 'result':
        this.#onResult(input, now)
        return
      case 'assigned':
        this.#onAssigned(input, now)
        return
      case 'reveal':
        this.#onReveal(input.from, input.reveal, now)
        return
      case 'recomputed':
        this.#onRecomputed(input.jobId, input.taskId, input.worker, input.chunks, now)
        return
      case 'arbitrate':
        this.#onArbitrate(input, now)
        return
      case 'verdict':
        this.#onVerdict(input.from, input.verdict, now)
        return
      case 'verifiers':
        this.#verifiers = Object.freeze([...input.peers])
        return
    }
  }

  handleTimeout(now: number): void {
    for (const check of this.#deadlines.due(now, this.#deadlineOf)) {
      // Concluded by an earlier timer of this call.
      if (this.#checks.get(check.key) !== check) continue
      switch (check.phase) {
        case 'challenged':
          // Silence is refusal: a worker that kept its output could have answered.
          this.#concludeCheck(check, 'refused', now)
          break
        case 'recomputing':
          // Our own engine failed to recompute in time: not the worker's fault.
          this.#drop(check)
          if (check.role === 'creator') this.#event({ name: 'task:accepted', ...this.#ids(check), checked: false })
          this.#event({ name: 'check:abandoned', ...this.#ids(check), reason: 'recompute-timeout' })
          break
        case 'delegated':
          // The third peer stayed silent: check it ourselves.
          this.#challenge(check, now)
          break
        case 'arbitrating':
          this.#escalate(check, now)
          break
        case 'watching': {
          // The delegate has used up its rounds by now and decided on what reached it; so do we, on what reached
          // us, rather than leave its overturn unlearnt.
          const decision = this.#decide(check, this.#rounds)
          this.#finishArbitration(check, decision === 'continue' ? 'overturned' : decision)
          break
        }
      }
    }
  }

  pollOutput(): VerifierOutput | undefined {
    return this.#out.shift()
  }

  pollTimeout(): number | undefined {
    return this.#deadlines.next(this.#deadlineOf)
  }

  // --- inputs -------------------------------------------------------------------------------------------------

  #onResult(input: Extract<VerifierInput, { kind: 'result' }>, now: number): void {
    const check = this.#newCheck('creator', input.result, input.envelope, this.#self, input)
    if (this.#refuseMismatch(check, now)) return
    const plan = input.plan ?? this.#plan
    if (!this.#sampler.shouldCheck(input.result.worker, this.#rng, plan.p)) {
      this.#event({ name: 'task:accepted', ...this.#ids(check), checked: false })
      return
    }
    const worker = input.result.worker
    const delegate = this.#drawVerifier(this.#selfWeight, (p) => p === worker || p === this.#self)
    this.#checks.set(check.key, check)
    if (delegate === undefined) {
      this.#challenge(check, now)
      return
    }
    check.phase = 'delegated'
    check.delegate = delegate
    this.#arm(check, now + this.#verdictTimeout)
    this.#out.push({
      kind: 'delegate',
      to: delegate,
      jobId: check.result.jobId,
      taskId: check.result.taskId,
      creator: this.#self,
      envelope: check.envelope,
    })
  }

  #onAssigned(input: Extract<VerifierInput, { kind: 'assigned' }>, now: number): void {
    if (input.result.worker === this.#self) {
      throw new ProofError('PROOF__UNEXPECTED_MESSAGE', 'a worker cannot verify its own result', { worker: this.#self })
    }
    this.#refuseRepeat('delegate', input.result)
    const check = this.#newCheck('delegate', input.result, input.envelope, input.from, input)
    this.#remember(check)
    if (this.#refuseMismatch(check, now)) return
    this.#checks.set(check.key, check)
    this.#challenge(check, now)
  }

  #onReveal(from: string, reveal: Reveal, now: number): void {
    const check = this.#find(reveal.jobId, reveal.taskId, reveal.worker)
    if (check.phase !== 'challenged' || from !== check.result.worker || reveal.worker !== from) {
      throw new ProofError(
        'PROOF__UNEXPECTED_MESSAGE',
        `reveal for task ${reveal.taskId} from ${from} was not asked for`,
        {
          taskId: reveal.taskId,
          from,
          phase: check.phase,
        },
      )
    }
    const indices = check.indices as number[]
    const broken =
      equalBytes(reveal.root, check.result.root) === false
        ? 'root'
        : checkOpening(check.result.root, check.result.chunks, indices, reveal)
    if (broken !== undefined) {
      // The worker answered with chunks that are not those it committed to: as bad as a wrong output, but there is
      // no honest recomputation to set against it, so it fails without a fraud proof.
      this.#concludeCheck(check, 'fail', now)
      return
    }
    check.revealed = reveal.chunks
    check.paths = reveal.proofs
    check.phase = 'recomputing'
    this.#arm(check, now + this.#recomputeTimeout)
    this.#out.push({ kind: 'recompute', ...this.#ids(check), indices: [...indices] })
  }

  #onRecomputed(jobId: string, taskId: string, worker: string, chunks: readonly Uint8Array[], now: number): void {
    const check = this.#find(jobId, taskId, worker)
    if (check.phase !== 'recomputing') {
      throw new ProofError('PROOF__UNEXPECTED_MESSAGE', `task ${taskId} is not waiting for a recomputation`, {
        taskId,
        phase: check.phase,
      })
    }
    if (check.role === 'arbiter') {
      this.#judge(check, chunks, now)
      return
    }
    const indices = check.indices as number[]
    if (chunks.length !== indices.length) {
      throw new ProofError(
        'PROOF__RECOMPUTE_MISMATCH',
        `recomputed ${chunks.length} chunks; ${indices.length} were asked for`,
        {
          taskId,
          expected: indices.length,
          got: chunks.length,
        },
      )
    }
    const revealed = check.revealed as Uint8Array[]
    const bad = indices.findIndex(
      (_, k) => !compareChunks(check.tolerance, revealed[k] as Uint8Array, chunks[k] as Uint8Array).ok,
    )
    if (bad === -1) {
      this.#concludeCheck(check, 'pass', now)
      return
    }
    let fraudProof: Uint8Array
    try {
      fraudProof = encodeFraudProof({
        v: FRAUD_PROOF_VERSION,
        commitment: check.envelope,
        verifier: this.#self,
        nonce: check.nonce as Uint8Array,
        count: indices.length,
        index: indices[bad] as number,
        chunk: revealed[bad] as Uint8Array,
        path: (check.paths as Uint8Array[][])[bad] as Uint8Array[],
        recomputed: chunks[bad] as Uint8Array,
      })
    } catch (e) {
      if (!isProofError(e)) throw e
      // The worker signed or revealed what no fraud proof can carry (a chunk or a Result envelope over the bounds;
      // an honest worker's fit, as its prover commits to nothing larger), and it is still not what we recomputed:
      // it fails without a fraud proof, as a reveal that does not open its root does. A throw here would leave the
      // check to time out into acceptance.
      this.#concludeCheck(check, 'fail', now)
      return
    }
    check.fraudProof = fraudProof
    check.fraudProofHash = fraudProofHash(fraudProof)
    this.#concludeCheck(check, 'fail', now)
  }

  #onArbitrate(input: Extract<VerifierInput, { kind: 'arbitrate' }>, now: number): void {
    let evidence
    try {
      evidence = checkFraudEvidence(input.fraudProof, { openResult: this.#openResult })
    } catch (e) {
      if (!isProofError(e) || !UNFOUNDED_EVIDENCE.has(e.code)) throw e
      // The worker's signed commitment is sound but the accusation does not follow from it. We judged no chunk, so
      // we say nothing about the worker: a pass verdict here would vouch for it without any recomputation, and
      // anyone holding one signed Result could mint such verdicts. Only the sender is marked down, as for a false
      // accusation; its own timer then moves it on, as for a silent arbiter.
      this.#reputation.recordLocal(input.from, 'fail')
      return
    }
    const { proof, result } = evidence
    if (proof.verifier !== input.from || result.worker === this.#self || input.from === this.#self) {
      throw new ProofError(
        'PROOF__UNEXPECTED_MESSAGE',
        'arbitration must come from the accuser and concern another worker',
        {
          accuser: proof.verifier,
          from: input.from,
        },
      )
    }
    this.#refuseRepeat('arbiter', result)
    const check = this.#newCheck('arbiter', result, proof.commitment, input.creator, input)
    this.#remember(check)
    const mismatch = check.mismatch
    if (mismatch !== undefined) {
      // The worker signed a Result its task cannot have: the accusation stands without a recomputation.
      this.#event({ name: 'result:mismatched', ...this.#ids(check), mismatch })
      this.#reputation.recordLocal(result.worker, 'fail')
      this.#sampler.recordFailure(result.worker)
      this.#publish(result, 'fail', input.round, now, { fraudProof: evidence.fraudProofHash })
      return
    }
    check.phase = 'recomputing'
    check.round = input.round
    check.accuser = input.from
    check.index = proof.index
    check.chunk = proof.chunk
    check.fraudProof = input.fraudProof
    check.fraudProofHash = evidence.fraudProofHash
    this.#checks.set(check.key, check)
    this.#arm(check, now + this.#recomputeTimeout)
    this.#out.push({ kind: 'recompute', ...this.#ids(check), indices: [proof.index] })
  }

  #onVerdict(from: string, verdict: Verdict, now: number): void {
    if (from === this.#self) return
    const check = this.#checks.get(checkKey(verdict.jobId, verdict.taskId, verdict.worker))
    const delegated =
      check !== undefined && check.phase === 'delegated' && from === check.delegate && verdict.round === 0
    const ruling = check !== undefined && !delegated && this.#isRuling(check, from, verdict)
    // What a check of ours asked for counts whole, our delegate's word as our own check would; other gossip is capped
    // per issuer (see `Reputation.observe`).
    this.#reputation.observe(verdict, from, { solicited: delegated || ruling, delegated })
    if (check === undefined) return
    if (delegated) {
      this.#onDelegateVerdict(check, verdict, now)
      return
    }
    if (!ruling) {
      const naming = check.phase === 'watching' && from === check.delegate && verdict.round === 0
      if (naming && verdict.arbiter !== undefined && this.#namesProof(check, verdict)) {
        if (!check.arbiters.includes(verdict.arbiter)) check.arbiters.push(verdict.arbiter)
      }
      return
    }
    check.answers.set(from, verdict.outcome as 'pass' | 'fail')
    // A watcher counts the arbiters its delegate named, silent ones included, as the delegate counts those it asked.
    const decision = this.#decide(check, check.arbiters.length)
    if (decision === 'continue') {
      if (check.phase === 'arbitrating') this.#escalate(check, now)
      return
    }
    this.#finishArbitration(check, decision)
  }

  /** Whether `verdict` names the fraud proof `check` is arbitrating. */
  #namesProof(check: Check, verdict: Verdict): boolean {
    const hash = check.fraudProofHash
    return hash !== undefined && verdict.fraudProof !== undefined && equalBytes(hash, verdict.fraudProof)
  }

  /**
   * Whether `verdict` is an arbiter's answer that `check` takes: on its fraud proof, from the arbiter asked last
   * (accuser) or named last by the delegate (watcher), in round 1 or later, its first, and a judgement (an arbiter
   * never refuses). A watcher takes no ruling its delegate would not: an arbiter that answers only once the delegate
   * has moved past it is not counted by the delegate, and counted by the watcher it could overturn, alone, an
   * accusation the delegate upholds.
   */
  #isRuling(check: Check, from: string, verdict: Verdict): boolean {
    const answering =
      (check.phase === 'arbitrating' || check.phase === 'watching') &&
      check.arbiters[check.arbiters.length - 1] === from
    return (
      answering &&
      this.#namesProof(check, verdict) &&
      verdict.round >= 1 &&
      verdict.outcome !== 'refused' &&
      check.arbiters.includes(from) &&
      !check.answers.has(from)
    )
  }

  #onDelegateVerdict(check: Check, verdict: Verdict, now: number): void {
    const worker = check.result.worker
    if (verdict.outcome === 'pass') {
      this.#sampler.recordValid(worker)
      this.#drop(check)
      this.#event({ name: 'task:accepted', ...this.#ids(check), checked: true })
      return
    }
    this.#sampler.recordFailure(worker)
    this.#event({
      name: 'task:rejected',
      ...this.#ids(check),
      outcome: verdict.outcome,
      ...(verdict.fraudProof !== undefined ? { fraudProofHash: verdict.fraudProof } : {}),
    })
    if (verdict.outcome === 'fail' && verdict.fraudProof !== undefined && verdict.arbiter !== undefined) {
      // Watch the arbitration, to accept the task after all if the accusation is overturned.
      check.phase = 'watching'
      check.fraudProofHash = verdict.fraudProof
      check.arbiters = [verdict.arbiter]
      this.#arm(check, now + this.#verdictTimeout * Math.max(1, this.#rounds))
      return
    }
    this.#drop(check)
  }

  // --- steps --------------------------------------------------------------------------------------------------

  #challenge(check: Check, now: number): void {
    const nonce = randomBytes(this.#rng, NONCE_BYTES)
    const count = Math.min(check.challengeChunks, check.result.chunks)
    check.nonce = nonce
    check.indices = challengeIndices(check.result.root, nonce, count, check.result.chunks)
    check.phase = 'challenged'
    this.#arm(check, now + this.#revealTimeout)
    const challenge: Challenge = {
      jobId: check.result.jobId,
      taskId: check.result.taskId,
      worker: check.result.worker,
      verifier: this.#self,
      root: check.result.root,
      nonce,
      count,
      issuedAt: now,
    }
    this.#out.push({ kind: 'send', to: check.result.worker, message: { type: 'challenge', body: challenge } })
  }

  /** The end of our own check (creator or delegate): verdict, local scores, and for a fraud proof, arbitration. */
  #concludeCheck(check: Check, outcome: Verdict['outcome'], now: number): void {
    const worker = check.result.worker
    this.#reputation.recordLocal(worker, outcome)
    if (outcome === 'pass') this.#sampler.recordValid(worker)
    else this.#sampler.recordFailure(worker)
    if (check.role === 'creator') {
      this.#event(
        outcome === 'pass'
          ? { name: 'task:accepted', ...this.#ids(check), checked: true }
          : {
              name: 'task:rejected',
              ...this.#ids(check),
              outcome,
              ...(check.fraudProofHash !== undefined ? { fraudProofHash: check.fraudProofHash } : {}),
            },
      )
    }
    if (check.role === 'delegate' && check.revealed !== undefined) {
      this.#payment(check, 'verify', (check.indices as number[]).length)
    }
    if (outcome === 'fail' && check.fraudProofHash !== undefined) {
      this.#escalate(check, now)
      return
    }
    this.#publish(check.result, outcome, 0, now, {})
    this.#drop(check)
  }

  /**
   * Draws a verifier with probability proportional to its reputation, skipping those `skip` names; we ourselves
   * stand first with `selfWeight` (0 leaves us out). Undefined means ourselves, or nobody when `selfWeight` is 0. One
   * float is drawn whatever the weights. They go into a kept array: this runs for every checked result, over every
   * known verifier.
   */
  #drawVerifier(selfWeight: number, skip: (peer: string) => boolean): string | undefined {
    const verifiers = this.#verifiers
    const count = verifiers.length + 1
    if (this.#weights.length < count) this.#weights = new Float64Array(count)
    const weights = this.#weights
    weights[0] = selfWeight
    this.#reputation.scoresOf(verifiers, weights, 1)
    for (let i = 0; i < verifiers.length; i++) if (skip(verifiers[i] as string)) weights[i + 1] = 0
    const picked = pickWeighted(this.#rng, weights, count)
    return picked === undefined || picked === 0 ? undefined : verifiers[picked - 1]
  }

  /** Asks the next arbiter, or decides when none is left. The first call publishes our round-0 failure verdict. */
  #escalate(check: Check, now: number): void {
    const hash = check.fraudProofHash as Hash
    const first = check.phase !== 'arbitrating'
    const exclude = new Set([check.result.worker, this.#self, check.creator, ...check.arbiters])
    const roundsLeft = check.arbiters.length < this.#rounds
    const arbiter = this.#drawVerifier(0, (p) => !roundsLeft || exclude.has(p))
    if (arbiter === undefined) {
      if (first) this.#publish(check.result, 'fail', 0, now, { fraudProof: hash })
      const decision = this.#decide(check, this.#rounds)
      this.#finishArbitration(check, decision === 'continue' ? 'overturned' : decision)
      return
    }
    check.arbiters.push(arbiter)
    check.phase = 'arbitrating'
    this.#arm(check, now + this.#verdictTimeout)
    this.#publish(check.result, 'fail', 0, now, { fraudProof: hash, arbiter })
    this.#out.push({
      kind: 'escalate',
      to: arbiter,
      jobId: check.result.jobId,
      taskId: check.result.taskId,
      creator: check.creator,
      round: check.arbiters.length,
      fraudProof: check.fraudProof as Uint8Array,
      fraudProofHash: hash,
    })
  }

  /**
   * Majority of the panel (the accuser and the arbiters that answered): decided once one side leads by two or the
   * rounds are used up (`asked` of them); a tie is not upheld, since an accusation needs independent support. With
   * no answer at all the fraud proof goes to the ledger unarbitrated.
   */
  #decide(check: Check, asked: number): 'upheld' | 'overturned' | 'unarbitrated' | 'continue' {
    let fails = 1
    let passes = 0
    for (const answer of check.answers.values()) {
      if (answer === 'fail') fails++
      else passes++
    }
    if (fails - passes >= 2) return 'upheld'
    if (passes - fails >= 2) return 'overturned'
    if (asked < this.#rounds) return 'continue'
    if (check.answers.size === 0) return 'unarbitrated'
    return fails > passes ? 'upheld' : 'overturned'
  }

  #finishArbitration(check: Check, decision: 'upheld' | 'overturned' | 'unarbitrated'): void {
    const hash = check.fraudProofHash as Hash
    const ids = this.#ids(check)
    this.#drop(check)
    if (decision === 'overturned') {
      this.#event({ name: 'proof:overturned', ...ids, fraudProofHash: hash })
      if (check.role === 'creator') this.#event({ name: 'task:accepted', ...ids, checked: true, overturned: true })
      return
    }
    this.#event({ name: 'proof:upheld', ...ids, fraudProofHash: hash, arbitrated: decision === 'upheld' })
    const watching = check.phase === 'watching'
    // A watcher slashes only on arbiters' rulings: its delegate's word alone is no more than an unarbitrated proof.
    if (watching ? decision !== 'upheld' : check.fraudProof === undefined) return
    this.#out.push({
      kind: 'slash',
      worker: ids.worker,
      jobId: ids.jobId,
      taskId: ids.taskId,
      creator: check.creator,
      fraudProofHash: hash,
      ...(check.fraudProof === undefined ? {} : { fraudProof: check.fraudProof }),
      accuser: watching ? (check.delegate as string) : this.#self,
      arbiters: [...check.answers].filter(([, outcome]) => outcome === 'fail').map(([peer]) => peer),
      round: check.arbiters.length,
      arbitrated: decision === 'upheld',
    })
  }

  /** Arbiter: compare the disputed chunk with our own recomputation. */
  #judge(check: Check, chunks: readonly Uint8Array[], now: number): void {
    if (chunks.length !== 1) {
      throw new ProofError('PROOF__RECOMPUTE_MISMATCH', `recomputed ${chunks.length} chunks; 1 was asked for`, {
        taskId: check.result.taskId,
        expected: 1,
        got: chunks.length,
      })
    }
    const ok = compareChunks(check.tolerance, check.chunk as Uint8Array, chunks[0] as Uint8Array).ok
    const outcome = ok ? 'pass' : 'fail'
    this.#reputation.recordLocal(check.result.worker, outcome)
    if (ok) this.#reputation.recordLocal(check.accuser as string, 'fail')
    else this.#sampler.recordFailure(check.result.worker)
    this.#publish(check.result, outcome, check.round, now, { fraudProof: check.fraudProofHash as Hash })
    this.#payment(check, 'arbitrate', 1)
    this.#drop(check)
  }

  // --- helpers ------------------------------------------------------------------------------------------------

  #newCheck(role: Check['role'], result: Result, envelope: Uint8Array, creator: string, policy: JobPolicy): Check {
    const key = checkKey(result.jobId, result.taskId, result.worker)
    if (this.#checks.has(key)) {
      throw new ProofError(
        'PROOF__DUPLICATE_TASK',
        `${result.worker}'s result for task ${result.taskId} of job ${result.jobId} is already being checked`,
        {
          jobId: result.jobId,
          taskId: result.taskId,
        },
      )
    }
    if (this.#checks.size >= this.#maxPending) {
      throw new ProofError('PROOF__PENDING_LIMIT_EXCEEDED', `${this.#checks.size} checks are in flight already`, {
        max: this.#maxPending,
      })
    }
    const plan = policy.plan ?? this.#plan
    assertPlan(plan)
    const mismatch = mismatchOf(result, policy)
    return {
      key,
      role,
      phase: 'challenged',
      result,
      envelope,
      creator,
      tolerance:
        mismatch === undefined ? parseTolerance(policy.tolerance ?? result.tolerance, this.#tolerance) : UNCOMPARED,
      mismatch,
      challengeChunks: plan.challengeChunks,
      deadline: Number.POSITIVE_INFINITY,
      arbiters: [],
      answers: new Map(),
      round: 0,
    }
  }

  /**
   * Fails a Result whose shape is not its task's (see {@link JobPolicy}) without a fraud proof, as for a reveal
   * that does not open the commitment: there is no honest chunk to set against it. True when it did.
   */
  #refuseMismatch(check: Check, now: number): boolean {
    const mismatch = check.mismatch
    if (mismatch === undefined) return false
    this.#event({ name: 'result:mismatched', ...this.#ids(check), mismatch })
    this.#concludeCheck(check, 'fail', now)
    return true
  }

  /**
   * Throws `PROOF__DUPLICATE_TASK` for a check or arbitration of `result` we did already in `role`: a replayed request
   * would only have the worker challenged again (it answers few challenges per task, so a refusal, marking it down)
   * or our verdict published again.
   */
  #refuseRepeat(role: 'delegate' | 'arbiter', result: Result): void {
    if (!this.#finished.has(`${role}\u0000${checkKey(result.jobId, result.taskId, result.worker)}`)) return
    throw new ProofError(
      'PROOF__DUPLICATE_TASK',
      `${result.worker}'s result for task ${result.taskId} of job ${result.jobId} was checked already`,
      { jobId: result.jobId, taskId: result.taskId, role },
    )
  }

  /** Remembers a check or arbitration for another peer as done (see {@link #refuseRepeat}), within its bound. */
  #remember(check: Check): void {
    if (check.role === 'creator') return
    this.#finished.add(`${check.role}\u0000${check.key}`)
    if (this.#finished.size > FINISHED_CHECKS_KEPT)
      this.#finished.delete(this.#finished.values().next().value as string)
  }

  #find(jobId: string, taskId: string, worker: string): Check {
    const check = this.#checks.get(checkKey(jobId, taskId, worker))
    if (check === undefined) {
      throw new ProofError(
        'PROOF__TASK_NOT_FOUND',
        `no check in flight for ${worker}'s result for task ${taskId} of job ${jobId}`,
        { jobId, taskId, worker },
      )
    }
    return check
  }

  #arm(check: Check, at: number): void {
    check.deadline = at
    this.#deadlines.push(check, at)
  }

  #drop(check: Check): void {
    this.#checks.delete(check.key)
    // Its armed timer is stale now: no entry is ever armed at infinity.
    check.deadline = Number.POSITIVE_INFINITY
  }

  #ids(check: Check): { jobId: string; taskId: string; worker: string } {
    return { jobId: check.result.jobId, taskId: check.result.taskId, worker: check.result.worker }
  }

  #publish(
    result: Result,
    outcome: Verdict['outcome'],
    round: number,
    now: number,
    extra: { fraudProof?: Hash; arbiter?: string },
  ): void {
    const verdict: Verdict = {
      jobId: result.jobId,
      taskId: result.taskId,
      worker: result.worker,
      verifier: this.#self,
      root: result.root,
      outcome,
      round,
      issuedAt: now,
      ...extra,
    }
    this.#out.push({ kind: 'publish', topic: VERDICTS_TOPIC, message: { type: 'verdict', body: verdict } })
  }

  #payment(check: Check, role: 'verify' | 'arbitrate', chunks: number): void {
    if (check.creator === this.#self) return
    this.#out.push({ kind: 'payment', payer: check.creator, payee: this.#self, ...this.#ids(check), role, chunks })
  }

  #event(event: VerifierEvent): void {
    this.#out.push({ kind: 'event', event })
  }
}

/**
 * A plan the machine can carry out: a challenge names at most `MAX_CHALLENGE_CHUNKS` chunks on the wire, so a larger
 * `challengeChunks` would be cut silently and the plan's detection promise broken.
 */
function assertPlan(plan: SamplingPlan): void {
  const c = plan.challengeChunks
  if (!(plan.p >= 0 && plan.p <= 1) || !Number.isInteger(c) || c < 1 || c > MAX_CHALLENGE_CHUNKS) {
    const expected = `a plan needs p in [0, 1] and challengeChunks in [1, ${MAX_CHALLENGE_CHUNKS}]`
    throw new ProofError('PROOF__INVALID_INPUT', expected, {
      p: plan.p,
      challengeChunks: plan.challengeChunks,
    })
  }
}
