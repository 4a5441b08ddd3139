import {
  RAY_EPSILON,
  RAY_EPSILON_RELATIVE,
  RENDER_WORKGROUP,
  RUSSIAN_ROULETTE_DEPTH,
  SHADOW_SEED,
} from '../constants.js'
import { MATERIAL_ROWS } from '../scene/scene.js'
import { BRDF_WGSL } from './brdf.js'
import { PLAIN_KERNEL, type KernelFeatures } from './kernel-features.js'
import { RNG_WGSL } from './rng.js'

/** Bytes of the path tracer's uniform parameter block (see `Params` in the shader). */
export const PATH_TRACER_PARAMS_BYTES = 224

/** The parameter block, shared by the tracing and the reducing kernel. */
const PARAMS_WGSL = /* wgsl */ `
struct Params {
  image: vec4u,      // image width, image height, tile x, tile y
  tile: vec4u,       // tile width, rows in this dispatch, frame, max depth
  samples: vec4u,    // first sample, samples per group, total samples, first row (index into rows)
  camPos: vec4f,     // xyz, tan(yfov / 2), or -ymag for an orthographic camera
  camRight: vec4f,   // xyz, aspect (width / height)
  camUp: vec4f,      // xyz, light count (u32 bits)
  camForward: vec4f, // xyz, total light power (see Scene.lightPower)
  background: vec4f,
  groups: vec4u,     // sample groups in this dispatch, finalize (1 = the last groups: write the mean), carry (1 =
                     // the one group goes on from the pixel's running sum in accum)
  aux: vec4u,        // word offsets in aux of the decoding tables, the texture coordinates, the tangents, the vertex colours
  punctual: vec4u,   // word offset in aux of the punctual lights, their count, 1 if some material is unlit, 1 if some
                     // material has a specular texture
  tables: vec4u,     // word offsets in aux of the sheen albedo table (SHEEN kernels), TEXCOORD_1, the texture
                     // transforms; 1 where camera rays see the background colour rather than the environment
  environment: vec4u, // word offset in aux of the environment's radiance (0 for none), its width, height, and the
                      // word offset of its row distribution (its rows' texel distributions follow)
  lighting: vec4f,   // the punctual lights' and the environment's shares of light samples (see lightShares), the
                     // cosine and sine of the environment's rotation
}

@group(0) @binding(0) var<uniform> params: Params;
`

/**
 * The path-tracing kernel. Invocation (x, y, z) traces pixel x of the dispatch's row y for the samples of group z:
 * samples [f + z * groupSize, f + (z + 1) * groupSize) where f is the dispatch's first sample. It writes the group's
 * radiance sum and its ray count (BVH traversals, for the benchmark) to `partial`; {@link PATH_TRACER_REDUCE_WGSL}
 * then adds the groups to the running per-pixel sum in ascending order. With one sample per group that order is
 * exactly "sample 0, then 1, then 2..." from zero. With several samples per group the dispatch holds one group that
 * carries on from the running sum (read from `accum`) instead of from zero, so a pixel's samples are again added one
 * by one in ascending order however they are cut into groups and dispatches. Both give the same bits: the engine
 * picks one per adapter for speed (a small tile on a large GPU needs the samples in parallel to fill it, a CPU
 * driver needs each invocation busy), and cuts the work into dispatches by size or measured time, without changing
 * the image.
 *
 * The algorithm, random-number consumption and traversal order mirror `cpu-pathtracer.ts`: change both together.
 * The control flow differs on purpose. The CPU traces a path's segments in turn; the kernel runs one BVH step per
 * loop iteration and lets each invocation start its next ray (shadow ray, next bounce or next sample) the moment
 * the last one ends, because lavapipe runs eight invocations per instruction and a ray-at-a-time loop left lanes
 * idle until the longest ray of the eight finished. Per pixel the arithmetic and its order are unchanged.
 *
 * With `alphaTested` (a scene with MASK or BLEND materials) traversal tests the alpha of every candidate hit; with
 * `transmissive` (a scene with KHR_materials_transmission) light samples and bounces may pass through a surface,
 * refracting into and out of volumes (KHR_materials_volume) that absorb along the way; with `coated`
 * (KHR_materials_clearcoat) the BSDF has a clearcoat layer; with `sheened` (KHR_materials_sheen) a sheen layer
 * beneath it; `textured`, `vertexColored`, `punctual` and `environment` compile in texture reads, vertex colours and
 * the two kinds of light without area. See {@link KernelFeatures}.
 */
