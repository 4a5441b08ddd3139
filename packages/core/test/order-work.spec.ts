import { describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeCanonical,
  inferenceTaskFlops,
  jobIdOf,
  MAX_FLOPS_PER_TASK,
  MAX_PIXEL_SAMPLES_PER_TASK,
  MAX_TILE_PIXELS,
  type InferenceSplit,
  type Order,
  type OrderContent,
  type RenderSplit,
  renderTaskPixels,
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
    // A 2048x2048 tile at 65,536 samples: 2.7e11 pixel-samples, each field and the tile's pixels within their bounds.
    const order = orderOf({ tileWidth: 2048, tileHeight: 2048 })
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
    // 2048 x 2048 x 1024 = 2^32.
    const at = orderOf({ tileWidth: 2048, tileHeight: 2048, samples: 1024 })
    expect(renderTaskPixelSamples(at.split as RenderSplit)).toBe(MAX_PIXEL_SAMPLES_PER_TASK)
    expect(validateBody('order', at).jobId).toBe(at.jobId)
    const past = orderOf({ tileWidth: 2048, tileHeight: 2049, samples: 1024 })
    expect(() => validateBody('order', past)).toThrow(expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }))
  })

  it('should take a tile past MAX_TILE_PIXELS, which only some devices hold: each worker decides, not the wire', () => {
    // The largest task the pixel-sample bound allows at 256 samples, valid before MAX_TILE_PIXELS: 2^24 pixels, whose
    // 256 MiB output a GPU with large storage buffers renders. Refused, it would be dropped and its relayers penalised.
    const order = orderOf({ width: 4096, height: 4096, tileWidth: 4096, tileHeight: 4096, samples: 256 })
    expect(renderTaskPixels(order.split as RenderSplit)).toBe(2 * MAX_TILE_PIXELS)
    expect(validateBody('order', order).jobId).toBe(order.jobId)
    expect(decodeMessage('order', encodeCanonical(order))).toEqual(order)
    // A 16384x16384 tile at 16 samples too: within the pixel-sample bound, for a device with 4 GiB buffers.
    const huge = orderOf({ samples: 16 })
    expect(validateBody('order', huge).jobId).toBe(huge.jobId)
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

  /** An inference order of `split`, its id derived from its content. */
  const inferenceOrder = (split: Omit<InferenceSplit, 'kind'>): Order => {
    const { jobId: _, ...content } = { ...orderOf({}), kind: 'inference' as const }
    const withSplit = { ...content, split: { kind: 'inference' as const, ...split } }
    return { jobId: jobIdOf(withSplit), ...withSplit }
  }

  it("should carry an inference order's declared FLOPs per item, under its job id", () => {
    const order = inferenceOrder({ items: 64, itemsPerTask: 16, flopsPerItem: 8_000_000 })
    const decoded = decodeMessage('order', encodeCanonical(order))
    expect(decoded.split).toEqual({ kind: 'inference', items: 64, itemsPerTask: 16, flopsPerItem: 8_000_000 })
    expect(inferenceTaskFlops(decoded.split as InferenceSplit)).toBe(16 * 8_000_000)
    // The declaration is part of what the id derives from: another figure under the same id is refused.
    const restated = { ...order, split: { ...order.split, flopsPerItem: 1 } }
    expect(() => validateBody('order', restated)).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE', context: { type: 'order', path: ['jobId'] } }),
    )
    // An order from before the field declares none: valid, its work unknown.
    const older = inferenceOrder({ items: 64, itemsPerTask: 16 })
    expect(inferenceTaskFlops(validateBody('order', older).split as InferenceSplit)).toBeUndefined()
  })

  it('should refuse an inference task of more declared FLOPs than MAX_FLOPS_PER_TASK, or a figure that is no count', () => {
    const at = inferenceOrder({ items: 1024, itemsPerTask: 1024, flopsPerItem: MAX_FLOPS_PER_TASK / 1024 })
    expect(validateBody('order', at).jobId).toBe(at.jobId)
    // Tasks are clipped to the items: 4 items of 2^45 FLOPs in tasks of 1024 are 2^47 a task.
    const clipped = inferenceOrder({ items: 4, itemsPerTask: 1024, flopsPerItem: MAX_FLOPS_PER_TASK / 4 })
    expect(validateBody('order', clipped).jobId).toBe(clipped.jobId)
    const refusal = expect.objectContaining({
      code: 'CORE__MALFORMED_MESSAGE',
      context: { type: 'order', path: ['split', 'flopsPerItem'] },
    })
    const past = inferenceOrder({ items: 1024, itemsPerTask: 1024, flopsPerItem: MAX_FLOPS_PER_TASK / 1024 + 1 })
    expect(() => validateBody('order', past)).toThrow(refusal)
    expect(() => decodeMessage('order', encodeCanonical(past))).toThrow(refusal)
    for (const flopsPerItem of [0, -1, 1.5, MAX_FLOPS_PER_TASK + 1]) {
      expect(() => validateBody('order', inferenceOrder({ items: 1, itemsPerTask: 1, flopsPerItem }))).toThrow(refusal)
    }
  })
})
