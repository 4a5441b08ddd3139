import { environmentTables } from '../scene/environment.js'
import type { SceneEnvironment } from '../scene/environment.js'

/**
 * The CPU reference's view of a scene's environment (see `withEnvironment`): what a direction sees and how likely
 * next-event estimation is to sample it, and samples drawn by brightness. It mirrors the shader's
 * `environmentLight` and `sampleEnvironment`; results land in fields.
 */
export class EnvironmentLight {
  readonly #f: Float32Array
  readonly #width: number
  readonly #height: number
  readonly #radiance: number
  readonly #rows: number
  readonly #columns: number
  /** Cosine and sine of the rotation, as the shader's uniform holds them (f32). */
  readonly #cos: number
  readonly #sin: number
  /** The last `lookup` or `sample`: radiance, direction (samples only), and the density per solid angle. */
  r = 0
  g = 0
  b = 0
  dx = 0
  dy = 0
  dz = 0
  pdf = 0

  constructor(aux: Float32Array, env: SceneEnvironment) {
    this.#f = aux
    this.#width = env.width
    this.#height = env.height
    const tables = environmentTables(env)
    this.#radiance = tables.radiance
    this.#rows = tables.rows
    this.#columns = tables.columns
    this.#cos = Math.fround(Math.cos(env.rotation))
    this.#sin = Math.fround(Math.sin(env.rotation))
  }

  /** What a ray leaving the scene in unit direction d sees, and the density of sampling d. */
  lookup(dx: number, dy: number, dz: number): void {
    const w = this.#width
    const h = this.#height
    const x = dx * this.#cos - dz * this.#sin
    const z = dx * this.#sin + dz * this.#cos
    const u = Math.atan2(z, x) * (0.5 / Math.PI) + 0.5
    const v = Math.acos(Math.min(1, Math.max(-1, dy))) / Math.PI
    const col = Math.min(Math.floor(Math.max(u * w, 0)), w - 1)
    const row = Math.min(Math.floor(Math.max(v * h, 0)), h - 1)
    this.#density(row, col, Math.sqrt(Math.max(0, 1 - dy * dy)))
    this.#radianceAt(u, v)
  }

  /** A direction drawn in proportion to the texels' weights from random numbers r1 (the row) and r2 (the texel). */
  sample(r1: number, r2: number): void {
    const w = this.#width
    const h = this.#height
    const row = this.#search(this.#rows, h, r1)
    const rowStart = this.#columns + row * w
    const col = this.#search(rowStart, w, r2)
    const [rowLo, rowHi] = this.#step(this.#rows, row)
    const [colLo, colHi] = this.#step(rowStart, col)
    const v = (row + (r1 - rowLo) / (rowHi - rowLo)) / h
    const u = (col + (r2 - colLo) / (colHi - colLo)) / w
    const theta = v * Math.PI
    const phi = (u - 0.5) * 2 * Math.PI
    const sinTheta = Math.sin(theta)
    const ex = sinTheta * Math.cos(phi)
    const ez = sinTheta * Math.sin(phi)
    this.dx = ex * this.#cos + ez * this.#sin
    this.dy = Math.cos(theta)
    this.dz = ez * this.#cos - ex * this.#sin
    this.#density(row, col, sinTheta)
    this.#radianceAt(u, v)
  }

  /**
   * The radiance at (u, v), filtered bilinearly between texel centres, wrapping round in u and held at the poles
   * in v (the shader's `environmentRadiance`).
   */
  #radianceAt(u: number, v: number): void {
    const w = this.#width
    const h = this.#height
    const x = u * w - 0.5
    const y = Math.min(Math.max(v * h - 0.5, 0), h - 1)
    const x0 = Math.floor(x)
    const fx = x - x0
    const c0 = (x0 + w) % w
    const c1 = (c0 + 1) % w
    const r0 = Math.min(Math.floor(y), h - 1)
    const r1 = Math.min(r0 + 1, h - 1)
    const fy = y - r0
    const f = this.#f
    const at = (row: number, col: number, c: number): number => f[this.#radiance + (row * w + col) * 3 + c]!
    const mix = (a: number, b: number, t: number): number => a + (b - a) * t
    const channel = (c: number): number =>
      mix(mix(at(r0, c0, c), at(r0, c1, c), fx), mix(at(r1, c0, c), at(r1, c1, c), fx), fy)
    this.r = channel(0)
    this.g = channel(1)
    this.b = channel(2)
  }

  /** The density per solid angle of sampling texel (row, col) at polar sine `sinTheta`. */
  #density(row: number, col: number, sinTheta: number): void {
    const [rowLo, rowHi] = this.#step(this.#rows, row)
    const [colLo, colHi] = this.#step(this.#columns + row * this.#width, col)
    this.pdf =
      sinTheta > 0
        ? ((rowHi - rowLo) * (colHi - colLo) * this.#width * this.#height) / (2 * Math.PI * Math.PI * sinTheta)
        : 0
  }

  /** The first entry of the cumulative distribution of `count` floats from `first` that exceeds r. */
  #search(first: number, count: number, r: number): number {
    let lo = 0
    let hi = count - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (r < this.#f[first + mid]!) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Entry i of that distribution: its cumulative value and the one before it (0 for the first). */
  #step(first: number, i: number): [number, number] {
    return [i > 0 ? this.#f[first + i - 1]! : 0, this.#f[first + i]!]
  }
}
