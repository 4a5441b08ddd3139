/**
 * The key a task is held under: task ids are unique within a job, not across jobs. Joined flat rather than as a
 * template literal's rope, whose nodes a map would keep alive as long as the key: machines hold these keys while the
 * task is in flight, and settlement for as long as its epoch is retained.
 */
export function taskKey(jobId: string, taskId: string): string {
  return [jobId, taskId].join('\u0000')
}

/**
 * The key a check is held under: a task re-awarded after a failed check has a second worker's Result in flight
 * while the first is still being arbitrated.
 */
export function checkKey(jobId: string, taskId: string, worker: string): string {
  return [jobId, taskId, worker].join('\u0000')
}