export function pathTracerWgsl(features: KernelFeatures): string {
  return /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> nodes: array<vec4f>;
@group(0) @binding(2) var<storage, read> tris: array<vec4f>;
@group(0) @binding(3) var<storage, read> normals: array<vec4f>;
@group(0) @binding(4) var<storage, read> materials: array<vec4f>;
@group(0) @binding(5) var<storage, read> rows: array<u32>;
@group(0) @binding(6) var<storage, read> accum: array<vec4f>;
@group(0) @binding(7) var<storage, read> aux: array<u32>;
@group(0) @binding(8) var<storage, read_write> partial: array<vec4f>;

const PI = 3.14159265358979;
const NO_HIT = 0xffffffffu;
const FAR = 1e30;
const EPS = ${RAY_EPSILON};
const EPS_RELATIVE = ${RAY_EPSILON_RELATIVE};
// Sets a shadow ray's seed apart from the bounce ray cast from the same state.
const SHADOW_SEED = ${SHADOW_SEED}u;
// Whether traversal tests alpha (a scene with MASK or BLEND materials). A constant, so opaque scenes compile the
// test out of the hot loop: on lavapipe even a skipped branch there cost 8% of the rays.
const ALPHA_TESTED = ${features.alphaTested};
const TRANSMISSIVE = ${features.transmissive};
const COATED = ${features.coated};
const SHEEN = ${features.sheened};
const TEXTURED = ${features.textured};
const VERTEX_COLORS = ${features.vertexColored};
const PUNCTUAL = ${features.punctual};
const ENVIRONMENT = ${features.environment};

${RNG_WGSL}
${BRDF_WGSL}

struct Hit { t: f32, tri: u32, u: f32, v: f32 }

// A shadow ray towards a punctual light passes thin-walled glass (TRANSMISSIVE kernels only): no bounce can find
// such a light, so light through a window would otherwise never arrive. glassT is what the panes let through.
var<private> glassPass: bool;
var<private> glassT: vec3f;

fn safeInverse(d: vec3f) -> vec3f {
  // WGSL does not promise IEEE infinities, so tiny components are nudged away from zero instead.
  let tiny = vec3f(1e-8);
  let s = select(vec3f(-1.0), vec3f(1.0), d >= vec3f(0.0));
  let safe = select(d, s * tiny, abs(d) < tiny);
  return vec3f(1.0) / safe;
}

// How far along the geometric normal rays leaving hit point p start, p found along a ray from o: a fixed offset, or one
// that grows with the coordinates where their float32 rounding outgrows it (the CPU reference's rayOffset).
fn rayOffset(p: vec3f, o: vec3f) -> f32 {
  let m = max(abs(p), abs(o));
  return max(EPS, EPS_RELATIVE * max(m.x, max(m.y, m.z)));
}

// The closest hit so far becomes triangle i's if the ray meets it nearer, and it is there (see opaqueAt). seed is the
// ray's own random number, for stochastic transparency.
fn hitTriangle(i: u32, o: vec3f, d: vec3f, best: ptr<function, Hit>, seed: u32) {
  let r0 = tris[i * 3u];
  let v0 = r0.xyz;
  let e1 = tris[i * 3u + 1u].xyz;
  let e2 = tris[i * 3u + 2u].xyz;
  let pv = cross(d, e2);
  let det = dot(e1, pv);
  if (abs(det) < 1e-12) { return; }
  let invDet = 1.0 / det;
  let tv = o - v0;
  let u = dot(tv, pv) * invDet;
  if (u < 0.0 || u > 1.0) { return; }
  let qv = cross(tv, e1);
  let v = dot(d, qv) * invDet;
  if (v < 0.0 || u + v > 1.0) { return; }
  let t = dot(e2, qv) * invDet;
  if (t > 0.0 && t < (*best).t) {
    if (ALPHA_TESTED && !opaqueAt(i, u, v, bitcast<u32>(r0.w), seed)) { return; }
    if (TRANSMISSIVE && glassPass) {
      let m = bitcast<u32>(r0.w);
      let layers = materials[m * ${MATERIAL_ROWS}u + 8u];
      // Thin-walled glass only: a volume's surface (an ior in w) bends the ray away from the light.
      if (layers.x > 0.0 && layers.w == 0.0) {
        glassT *= straightThrough(m, layers.x, abs(dot(normalize(cross(e1, e2)), d)));
        return;
      }
    }
    *best = Hit(t, i, u, v);
  }
}

// What thin-walled glass of material m lets straight through at cos c to its normal: the transmission lobe's
// share of its factors (textures aside), under its Fresnel layer. Exact for smooth glass, whose lobe is that
// direction; rough glass blurs the light instead, and this keeps its strength.
fn straightThrough(m: u32, transmission: f32, c: f32) -> vec3f {
  let albedo = materials[m * ${MATERIAL_ROWS}u];
  let dielectric = materials[m * ${MATERIAL_ROWS}u + 6u];
  let layer = dielectric.w * (dielectric.xyz + (1.0 - dielectric.xyz) * schlickWeight(c));
  return albedo.xyz * ((1.0 - max(layer.x, max(layer.y, layer.z))) * (1.0 - albedo.w) * transmission);
}

// Whether a ray with random number seed meets material m at barycentrics (u, v) of triangle tri: always when the
// material is opaque; for MASK where its alpha reaches the cutoff; for BLEND with probability alpha, by a hash of
// the seed and the triangle (so a ray decides each surface once, the same way on every driver).
fn opaqueAt(tri: u32, u: f32, v: f32, m: u32, seed: u32) -> bool {
  let row = materials[m * ${MATERIAL_ROWS}u + 7u];
  let mode = bitcast<u32>(row.w) & 3u;
  if (mode == 0u) { return true; }
  var alpha = row.z;
  let tex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + 2u]);
  if (TEXTURED && tex.w != 0u) { alpha *= textureAlpha(tex, slotUv(tex, triangleUvs(tri, u, v))); }
  if (VERTEX_COLORS && params.aux.w != 0u) { alpha *= vertexColor(tri, u, v).w; }
  if (mode == 1u) { return alpha >= row.y; }
  return f32(pcgHash(seed ^ pcgHash(tri)) >> 8u) * (1.0 / 16777216.0) < alpha;
}

struct PathState {
  origin: vec3f,
  dir: vec3f,
  throughput: vec3f,
  radiance: vec3f,
  rng: u32,
  depth: u32,
  // 1 for camera rays: emission they hit counts in full. After a bounce it is weighted against next-event
  // estimation by pdf, the solid-angle pdf that bounce sampled its direction with (multiple importance sampling).
  camera: u32,
  pdf: f32,
  // Inside a volume (TRANSMISSIVE kernels): its attenuation coefficient per unit length, else 0.
  sigma: vec3f,
}

fn startPath(px: u32, py: u32, s: u32) -> PathState {
  var rng = sampleSeed(params.tile.z, px, py, s);
  let jx = nextRandom(&rng);
  let jy = nextRandom(&rng);
  let ndcX = ((f32(px) + jx) / f32(params.image.x)) * 2.0 - 1.0;
  let ndcY = 1.0 - ((f32(py) + jy) / f32(params.image.y)) * 2.0;
  let half = params.camPos.w;
  if (half < 0.0) {
    // Orthographic (camPos.w = -ymag): from the point of the view rectangle, straight ahead.
    let at = params.camPos.xyz + params.camRight.xyz * (ndcX * -half * params.camRight.w) + params.camUp.xyz * (ndcY * -half);
    return PathState(at, params.camForward.xyz, vec3f(1.0), vec3f(0.0), rng, 0u, 1u, 0.0, vec3f(0.0));
  }
  let dir = normalize(params.camForward.xyz + params.camRight.xyz * (ndcX * half * params.camRight.w) + params.camUp.xyz * (ndcY * half));
  return PathState(params.camPos.xyz, dir, vec3f(1.0), vec3f(0.0), rng, 0u, 1u, 0.0, vec3f(0.0));
}

