import { Fifo, type Challenge, type NetworkOutput, type Reveal, type Result, type SansIoMachine } from '@tessera/core'
import { challengeIndices } from './challenge.js'
import { type Commitment, commitOutput, openChunks } from './commitment.js'
import { DEFAULT_MAX_CHALLENGES_PER_TASK, DEFAULT_RETAIN_MS, MAX_PROVER_TASKS } from './constants.js'
import { ProofError } from './errors.js'
import { equalBytes, type Hash, type MerkleTree } from './merkle.js'
import { taskKey } from './outputs.js'
import { parseTolerance } from './tolerance.js'

/** Options of a {@link ProverMachine}. */
export interface ProverInit {
  /** This worker's peer id. */
  self: string
  /**
   * How long a task's chunks are kept to answer challenges.
   * @default 3600000 (one hour)
   */
  retainMs?: number
  /**
   * Tasks held at most. Committing one more forgets the oldest held task (event `task:released`, reason `evicted`)
   * rather than refusing the new one: its Result is on its way to the creator, who will challenge it soon, while the
   * oldest task's checks are the likeliest to be over. Raise it when a worker finishes more tasks than this within
   * the time its verifiers take to challenge.
   * @default 4096
   */
  maxTasks?: number
  /**
   * Challenges answered per task, from its creator and from all other peers together (each side its own count);
   * more are refused so other peers cannot mine a creator's output. The creator's share is its own: third peers
   * using up theirs never make its check look like a refusal.
   * @default 2
   */
  maxChallengesPerTask?: number
}

/** Inputs of the {@link ProverMachine}. */
export type ProverInput =
  /** The engine finished a task: commit to its chunks and send the Result to the creator. */
  | {
      kind: 'commit'
      jobId: string
      taskId: string
      creator: string
      chunks: readonly Uint8Array[]
      /** CID of the full output. */
      output: string
      /** Tolerance class label of the task type (`bitwise`, `relative`, `psnr:rgba8`, `psnr:rgba32f`). */
      tolerance: string
      computeMs: number
      /**
       * When the output was first committed to, for one committed again (a worker restarted between its Result and
       * a challenge): it is held for `retainMs` from then, not from now, as the first commitment would have been.
       * @default now
       */
      committedAt?: number
      /**
       * {@link commitOutput} over `chunks`, when the driver built it already (a worker records the root before the
       * Result goes out): kept as it is rather than the output hashed again, which costs as much as running a small
       * task. It must be over these chunks; a commitment of another chunk count is refused.
       * @default commitOutput(chunks)
       */
      commitment?: Commitment
    }
  /** A verifier's challenge, from the envelope's signer `from`. */
  | { kind: 'challenge'; from: string; challenge: Challenge }
  /** The task is settled: its chunks are no longer needed. */
  | { kind: 'release'; jobId: string; taskId: string }

/** What a {@link ProverMachine} reports as it commits, answers and forgets tasks. */
export type ProverEvent =
  | { name: 'task:committed'; jobId: string; taskId: string; root: Uint8Array; chunks: number }
  | { name: 'challenge:answered'; jobId: string; taskId: string; verifier: string; indices: number[] }
  /** The task's chunks are gone: settled, kept for `retainMs`, or forgotten for a newer task at `maxTasks`. */
  | { name: 'task:released'; jobId: string; taskId: string; reason: 'released' | 'expired' | 'evicted' }

/** Outputs of the {@link ProverMachine}: messages to send (the driver signs) and events. */
export type ProverOutput = NetworkOutput | { kind: 'event'; event: ProverEvent }

interface HeldTask {
  jobId: string
  taskId: string
  root: Hash
  tree: MerkleTree
  chunks: readonly Uint8Array[]
  expiresAt: number
  creator: string
  /** Challenges answered from the creator, and from every other peer together. */
  challenges: { creator: number; others: number }
}

