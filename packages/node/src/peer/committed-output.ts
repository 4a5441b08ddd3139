import type { AbortOptions } from '@tessera/core'
import { outputMatchesCommitment } from '@tessera/proof'
import type { VerdictOutcome, VerifyRequest } from '@tessera/scheduler'
import { outputBytesBound, type OutputStore } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
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
 * challenge from it, and deliver another. `fail` when the blob cannot be fetched or does not match.
 */
export async function keepCommittedOutput(
  blobs: OutputStore,
  request: VerifyRequest,
  logger: Logger,
  options: KeepOptions = {},
): Promise<VerdictOutcome> {
  const { result } = request
  try {
    // No bigger than an honest output of the task: a worker cannot make us allocate a blob it only announces.
    const maxBytes = outputBytesBound(request.order, request.taskId, result.chunks, RENDER_OUTPUT_BYTES_PER_PIXEL)
    const output = await blobs.fetchFrom(request.worker, result.output, { signal: options.signal, maxBytes })
    if (!outputMatchesCommitment(output, result.root, result.chunks)) {
      logger.warn({ taskId: request.taskId, worker: request.worker, bytes: output.byteLength }, 'output:mismatched')
      return 'fail'
    }
    await options.pin?.()
    // Its bytes were checked against its CID as they arrived: stored under it, not hashed a second time.
    await blobs.put(output, { ...options, verifiedCid: result.output })
    return 'pass'
  } catch (e) {
    logger.warn({ err: String(e), taskId: request.taskId, worker: request.worker }, 'output:fetch-failed')
    return 'fail'
  }
}