// The light CDF's entry whose cumulative power fraction first exceeds r (binary search): the emissive triangle's
// index, with bit 31 set where it is double-sided.
fn pickLight(r: f32, count: u32) -> u32 {
  var lo = 0u;
  var hi = count - 1u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (r < bitcast<f32>(aux[mid * 2u + 1u])) { hi = mid; } else { lo = mid + 1u; }
  }
  return aux[lo * 2u];
}

// The first word of the punctual light (16 words each from word first of aux, count of them) whose cumulative
// pick probability first exceeds r (binary search; see packPunctualLights).
fn pickPunctual(r: f32, first: u32, count: u32) -> u32 {
  var lo = 0u;
  var hi = count - 1u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (r < bitcast<f32>(aux[first + mid * 16u + 11u])) { hi = mid; } else { lo = mid + 1u; }
  }
  return first + lo * 16u;
}

// The first entry of the cumulative distribution of count f32s from word first of aux that exceeds r.
fn searchCdf(first: u32, count: u32, r: f32) -> u32 {
  var lo = 0u;
  var hi = count - 1u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (r < bitcast<f32>(aux[first + mid])) { hi = mid; } else { lo = mid + 1u; }
  }
  return lo;
}

// Entry i of that distribution's probabilities: its cumulative value less the one before.
fn cdfStep(first: u32, i: u32) -> vec2f {
  let below = select(0.0, bitcast<f32>(aux[first + max(i, 1u) - 1u]), i > 0u);
  return vec2f(below, bitcast<f32>(aux[first + i]));
}

fn environmentTexel(row: u32, col: u32) -> vec3f {
  let o = params.environment.x + (row * params.environment.y + col) * 3u;
  return vec3f(bitcast<f32>(aux[o]), bitcast<f32>(aux[o + 1u]), bitcast<f32>(aux[o + 2u]));
}

// The panorama's radiance at (u, v), filtered bilinearly between texel centres: wrapping round in u, held at the
// poles in v. The sampling density stays the texels' own (piecewise constant); both estimators stay unbiased.
fn environmentRadiance(u: f32, v: f32) -> vec3f {
  let w = params.environment.y;
  let h = params.environment.z;
  let x = u * f32(w) - 0.5;
  let y = clamp(v * f32(h) - 0.5, 0.0, f32(h - 1u));
  let x0 = floor(x);
  let fx = x - x0;
  let c0 = u32(i32(x0) + i32(w)) % w;
  let c1 = (c0 + 1u) % w;
  let r0 = min(u32(y), h - 1u);
  let r1 = min(r0 + 1u, h - 1u);
  let fy = y - f32(r0);
  let top = mix(environmentTexel(r0, c0), environmentTexel(r0, c1), fx);
  let bottom = mix(environmentTexel(r1, c0), environmentTexel(r1, c1), fx);
  return mix(top, bottom, fy);
}

// The density next-event estimation samples the direction of texel (row, col) at with, per solid angle.
fn environmentPdf(row: u32, col: u32, sinTheta: f32) -> f32 {
  let w = params.environment.y;
  let h = params.environment.z;
  let r = cdfStep(params.environment.w, row);
  let c = cdfStep(params.environment.w + h + row * w, col);
  let texels = f32(w) * f32(h);
  return select(0.0, (r.y - r.x) * (c.y - c.x) * texels / (2.0 * PI * PI * sinTheta), sinTheta > 0.0);
}

// What a ray leaving the scene in direction d sees of the environment (turned back by its rotation, then mapped
// as three.js maps panoramas), and the density of sampling d (w).
fn environmentLight(d: vec3f) -> vec4f {
  let c = params.lighting.z;
  let s = params.lighting.w;
  let w = params.environment.y;
  let h = params.environment.z;
  let u = atan2(d.x * s + d.z * c, d.x * c - d.z * s) * (0.5 / PI) + 0.5;
  let v = acos(clamp(d.y, -1.0, 1.0)) * (1.0 / PI);
  let col = min(u32(max(u * f32(w), 0.0)), w - 1u);
  let row = min(u32(max(v * f32(h), 0.0)), h - 1u);
  let sinTheta = sqrt(max(0.0, 1.0 - d.y * d.y));
  return vec4f(environmentRadiance(u, v), environmentPdf(row, col, sinTheta));
}

struct EnvironmentSample { dir: vec3f, radiance: vec3f, pdf: f32 }

// A direction drawn in proportion to the environment's weights: a row by (r1), a texel of it by (r2), and a point
// in that texel by what is left of each random number.
fn sampleEnvironment(r1: f32, r2: f32) -> EnvironmentSample {
  let w = params.environment.y;
  let h = params.environment.z;
  let rows = params.environment.w;
  let row = searchCdf(rows, h, r1);
  let rs = cdfStep(rows, row);
  let cols = rows + h + row * w;
  let col = searchCdf(cols, w, r2);
  let cs = cdfStep(cols, col);
  let v = (f32(row) + (r1 - rs.x) / (rs.y - rs.x)) / f32(h);
  let u = (f32(col) + (r2 - cs.x) / (cs.y - cs.x)) / f32(w);
  let theta = v * PI;
  let phi = (u - 0.5) * (2.0 * PI);
  let sinTheta = sin(theta);
  let e = vec3f(sinTheta * cos(phi), cos(theta), sinTheta * sin(phi));
  let c = params.lighting.z;
  let s = params.lighting.w;
  let dir = vec3f(e.x * c + e.z * s, e.y, e.z * c - e.x * s);
  return EnvironmentSample(dir, environmentRadiance(u, v), environmentPdf(row, col, sinTheta));
}

// A texture coordinate wrapped into [0, 1] (non-finite ones read as 0): repeat, clamp to edge, or mirrored repeat.
fn wrapUnit(x: f32, mode: u32) -> f32 {
  let c = select(0.0, x, x == x && abs(x) < 1e30);
  if (mode == 1u) { return clamp(c, 0.0, 1.0); }
  if (mode == 2u) {
    let t = c - 2.0 * floor(c * 0.5);
    return select(t, 2.0 - t, t > 1.0);
  }
  return c - floor(c);
}

// A bilinear neighbour's index, i in [-1, n]: repeat wraps around; clamp and mirror both stay at the edge.
fn wrapIndex(i: i32, n: i32, mode: u32) -> u32 {
  if (mode == 0u) { return u32((i + n) % n); }
  return u32(clamp(i, 0, n - 1));
}

