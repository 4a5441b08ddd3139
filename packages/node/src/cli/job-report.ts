import type { JobStatus, JobSummary } from '../api/contract.js'

/**
 * What `tessera job status` and `job submit` print for people: a headline, then who did the work, what was slashed
 * and how the job settled. `--json` prints the same status whole, for programs.
 */

/** One line: state and progress. */
export function jobHeadline(status: JobStatus): string {
  const eta = status.etaMs !== undefined && status.state === 'running' ? `, ETA ${duration(status.etaMs)}` : ''
  return `${status.jobId} ${status.state}: ${status.verified}/${status.tasks} verified, ${status.completed} done, ${status.reassigned} re-auctions${eta}`
}

/** The lines under the headline; none for a job that has nothing more to say yet. */
export function jobDetails(status: JobStatus): string[] {
  const lines: string[] = []
  const d = status.diagnostic
  if (d !== undefined) {
    const { seen = 0, eligible = 0, bids = 0, needed = 0, ...excluded } = d
    const reasons = Object.entries(excluded).filter(([, n]) => n > 0)
    lines.push(
      `bids: ${bids} of ${needed} needed; ${eligible} of ${seen} capacity records eligible` +
        (reasons.length > 0 ? `; excluded by ${reasons.map(([reason, n]) => `${reason} ${n}`).join(', ')}` : ''),
    )
  }
  const verification = status.verification
  if (verification !== undefined) {
    const { detect, cheatRate } = verification.budget
    const unit = (n: number) => `${n} ${status.frames !== undefined ? 'row' : 'item'}${n === 1 ? '' : 's'}`
    const plans = verification.plans.map(
      (p) =>
        `tasks of ${unit(p.chunks)}: ${pct(p.p)} checked, ${unit(p.challengeChunks)} recomputed each, ` +
        `overhead ${pct(p.overhead)}, within ${p.withinTasks} tasks`,
    )
    lines.push(`verification: a cheater wrong on ${pct(cheatRate)} of its tasks is caught with ${pct(detect)}`)
    for (const plan of plans) lines.push(`  ${plan}`)
  }
  const peers = new Set([...Object.keys(status.leases ?? {}), ...Object.keys(status.workers ?? {})])
  if (peers.size > 0) lines.push('workers:')
  for (const peer of [...peers].sort()) {
    const outcome = status.workers?.[peer] ?? { accepted: 0, rejected: 0 }
    const away = status.reassignedFrom?.[peer] ?? 0
    lines.push(
      `  ${peer}: ${status.leases?.[peer] ?? 0} leased, ${outcome.accepted} accepted, ${outcome.rejected} rejected` +
        (away > 0 ? `, ${away} re-auctioned away` : ''),
    )
  }
  for (const s of status.slashed ?? []) {
    lines.push(
      `slashed ${s.worker} (wallet ${s.payee}): bond of ${s.amount ?? 'an unknown amount'} forfeited in transaction ${s.signature}`,
    )
  }
  const settlement = status.settlement
  if (settlement !== undefined) {
    lines.push(
      `settlement: epoch ${settlement.epoch}, ${settlement.receipts}/${settlement.expected} receipts` +
        (settlement.anchor !== undefined ? `, anchored in ${settlement.anchor}` : ', not anchored yet'),
    )
    for (const [payee, amount] of Object.entries(settlement.paid).sort()) lines.push(`  paid ${payee}: ${amount}`)
    const refund = settlement.refunded !== undefined ? `, refunded ${settlement.refunded}` : ''
    lines.push(`  fee ${settlement.fee}${refund}`)
    for (const signature of settlement.payouts) lines.push(`  payout transaction ${signature}`)
  }
  return lines
}

/** A fraction as a percentage, as short as it reads right (99.9%, 10%, 5.6%). */
function pct(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(3))}%`
}

/** `status` as people read it: the headline (unless `headline` is false) and its details, newline-terminated. */
export function jobReport(status: JobStatus, { headline = true }: { headline?: boolean } = {}): string {
  const details = jobDetails(status)
  return (headline ? [jobHeadline(status), ...details] : details).map((line) => `${line}\n`).join('')
}

/** Milliseconds as `1h 2m`, `3m 4s` or `5s`. */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${s}s`
}

/** `tessera job list` for people: one aligned row per job, newest first, under a header. */
export function jobTable(jobs: readonly JobSummary[]): string {
  const rows = [
    ['JOB', 'STATE', 'VERIFIED', 'ORDERED'],
    ...jobs.map((j) => [j.jobId, j.state, `${j.verified}/${j.tasks}`, new Date(j.orderedAt).toISOString()]),
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('')
}
