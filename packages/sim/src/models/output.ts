import { seededRng, type Rng } from '@tessera/core'

/**
 * Task outputs, modelled as small images: each chunk is `pixelsPerChunk` RGBA8 pixels. The reference (what a
 * verifier recomputes) is a fixed function of the task and chunk; what a worker commits to is the reference plus
 * noise whose size depends on how the worker behaved. The proof package's own PSNR tolerance class then decides
 * whether a revealed chunk passes: the simulator never decides detection itself.
 *
 * Noise model (8-bit levels, RMS): honest workers differ from the reference by `honestNoise` (other GPUs and
 * drivers round differently). A lazy worker that renders with a fraction s of the samples adds Monte Carlo noise
 * whose variance grows as 1/s: RMS = sqrt(honestNoise² + renderNoise² (1/s − 1)). A cheater's wrong chunk is
 * unrelated bytes. The defaults follow `@tessera/gpu`'s measurements: honest renders on two drivers agree far above
 * the 30 dB PSNR bar, and a render with a quarter of the samples scores 12 to 18 dB, which `renderNoise` = 26
 * levels reproduces (about 15 dB at s = 1/4); so a render below about 90% of the samples fails the bar. Honest
 * chunks also carry `divergedPixels`: rare pixels with unrelated values, which the verifier's outlier allowance
 * (`@tessera/proof`'s `psnrOutlierFraction`) forgives and a plain PSNR does not.
 */
export interface OutputModelConfig {
  pixelsPerChunk: number
  /** RMS difference between two honest renders on different hardware, 8-bit levels. */
  honestNoise: number
  /** RMS Monte Carlo noise of a full-sample render against the converged image, 8-bit levels. */
  renderNoise: number
  /**
   * Share of an honest chunk's pixels that another driver's rounding sent down another path: each takes an
   * unrelated value, as a diverged sample does at low sample counts. Default 0.
   */
  divergedPixels?: number
}

/** How a worker produced a chunk. */
export const ChunkKind = Object.freeze({ Honest: 0, Lazy: 1, Wrong: 2 } as const)
export type ChunkKind = (typeof ChunkKind)[keyof typeof ChunkKind]

/** The standard deviation of the sum of four uniform bytes, which {@link OutputModel} uses as a cheap normal. */
const FOUR_BYTES_SD = 255 * Math.sqrt(4 / 12)

/** Makes the reference chunk of a task and what an honest, lazy or cheating worker commits to instead. */
export class OutputModel {
  readonly config: OutputModelConfig
  readonly chunkBytes: number

  constructor(config: OutputModelConfig) {
    this.config = config
    this.chunkBytes = config.pixelsPerChunk * 4
  }

  /** The exact output a verifier recomputes for chunk `index` of the task seeded `taskSeed`. */
  reference(taskSeed: number, index: number): Uint8Array {
    const rng = seededRng((taskSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0)
    const out = new Uint8Array(this.chunkBytes)
    for (let i = 0; i < out.length; i += 4) {
      const x = rng.nextU32()
      // Mid-range values, so honest noise is never clipped.
      out[i] = 32 + (x & 0xbf)
      out[i + 1] = 32 + ((x >>> 8) & 0xbf)
      out[i + 2] = 32 + ((x >>> 16) & 0xbf)
      out[i + 3] = 255
    }
    return out
  }

  /** The RMS noise of a lazy render with `sampleFraction` of the samples. */
  lazyNoise(sampleFraction: number): number {
    const { honestNoise, renderNoise } = this.config
    return Math.sqrt(honestNoise * honestNoise + renderNoise * renderNoise * (1 / sampleFraction - 1))
  }

  /**
   * What a worker commits to for one chunk. `rng` is the worker's own stream; `lazyNoise` the RMS for lazy chunks;
   * `divergence` the stream that picks an honest chunk's diverged pixels (none without it).
   */
  produce(taskSeed: number, index: number, kind: ChunkKind, rng: Rng, lazyNoise = 0, divergence?: Rng): Uint8Array {
    const out = this.reference(taskSeed, index)
    if (kind === ChunkKind.Wrong) {
      for (let i = 0; i < out.length; i += 4) {
        const x = rng.nextU32()
        out[i] = x & 0xff
        out[i + 1] = (x >>> 8) & 0xff
        out[i + 2] = (x >>> 16) & 0xff
        out[i + 3] = (x >>> 24) & 0xff
      }
      return out
    }
    if (kind === ChunkKind.Honest && divergence !== undefined && (this.config.divergedPixels ?? 0) > 0) {
      this.#diverge(out, divergence)
    }
    const rms = kind === ChunkKind.Lazy ? lazyNoise : this.config.honestNoise
    if (rms === 0) return out
    const scale = rms / FOUR_BYTES_SD
    for (let i = 0; i < out.length; i++) {
      const x = rng.nextU32()
      const sum = (x & 0xff) + ((x >>> 8) & 0xff) + ((x >>> 16) & 0xff) + (x >>> 24) - 510
      const v = Math.round((out[i] as number) + sum * scale)
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v
    }
    return out
  }

  /**
   * Gives each pixel an unrelated colour with probability `divergedPixels`. The gaps between diverged pixels are
   * geometric, so a chunk costs one draw plus one per diverged pixel rather than one per pixel.
   */
  #diverge(out: Uint8Array, rng: Rng): void {
    const logKeep = Math.log1p(-(this.config.divergedPixels as number))
    const gap = (): number => Math.floor(Math.log1p(-rng.nextU32() / 2 ** 32) / logKeep)
    for (let p = gap(); p < out.length / 4; p += 1 + gap()) {
      const x = rng.nextU32()
      out[p * 4] = x & 0xff
      out[p * 4 + 1] = (x >>> 8) & 0xff
      out[p * 4 + 2] = (x >>> 16) & 0xff
    }
  }
}

/** A task's output seed: FNV-1a over its id, so every peer derives the same reference for the same task. */
export function taskSeed(taskId: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < taskId.length; i++) {
    h ^= taskId.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}
