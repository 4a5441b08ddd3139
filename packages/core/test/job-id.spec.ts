import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encodeCanonical,
  environmentLightingSchema,
  inferenceSplitSchema,
  jobIdOf,
  orderSchema,
  renderSplitSchema,
  validateBody,
  type Order,
  type OrderContent,
  type RenderSplit,
} from '../src/index.js'
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

/** A field's content, canonical: a panorama's `visible` left out means true. */
function canonicalField(order: Order, field: (typeof COMMITTED)[number]): string {
  const value = order[field]
  const e = field === 'split' && order.split.kind === 'render' ? order.split.environment : undefined
  const normal = e === undefined ? value : { ...order.split, environment: { ...e, visible: e.visible ?? true } }
  return Buffer.from(encodeCanonical(normal)).toString('hex')
}

/** The content whose id the tests pin. */
const PINNED: OrderContent = {
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

/** Paths to every number, string, boolean and bigint in a value. */
function leafPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...path, i]))
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...path, k]))
  return [path]
}

/** A deep copy with the leaf at `path` changed. */
function mutated<T>(value: T, path: readonly (string | number)[]): T {
  if (path.length === 0) {
    switch (typeof value) {
      case 'number':
        return (value === 0 ? 1 : value * 2) as T
      case 'bigint':
        return (value - 1n) as T
      case 'boolean':
        return !value as T
      default:
        return `${String(value)}x` as T
    }
  }
  const [head, ...rest] = path
  const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<string | number, unknown>
  copy[head as string | number] = mutated(copy[head as string | number], rest)
  return copy as T
}

const refusedAtJobId = expect.objectContaining({
  code: 'CORE__MALFORMED_MESSAGE',
  context: expect.objectContaining({ path: ['jobId'] }),
})

describe('job ids derived from order content', () => {
  it('should refuse an order one of whose committed fields differs from what its id was derived from', () => {
    fc.assert(
      fc.property(orderBody, orderBody, fc.constantFrom(...COMMITTED), (order, other, field) => {
        const swapped = { ...order, [field]: other[field] } as Order
        // Whenever the content differs, not whenever the id does: that would hide a field the id leaves out.
        fc.pre(canonicalField(swapped, field) !== canonicalField(order, field))
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
    expect(jobIdOf(PINNED)).toBe('b055e2df0760a8d6ed05b70ece12614e')
    expect(jobIdOf({ ...PINNED, nonce: 'fedcba9876543210' })).not.toBe('b055e2df0760a8d6ed05b70ece12614e')
    const environment = { intensity: 1.5, rotation: 0.25 }
    expect(jobIdOf({ ...PINNED, split: { ...(PINNED.split as RenderSplit), environment } })).toBe(
      '2d181f2786e4be7478ea60247f66c102',
    )
  })

  it("should commit to a render's panorama lighting, so a second order cannot relight an honest worker's output", () => {
    const base = validateBody(
      'order',
      fc.sample(
        orderBody.filter((o) => o.split.kind === 'render'),
        { seed: 7, numRuns: 1 },
      )[0],
    )
    const split = { ...(base.split as RenderSplit), environment: undefined }
    const content = { ...base, split }
    const lit = (environment: RenderSplit['environment']): string =>
      jobIdOf({ ...content, split: { ...split, environment } })
    const ids = [
      lit(undefined),
      lit({ intensity: 1, rotation: 0 }),
      lit({ intensity: 2, rotation: 0 }),
      lit({ intensity: 1, rotation: 0.5 }),
      lit({ intensity: 1, rotation: 0, visible: false }),
    ]
    expect(new Set(ids).size).toBe(ids.length)
    // Absent and true mean the same: one id.
    expect(lit({ intensity: 1, rotation: 0, visible: true })).toBe(ids[1])
    // The order the first id was derived from, relit under it: refused on decode.
    const relit = { ...content, jobId: ids[1], split: { ...split, environment: { intensity: 1, rotation: 0.5 } } }
    expect(() => validateBody('order', relit)).toThrow(refusedAtJobId)
  })

  it('should change the id when any leaf of the content changes, every field of the schemas included', () => {
    // Every optional field present, so a field added to Order and left out of jobIdOf fails here.
    const render: OrderContent = {
      ...PINNED,
      split: {
        ...(PINNED.split as RenderSplit),
        environment: { intensity: 1.5, rotation: 0.25, visible: false },
        fps: 24,
        animation: 'walk',
      },
    }
    const inference: OrderContent = {
      ...PINNED,
      kind: 'inference',
      split: { kind: 'inference', items: 64, itemsPerTask: 8, flopsPerItem: 1_000_000 },
    }
    const keys = (o: object): string[] => Object.keys(o).sort()
    const uncommitted = ['jobId', 'bidDeadline', 'issuedAt', 'cancelled']
    expect(keys(render)).toEqual(keys(orderSchema.shape).filter((k) => !uncommitted.includes(k)))
    expect(keys(render.split)).toEqual(keys(renderSplitSchema.shape))
    expect(keys(inference.split)).toEqual(keys(inferenceSplitSchema.shape))
    expect(keys((render.split as RenderSplit).environment as object)).toEqual(keys(environmentLightingSchema.shape))
    for (const content of [render, inference]) {
      const id = jobIdOf(content)
      for (const path of leafPaths(content)) {
        if (path.join('.') === 'split.kind') continue // the layout's tag: another kind reads other fields
        expect(jobIdOf(mutated(content, path)), path.join('.')).not.toBe(id)
      }
    }
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
