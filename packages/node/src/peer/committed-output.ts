import { type AbortOptions, delay, throwIfAborted } from '@tessera/core'
import { outputMatchesCommitment } from '@tessera/proof'
import type { VerdictOutcome, VerifyRequest } from '@tessera/scheduler'
import { outputBytesBound, type OutputStore } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import { KEEP_OUTPUT_FIRST_PAUSE_MS, KEEP_OUTPUT_MAX_PAUSE_MS } from './constants.js'
import { errorFields } from './error-fields.js'
import { RENDER_OUTPUT_BYTES_PER_PIXEL } from './job-output.js'

/** Options of {@link keepCommittedOutput}. */
export interface KeepOptions extends AbortOptions {
  /** Marks the output as kept for good, before it is stored (see `BlobHolds`). */
  pin?: () => Promise<void>
}

/**
 * The last step of accepting a task whose checks passed: fetch its output from the worker and keep it, so the job
 * can be assembled when the worker is gone. Sampling checked a few chunks against the Result's Merkle root; the
 * blob must be exactly what that root commits to, or a worker could commit to an honest output, answer every
 * challenge from it, and deliver another. `fail` when the blob cannot be fetched or does not match: the worker's
 * doing. What is this node's own is not held against the worker: an abort (the node stopping) rejects with an
 * AbortError, judging nothing, and an output this node fails to pin or store is tried again until it is kept (see
 * {@link keepFetched}).
 */
export async function keepCommittedOutput(
  blobs: OutputStore,
  request: VerifyRequest,
  logger: Logger,
  options: KeepOptions = {},
): Promise<VerdictOutcome> {
  const { result } = request
  let output: Uint8Array
  try {
    // No bigger than an honest output of the task: a worker cannot make us allocate a blob it only announces.
    const maxBytes = outputBytesBound(request.order, request.taskId, result.chunks, RENDER_OUTPUT_BYTES_PER_PIXEL)
    output = await blobs.fetchFrom(request.worker, result.output, { signal: options.signal, maxBytes })
  } catch (e) {
    throwIfAborted(options.signal)
    logger.warn({ ...errorFields(e), taskId: request.taskId, worker: request.worker }, 'output:fetch-failed')
    return 'fail'
  }
  if (!outputMatchesCommitment(output, result.root, result.chunks)) {
    logger.warn({ taskId: request.taskId, worker: request.worker, bytes: output.byteLength }, 'output:mismatched')
    return 'fail'
  }
  await keepFetched(blobs, request, output, logger, options)
  return 'pass'
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
