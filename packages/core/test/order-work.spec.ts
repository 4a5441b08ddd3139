import { describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeCanonical,
  jobIdOf,
  MAX_PIXEL_SAMPLES_PER_TASK,
  type Order,
  type OrderContent,
  type RenderSplit,
  renderTaskPixelSamples,
  validateBody,
} from '../src/index.js'

/** An order for one frame of `split` (a render of the largest tiles the field bounds allow, unless told). */
function orderOf(split: Partial<RenderSplit>): Order {
  const content: OrderContent & { bidDeadline: number; issuedAt: number } = {
    creator: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
    nonce: '0123456789abcdef',
    kind: 'render',
    inputs: ['bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'],
    split: {
      kind: 'render',
      firstFrame: 0,
      frames: 1,
      width: 16_384,
      height: 16_384,
      tileWidth: 16_384,
      tileHeight: 16_384,
      samples: 65_536,
      ...split,
    },
    tier: 2,
    maxPrice: 100n,
    benchHoursPerTask: 0,
    requirements: { features: [], minMemoryMb: 0 },
    bidDeadline: 1_000,
    minBids: 1,
    deadline: 60_000,
    verification: { detect: 0.9, withinTasks: 10, cheatRate: 0.1, maxOverhead: 0.2 },
    escrow: 'escrow-1',
    issuedAt: 0,
  }
  return { jobId: jobIdOf(content), ...content }
}

describe('order split work bound', () => {
  it('should refuse a render task of more pixel-samples than MAX_PIXEL_SAMPLES_PER_TASK', () => {
    // A 16384x16384 tile at 65,536 samples: 1.8e13 pixel-samples, each field within its own bound.
    const order = orderOf({})
    expect(() => validateBody('order', order)).toThrow(
      expect.objectContaining({
        code: 'CORE__MALFORMED_MESSAGE',
        context: { type: 'order', path: ['split', 'samples'] },
      }),
    )
    expect(() => decodeMessage('order', encodeCanonical(order))).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }),
    )
  })

  it('should refuse one pixel-sample past the bound and take the bound itself', () => {
    // 4096 x 4096 x 256 = 2^32.
    const at = orderOf({ width: 4096, height: 4096, tileWidth: 4096, tileHeight: 4096, samples: 256 })
    expect(renderTaskPixelSamples(at.split as RenderSplit)).toBe(MAX_PIXEL_SAMPLES_PER_TASK)
    expect(validateBody('order', at).jobId).toBe(at.jobId)
    const past = orderOf({ width: 4096, height: 4097, tileWidth: 4096, tileHeight: 4097, samples: 256 })
    expect(() => validateBody('order', past)).toThrow(expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }))
  })

  it('should reckon a tile larger than its image as the image', () => {
    // Tiles are clipped to the image: a 64x64 image at 65,536 samples is 2^28 pixel-samples whatever the tile side.
    const order = orderOf({ width: 64, height: 64, samples: 65_536 })
    expect(renderTaskPixelSamples(order.split as RenderSplit)).toBe(2 ** 28)
    expect(validateBody('order', order).jobId).toBe(order.jobId)
  })

  it('should leave inference splits alone', () => {
    const order = orderOf({})
    const inference = {
      ...order,
      kind: 'inference' as const,
      split: { kind: 'inference' as const, items: 64, itemsPerTask: 64 },
    }
    const { jobId: _, ...content } = inference
    expect(validateBody('order', { ...inference, jobId: jobIdOf(content) }).split.kind).toBe('inference')
  })
})
