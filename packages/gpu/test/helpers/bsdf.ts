import { SurfaceBrdf, type BrdfMaterial } from '../../src/render/brdf.js'

/**
 * Evaluates `brdf` at the centres of an 800 x 800 grid of equal solid angles over the whole sphere (uniform in cos θ
 * and φ, n = +z), calling `visit` after each with cos θ and the cell's solid angle: brute-force integration.
 */
export function overSphere(brdf: SurfaceBrdf, visit: (cosTheta: number, dOmega: number) => void): void {
  const steps = 800
  const dOmega = (4 * Math.PI) / (steps * steps)
  for (let i = 0; i < steps; i++) {
    const cosTheta = 1 - (2 * (i + 0.5)) / steps
    const sinTheta = Math.sqrt(1 - cosTheta * cosTheta)
    for (let j = 0; j < steps; j++) {
      const phi = (2 * Math.PI * (j + 0.5)) / steps
      brdf.evaluate(sinTheta * Math.cos(phi), sinTheta * Math.sin(phi), cosTheta)
      visit(cosTheta, dOmega)
    }
  }
}

/** What {@link samplingReport} found: Monte Carlo figures from sampling, and brute-force integrals to compare. */
export interface SamplingReport {
  /** The pdf integrated over the sphere (1 when every drawn direction is counted by the lobes that can draw it). */
  mass: number
  /** The pdf's mass below the surface, and the share of samples that went there. */
  massBelow: number
  below: number
  /** The mean of f |cos| / pdf over samples, and f |cos| integrated over the sphere: equal for an unbiased estimator. */
  sampled: number
  integrated: number
}

/**
 * Samples `material` at normal +z seen from unit direction v, `n` times with a fixed-seed generator, and integrates
 * it by brute force ({@link overSphere}), red channel.
 */
export function samplingReport(material: BrdfMaterial, v: [number, number, number], n = 200_000): SamplingReport {
  const brdf = new SurfaceBrdf()
  brdf.set(0, 0, 1, v[0], v[1], v[2], material)
  let rng = 12345
  const random = (): number => (rng = (rng * 1664525 + 1013904223) >>> 0) / 2 ** 32
  let sampled = 0
  let below = 0
  for (let i = 0; i < n; i++) {
    brdf.sample(random(), random(), random())
    const len = Math.hypot(brdf.lx, brdf.ly, brdf.lz)
    const [lx, ly, lz] = [brdf.lx / len, brdf.ly / len, brdf.lz / len]
    brdf.evaluate(lx, ly, lz)
    if (brdf.pdf > 0) sampled += (brdf.fr * Math.abs(lz)) / brdf.pdf / n
    if (lz < 0) below++
  }
  let integrated = 0
  let mass = 0
  let massBelow = 0
  overSphere(brdf, (cosTheta, dOmega) => {
    integrated += brdf.fr * Math.abs(cosTheta) * dOmega
    mass += brdf.pdf * dOmega
    if (cosTheta < 0) massBelow += brdf.pdf * dOmega
  })
  return { mass, massBelow, below: below / n, sampled, integrated }
}

/**
 * The directional albedo of `material` at normal +z seen head-on: f |cos| integrated over the whole sphere (what a
 * white furnace shows), and the part of it below the surface (let through).
 */
export function headOnAlbedo(material: BrdfMaterial): { albedo: number; through: number } {
  const brdf = new SurfaceBrdf()
  brdf.set(0, 0, 1, 0, 0, 1, material)
  let albedo = 0
  let through = 0
  overSphere(brdf, (cosTheta, dOmega) => {
    const e = brdf.fr * Math.abs(cosTheta) * dOmega
    albedo += e
    if (cosTheta < 0) through += e
  })
  return { albedo, through }
}

/**
 * The BSDF inputs of a grey dielectric of glTF's default ior (F0 0.04) that lets `transmission` of its diffuse
 * through: thin-walled, or with `eta` (η_v / η_l) on the surface of a volume.
 */
export function brdfGlass(grey: number, roughness: number, transmission: number, eta?: number): BrdfMaterial {
  return {
    r: grey,
    g: grey,
    b: grey,
    metallic: 0,
    roughness,
    f0r: 0.04,
    f0g: 0.04,
    f0b: 0.04,
    specular: 1,
    transmission,
    ...(eta === undefined ? {} : { eta }),
  }
}