// A texel's RGB through the decoding table at word lut of aux (sRGB to linear light, or bytes to [0, 1]): exact,
// and the same on every driver.
fn texel(first: u32, width: u32, x: u32, y: u32, lut: u32) -> vec3f {
  let c = aux[first + y * width + x];
  return vec3f(
    bitcast<f32>(aux[lut + (c & 255u)]),
    bitcast<f32>(aux[lut + ((c >> 8u) & 255u)]),
    bitcast<f32>(aux[lut + ((c >> 16u) & 255u)]),
  );
}

// Where a sample at uv of a texture reads (tex is its texture row: first texel, width, height, sampler bits): the
// nearest texel (xa, ya), or the four texels around it and the weights between them.
struct Footprint { xa: u32, xb: u32, ya: u32, yb: u32, ax: f32, ay: f32, bilinear: bool }

fn footprint(tex: vec4u, uv: vec2f) -> Footprint {
  let w = tex.y;
  let h = tex.z;
  let su = wrapUnit(uv.x, tex.w & 3u) * f32(w);
  let sv = wrapUnit(uv.y, (tex.w >> 2u) & 3u) * f32(h);
  if ((tex.w & 16u) == 0u) {
    let x = min(u32(su), w - 1u);
    let y = min(u32(sv), h - 1u);
    return Footprint(x, x, y, y, 0.0, 0.0, false);
  }
  let fx = su - 0.5;
  let fy = sv - 0.5;
  let x0 = floor(fx);
  let y0 = floor(fy);
  return Footprint(
    wrapIndex(i32(x0), i32(w), tex.w & 3u),
    wrapIndex(i32(x0) + 1, i32(w), tex.w & 3u),
    wrapIndex(i32(y0), i32(h), (tex.w >> 2u) & 3u),
    wrapIndex(i32(y0) + 1, i32(h), (tex.w >> 2u) & 3u),
    fx - x0,
    fy - y0,
    true,
  );
}

// A material's texture at uv, its bytes decoded by the table at word lut of aux.
fn textureColor(tex: vec4u, uv: vec2f, lut: u32) -> vec3f {
  let f = footprint(tex, uv);
  if (!f.bilinear) { return texel(tex.x, tex.y, f.xa, f.ya, lut); }
  let top = texel(tex.x, tex.y, f.xa, f.ya, lut) * (1.0 - f.ax) + texel(tex.x, tex.y, f.xb, f.ya, lut) * f.ax;
  let bottom = texel(tex.x, tex.y, f.xa, f.yb, lut) * (1.0 - f.ax) + texel(tex.x, tex.y, f.xb, f.yb, lut) * f.ax;
  return top * (1.0 - f.ay) + bottom * f.ay;
}

// One texel's alpha as a [0, 1] float (through the unorm table).
fn texelAlpha(first: u32, width: u32, x: u32, y: u32) -> f32 {
  return bitcast<f32>(aux[params.aux.x + 256u + (aux[first + y * width + x] >> 24u)]);
}

// A texture's alpha at uv.
fn textureAlpha(tex: vec4u, uv: vec2f) -> f32 {
  let f = footprint(tex, uv);
  if (!f.bilinear) { return texelAlpha(tex.x, tex.y, f.xa, f.ya); }
  let top = texelAlpha(tex.x, tex.y, f.xa, f.ya) * (1.0 - f.ax) + texelAlpha(tex.x, tex.y, f.xb, f.ya) * f.ax;
  let bottom = texelAlpha(tex.x, tex.y, f.xa, f.yb) * (1.0 - f.ax) + texelAlpha(tex.x, tex.y, f.xb, f.yb) * f.ax;
  return top * (1.0 - f.ay) + bottom * f.ay;
}

// Four f32s of aux from word o.
fn auxVec4(o: u32) -> vec4f {
  return vec4f(bitcast<f32>(aux[o]), bitcast<f32>(aux[o + 1u]), bitcast<f32>(aux[o + 2u]), bitcast<f32>(aux[o + 3u]));
}

// The texture coordinates of the set at word first of aux at barycentrics (u, v) of triangle tri.
fn uvAt(first: u32, tri: u32, u: f32, v: f32) -> vec2f {
  let o = first + tri * 6u;
  let uv0 = vec2f(bitcast<f32>(aux[o]), bitcast<f32>(aux[o + 1u]));
  let uv1 = vec2f(bitcast<f32>(aux[o + 2u]), bitcast<f32>(aux[o + 3u]));
  let uv2 = vec2f(bitcast<f32>(aux[o + 4u]), bitcast<f32>(aux[o + 5u]));
  return uv0 * (1.0 - u - v) + uv1 * u + uv2 * v;
}

// Both sets of texture coordinates at barycentrics (u, v) of triangle tri (textured scenes only): TEXCOORD_0 in xy,
// TEXCOORD_1 in zw (TEXCOORD_0 again in scenes where no texture reads the second set).
fn triangleUvs(tri: u32, u: f32, v: f32) -> vec4f {
  let uv0 = uvAt(params.aux.y, tri, u, v);
  if (params.tables.y == 0u) { return vec4f(uv0, uv0); }
  return vec4f(uv0, uvAt(params.tables.y, tri, u, v));
}

// Where texture tex (its texture row) is sampled among the hit's coordinates uvs: its set (bit 6 of its sampler
// word) through its transform (bits 8 and up: an entry of the table at word params.tables.z; 0 for none).
fn slotUv(tex: vec4u, uvs: vec4f) -> vec2f {
  let uv = select(uvs.xy, uvs.zw, (tex.w & 64u) != 0u);
  let k = tex.w >> 8u;
  if (k == 0u) { return uv; }
  let o = params.tables.z + k * 6u;
  let row0 = vec3f(bitcast<f32>(aux[o]), bitcast<f32>(aux[o + 1u]), bitcast<f32>(aux[o + 2u]));
  let row1 = vec3f(bitcast<f32>(aux[o + 3u]), bitcast<f32>(aux[o + 4u]), bitcast<f32>(aux[o + 5u]));
  return vec2f(dot(row0, vec3f(uv, 1.0)), dot(row1, vec3f(uv, 1.0)));
}

