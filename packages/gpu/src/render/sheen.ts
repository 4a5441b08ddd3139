/**
 * KHR_materials_sheen's lobe: the back-scattering of fibres on cloth and velvet. As the extension specifies, the
 * Charlie distribution (Estevez and Kulla 2017, "Production Friendly Microfacet Sheen BRDF") with alpha = sheen
 * roughness², and Ashikhmin's visibility term as Neubelt and Pettineo 2013 write it. Its directional albedo E, which
 * dims the layers beneath (the extension's albedo scaling), comes from a table this module integrates once; the
 * kernel reads the same table from the scene buffer, so both implementations look up the same numbers.
 */

/** Table samples along n·v and along perceptual sheen roughness. */
export const SHEEN_TABLE_SIDE = 16
/** Words of the albedo table in a sheened scene's `aux`. */
export const SHEEN_TABLE_WORDS = SHEEN_TABLE_SIDE * SHEEN_TABLE_SIDE
/**
 * Least perceptual sheen roughness. Below it the Charlie lobe's exponent 1 / alpha passes 200 and its peak at
 * grazing angles is too thin for a table of 16 angles, let alone f32.
 */
export const MIN_SHEEN_ROUGHNESS = 0.07
/** The table's first n·v: its row starts just off grazing, where the visibility term's limit is still finite. */
const MIN_COS = 1e-3

/** The Charlie distribution of `alpha` at n·h: (2 + 1 / alpha) sin(θh)^(1 / alpha) / 2π. */
export function charlieDistribution(alpha: number, nDotH: number): number {
  const sin2 = Math.max(1 - nDotH * nDotH, 0)
  return ((2 + 1 / alpha) * Math.pow(sin2, 0.5 / alpha)) / (2 * Math.PI)
}

/** Ashikhmin's visibility term: 1 / (4 (n·l + n·v - n·l n·v)). */
export function sheenVisibility(nDotL: number, nDotV: number): number {
  return 1 / (4 * (nDotL + nDotV - nDotL * nDotV))
}

/** The table's perceptual roughness at row j and cosine at column i. */
function tableRoughness(j: number): number {
  return MIN_SHEEN_ROUGHNESS + ((1 - MIN_SHEEN_ROUGHNESS) * j) / (SHEEN_TABLE_SIDE - 1)
}
function tableCos(i: number): number {
  return MIN_COS + ((1 - MIN_COS) * i) / (SHEEN_TABLE_SIDE - 1)
}

let table: Float32Array | undefined

/**
 * The sheen lobe's directional albedo E(n·v, roughness) = ∫ D V n·l dω (colour 1) on a 16 x 16 grid, row j at
 * roughness MIN + (1 - MIN) j / 15, column i at n·v = 0.001 + 0.999 i / 15: integrated in f64 by the midpoint rule
 * over 64 x 64 directions the first time it is asked for (about 1 M evaluations, under 0.1 s), then kept.
 */
export function sheenAlbedoTable(): Float32Array {
  if (table !== undefined) return table
  const out = new Float32Array(SHEEN_TABLE_WORDS)
  const steps = 64
  for (let j = 0; j < SHEEN_TABLE_SIDE; j++) {
    const r = tableRoughness(j)
    const alpha = r * r
    for (let i = 0; i < SHEEN_TABLE_SIDE; i++) {
      const nv = tableCos(i)
      const vx = Math.sqrt(1 - nv * nv)
      let sum = 0
      // Uniform in cos θ over the hemisphere (dω = d(cos θ) dφ), φ over [0, π] twice by symmetry.
      for (let a = 0; a < steps; a++) {
        const nl = (a + 0.5) / steps
        const sl = Math.sqrt(1 - nl * nl)
        for (let b = 0; b < steps; b++) {
          const phi = (Math.PI * (b + 0.5)) / steps
          const lx = sl * Math.cos(phi)
          const ly = sl * Math.sin(phi)
          const hx = vx + lx
          const hz = nv + nl
          const nh = hz / Math.sqrt(hx * hx + ly * ly + hz * hz)
          sum += charlieDistribution(alpha, nh) * sheenVisibility(nl, nv) * nl
        }
      }
      out[j * SHEEN_TABLE_SIDE + i] = (sum * 2 * Math.PI) / (steps * steps)
    }
  }
  table = out
  return out
}

