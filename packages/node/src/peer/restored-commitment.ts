import { type AbortOptions, type Blobstore, ByteBudget, type Clock, parseBlobCid } from '@tessera/core'
import { type Commitment, commitOutput, DEFAULT_RETAIN_MS } from '@tessera/proof'
import { equals } from 'uint8arrays/equals'
import type { Committed } from './receipts.js'

/**
 * Restores reading an output at once, at most: each reads a whole output (up to hundreds of megabytes) into memory,
 * and anyone can send challenges, so a flood of them naming held tasks must not read them all at once. The others
 * wait their turn; two keep a restarted worker's answers flowing well within a verifier's reveal timeout.
 */
export const MAX_CONCURRENT_RESTORES = 2

/**
 * How an output splits into its chunks (the Merkle leaves of its Result), as runs of `[chunk bytes, count]` in
 * order: a tile's rows or a batch's items are one run, so a record stays small whatever the chunk count.
 */
export type ChunkRuns = Array<[bytes: number, count: number]>

/** The runs of `chunks`' lengths. */
export function chunkRunsOf(chunks: readonly Uint8Array[]): ChunkRuns {
  const runs: ChunkRuns = []
  for (const chunk of chunks) {
    const last = runs.at(-1)
    if (last !== undefined && last[0] === chunk.byteLength) last[1]++
    else runs.push([chunk.byteLength, 1])
  }
  return runs
}

/** `bytes` cut into the chunks `runs` describe (views, no copies); undefined when they do not add up to it. */
export function splitByRuns(bytes: Uint8Array, runs: ChunkRuns): Uint8Array[] | undefined {
  const total = runs.reduce((sum, [size, count]) => sum + size * count, 0)
  if (total !== bytes.byteLength) return undefined
  const chunks: Uint8Array[] = []
  let at = 0
  for (const [size, count] of runs) {
    for (let i = 0; i < count; i++, at += size) chunks.push(bytes.subarray(at, at + size))
  }
  return chunks
}

/** What the prover needs to hold a committed output again: its `commit` input. */
export interface RestoredCommitment {
  jobId: string
  taskId: string
  creator: string
  chunks: Uint8Array[]
  output: string
  tolerance: string
  computeMs: number
  /** When it was first committed to (ms): the prover holds it for as long from then as it held the first. */
  committedAt: number
  /** The commitment to `chunks`, built to check the root: the prover holds it rather than build it again. */
  commitment: Commitment
}

/** Where {@link restoreCommitment} reads from. */
export interface RestoreCommitmentParts {
  /** What the worker remembered of each result it committed to (`ReceiptExchange.committedRecord`). */
  committed: (taskId: string, options?: AbortOptions) => Promise<Committed | undefined>
  /** The local blob store, where the output is held until it is paid for. */
  store: Pick<Blobstore, 'get' | 'has'>
  clock: Clock
  /** How long a prover holds an output to answer challenges. @default DEFAULT_RETAIN_MS */
  retainMs?: number
  /** Restores reading an output at once, at most. @default MAX_CONCURRENT_RESTORES */
  maxConcurrent?: number
}

/**
 * Worker side: a result committed to before a restart, rebuilt for the prover from what the worker remembered on
 * disk (its record and held output), so a challenge that comes after the restart is still answered; a challenge left
 * unanswered reads as a refusal, and the task goes unpaid. Undefined when there is nothing to rebuild: no record of
 * that task in that job, a record of an older version (no chunk layout), another root than the challenge names, one
 * committed longer ago than the prover holds outputs, or an output no longer held or not matching its root. At most
 * `maxConcurrent` restores read an output at once; the others wait their turn (or for `options.signal`).
 */
export function restoreCommitment(
  parts: RestoreCommitmentParts,
): (
  jobId: string,
  taskId: string,
  root: Uint8Array,
  options?: AbortOptions,
) => Promise<RestoredCommitment | undefined> {
  const retainMs = parts.retainMs ?? DEFAULT_RETAIN_MS
  // One unit a restore: the budget counts restores reading, not bytes.
  const reading = new ByteBudget(parts.maxConcurrent ?? MAX_CONCURRENT_RESTORES)
  return async (jobId, taskId, root, options = {}) => {
    const record = await parts.committed(taskId, options)
    if (record === undefined || record.jobId !== jobId || !equals(record.root, root)) return undefined
    const { output, chunkRuns, tolerance, at } = record
    if (output === undefined || chunkRuns === undefined || tolerance === undefined || at === undefined) return undefined
    const heldOut = () => parts.clock.now() - at >= retainMs
    if (heldOut()) return undefined
    const release = await reading.acquire(1, options)
    try {
      // Again once its turn has come: a restore that waited past the hold has nothing left to answer.
      if (heldOut()) return undefined
      const cid = parseBlobCid(output)
      if (!(await parts.store.has(cid, options))) return undefined
      const chunks = splitByRuns(await parts.store.get(cid, options), chunkRuns)
      if (chunks === undefined) return undefined
      const commitment = commitOutput(chunks)
      if (!equals(commitment.root, root)) return undefined
      return {
        jobId,
        taskId,
        creator: record.creator,
        chunks,
        output,
        tolerance,
        computeMs: 0,
        committedAt: at,
        commitment,
      }
    } finally {
      release()
    }
  }
}
