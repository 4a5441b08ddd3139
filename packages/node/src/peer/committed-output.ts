import { type AbortOptions, ByteBudget, delay, isCoreError, throwIfAborted } from '@tessera/core'
import { outputMatchesCommitment } from '@tessera/proof'
import type { VerdictOutcome, VerifyRequest } from '@tessera/scheduler'
import { outputBytesBound, type OutputStore } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import { KEEP_OUTPUT_BUSY_TRIES, KEEP_OUTPUT_FIRST_PAUSE_MS, KEEP_OUTPUT_MAX_PAUSE_MS } from './constants.js'
import { errorFields } from './error-fields.js'
import { RENDER_OUTPUT_BYTES_PER_PIXEL } from './job-output.js'

/** Options of {@link keepCommittedOutput}. */
export interface KeepOptions extends AbortOptions {
  /** Marks the output as kept for good, before it is stored (see `BlobHolds`). */
  pin?: () => Promise<void>
}

/**
 * `blobs`, whose fetches from one peer run at most `perPeer` at once, the others waiting their turn (first come,
 * first served, with no stream open): a creator keeping more of one worker's outputs than the worker serves it at
 * once would otherwise be answered `busy` by its own fetches (see `KEEP_OUTPUT_FETCHES_PER_WORKER`).
 */
export function limitFetchesPerPeer(blobs: OutputStore, perPeer: number): OutputStore {
  const byPeer = new Map<string, ByteBudget>()
  // A peer nothing is fetched from nor waits on is forgotten, so turns do not pile up peer after peer.
  const forgetIdle = (peer: string, turns: ByteBudget): void => {
    if (turns.held === 0 && turns.waiting === 0 && byPeer.get(peer) === turns) byPeer.delete(peer)
  }
  return {
    put: (bytes, options) => blobs.put(bytes, options),
    fetchFrom: async (peer, cid, options = {}) => {
      let turns = byPeer.get(peer)
      if (turns === undefined) {
        turns = new ByteBudget(perPeer)
        byPeer.set(peer, turns)
      }
      const release = await turns.acquire(1, options).catch((e: unknown) => {
        forgetIdle(peer, turns)
        throw e
      })
      try {
        return await blobs.fetchFrom(peer, cid, options)
      } finally {
        release()
        forgetIdle(peer, turns)
      }
    },
  }
}

/**
 * The last step of accepting a task whose checks passed: fetch its output from the worker and keep it, so the job
 * can be assembled when the worker is gone. Sampling checked a few chunks against the Result's Merkle root; the
 * blob must be exactly what that root commits to, or a worker could commit to an honest output, answer every
 * challenge from it, and deliver another. `fail` when the blob cannot be fetched or does not match: the worker's
 * doing. A worker answering `busy` (serving as many blobs as it will) is asked again (see {@link fetchCommitted}).
 * What is this node's own is not held against the worker: an abort (the node stopping) rejects with an AbortError,
 * judging nothing, and an output this node fails to pin or store is tried again until it is kept (see
 * {@link keepFetched}). `blobs` should be limited with {@link limitFetchesPerPeer}.
 */
export async function keepCommittedOutput(
  blobs: OutputStore,
  request: VerifyRequest,
  logger: Logger,
  options: KeepOptions = {},
): Promise<VerdictOutcome> {
  const { result } = request
  const output = await fetchCommitted(blobs, request, logger, options)
  if (output === undefined) return 'fail'
  if (!outputMatchesCommitment(output, result.root, result.chunks)) {
    logger.warn({ taskId: request.taskId, worker: request.worker, bytes: output.byteLength }, 'output:mismatched')
    return 'fail'
  }
  await keepFetched(blobs, request, output, logger, options)
  return 'pass'
}

/**
 * The output of `request`, fetched from its worker; undefined when the fetch failed (`output:fetch-failed`). A worker
 * that answers `busy` is asked again after {@link KEEP_OUTPUT_FIRST_PAUSE_MS}, doubling to
 * {@link KEEP_OUTPUT_MAX_PAUSE_MS} (`output:worker-busy`), until it has done so {@link KEEP_OUTPUT_BUSY_TRIES} times:
 * an honest worker serving others is busy for a while, not for good.
 */
async function fetchCommitted(
  blobs: OutputStore,
  request: VerifyRequest,
  logger: Logger,
  options: AbortOptions,
): Promise<Uint8Array | undefined> {
  const { result, taskId, worker } = request
  // No bigger than an honest output of the task: a worker cannot make us allocate a blob it only announces.
  const maxBytes = outputBytesBound(request.order, taskId, result.chunks, RENDER_OUTPUT_BYTES_PER_PIXEL)
  for (let busy = 1, pauseMs = KEEP_OUTPUT_FIRST_PAUSE_MS; ; busy++) {
    try {
      return await blobs.fetchFrom(worker, result.output, { signal: options.signal, maxBytes })
    } catch (e) {
      throwIfAborted(options.signal)
      if (!isCoreError(e, 'CORE__PEER_BUSY') || busy >= KEEP_OUTPUT_BUSY_TRIES) {
        logger.warn({ ...errorFields(e), taskId, worker }, 'output:fetch-failed')
        return undefined
      }
      logger.info({ taskId, worker, retryInMs: pauseMs }, 'output:worker-busy')
    }
    await delay(pauseMs, options.signal)
    pauseMs = Math.min(2 * pauseMs, KEEP_OUTPUT_MAX_PAUSE_MS)
  }
}

/**
 * Pins and stores an output fetched and checked, trying again after {@link KEEP_OUTPUT_FIRST_PAUSE_MS}, doubling to
 * {@link KEEP_OUTPUT_MAX_PAUSE_MS}, while it fails (`output:keep-failed`, the disk full, say), until `options.signal`
 * aborts: the worker delivered, so its verdict waits for this node rather than fail it, and the task is paid once
 * kept. The output is held in memory meanwhile, as the worker may be gone.
 */
async function keepFetched(
  blobs: OutputStore,
  request: VerifyRequest,
  output: Uint8Array,
  logger: Logger,
  options: KeepOptions,
): Promise<void> {
  for (let pauseMs = KEEP_OUTPUT_FIRST_PAUSE_MS; ; pauseMs = Math.min(2 * pauseMs, KEEP_OUTPUT_MAX_PAUSE_MS)) {
    try {
      await options.pin?.()
      // Its bytes were checked against its CID as they arrived: stored under it, not hashed a second time.
      await blobs.put(output, { ...options, verifiedCid: request.result.output })
      return
    } catch (e) {
      throwIfAborted(options.signal)
      logger.error({ ...errorFields(e), taskId: request.taskId, retryInMs: pauseMs }, 'output:keep-failed')
    }
    await delay(pauseMs, options.signal)
  }
}