/**
 * E at cosine c and perceptual roughness r, bilinear between the table's samples (c and r clamped to its range):
 * the shader's `sheenAlbedo`, computed in f32 steps alike.
 */
export function sheenAlbedo(t: Float32Array, c: number, r: number): number {
  const x = Math.fround(
    (Math.min(Math.max(c, MIN_COS), 1) - MIN_COS) * Math.fround((SHEEN_TABLE_SIDE - 1) / (1 - MIN_COS)),
  )
  const y = Math.fround(
    (Math.min(Math.max(r, MIN_SHEEN_ROUGHNESS), 1) - MIN_SHEEN_ROUGHNESS) *
      Math.fround((SHEEN_TABLE_SIDE - 1) / (1 - MIN_SHEEN_ROUGHNESS)),
  )
  const i = Math.min(Math.floor(x), SHEEN_TABLE_SIDE - 2)
  const j = Math.min(Math.floor(y), SHEEN_TABLE_SIDE - 2)
  const fx = x - i
  const fy = y - j
  const at = (jj: number, ii: number): number => t[jj * SHEEN_TABLE_SIDE + ii]!
  const top = at(j, i) * (1 - fx) + at(j, i + 1) * fx
  const bottom = at(j + 1, i) * (1 - fx) + at(j + 1, i + 1) * fx
  return Math.fround(top * (1 - fy) + bottom * fy)
}

/** WGSL of the same lobe and lookup, spliced into kernels built for sheened scenes (`aux` and `params` in scope). */
export const SHEEN_WGSL = /* wgsl */ `
fn charlieDistribution(alpha: f32, nDotH: f32) -> f32 {
  let sin2 = max(1.0 - nDotH * nDotH, 0.0);
  return (2.0 + 1.0 / alpha) * pow(sin2, 0.5 / alpha) / (2.0 * PI);
}

fn sheenVisibility(nDotL: f32, nDotV: f32) -> f32 {
  return 1.0 / (4.0 * (nDotL + nDotV - nDotL * nDotV));
}

// The sheen lobe's directional albedo at cosine c and perceptual roughness r, bilinear in the table at word
// params.tables.x of aux (see sheen.ts).
fn sheenAlbedo(c: f32, r: f32) -> f32 {
  let x = (clamp(c, ${MIN_COS}, 1.0) - ${MIN_COS}) * ${Math.fround((SHEEN_TABLE_SIDE - 1) / (1 - MIN_COS))};
  let y = (clamp(r, ${MIN_SHEEN_ROUGHNESS}, 1.0) - ${MIN_SHEEN_ROUGHNESS}) * ${Math.fround((SHEEN_TABLE_SIDE - 1) / (1 - MIN_SHEEN_ROUGHNESS))};
  let i = min(u32(x), ${SHEEN_TABLE_SIDE - 2}u);
  let j = min(u32(y), ${SHEEN_TABLE_SIDE - 2}u);
  let fx = x - f32(i);
  let fy = y - f32(j);
  let o = params.tables.x + j * ${SHEEN_TABLE_SIDE}u + i;
  let top = bitcast<f32>(aux[o]) * (1.0 - fx) + bitcast<f32>(aux[o + 1u]) * fx;
  let bottom = bitcast<f32>(aux[o + ${SHEEN_TABLE_SIDE}u]) * (1.0 - fx) + bitcast<f32>(aux[o + ${SHEEN_TABLE_SIDE + 1}u]) * fx;
  return top * (1.0 - fy) + bottom * fy;
}
`
