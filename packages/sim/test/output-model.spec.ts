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
})
