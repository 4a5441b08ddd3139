/**
 * Follows a job on its creator's control API until it is done and settled, the way `tessera job submit` does,
 * printing a line whenever its progress changes. Shared by render-job.ts and inference-job.ts.
 */
import type { ApiClient, JobStatus } from '@tessera/node'

const POLL_MS = 500
const DEFAULT_TIMEOUT_MS = 150_000

function describe(s: JobStatus): string {
  const settled = s.settlement?.anchor !== undefined ? ', settled' : ''
  return `  ${s.state}: ${s.verified}/${s.tasks} tasks verified, ${s.completed} done, ${s.reassigned} reassigned${settled}`
}

/**
 * Resolves with the final status once the job completed and its epoch was anchored and paid on the creator's
 * ledger (a finished job waits up to ten seconds for the workers to countersign their receipts). Rejects when
 * the job fails, is cancelled, expires, or does not finish within `timeoutMs`.
 */
export async function followJob(
  client: ApiClient,
  jobId: string,
  onLine: (line: string) => void,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const status = await client.jobStatus(jobId)
    const line = describe(status)
    if (line !== last) onLine(line)
    last = line
    if (status.state === 'failed' || status.state === 'cancelled' || status.state === 'expired') {
      throw new Error(`job ${jobId} ended ${status.state}: ${JSON.stringify(status.diagnostic ?? {})}`)
    }
    if (status.state === 'completed' && status.settlement?.anchor !== undefined) return status
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} did not complete and settle in time: ${JSON.stringify(status)}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}
