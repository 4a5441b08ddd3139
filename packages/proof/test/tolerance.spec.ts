import { seededRng, type Rng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import {
  compareChunks,
  parseTolerance,
  psnr,
  toleranceLabel,
  validateToleranceOptions,
  type ToleranceClass,
} from '../src/index.js'
import { f32, fromF32 } from './harness.js'

const rng = seededRng(7)
const uniform = (r: Rng): number => r.nextU32() / 2 ** 32
const gauss = (r: Rng): number => Math.sqrt(-2 * Math.log(1 - uniform(r))) * Math.cos(2 * Math.PI * uniform(r))

/** Moves a float32 by `ulps` units in the last place. */
function ulpStep(x: number, ulps: number): number {
  const view = new DataView(new ArrayBuffer(4))
  view.setFloat32(0, x)
  const bits = view.getInt32(0)
  view.setInt32(0, bits + (x < 0 ? -ulps : ulps))
  return view.getFloat32(0)
}

/** One output slice of a matrix product, accumulated in float32 in the given order (as one driver would). */
function matmulRow(a: Float32Array[], b: Float32Array, order: 'forward' | 'backward' | 'pairwise'): Float32Array {
  return Float32Array.from(a, (row) => {
    const terms = Array.from(row, (v, k) => Math.fround(v * (b[k] as number)))
    if (order === 'pairwise') {
      let level = terms
      while (level.length > 1) {
        const next: number[] = []
        for (let i = 0; i < level.length; i += 2) next.push(Math.fround((level[i] as number) + (level[i + 1] ?? 0)))
        level = next
      }
      return level[0] as number
    }
    const seq = order === 'forward' ? terms : [...terms].reverse()
    return seq.reduce((s, t) => Math.fround(s + t), 0)
  })
}

const RELATIVE = parseTolerance('relative')
const RGBA8 = parseTolerance('psnr:rgba8')
const RGBA32F = parseTolerance('psnr:rgba32f')

describe('tolerance classes', () => {
  it('should parse labels with the verifier thresholds and print them back', () => {
    expect(parseTolerance('relative', { rtol: 1e-2 })).toEqual({ kind: 'relative', rtol: 1e-2, atolScale: 1e-4 })
    expect(parseTolerance('psnr:rgba32f')).toEqual({
      kind: 'psnr',
      format: 'rgba32f',
      minPsnrDb: 30,
      outlierFraction: 1 / 32,
    })
    expect(parseTolerance('psnr:rgba8', { minPsnrDb: 35, psnrOutlierFraction: 0 })).toEqual({
      kind: 'psnr',
      format: 'rgba8',
      minPsnrDb: 35,
      outlierFraction: 0,
    })
    for (const label of ['bitwise', 'relative', 'psnr:rgba8', 'psnr:rgba32f'])
      expect(toleranceLabel(parseTolerance(label))).toBe(label)
    expect(() => parseTolerance('psnr')).toThrow(expect.objectContaining({ code: 'PROOF__UNKNOWN_TOLERANCE' }))
  })

  it('bitwise should pass only identical bytes', () => {
    const bitwise: ToleranceClass = { kind: 'bitwise' }
    expect(compareChunks(bitwise, Uint8Array.of(1, 2), Uint8Array.of(1, 2)).ok).toBe(true)
    expect(compareChunks(bitwise, Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toEqual({
      ok: false,
      metric: 1,
      reason: 'bytes',
    })
    expect(compareChunks(bitwise, Uint8Array.of(1), Uint8Array.of(1, 3)).reason).toBe('length')
  })

  it('relative should pass ULP-level noise on 1,000 tensor slices', () => {
    for (let t = 0; t < 1000; t++) {
      const ref = Array.from({ length: 64 }, () => gauss(rng) * 10 ** ((t % 7) - 3))
      const noisy = ref.map((v) => ulpStep(Math.fround(v), Math.round((uniform(rng) - 0.5) * 16)))
      expect(compareChunks(RELATIVE, f32(noisy), f32(ref)).ok).toBe(true)
    }
  })

  it('relative should pass float32 sums taken in another order, as another GPU would', () => {
    for (let t = 0; t < 200; t++) {
      const k = 256
      const a = Array.from({ length: 16 }, () => Float32Array.from({ length: k }, () => gauss(rng)))
      const b = Float32Array.from({ length: k }, () => gauss(rng))
      const ref = matmulRow(a, b, 'forward')
      for (const order of ['backward', 'pairwise'] as const) {
        const other = matmulRow(a, b, order)
        const c = compareChunks(RELATIVE, f32(other), f32(ref))
        expect(c.ok, `metric ${c.metric}`).toBe(true)
      }
    }
  })

  it('relative should catch a wrong or low-precision tensor', () => {
    const ref = Array.from({ length: 64 }, () => gauss(rng))
    const bf16 = fromF32(f32(ref)).map((v) => {
      const view = new DataView(new ArrayBuffer(4))
      view.setFloat32(0, v)
      view.setUint32(0, view.getUint32(0) & 0xffff0000)
      return view.getFloat32(0)
    })
    expect(compareChunks(RELATIVE, f32(bf16), f32(ref)).ok).toBe(false)
    const scaled = ref.map((v) => v * 1.01)
    expect(compareChunks(RELATIVE, f32(scaled), f32(ref))).toMatchObject({ ok: false, reason: 'error' })
    const oneWrong = [...ref]
    oneWrong[17] = 0
    expect(compareChunks(RELATIVE, f32(oneWrong), f32(ref)).ok).toBe(false)
  })

  it('relative should match NaN with NaN and infinities exactly, and ignore subnormal flushing', () => {
    expect(compareChunks(RELATIVE, f32([NaN, Infinity, 1]), f32([NaN, Infinity, 1])).ok).toBe(true)
    expect(compareChunks(RELATIVE, f32([NaN, 1]), f32([0, 1])).reason).toBe('nan')
    expect(compareChunks(RELATIVE, f32([-Infinity, 1]), f32([Infinity, 1])).ok).toBe(false)
    expect(compareChunks(RELATIVE, f32([1e-40, 0]), f32([0, 0])).ok).toBe(true)
    expect(compareChunks(RELATIVE, f32([1, 2]), f32([1, 2, 3])).reason).toBe('length')
    expect(compareChunks(RELATIVE, new Uint8Array(6), new Uint8Array(6)).reason).toBe('length')
  })

  it('psnr:rgba8 should pass per-pixel rounding noise on 1,000 image rows and fail a low-sample render', () => {
    for (let t = 0; t < 1000; t++) {
      const ref = Uint8Array.from({ length: 64 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (uniform(rng) * 256) | 0))
      const noisy = ref.map((v, i) =>
        i % 4 === 3 ? v : Math.min(255, Math.max(0, v + Math.round((uniform(rng) - 0.5) * 4))),
      )
      const c = compareChunks(RGBA8, noisy, ref)
      expect(c.ok, `psnr ${c.metric}`).toBe(true)
    }
    const ref = Uint8Array.from({ length: 64 * 4 }, () => 128)
    const fewSamples = ref.map((v, i) =>
      i % 4 === 3 ? v : Math.min(255, Math.max(0, Math.round(v + gauss(rng) * 24))),
    )
    expect(compareChunks(RGBA8, fewSamples, ref)).toMatchObject({ ok: false, reason: 'psnr' })
  })

  it('psnr:rgba32f should pass relative noise in linear radiance and fail visible noise', () => {
    for (let t = 0; t < 200; t++) {
      const ref = Array.from({ length: 32 * 4 }, (_, i) => (i % 4 === 3 ? 1 : uniform(rng) * 2))
      const noisy = ref.map((v) => v * (1 + (uniform(rng) - 0.5) * 1e-3))
      expect(compareChunks(RGBA32F, f32(noisy), f32(ref)).ok).toBe(true)
      const fewSamples = ref.map((v, i) => (i % 4 === 3 ? v : Math.max(0, v + gauss(rng) * 0.2)))
      expect(compareChunks(RGBA32F, f32(fewSamples), f32(ref)).ok).toBe(false)
    }
  })

  it('psnr should be infinite for identical pixels and undefined for mismatched shapes', () => {
    expect(psnr(Uint8Array.of(1, 2, 3, 4), Uint8Array.of(1, 2, 3, 4), 'rgba8')).toBe(Infinity)
    expect(psnr(Uint8Array.of(0, 0, 0, 255), Uint8Array.of(255, 255, 255, 255), 'rgba8')).toBeCloseTo(0, 9)
    expect(psnr(Uint8Array.of(10, 10, 10, 0), Uint8Array.of(10, 10, 10, 255), 'rgba8')).toBe(Infinity)
    // Linear radiance is compared after clamping and sRGB encoding: values above 1 all show as white.
    expect(psnr(f32([2, 3, 4, 1]), f32([1, 1, 1, 1]), 'rgba32f')).toBe(Infinity)
    const d = 0.7353569830524495 - 0.5370987304831942
    expect(psnr(f32([0.5, 0.5, 0.5, 1]), f32([0.25, 0.5, 0.5, 1]), 'rgba32f')).toBeCloseTo(
      10 * Math.log10(3 / d ** 2),
      6,
    )
    expect(psnr(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3), 'rgba8')).toBeNaN()
    expect(psnr(f32([1, 1, 1, 1]), f32([1, 1, 1]), 'rgba32f')).toBeNaN()
    expect(compareChunks(RGBA8, Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)).reason).toBe('length')
    expect(compareChunks(RGBA32F, f32([NaN, 0, 0, 1]), f32([0, 0, 0, 1])).reason).toBe('nan')
  })

  it('should reject thresholds out of range, naming the option', () => {
    for (const [options, option] of [
      [{ minPsnrDb: Number.NaN }, 'minPsnrDb'],
      [{ minPsnrDb: 0 }, 'minPsnrDb'],
      [{ rtol: -1e-4 }, 'rtol'],
      [{ atolScale: Infinity }, 'atolScale'],
      [{ psnrOutlierFraction: 0.5 }, 'psnrOutlierFraction'],
      [{ psnrOutlierFraction: -0.01 }, 'psnrOutlierFraction'],
      [{ psnrOutlierFraction: '1/32' as unknown as number }, 'psnrOutlierFraction'],
    ] as const) {
      expect(() => validateToleranceOptions(options), option).toThrow(
        expect.objectContaining({ code: 'PROOF__INVALID_INPUT', context: expect.objectContaining({ option }) }),
      )
      expect(() => parseTolerance('relative', options)).toThrow(
        expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
      )
    }
    expect(() => validateToleranceOptions({ psnrOutlierFraction: 0.25, minPsnrDb: 40, rtol: 0 })).not.toThrow()
  })

  describe('outlier pixels', () => {
    // A dark 128-pixel row of linear radiance, and the same row where a rounding difference sent single samples elsewhere:
    // a few pixels far off, the rest equal to the last bit (what Dawn's two lavapipe backends give at 1 spp).
    const width = 128
    const row = Array.from({ length: width * 4 }, (_, i) => (i % 4 === 3 ? 1 : 0.01 + uniform(rng) * 0.04))
    const withFireflies = (count: number): number[] =>
      row.map((v, i) => (i % 4 !== 3 && Math.floor(i / 4) % 29 === 3 && Math.floor(i / 4 / 29) < count ? 1 : v))

    it('should pass an honest row with a diverged pixel that fails the plain metric', () => {
      const one = f32(withFireflies(1))
      expect(psnr(one, f32(row), 'rgba32f')).toBeLessThan(30)
      expect(compareChunks(parseTolerance('psnr:rgba32f', { psnrOutlierFraction: 0 }), one, f32(row))).toMatchObject({
        ok: false,
      })
      expect(compareChunks(RGBA32F, one, f32(row))).toMatchObject({ ok: true, metric: Infinity })
    })

    it('should leave out floor(pixels / 32) pixels and no more', () => {
      // 128 pixels: four outliers are forgiven, a fifth is not (29-pixel spacing puts all five in the row).
      expect(compareChunks(RGBA32F, f32(withFireflies(4)), f32(row)).ok).toBe(true)
      expect(compareChunks(RGBA32F, f32(withFireflies(5)), f32(row))).toMatchObject({ ok: false, reason: 'psnr' })
      // A chunk under 32 pixels has no allowance.
      const short = row.slice(0, 31 * 4)
      const shortBad = withFireflies(1).slice(0, 31 * 4)
      expect(compareChunks(RGBA32F, f32(shortBad), f32(short)).ok).toBe(false)
      // rgba8 counts the same way.
      const ref8 = Uint8Array.from(row, (v) => Math.round(v * 255))
      const bad8 = ref8.map((v, i) => (i % 4 !== 3 && Math.floor(i / 4) < 5 ? 255 - v : v))
      expect(compareChunks(RGBA8, bad8, ref8).ok).toBe(false)
      expect(
        compareChunks(
          RGBA8,
          bad8.map((v, i) => (Math.floor(i / 4) === 4 ? ref8[i]! : v)),
          ref8,
        ).ok,
      ).toBe(true)
    })

    it('should still fail lazy work, whose noise is in every pixel, and a NaN in any pixel', () => {
      const lazy = row.map((v, i) => (i % 4 === 3 ? v : Math.max(0, v + gauss(rng) * 0.1)))
      expect(compareChunks(RGBA32F, f32(lazy), f32(row))).toMatchObject({ ok: false, reason: 'psnr' })
      expect(
        compareChunks(parseTolerance('psnr:rgba32f', { psnrOutlierFraction: 1 / 4 }), f32(lazy), f32(row)).ok,
      ).toBe(false)
      const nan = [...row]
      nan[0] = Number.NaN
      expect(compareChunks(RGBA32F, f32(nan), f32(row))).toMatchObject({ ok: false, reason: 'nan' })
    })
  })
})