// A vertex's packed colour (two words of 16-bit channels, R | G << 16 and B | A << 16) as linear RGBA. One
// multiply per channel, as the CPU reference's unorm16 rounds it.
fn unorm16x4(a: u32, b: u32) -> vec4f {
  return vec4f(f32(a & 0xffffu), f32(a >> 16u), f32(b & 0xffffu), f32(b >> 16u)) * (1.0 / 65535.0);
}

// The vertex colour (glTF COLOR_0, linear RGBA) at barycentrics (u, v) of triangle tri (scenes with colours only).
fn vertexColor(tri: u32, u: f32, v: f32) -> vec4f {
  let o = params.aux.w + tri * 6u;
  return unorm16x4(aux[o], aux[o + 1u]) * (1.0 - u - v) + unorm16x4(aux[o + 2u], aux[o + 3u]) * u +
    unorm16x4(aux[o + 4u], aux[o + 5u]) * v;
}

// The shading normal n bent by a normal map's texel c (bytes decoded to [0, 1]) in the tangent frame at barycentrics
// (u, v) of triangle tri: +X along the tangent, +Y along cross(n, tangent) * w, +Z along n. A degenerate tangent or
// mapped normal leaves n as it is.
fn normalMapped(tri: u32, u: f32, v: f32, n: vec3f, c: vec3f, scale: f32) -> vec3f {
  let o = params.aux.z + tri * 12u;
  let t0 = auxVec4(o);
  let t1 = vec3f(bitcast<f32>(aux[o + 4u]), bitcast<f32>(aux[o + 5u]), bitcast<f32>(aux[o + 6u]));
  let t2 = vec3f(bitcast<f32>(aux[o + 8u]), bitcast<f32>(aux[o + 9u]), bitcast<f32>(aux[o + 10u]));
  let t = t0.xyz * (1.0 - u - v) + t1 * u + t2 * v;
  // Gram-Schmidt: the interpolated tangent made perpendicular to the interpolated normal.
  let tp = t - n * dot(n, t);
  if (!(dot(tp, tp) > 1e-12)) { return n; }
  let tangent = normalize(tp);
  let bitangent = cross(n, tangent) * t0.w;
  let m = vec3f((c.xy * 2.0 - 1.0) * scale, c.z * 2.0 - 1.0);
  let bent = tangent * m.x + bitangent * m.y + n * m.z;
  if (!(dot(bent, bent) > 1e-12)) { return n; }
  return normalize(bent);
}

// Material m's texture at row (an extension's, scaling its factor) at the hit's coordinates uvs, decoded by the table
// at word lut of the decoding tables (0 sRGB, 256 linear data); white where the material has none.
fn layerTexture(m: u32, row: u32, uvs: vec4f, lut: u32) -> vec3f {
  let tex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + row]);
  if (tex.w == 0u) { return vec3f(1.0); }
  return textureColor(tex, slotUv(tex, uvs), params.aux.x + lut);
}

// The alpha of material m's texture at row at the hit's coordinates uvs; 1 where the material has none.
fn layerAlpha(m: u32, row: u32, uvs: vec4f) -> f32 {
  let tex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + row]);
  if (tex.w == 0u) { return 1.0; }
  return textureAlpha(tex, slotUv(tex, uvs));
}

// Whether material m is double-sided (glTF doubleSided): then it emits from both faces.
fn doubleSided(m: u32) -> bool {
  return (bitcast<u32>(materials[m * ${MATERIAL_ROWS}u + 7u].w) & 4u) != 0u;
}

// What shading a hit decided: whether the path ended, and the shadow ray of next-event estimation, if any.
struct Shaded {
  ended: bool,
  shadow: bool,
  shadowOrigin: vec3f,
  shadowDir: vec3f,
  shadowMax: f32,
  // Radiance the shadow ray adds if nothing blocks it.
  pending: vec3f,
  // Whether the shadow ray passes thin-walled glass (towards a punctual light).
  shadowGlass: bool,
}

