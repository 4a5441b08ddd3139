import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jobIdOf, validateBody, type Order, type OrderContent } from '../src/index.js'
import { orderBody } from './arbitraries.js'

/** The fields a job id commits to, and the ones a creator may change when it re-opens or withdraws the job. */
const COMMITTED = [
  'creator',
  'nonce',
  'kind',
  'inputs',
  'split',
  'tier',
  'maxPrice',
  'benchHoursPerTask',
  'requirements',
  'minBids',
  'deadline',
  'verification',
  'escrow',
] as const satisfies readonly (keyof OrderContent)[]

const refusedAtJobId = expect.objectContaining({
  code: 'CORE__MALFORMED_MESSAGE',
  context: expect.objectContaining({ path: ['jobId'] }),
})

describe('job ids derived from order content', () => {
  it('should refuse an order one of whose committed fields differs from what its id was derived from', () => {
    fc.assert(
      fc.property(orderBody, orderBody, fc.constantFrom(...COMMITTED), (order, other, field) => {
        const swapped = { ...order, [field]: other[field] } as Order
        fc.pre(jobIdOf(swapped) !== order.jobId)
        // A creator that signs a second order under the first one's id: every peer refuses it on decode.
        expect(() => validateBody('order', swapped)).toThrow(refusedAtJobId)
      }),
    )
  })

  it('should keep the id when the creator re-opens the bid window or withdraws the job', () => {
    fc.assert(
      fc.property(orderBody, fc.nat(), fc.nat(), fc.boolean(), (order, bidDeadline, issuedAt, cancelled) => {
        const reissued = validateBody('order', { ...order, bidDeadline, issuedAt, cancelled })
        expect(reissued.jobId).toBe(order.jobId)
      }),
    )
  })

  it('should derive one fixed id for one content, on every platform', () => {
    // Pinned: ids are stored in escrows, receipts and ledgers, so a change to the derivation must be deliberate.
    const content: OrderContent = {
      creator: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
      nonce: '0123456789abcdef',
      kind: 'render',
      inputs: ['bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'],
      split: {
        kind: 'render',
        firstFrame: 0,
        frames: 2,
        width: 256,
        height: 256,
        tileWidth: 64,
        tileHeight: 64,
        samples: 16,
      },
      tier: 2,
      maxPrice: 18_446_744_073_709_551_615n,
      benchHoursPerTask: 0.25,
      requirements: { features: ['shader-f16'], minMemoryMb: 4096 },
      minBids: 3,
      deadline: 1_700_000_060_000,
      verification: { detect: 0.99, withinTasks: 10, cheatRate: 0.1, maxOverhead: 0.2 },
      escrow: 'escrow-1',
    }
    expect(jobIdOf(content)).toBe('b055e2df0760a8d6ed05b70ece12614e')
    expect(jobIdOf({ ...content, nonce: 'fedcba9876543210' })).not.toBe('b055e2df0760a8d6ed05b70ece12614e')
  })

  it('should refuse a malformed nonce', () => {
    fc.assert(
      fc.property(orderBody, fc.constantFrom('', '0123', '0123456789ABCDEF', '0123456789abcdeg'), (order, nonce) => {
        expect(() => validateBody('order', { ...order, nonce })).toThrow(
          expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }),
        )
      }),
    )
  })
})
