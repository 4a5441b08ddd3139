/**
 * The path tracer's random numbers, shared bit-for-bit by the WGSL kernel (see `pathtracer-wgsl.ts`) and the CPU
 * reference. A sample's stream is seeded by hashing (frame, pixel x, pixel y, sample index) and nothing else:
 * never by workgroup, invocation or tile. So any pixel re-rendered alone, in any tile shape, draws the same numbers.
 */

/** PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0
  return ((word >>> 22) ^ word) >>> 0
}

/** The initial RNG state of one sample of one pixel of one frame. */
export function sampleSeed(frame: number, x: number, y: number, sample: number): number {
  return pcgHash((sample >>> 0) ^ pcgHash((y >>> 0) ^ pcgHash((x >>> 0) ^ pcgHash(frame >>> 0))))
}

/** A stream of uniform floats in [0, 1) with 24 random bits each (exact in f32, so CPU and GPU agree). */
export class SampleRng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  next(): number {
    this.#state = pcgHash(this.#state)
    return (this.#state >>> 8) * (1 / 16777216)
  }
}

/** WGSL of the same functions; spliced into the path-tracing kernel. */
export const RNG_WGSL = /* wgsl */ `
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn sampleSeed(frame: u32, x: u32, y: u32, s: u32) -> u32 {
  return pcgHash(s ^ pcgHash(y ^ pcgHash(x ^ pcgHash(frame))));
}

fn nextRandom(state: ptr<function, u32>) -> f32 {
  *state = pcgHash(*state);
  return f32(*state >> 8u) * (1.0 / 16777216.0);
}
`