// Shades the hit of a path's last ray segment and advances the path to its next segment.
fn shade(path: ptr<function, PathState>, hit: Hit) -> Shaded {
  var out = Shaded(true, false, vec3f(0.0), vec3f(0.0), 0.0, vec3f(0.0), false);
  let dir = (*path).dir;
  // Eight numbers per bounce whatever happens, so streams stay aligned between implementations.
  var rng = (*path).rng;
  let rPick = nextRandom(&rng);
  let r1 = nextRandom(&rng);
  let r2 = nextRandom(&rng);
  let rChoice = nextRandom(&rng);
  let rRoulette = nextRandom(&rng);
  let rLight = nextRandom(&rng);
  let rU = nextRandom(&rng);
  let rV = nextRandom(&rng);
  (*path).rng = rng;
  if (hit.tri == NO_HIT) {
    if (!ENVIRONMENT || params.environment.x == 0u || ((*path).camera == 1u && params.tables.w != 0u)) {
      (*path).radiance += (*path).throughput * params.background.xyz;
      return out;
    }
    let env = environmentLight(dir);
    var w = 1.0;
    // Weighted against next-event estimation as emissive triangles are (see below).
    if ((*path).camera == 0u && params.lighting.y > 0.0) { w = powerHeuristic((*path).pdf, params.lighting.y * env.w); }
    (*path).radiance += (*path).throughput * env.xyz * w;
    return out;
  }
  // Beer-Lambert: what the volume the segment crossed let through.
  if (TRANSMISSIVE) { (*path).throughput *= exp(-(*path).sigma * hit.t); }
  let lightCount = bitcast<u32>(params.camUp.w);
  let lightPower = params.camForward.w;
  // The light samples' shares: punctual lights, the environment, and emissive triangles the rest.
  let pPunctual = params.lighting.x;
  let pEnvironment = params.lighting.y;
  let base = tris[hit.tri * 3u];
  let e1 = tris[hit.tri * 3u + 1u].xyz;
  let e2 = tris[hit.tri * 3u + 2u].xyz;
  let m = bitcast<u32>(base.w);
  let albedo = materials[m * ${MATERIAL_ROWS}u];
  let emission = materials[m * ${MATERIAL_ROWS}u + 1u];
  var color = albedo.xyz;
  var metallic = albedo.w;
  var roughness = emission.w;
  var emitted = emission.xyz;
  var normalTex = vec4u(0u);
  // The hit's texture coordinates, read once (uvsRead) by whichever texture needs them first.
  var uvs = vec4f(0.0);
  var uvsRead = false;
  // An untextured scene (no texture coordinates) skips the texture rows: on CPU drivers a load loops over lanes.
  if (TEXTURED && params.aux.y != 0u) {
    let baseTex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + 2u]);
    let mrTex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + 3u]);
    let emissiveTex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + 4u]);
    normalTex = bitcast<vec4u>(materials[m * ${MATERIAL_ROWS}u + 5u]);
    if ((baseTex.w | mrTex.w | emissiveTex.w | normalTex.w) != 0u) {
      uvs = triangleUvs(hit.tri, hit.u, hit.v);
      uvsRead = true;
      if (baseTex.w != 0u) { color *= textureColor(baseTex, slotUv(baseTex, uvs), params.aux.x); }
      if (mrTex.w != 0u) {
        // glTF: roughness in green, metalness in blue, both linear.
        let mr = textureColor(mrTex, slotUv(mrTex, uvs), params.aux.x + 256u);
        roughness *= mr.y;
        metallic *= mr.z;
      }
      if (emissiveTex.w != 0u) { emitted *= textureColor(emissiveTex, slotUv(emissiveTex, uvs), params.aux.x); }
    }
  }
  // glTF: COLOR_0 multiplies the base colour (its factor times its texture).
  if (VERTEX_COLORS && params.aux.w != 0u) { color *= vertexColor(hit.tri, hit.u, hit.v).xyz; }
  // An unlit material (KHR_materials_unlit) shows its base colour and scatters nothing: the path ends on it.
  if (params.punctual.z != 0u && (bitcast<u32>(materials[m * ${MATERIAL_ROWS}u + 7u].w) & 8u) != 0u) {
    (*path).radiance += (*path).throughput * color;
    return out;
  }
  var ng = normalize(cross(e1, e2));
  let facing = -dot(ng, dir);
  // Surfaces emit from their front face (counter-clockwise winding, as glTF defines front faces), and from both
  // faces where the material is double-sided.
  if (max(emission.x, max(emission.y, emission.z)) > 0.0 && (facing > 0.0 || doubleSided(m))) {
    var w = 1.0;
    if ((*path).camera == 0u && lightCount > 0u) {
      // The pdf of picking this point by next-event estimation, per solid angle.
      let lightPdf = hit.t * hit.t * emissionWeight(emission.xyz) * (1.0 - pPunctual - pEnvironment) / (abs(facing) * lightPower);
      w = powerHeuristic((*path).pdf, lightPdf);
    }
    (*path).radiance += (*path).throughput * emitted * w;
  }
  if (facing <= 0.0) { ng = -ng; }
  let n0 = normals[hit.tri * 3u].xyz;
  let n1 = normals[hit.tri * 3u + 1u].xyz;
  let n2 = normals[hit.tri * 3u + 2u].xyz;
  var ns = normalize(n0 * (1.0 - hit.u - hit.v) + n1 * hit.u + n2 * hit.v);
  if (TEXTURED && normalTex.w != 0u) {
    let scale = materials[m * ${MATERIAL_ROWS}u + 7u].x;
    ns = normalMapped(hit.tri, hit.u, hit.v, ns, textureColor(normalTex, slotUv(normalTex, uvs), params.aux.x + 256u), scale);
  }
  if (dot(ns, ng) < 0.0) { ns = -ns; }
  var dielectric = materials[m * ${MATERIAL_ROWS}u + 6u];
  // KHR_materials_specular's textures: the colour's scales F0, the other's alpha the layer's weight.
  if (TEXTURED && params.punctual.w != 0u) {
    if (!uvsRead) {
      uvs = triangleUvs(hit.tri, hit.u, hit.v);
      uvsRead = true;
    }
    dielectric = vec4f(dielectric.xyz * layerTexture(m, 17u, uvs, 0u), dielectric.w * layerAlpha(m, 16u, uvs));
  }
  var transmission = 0.0;
  var coat = vec2f(0.0);
  // On a volume's surface (an ior in the layers' w): entering from its front face, else leaving.
  var eta = 0.0;
  if (TRANSMISSIVE || COATED) {
    let layers = materials[m * ${MATERIAL_ROWS}u + 8u];
    if (TRANSMISSIVE) {
      transmission = layers.x;
      if (layers.w > 0.0) { eta = select(layers.w, 1.0 / layers.w, facing > 0.0); }
    }
    if (COATED) { coat = layers.yz; }
  }
  var sheen = vec4f(0.0);
  if (SHEEN) { sheen = materials[m * ${MATERIAL_ROWS}u + 10u]; }
  // The extensions' textures scale their factors, in textured scenes of kernels that have those layers.
  if ((TRANSMISSIVE || COATED || SHEEN) && TEXTURED && params.aux.y != 0u) {
    if (!uvsRead) { uvs = triangleUvs(hit.tri, hit.u, hit.v); }
    if (TRANSMISSIVE) { transmission *= layerTexture(m, 11u, uvs, 256u).x; }
    if (COATED) {
      coat.x *= layerTexture(m, 12u, uvs, 256u).x;
      coat.y *= layerTexture(m, 13u, uvs, 256u).y;
    }
    if (SHEEN) { sheen = vec4f(sheen.xyz * layerTexture(m, 14u, uvs, 0u), sheen.w * layerAlpha(m, 15u, uvs)); }
  }
  let surface = surfaceAt(ns, -dir, color, metallic, roughness, dielectric.xyz, dielectric.w, transmission, coat, eta, sheen);
  // A shading normal tilted away from the viewer reflects nothing.
  if (!(surface.nDotV > 0.0)) { return out; }
  let p = (*path).origin + dir * hit.t;
  let offset = rayOffset(p, (*path).origin);
  let origin = p + ng * offset;
  // Where rays through a transmissive surface start: just behind it.
  let behindOrigin = p - ng * offset;
  if (PUNCTUAL && pPunctual > 0.0 && rChoice < pPunctual) {
    // Next-event estimation towards a punctual light, picked by power: the only way to find one.
    let o = pickPunctual(rLight, params.punctual.x, params.punctual.y);
    let pickPdf = bitcast<f32>(aux[o + 14u]);
    let row0 = auxVec4(o);
    let dirRange = auxVec4(o + 4u);
    var li = vec3f(bitcast<f32>(aux[o + 8u]), bitcast<f32>(aux[o + 9u]), bitcast<f32>(aux[o + 10u]));
    let spot = vec2f(bitcast<f32>(aux[o + 12u]), bitcast<f32>(aux[o + 13u]));
    var wi = -dirRange.xyz;
    var shadowMax = FAR;
    if (bitcast<u32>(row0.w) != 2u) {
      let toLight = row0.xyz - origin;
      let dist2 = dot(toLight, toLight);
      let dist = sqrt(dist2);
      wi = toLight / dist;
      shadowMax = dist * (1.0 - 1e-3);
      // Inverse-square falloff, glTF's smooth window to zero at the range, and the spot's cone.
      var window = 1.0;
      if (dirRange.w > 0.0) {
        let r = dist / dirRange.w;
        window = clamp(1.0 - r * r * r * r, 0.0, 1.0);
      }
      let cone = clamp(dot(dirRange.xyz, -wi) * spot.x + spot.y, 0.0, 1.0);
      li *= window * cone * cone / dist2;
    }
    let cosS = dot(ns, wi);
    let gw = dot(ng, wi);
    // A transmissive surface takes light from behind it too, when both its normals agree the light is there.
    let behind = TRANSMISSIVE && cosS < 0.0 && gw < 0.0;
    if ((cosS > 0.0 && gw > 0.0) || behind) {
      let brdf = evaluateBrdf(surface, wi);
      out.shadow = true;
      out.shadowOrigin = select(origin, behindOrigin, behind);
      out.shadowDir = wi;
      out.shadowMax = shadowMax;
      out.shadowGlass = TRANSMISSIVE;
      out.pending = (*path).throughput * brdf.f * li * (abs(cosS) / (pPunctual * pickPdf));
    }
  } else if (ENVIRONMENT && pEnvironment > 0.0 && rChoice < pPunctual + pEnvironment) {
    // Next-event estimation towards the environment: a direction by its brightness, and a shadow ray out.
    let e = sampleEnvironment(rU, rV);
    let wi = e.dir;
    let cosS = dot(ns, wi);
    let gw = dot(ng, wi);
    let behind = TRANSMISSIVE && cosS < 0.0 && gw < 0.0;
    if (e.pdf > 0.0 && ((cosS > 0.0 && gw > 0.0) || behind)) {
      let brdf = evaluateBrdf(surface, wi);
      let lightPdf = pEnvironment * e.pdf;
      out.shadow = true;
      out.shadowOrigin = select(origin, behindOrigin, behind);
      out.shadowDir = wi;
      out.shadowMax = FAR;
      let w = select(powerHeuristic(lightPdf, brdf.pdf), 1.0, (*path).depth + 1u >= params.tile.w);
      out.pending = (*path).throughput * brdf.f * e.radiance * (abs(cosS) / lightPdf * w);
    }
  } else if (lightCount > 0u) {
    // Next-event estimation: an emissive triangle picked by power, a uniform point on it, and a shadow ray to it.
    let entry = pickLight(rLight, lightCount);
    let light = entry & 0x7fffffffu;
    let lv0 = tris[light * 3u];
    let le1 = tris[light * 3u + 1u].xyz;
    let le2 = tris[light * 3u + 2u].xyz;
    let lm = bitcast<u32>(lv0.w);
    let su = sqrt(rU);
    let q = lv0.xyz + le1 * (su * (1.0 - rV)) + le2 * (su * rV);
    let toLight = q - origin;
    let dist2 = dot(toLight, toLight);
    let dist = sqrt(dist2);
    let wi = toLight / dist;
    let cosS = dot(ns, wi);
    var cosL = -dot(normalize(cross(le1, le2)), wi);
    if (entry >= 0x80000000u) { cosL = abs(cosL); }
    let gw = dot(ng, wi);
    let behind = TRANSMISSIVE && cosS < 0.0 && gw < 0.0;
    if (cosL > 0.0 && ((cosS > 0.0 && gw > 0.0) || behind)) {
      let brdf = evaluateBrdf(surface, wi);
      let lightRow = materials[lm * ${MATERIAL_ROWS}u + 1u].xyz;
      var lightEmission = lightRow;
      if (TEXTURED && params.aux.y != 0u) {
        let lightTex = bitcast<vec4u>(materials[lm * ${MATERIAL_ROWS}u + 4u]);
        if (lightTex.w != 0u) {
          lightEmission *= textureColor(lightTex, slotUv(lightTex, triangleUvs(light, su * (1.0 - rV), su * rV)), params.aux.x);
        }
      }
      let lightPdf = dist2 * emissionWeight(lightRow) * (1.0 - pPunctual - pEnvironment) / (cosL * lightPower);
      out.shadow = true;
      out.shadowOrigin = select(origin, behindOrigin, behind);
      out.shadowDir = wi;
      out.shadowMax = dist * (1.0 - 1e-3);
      // The last vertex has no bounce that could find the light, so its light sample counts in full.
      let w = select(powerHeuristic(lightPdf, brdf.pdf), 1.0, (*path).depth + 1u >= params.tile.w);
      out.pending = (*path).throughput * brdf.f * lightEmission * (abs(cosS) / lightPdf * w);
    }
  }
  let next = normalize(sampleBrdf(surface, rPick, r1, r2));
  let gd = dot(next, ng);
  let nd = dot(ns, next);
  // Onwards on the viewer's side, or through a transmissive surface, with both normals agreeing which.
  if (gd <= 0.0 && !TRANSMISSIVE) { return out; }
  if (TRANSMISSIVE && gd * nd <= 0.0) { return out; }
  let brdf = evaluateBrdf(surface, next);
  if (!(brdf.pdf > 0.0)) { return out; }
  (*path).camera = 0u;
  (*path).pdf = brdf.pdf;
  var throughput = (*path).throughput * brdf.f * (abs(nd) / brdf.pdf);
  let depth = (*path).depth;
  if (depth + 1u >= ${RUSSIAN_ROULETTE_DEPTH}u) {
    let keep = clamp(max(throughput.x, max(throughput.y, throughput.z)), 0.05, 0.95);
    if (rRoulette >= keep) { return out; }
    throughput /= keep;
  }
  (*path).throughput = throughput;
  (*path).dir = next;
  (*path).origin = origin;
  if (TRANSMISSIVE && gd < 0.0) {
    (*path).origin = behindOrigin;
    // Through a volume's surface: into its medium from the front face, out of it from the back.
    if (eta > 0.0) { (*path).sigma = select(vec3f(0.0), materials[m * ${MATERIAL_ROWS}u + 9u].xyz, facing > 0.0); }
  }
  (*path).depth = depth + 1u;
  out.ended = depth + 1u >= params.tile.w;
  return out;
}