/**
 * The worker side of verification. It commits to each finished task's output (Merkle root over its chunks) in the
 * Result body it sends the creator (the driver signs it), keeps the chunks and tree for `retainMs`, and answers
 * each challenge with the challenged chunks and their Merkle paths. It never decides what is challenged: the
 * indices come from the verifier's nonce and the root, so a worker that kept only some chunks cannot answer.
 *
 * Bad input (unknown task, a challenge for another root or worker, too many challenges) throws a coded
 * {@link ProofError} and changes nothing. A commit never fails for want of room: at `maxTasks` the oldest task is
 * forgotten, so a long-running worker keeps answering challenges for its recent Results.
 */
export class ProverMachine implements SansIoMachine<ProverInput, ProverOutput> {
  readonly #self: string
  readonly #retainMs: number
  readonly #maxTasks: number
  readonly #maxChallenges: number
  // Insertion order is expiry order: every task is retained for the same time from a non-decreasing `now`, and one
  // committed again from an earlier time is put back in its place (see #insert).
  #tasks = new Map<string, HeldTask>()
  /** The latest expiry of a task held so far (or since released): a task expiring before it is out of order. */
  #latestExpiry = -Infinity
  readonly #out = new Fifo<ProverOutput>()

  constructor(init: ProverInit) {
    this.#self = init.self
    this.#retainMs = init.retainMs ?? DEFAULT_RETAIN_MS
    this.#maxTasks = init.maxTasks ?? MAX_PROVER_TASKS
    if (!Number.isInteger(this.#maxTasks) || this.#maxTasks < 1) {
      throw new ProofError('PROOF__INVALID_INPUT', 'maxTasks must be a positive integer', { maxTasks: this.#maxTasks })
    }
    this.#maxChallenges = init.maxChallengesPerTask ?? DEFAULT_MAX_CHALLENGES_PER_TASK
  }

  handle(input: ProverInput, now: number): void {
    switch (input.kind) {
      case 'commit':
        this.#commit(input, now)
        return
      case 'challenge':
        this.#answer(input.from, input.challenge, now)
        return
      case 'release':
        this.#release(taskKey(input.jobId, input.taskId), 'released')
        return
    }
  }

  handleTimeout(now: number): void {
    for (const [key, task] of this.#tasks) {
      if (task.expiresAt > now) break
      this.#release(key, 'expired')
    }
  }

  pollOutput(): ProverOutput | undefined {
    return this.#out.shift()
  }

  pollTimeout(): number | undefined {
    return this.#tasks.values().next().value?.expiresAt
  }

  /** Tasks held. */
  get size(): number {
    return this.#tasks.size
  }

  /** Whether the output of task `taskId` of job `jobId` is held, to answer challenges. */
  holds(jobId: string, taskId: string): boolean {
    return this.#tasks.has(taskKey(jobId, taskId))
  }

  #commit(input: Extract<ProverInput, { kind: 'commit' }>, now: number): void {
    const key = taskKey(input.jobId, input.taskId)
    if (this.#tasks.has(key)) {
      throw new ProofError('PROOF__DUPLICATE_TASK', `task ${input.taskId} of job ${input.jobId} is already committed`, {
        jobId: input.jobId,
        taskId: input.taskId,
      })
    }
    parseTolerance(input.tolerance)
    const { root, tree, chunks } = this.#commitment(input)
    if (this.#tasks.size >= this.#maxTasks) this.#release(this.#tasks.keys().next().value as string, 'evicted')
    this.#insert(key, {
      jobId: input.jobId,
      taskId: input.taskId,
      root,
      tree,
      chunks: [...input.chunks],
      // Never later than a commitment made now: a time from the future would hold the output longer.
      expiresAt: Math.min(input.committedAt ?? now, now) + this.#retainMs,
      creator: input.creator,
      challenges: { creator: 0, others: 0 },
    })
    const result: Result = {
      jobId: input.jobId,
      taskId: input.taskId,
      worker: this.#self,
      root,
      chunks,
      output: input.output,
      tolerance: input.tolerance,
      computeMs: input.computeMs,
      issuedAt: now,
    }
    this.#out.push({ kind: 'send', to: input.creator, message: { type: 'result', body: result } })
    this.#out.push({
      kind: 'event',
      event: { name: 'task:committed', jobId: input.jobId, taskId: input.taskId, root, chunks },
    })
  }

  /** The commitment to a commit input's chunks: the one it brings, when it is over as many chunks, or a new one. */
  #commitment(input: Extract<ProverInput, { kind: 'commit' }>): Commitment {
    const given = input.commitment
    if (given === undefined) return commitOutput(input.chunks)
    if (given.chunks !== input.chunks.length || given.tree.size !== input.chunks.length) {
      throw new ProofError('PROOF__INVALID_INPUT', 'the commitment given is over another number of chunks', {
        chunks: input.chunks.length,
        committed: given.chunks,
      })
    }
    return given
  }

  /**
   * Holds `task`, keeping the tasks in expiry order. Only a task committed again from an earlier time expires before
   * the last one held; the tasks are then re-sorted, which is rare (a restart's challenges) and at most `maxTasks`.
   */
  #insert(key: string, task: HeldTask): void {
    this.#tasks.set(key, task)
    if (task.expiresAt >= this.#latestExpiry) {
      this.#latestExpiry = task.expiresAt
      return
    }
    this.#tasks = new Map([...this.#tasks].sort(([, a], [, b]) => a.expiresAt - b.expiresAt))
  }

  #release(key: string, reason: Extract<ProverEvent, { name: 'task:released' }>['reason']): void {
    const task = this.#tasks.get(key)
    if (task === undefined) return
    this.#tasks.delete(key)
    this.#out.push({ kind: 'event', event: { name: 'task:released', jobId: task.jobId, taskId: task.taskId, reason } })
  }

  #answer(from: string, challenge: Challenge, now: number): void {
    const task = this.#tasks.get(taskKey(challenge.jobId, challenge.taskId))
    if (task === undefined) {
      throw new ProofError('PROOF__TASK_NOT_FOUND', `no committed task ${challenge.taskId} of job ${challenge.jobId}`, {
        jobId: challenge.jobId,
        taskId: challenge.taskId,
      })
    }
    if (challenge.worker !== this.#self || challenge.verifier !== from) {
      throw new ProofError(
        'PROOF__UNEXPECTED_MESSAGE',
        'challenge names another worker, or was signed by someone else than its verifier',
        {
          worker: challenge.worker,
          verifier: challenge.verifier,
          from,
        },
      )
    }
    if (!equalBytes(challenge.root, task.root)) {
      throw new ProofError('PROOF__ROOT_MISMATCH', 'challenge names another root than the one committed', {
        taskId: challenge.taskId,
      })
    }
    const side = from === task.creator ? 'creator' : 'others'
    if (task.challenges[side] >= this.#maxChallenges) {
      throw new ProofError(
        'PROOF__CHALLENGE_LIMIT_EXCEEDED',
        `task ${challenge.taskId} was challenged ${task.challenges[side]} times already by ${side === 'creator' ? 'its creator' : 'third peers'}`,
        {
          taskId: challenge.taskId,
          max: this.#maxChallenges,
          from,
        },
      )
    }
    const indices = challengeIndices(task.root, challenge.nonce, challenge.count, task.tree.size)
    task.challenges[side]++
    const opening = openChunks(task.tree, task.chunks, indices)
    const reveal: Reveal = {
      jobId: task.jobId,
      taskId: task.taskId,
      worker: this.#self,
      root: task.root,
      indices: opening.indices,
      // The schema checks `instanceof Uint8Array`, which views of any buffer pass; only the static type is narrower.
      chunks: opening.chunks as Uint8Array<ArrayBuffer>[],
      proofs: opening.proofs,
      issuedAt: now,
    }
    this.#out.push({ kind: 'send', to: from, message: { type: 'reveal', body: reveal } })
    this.#out.push({
      kind: 'event',
      event: { name: 'challenge:answered', jobId: task.jobId, taskId: task.taskId, verifier: from, indices },
    })
  }
}
