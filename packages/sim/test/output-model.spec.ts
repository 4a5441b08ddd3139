import { seededRng } from '@tessera/core'
import { compareChunks, parseTolerance } from '@tessera/proof'
import { describe, expect, it } from 'vitest'
import { ChunkKind, OutputModel } from '../src/models/output.js'

const model = new OutputModel({ pixelsPerChunk: 64, honestNoise: 0.5, renderNoise: 26 })
const psnr = parseTolerance('psnr:rgba8')

function passRate(kind: ChunkKind, noise = 0): number {
  const rng = seededRng(5)
  let ok = 0
  for (let i = 0; i < 400; i++) {
    const produced = model.produce(1234, i, kind, rng, noise)
    if (compareChunks(psnr, produced, model.reference(1234, i)).ok) ok++
  }
  return ok / 400
}

describe('OutputModel', () => {
  it('should give the same reference for the same task and chunk', () => {
    expect(model.reference(7, 3)).toEqual(model.reference(7, 3))
    expect(model.reference(7, 3)).not.toEqual(model.reference(7, 4))
    expect(model.reference(7, 3)).toHaveLength(256)
  })

  it('should keep honest chunks within the PSNR tolerance', () => {
    expect(passRate(ChunkKind.Honest)).toBe(1)
  })

  it('should fail wrong chunks', () => {
    expect(passRate(ChunkKind.Wrong)).toBe(0)
  })

  it('should fail very lazy renders and pass mildly lazy ones', () => {
    expect(passRate(ChunkKind.Lazy, model.lazyNoise(0.1))).toBe(0)
    expect(passRate(ChunkKind.Lazy, model.lazyNoise(0.97))).toBe(1)
  })

  describe('diverged pixels', () => {
    const diverging = new OutputModel({ pixelsPerChunk: 128, honestNoise: 0.5, renderNoise: 26, divergedPixels: 0.01 })
    const chunks = Array.from({ length: 2000 }, (_, i) => ({
      i,
      produced: diverging.produce(99, i, ChunkKind.Honest, seededRng(i), 0, seededRng(10_000 + i)),
    }))
    /** Pixels whose colour is far from the reference (honest noise moves a channel a level or two). */
    const far = (produced: Uint8Array, i: number): number => {
      const ref = diverging.reference(99, i)
      let n = 0
      for (let p = 0; p < ref.length; p += 4) {
        const d = Math.max(...[0, 1, 2].map((c) => Math.abs(produced[p + c]! - ref[p + c]!)))
        if (d > 8) n++
      }
      return n
    }

    it('should give about that share of honest pixels unrelated values, and none without a stream', () => {
      const pixels = chunks.reduce((n, { produced, i }) => n + far(produced, i), 0)
      // 2,000 x 128 pixels at 1%, less the 3% of unrelated values that land within 8 levels of the reference.
      expect(pixels / (2000 * 128)).toBeGreaterThan(0.0085)
      expect(pixels / (2000 * 128)).toBeLessThan(0.0105)
      expect(far(diverging.produce(99, 0, ChunkKind.Honest, seededRng(0)), 0)).toBe(0)
      expect(diverging.produce(99, 5, ChunkKind.Honest, seededRng(1), 0, seededRng(2))).toEqual(
        diverging.produce(99, 5, ChunkKind.Honest, seededRng(1), 0, seededRng(2)),
      )
    })

    it("should pass honest chunks under the verifier's outlier allowance and fail many under a plain PSNR", () => {
      const checked = parseTolerance('psnr:rgba8')
      const plain = parseTolerance('psnr:rgba8', { psnrOutlierFraction: 0 })
      const failing = (t: typeof plain): number =>
        chunks.filter(({ produced, i }) => !compareChunks(t, produced, diverging.reference(99, i)).ok).length
      // 4 outliers are allowed per 128 pixels; 5 or more at 1% happens in about 1 chunk of 100.
      expect(failing(checked)).toBeLessThan(60)
      // One unrelated pixel in 128 often takes a row under 30 dB: about 70% of chunks have at least one.
      expect(failing(plain)).toBeGreaterThan(600)
    })
  })
})
