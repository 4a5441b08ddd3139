import { describe, expect, it } from 'vitest'
import type { JobStatus } from '../src/api/contract.js'
import { jobDetails, jobHeadline, jobReport } from '../src/cli/job-report.js'

const W1 = '12D3KooWBY1ipRko5tEfyRz5UksavWyyr5raLTkWeYgGyB7iibpV'
const W2 = '12D3KooWEZ9v4wUDK5iCBJYpfdXrUCL9z6jhKYSL14KpXhhNp88r'

describe('job report (what `tessera job status` prints)', () => {
  it('should say who did the work, who was slashed and how the job settled', () => {
    const status: JobStatus = {
      jobId: 'abc',
      state: 'completed',
      tasks: 4,
      completed: 4,
      verified: 4,
      reassigned: 1,
      leases: { [W1]: 3, [W2]: 2 },
      reassignedFrom: { [W2]: 1 },
      workers: { [W1]: { accepted: 3, rejected: 0 }, [W2]: { accepted: 1, rejected: 1 } },
      slashed: [{ worker: W2, jobId: 'abc', payee: 'Wallet222', signature: 'sigSlash', amount: '1000' }],
      settlement: {
        epoch: 2,
        expected: 4,
        receipts: 4,
        anchor: 'sigAnchor',
        payouts: ['sigPay'],
        paid: { PayeeB: '99', PayeeA: '297' },
        fee: '4',
        refunded: '400',
      },
    }
    expect(jobReport(status).split('\n')).toEqual([
      'abc completed: 4/4 verified, 4 done, 1 re-auctions',
      'workers:',
      `  ${W1}: 3 leased, 3 accepted, 0 rejected`,
      `  ${W2}: 2 leased, 1 accepted, 1 rejected, 1 re-auctioned away`,
      `slashed ${W2} (wallet Wallet222): bond of 1000 forfeited in transaction sigSlash`,
      'settlement: epoch 2, 4/4 receipts, anchored in sigAnchor',
      '  paid PayeeA: 297',
      '  paid PayeeB: 99',
      '  fee 4, refunded 400',
      '  payout transaction sigPay',
      '',
    ])
  })

  it('should give a running job its ETA and an unmatched order the reasons nobody bid', () => {
    const running: JobStatus = {
      jobId: 'j',
      state: 'running',
      tasks: 8,
      completed: 2,
      verified: 1,
      reassigned: 0,
      etaMs: 125_000,
    }
    expect(jobHeadline(running)).toBe('j running: 1/8 verified, 2 done, 0 re-auctions, ETA 2m 5s')
    expect(jobDetails(running)).toEqual([])
    const unmatched: JobStatus = {
      ...running,
      state: 'bidding',
      diagnostic: { seen: 6, eligible: 2, bids: 1, needed: 3, expired: 0, tier: 0, features: 1, price: 3 },
    }
    expect(jobHeadline(unmatched)).not.toMatch(/ETA/)
    expect(jobDetails(unmatched)).toEqual([
      'bids: 1 of 3 needed; 2 of 6 capacity records eligible; excluded by features 1, price 3',
    ])
  })

  it('should say how the job is checked, per task size', () => {
    const status: JobStatus = {
      jobId: 'v',
      state: 'running',
      tasks: 9,
      completed: 0,
      verified: 0,
      reassigned: 0,
      frames: { first: 0, count: 1 },
      verification: {
        budget: { detect: 0.999, withinTasks: 688, cheatRate: 0.1, maxOverhead: 0.1 },
        plans: [
          { chunks: 8, p: 0.7992, challengeChunks: 1, overhead: 0.0999, withinTasks: 688 },
          { chunks: 64, p: 0.8974, challengeChunks: 4, overhead: 0.05609, withinTasks: 688 },
        ],
      },
    }
    expect(jobDetails(status)).toEqual([
      'verification: a cheater wrong on 10% of its tasks is caught with 99.9%',
      '  tasks of 8 rows: 79.9% checked, 1 row recomputed each, overhead 9.99%, within 688 tasks',
      '  tasks of 64 rows: 89.7% checked, 4 rows recomputed each, overhead 5.61%, within 688 tasks',
    ])
  })
})