@compute @workgroup_size(${RENDER_WORKGROUP}, ${RENDER_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.tile.x || gid.y >= params.tile.y) { return; }
  let px = params.image.z + gid.x;
  let py = params.image.w + rows[params.samples.w + gid.y];
  let first = params.samples.x + gid.z * params.samples.y;
  let last = min(first + params.samples.y, params.samples.z);
  var sum = vec3f(0.0);
  if (params.groups.z == 1u) { sum = accum[(params.samples.w + gid.y) * params.tile.x + gid.x].xyz; }
  var rays = 0u;
  let end = select(1u, bitcast<u32>(nodes[0].w), bitcast<u32>(nodes[1].w) == 0u);
  // One loop iteration is one BVH step of the lane's current ray. A lane whose ray finishes shades it and starts
  // its next ray (shadow ray, next bounce or next sample) in the same iteration, so the eight invocations lavapipe
  // runs per instruction all keep traversing instead of waiting for the longest ray. Each pixel's samples still
  // finish in ascending order, so its sum is the same as sample by sample.
  var s = first;
  if (s < last) {
    var path = startPath(px, py, s);
    var o = path.origin;
    var d = path.dir;
    var inv = safeInverse(d);
    var seed = path.rng;
    var best = Hit(FAR, NO_HIT, 0.0, 0.0);
    var shadow = false;
    var pending = vec3f(0.0);
    var resume = false;
    var node = 0u;
    loop {
      // A lane's ray always has a node to visit here: a finished ray was replaced at the end of the last iteration.
      let lo = nodes[node * 2u];
      let hi = nodes[node * 2u + 1u];
      let t0 = (lo.xyz - o) * inv;
      let t1 = (hi.xyz - o) * inv;
      let tn = min(t0, t1);
      let tf = max(t0, t1);
      let enter = max(max(tn.x, tn.y), max(tn.z, 0.0));
      let exit = min(min(tf.x, tf.y), min(tf.z, best.t));
      let count = bitcast<u32>(hi.w);
      let a = bitcast<u32>(lo.w);
      let hit = enter <= exit;
      if (hit && count > 0u) {
        for (var i = a; i < a + count; i++) { hitTriangle(i, o, d, &best, seed); }
      }
      // A hit box or a leaf goes on to the next node; a missed inner node jumps past its subtree. A shadow ray only
      // asks whether anything blocks it: the first hit ends it.
      node = select(a, node + 1u, hit || count > 0u);
      node = select(node, end, shadow && best.tri != NO_HIT);
      if (node >= end) {
        rays++;
        var ended = false;
        var next = true;
        if (shadow) {
          if (best.tri == NO_HIT) { path.radiance += select(pending, pending * glassT, TRANSMISSIVE && glassPass); }
          shadow = false;
          if (TRANSMISSIVE) { glassPass = false; }
          ended = !resume;
        } else {
          let shaded = shade(&path, best);
          if (shaded.shadow) {
            shadow = true;
            resume = !shaded.ended;
            pending = shaded.pending;
            o = shaded.shadowOrigin;
            d = shaded.shadowDir;
            inv = safeInverse(d);
            seed = path.rng ^ SHADOW_SEED;
            best = Hit(shaded.shadowMax, NO_HIT, 0.0, 0.0);
            if (TRANSMISSIVE) {
              glassPass = shaded.shadowGlass;
              glassT = vec3f(1.0);
            }
            node = 0u;
            next = false;
          } else {
            ended = shaded.ended;
          }
        }
        if (ended) {
          let r = path.radiance;
          // A NaN or infinity from a degenerate triangle would poison the whole pixel; drop that sample instead.
          let finite = all(r == r) && all(abs(r) < vec3f(1e30));
          sum += select(vec3f(0.0), r, finite);
          s++;
          if (s >= last) { break; }
          path = startPath(px, py, s);
        }
        if (next) {
          o = path.origin;
          d = path.dir;
          inv = safeInverse(d);
          seed = path.rng;
          best = Hit(FAR, NO_HIT, 0.0, 0.0);
          node = 0u;
        }
      }
    }
  }
  partial[(gid.z * params.tile.y + gid.y) * params.tile.x + gid.x] = vec4f(sum, f32(rays));
}
`
}

/** The path-tracing kernel for scenes with no optional feature (see {@link PLAIN_KERNEL}). */
export const PATH_TRACER_WGSL = pathTracerWgsl(PLAIN_KERNEL)

/**
 * Adds a dispatch's sample groups to the running per-pixel sums in ascending group order (the first groups
 * start from zero) and, after the last groups, divides by the sample count. A carried group already holds the
 * running sum, so it replaces it (added to zero, as the first group is: the same bits). `accum.w` sums the ray
 * counts.
 */
export const PATH_TRACER_REDUCE_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(6) var<storage, read_write> accum: array<vec4f>;
@group(0) @binding(8) var<storage, read> partial: array<vec4f>;

@compute @workgroup_size(${RENDER_WORKGROUP}, ${RENDER_WORKGROUP}, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.tile.x || gid.y >= params.tile.y) { return; }
  let slot = (params.samples.w + gid.y) * params.tile.x + gid.x;
  var acc = vec4f(0.0);
  if (params.samples.x > 0u) { acc = accum[slot]; }
  if (params.groups.z == 1u) { acc = vec4f(vec3f(0.0), acc.w); }
  for (var z = 0u; z < params.groups.x; z++) {
    acc += partial[(z * params.tile.y + gid.y) * params.tile.x + gid.x];
  }
  if (params.groups.y == 1u) { acc = vec4f(acc.xyz / f32(params.samples.z), acc.w); }
  accum[slot] = acc;
}
`
