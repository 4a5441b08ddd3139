import { RAY_EPSILON, RAY_EPSILON_RELATIVE, RUSSIAN_ROULETTE_DEPTH, SHADOW_SEED } from '../constants.js'
import type { Scene } from '../scene/scene.js'
import { projectionScale } from '../scene/camera.js'
import { PUNCTUAL_WORDS } from '../scene/punctual.js'
import { unorm16 } from '../scene/vertex-colors.js'
import { MATERIAL_FLOATS } from '../scene/scene.js'
import { sampleTexture, sampleTextureAlpha, SRGB_TO_LINEAR, UNORM_TO_FLOAT } from '../scene/texture.js'
import { emissionWeight, powerHeuristic, SurfaceBrdf, type BrdfMaterial } from './brdf.js'
import { EnvironmentLight } from './environment-light.js'
import { lightShares } from './light-shares.js'
import { pcgHash, sampleSeed } from './rng.js'
import { resolveTile } from './tile.js'
import type { RenderedTile, RenderTileOptions } from './tile.js'

const f32 = Math.fround
const FAR = 1e30
const NO_HIT = 0xffffffff

/**
 * The CPU reference of the WGSL path tracer: the same camera, BVH traversal order, materials, Russian roulette and
 * random-number stream per (frame, pixel, sample), computed in f64 and rounded to f32 where values are stored.
 * It matches the GPU up to the last bits of each float (and rare paths that the rounding sends elsewhere), which
 * is why render outputs compare by PSNR across implementations. Used by tests and by verifiers without a GPU.
 */
export function renderTileCpu(options: RenderTileOptions): RenderedTile {
  const t = resolveTile(options)
  const tracer = new CpuTracer(options.scene, t.maxDepth)
  const pixels = new Float32Array(t.rows.length * t.width * 4)
  let rays = 0
  const cam = options.scene.camera
  const half = projectionScale(cam)
  const aspect = t.imageWidth / t.imageHeight
  const bg = t.background
  for (let r = 0; r < t.rows.length; r++) {
    const py = t.y + t.rows[r]!
    for (let i = 0; i < t.width; i++) {
      const px = t.x + i
      let sr = 0
      let sg = 0
      let sb = 0
      for (let s = 0; s < t.samples; s++) {
        tracer.trace(px, py, s, t.frame, t.imageWidth, t.imageHeight, half, aspect, bg)
        rays += tracer.rays
        const ok = [tracer.r, tracer.g, tracer.b].every((v) => Number.isFinite(v) && Math.abs(v) < FAR)
        if (ok) {
          sr = f32(sr + tracer.r)
          sg = f32(sg + tracer.g)
          sb = f32(sb + tracer.b)
        }
      }
      const o = (r * t.width + i) * 4
      pixels[o] = sr / t.samples
      pixels[o + 1] = sg / t.samples
      pixels[o + 2] = sb / t.samples
      pixels[o + 3] = 1
    }
  }
  return { ...t.identity, rows: t.rows, pixels, rays }
}

class CpuTracer {
  readonly #nodes: Float32Array
  readonly #nodeBits: Uint32Array
  readonly #tris: Float32Array
  readonly #triBits: Uint32Array
  readonly #normals: Float32Array
  readonly #materials: Float32Array
  readonly #materialBits: Uint32Array
  readonly #aux: Uint32Array
  readonly #auxFloats: Float32Array
  readonly #uvOffset: number
  readonly #uv1Offset: number
  readonly #uvTransformOffset: number
  readonly #tangentOffset: number
  /** Where the vertex colours lie in `aux`; 0 when the scene has none. */
  readonly #colorOffset: number
  /** The last `#vertexColor`: linear RGBA. */
  readonly #vertexRgba = new Float64Array(4)
  /** Punctual lights: where they are packed, how many, and the share of light samples they take. */
  readonly #punctualOffset: number
  readonly #punctualCount: number
  readonly #pPunctual: number
  /** The environment (undefined for none) and its share of light samples. */
  readonly #environment: EnvironmentLight | undefined
  readonly #pEnvironment: number
  /** Whether camera rays see the environment (else the background colour). */
  readonly #environmentVisible: boolean
  /** The last `#punctualSample`: direction and radiance per unit BRDF, and the shadow ray's length (0: none). */
  readonly #punctual = new Float64Array(6)
  #shadowMax = 0
  /** The last `#faceNormal`. */
  readonly #face = new Float64Array(3)
  /** The last normal-mapped shading normal. */
  readonly #bent = new Float64Array(3)
  /** The hit's material (see `#material`): its BRDF inputs and emission after textures. */
  readonly #hit: BrdfMaterial = {
    r: 0,
    g: 0,
    b: 0,
    metallic: 0,
    roughness: 0,
    f0r: 0,
    f0g: 0,
    f0b: 0,
    specular: 0,
    transmission: 0,
    clearcoat: 0,
    clearcoatRoughness: 0,
    eta: 0,
    sheenR: 0,
    sheenG: 0,
    sheenB: 0,
    sheenRoughness: 0,
  }
  readonly #emitted = new Float64Array(3)
  readonly #texColor = new Float64Array(3)
  /** The sampled light's emission. */
  readonly #lightColor = new Float64Array(3)
  // Texture coordinates of the last `#triangleUv`.
  /** The last hit's texture coordinates (`#triangleUv`): TEXCOORD_0, then TEXCOORD_1 (or TEXCOORD_0 again). */
  readonly #uvs = new Float64Array(4)
  /** The point `#uvs` holds: triangle and barycentrics (-1: none yet). */
  #uvsTri = -1
  #uvsU = 0
  #uvsV = 0
  /** The same for the alpha test during traversal, which must not disturb the hit's. */
  readonly #alphaUvs = new Float64Array(4)
  /** Where the last `#slotUv` puts a texture's sample. */
  #su = 0
  #sv = 0
  readonly #brdf = new SurfaceBrdf()
  /** Camera position, right, up, forward as the shader's uniform block holds them (f32). */
  readonly #camera: Float32Array
  readonly #lights: Float32Array
  readonly #lightBits: Uint32Array
  readonly #lightCount: number
  /** Total light power (`Scene.lightPower`) as the shader's uniform holds it (f32). */
  readonly #lightPower: number
  readonly #maxDepth: number
  #rng = 0
  /** The random number of the ray being traced, for stochastic transparency (see `#opaqueAt`). */
  #seed = 0
  readonly #alphaTested: boolean
  /** Whether some material transmits: then light samples and bounces may leave through a surface's far side. */
  readonly #transmissive: boolean
  /** Whether some material has a clearcoat. */
  readonly #coated: boolean
  /** Whether some material is unlit (see `Material.unlit`). */
  readonly #unlit: boolean
  /** Whether some material has a sheen (KHR_materials_sheen). */
  readonly #sheened: boolean
  /** Whether some material has a specular or specular colour texture (KHR_materials_specular). */
  readonly #specularTextured: boolean
  /** While a shadow ray towards a punctual light is traced: it passes glass, which lets `#glassT` through. */
  #glassPass = false
  readonly #glassT = new Float64Array(3)
  // Last hit, kept in fields to avoid allocating per ray.
  #t = FAR
  #tri = NO_HIT
  #u = 0
  #v = 0
  /** Result of the last trace: radiance and rays cast. */
  r = 0
  g = 0
  b = 0
  rays = 0

  constructor(scene: Scene, maxDepth: number) {
    const cam = scene.camera
    this.#camera = Float32Array.from([...cam.position, ...cam.right, ...cam.up, ...cam.forward])
    this.#lights = scene.lights
    this.#lightBits = new Uint32Array(scene.lights.buffer, scene.lights.byteOffset, scene.lights.length)
    this.#lightCount = scene.lightCount
    this.#lightPower = f32(scene.lightPower)
    this.#nodes = scene.bvh
    this.#nodeBits = new Uint32Array(scene.bvh.buffer, scene.bvh.byteOffset, scene.bvh.length)
    this.#tris = scene.triangles
    this.#triBits = new Uint32Array(scene.triangles.buffer, scene.triangles.byteOffset, scene.triangles.length)
    this.#normals = scene.normals
    this.#materials = scene.materials
    this.#materialBits = new Uint32Array(scene.materials.buffer, scene.materials.byteOffset, scene.materials.length)
    this.#aux = scene.aux
    this.#auxFloats = new Float32Array(scene.aux.buffer, scene.aux.byteOffset, scene.aux.length)
    this.#uvOffset = scene.uvOffset
    this.#uv1Offset = scene.uv1Offset
    this.#uvTransformOffset = scene.uvTransformOffset
    this.#tangentOffset = scene.tangentOffset
    this.#colorOffset = scene.colorOffset
    this.#alphaTested = scene.alphaTested
    this.#transmissive = scene.transmissive
    this.#coated = scene.coated
    this.#unlit = scene.unlit
    this.#sheened = scene.sheened
    this.#specularTextured = scene.specularTextured
    this.#punctualOffset = scene.punctualOffset
    this.#punctualCount = scene.punctualCount
    const shares = lightShares(scene)
    this.#pPunctual = shares.punctual
    this.#pEnvironment = shares.environment
    this.#environment = scene.environment && new EnvironmentLight(this.#auxFloats, scene.environment)
    this.#environmentVisible = scene.environment?.visible ?? true
    this.#maxDepth = maxDepth
  }

  #random(): number {
    this.#rng = pcgHash(this.#rng)
    return (this.#rng >>> 8) * (1 / 16777216)
  }

  trace(
    px: number,
    py: number,
    s: number,
    frame: number,
    w: number,
    h: number,
    half: number,
    aspect: number,
    bg: readonly number[],
  ): void {
    const c = this.#camera
    this.#rng = sampleSeed(frame, px, py, s)
    const jx = this.#random()
    const jy = this.#random()
    const ndcX = f32(f32(f32(px + jx) / w) * 2 - 1)
    const ndcY = f32(1 - f32(f32(py + jy) / h) * 2)
    const sx = f32(ndcX * f32(Math.abs(half)) * f32(aspect))
    const sy = f32(ndcY * f32(Math.abs(half)))
    let dx = c[9]! + c[3]! * sx + c[6]! * sy
    let dy = c[10]! + c[4]! * sx + c[7]! * sy
    let dz = c[11]! + c[5]! * sx + c[8]! * sy
    let len = Math.sqrt(dx * dx + dy * dy + dz * dz)
    dx = f32(dx / len)
    dy = f32(dy / len)
    dz = f32(dz / len)
    let ox = c[0]!
    let oy = c[1]!
    let oz = c[2]!
    if (half < 0) {
      // Orthographic (see projectionScale): from the point (sx, sy) of the view rectangle, straight ahead.
      ox = f32(ox + c[3]! * sx + c[6]! * sy)
      oy = f32(oy + c[4]! * sx + c[7]! * sy)
      oz = f32(oz + c[5]! * sx + c[8]! * sy)
      dx = c[9]!
      dy = c[10]!
      dz = c[11]!
    }
    let tr = 1
    let tg = 1
    let tb = 1
    let lr = 0
    let lg = 0
    let lb = 0
    // True for camera rays: emission they hit counts in full. After a bounce it is weighted against next-event
    // estimation by the pdf that bounce sampled its direction with (multiple importance sampling).
    let camera = true
    let bsdfPdf = 0
    // Inside a volume: its attenuation coefficient per unit length (the shader's PathState.sigma).
    let sr = 0
    let sg = 0
    let sb = 0
    this.rays = 0
    const tris = this.#tris
    const triBits = this.#triBits
    const mats = this.#materials
    const nrm = this.#normals
    const brdf = this.#brdf
    const lightCount = this.#lightCount
    for (let depth = 0; depth < this.#maxDepth; depth++) {
      this.#seed = this.#rng
      this.#intersect(ox, oy, oz, dx, dy, dz, FAR, false)
      this.rays++
      const rPick = this.#random()
      const r1 = this.#random()
      const r2 = this.#random()
      const rChoice = this.#random()
      const rRoulette = this.#random()
      const rLight = this.#random()
      const rU = this.#random()
      const rV = this.#random()
      if (this.#tri === NO_HIT) {
        const env = this.#environment
        if (env === undefined || (camera && !this.#environmentVisible)) {
          lr = f32(lr + tr * bg[0]!)
          lg = f32(lg + tg * bg[1]!)
          lb = f32(lb + tb * bg[2]!)
          break
        }
        env.lookup(dx, dy, dz)
        // Weighted against next-event estimation as emissive triangles are.
        const w = camera || this.#pEnvironment === 0 ? 1 : powerHeuristic(bsdfPdf, this.#pEnvironment * env.pdf)
        lr = f32(lr + tr * env.r * w)
        lg = f32(lg + tg * env.g * w)
        lb = f32(lb + tb * env.b * w)
        break
      }
      if (this.#transmissive) {
        // Beer-Lambert: what the volume the segment crossed let through.
        const t = this.#t
        tr = f32(tr * f32(Math.exp(-sr * t)))
        tg = f32(tg * f32(Math.exp(-sg * t)))
        tb = f32(tb * f32(Math.exp(-sb * t)))
      }
      const ti = this.#tri * 12
      const m = triBits[ti + 3]! * MATERIAL_FLOATS
      this.#material(m)
      if (this.#unlit && (this.#materialBits[m + 31]! & 8) !== 0) {
        // An unlit material (KHR_materials_unlit) shows its base colour and scatters nothing: the path ends on it.
        const hit = this.#hit
        lr = f32(lr + tr * hit.r)
        lg = f32(lg + tg * hit.g)
        lb = f32(lb + tb * hit.b)
        break
      }
      const emitted = this.#emitted
      this.#faceNormal(ti)
      let gx = this.#face[0]!
      let gy = this.#face[1]!
      let gz = this.#face[2]!
      const facing = -(gx * dx + gy * dy + gz * dz)
      // Front faces emit, and back faces too where the material is double-sided (the shader's rule).
      if (Math.max(mats[m + 4]!, mats[m + 5]!, mats[m + 6]!) > 0 && (facing > 0 || this.#doubleSided(m))) {
        const w =
          camera || lightCount === 0
            ? 1
            : powerHeuristic(bsdfPdf, this.#areaLightPdf(m, this.#t * this.#t, Math.abs(facing)))
        lr = f32(lr + tr * emitted[0]! * w)
        lg = f32(lg + tg * emitted[1]! * w)
        lb = f32(lb + tb * emitted[2]! * w)
      }
      if (facing <= 0) {
        gx = -gx
        gy = -gy
        gz = -gz
      }
      const w0 = 1 - this.#u - this.#v
      const u = this.#u
      const v = this.#v
      let nx = nrm[ti]! * w0 + nrm[ti + 4]! * u + nrm[ti + 8]! * v
      let ny = nrm[ti + 1]! * w0 + nrm[ti + 5]! * u + nrm[ti + 9]! * v
      let nz = nrm[ti + 2]! * w0 + nrm[ti + 6]! * u + nrm[ti + 10]! * v
      len = Math.sqrt(nx * nx + ny * ny + nz * nz)
      nx /= len
      ny /= len
      nz /= len
      if (this.#materialBits[m + 23] !== 0) {
        this.#normalMapped(m, nx, ny, nz)
        nx = this.#bent[0]!
        ny = this.#bent[1]!
        nz = this.#bent[2]!
      }
      if (nx * gx + ny * gy + nz * gz < 0) {
        nx = -nx
        ny = -ny
        nz = -nz
      }
      // On a volume's surface (an ior in word 35): entering from its front face, else leaving.
      const ior = this.#transmissive ? mats[m + 35]! : 0
      this.#hit.eta = ior > 0 ? (facing > 0 ? 1 / ior : ior) : 0
      brdf.set(nx, ny, nz, -dx, -dy, -dz, this.#hit)
      // A shading normal tilted away from the viewer reflects nothing.
      if (!(brdf.nDotV > 0)) break
      const px = f32(ox + dx * this.#t)
      const py = f32(oy + dy * this.#t)
      const pz = f32(oz + dz * this.#t)
      const offset = rayOffset(
        Math.max(Math.abs(px), Math.abs(py), Math.abs(pz)),
        Math.max(Math.abs(ox), Math.abs(oy), Math.abs(oz)),
      )
      const qx = f32(px + gx * offset)
      const qy = f32(py + gy * offset)
      const qz = f32(pz + gz * offset)
      // Where rays through a transmissive surface start: just behind it.
      const bx = f32(px - gx * offset)
      const by = f32(py - gy * offset)
      const bz = f32(pz - gz * offset)
      if (rChoice < this.#pPunctual) {
        this.#punctualSample(rLight, qx, qy, qz, nx, ny, nz, gx, gy, gz)
        if (this.#shadowMax > 0) {
          this.#seed = (this.#rng ^ SHADOW_SEED) >>> 0
          const l = this.#punctual
          const behind = gx * l[0]! + gy * l[1]! + gz * l[2]! < 0
          // Towards a punctual light the shadow ray passes thin-walled glass, as the shader's (see #glassPass).
          const glass = this.#glassT
          glass[0] = glass[1] = glass[2] = 1
          this.#glassPass = this.#transmissive
          if (behind) this.#intersect(bx, by, bz, l[0]!, l[1]!, l[2]!, this.#shadowMax, true)
          else this.#intersect(qx, qy, qz, l[0]!, l[1]!, l[2]!, this.#shadowMax, true)
          this.#glassPass = false
          this.rays++
          if (this.#tri === NO_HIT) {
            brdf.evaluate(l[0]!, l[1]!, l[2]!)
            lr = f32(lr + tr * brdf.fr * l[3]! * glass[0]!)
            lg = f32(lg + tg * brdf.fg * l[4]! * glass[1]!)
            lb = f32(lb + tb * brdf.fb * l[5]! * glass[2]!)
          }
        }
      } else if (this.#pEnvironment > 0 && rChoice < this.#pPunctual + this.#pEnvironment) {
        // Next-event estimation towards the environment, as in the shader: a direction by brightness, a shadow ray.
        const env = this.#environment!
        env.sample(rU, rV)
        const wx = f32(env.dx)
        const wy = f32(env.dy)
        const wz = f32(env.dz)
        const cosS = nx * wx + ny * wy + nz * wz
        const gw = gx * wx + gy * wy + gz * wz
        const behind = this.#transmissive && cosS < 0 && gw < 0
        if (env.pdf > 0 && ((cosS > 0 && gw > 0) || behind)) {
          brdf.evaluate(wx, wy, wz)
          this.#seed = (this.#rng ^ SHADOW_SEED) >>> 0
          if (behind) this.#intersect(bx, by, bz, wx, wy, wz, FAR, true)
          else this.#intersect(qx, qy, qz, wx, wy, wz, FAR, true)
          this.rays++
          if (this.#tri === NO_HIT) {
            const lightPdf = this.#pEnvironment * env.pdf
            const w = depth + 1 >= this.#maxDepth ? 1 : powerHeuristic(lightPdf, brdf.pdf)
            const k = (Math.abs(cosS) / lightPdf) * w
            lr = f32(lr + tr * brdf.fr * env.r * k)
            lg = f32(lg + tg * brdf.fg * env.g * k)
            lb = f32(lb + tb * brdf.fb * env.b * k)
          }
        }
      } else if (lightCount > 0) {
        // Next-event estimation, as in the shader: a triangle by power, a point on it, and a shadow ray.
        const entry = this.#pickLight(rLight)
        const lightTri = entry & 0x7fff_ffff
        const lo = lightTri * 12
        const su = Math.sqrt(rU)
        const wa = su * (1 - rV)
        const wb = su * rV
        const tx = tris[lo]! + tris[lo + 4]! * wa + tris[lo + 8]! * wb - qx
        const ty = tris[lo + 1]! + tris[lo + 5]! * wa + tris[lo + 9]! * wb - qy
        const tz = tris[lo + 2]! + tris[lo + 6]! * wa + tris[lo + 10]! * wb - qz
        const dist2 = tx * tx + ty * ty + tz * tz
        const dist = Math.sqrt(dist2)
        const wx = f32(tx / dist)
        const wy = f32(ty / dist)
        const wz = f32(tz / dist)
        const cosS = nx * wx + ny * wy + nz * wz
        this.#faceNormal(lo)
        const face = this.#face
        const facingLight = -(face[0]! * wx + face[1]! * wy + face[2]! * wz)
        const cosL = entry >= 0x8000_0000 ? Math.abs(facingLight) : facingLight
        const gw = gx * wx + gy * wy + gz * wz
        // A transmissive surface takes light from behind it too, when both its normals agree the light is there.
        const behind = this.#transmissive && cosS < 0 && gw < 0
        if (cosL > 0 && ((cosS > 0 && gw > 0) || behind)) {
          brdf.evaluate(wx, wy, wz)
          this.#seed = (this.#rng ^ SHADOW_SEED) >>> 0
          if (behind) this.#intersect(bx, by, bz, wx, wy, wz, f32(dist * (1 - 1e-3)), true)
          else this.#intersect(qx, qy, qz, wx, wy, wz, f32(dist * (1 - 1e-3)), true)
          this.rays++
          if (this.#tri === NO_HIT) {
            const le = triBits[lo + 3]! * MATERIAL_FLOATS
            const light = this.#lightColor
            for (let k = 0; k < 3; k++) light[k] = mats[le + 4 + k]!
            if (this.#materialBits[le + 19] !== 0) {
              this.#triangleUv(lightTri, wa, wb)
              this.#texture(le + 16, this.#texColor, SRGB_TO_LINEAR)
              for (let k = 0; k < 3; k++) light[k] = f32(light[k]! * this.#texColor[k]!)
            }
            const lightPdf = this.#areaLightPdf(le, dist2, cosL)
            // The last vertex has no bounce that could find the light, so its light sample counts in full.
            const w = depth + 1 >= this.#maxDepth ? 1 : powerHeuristic(lightPdf, brdf.pdf)
            const k = (Math.abs(cosS) / lightPdf) * w
            lr = f32(lr + tr * brdf.fr * light[0]! * k)
            lg = f32(lg + tg * brdf.fg * light[1]! * k)
            lb = f32(lb + tb * brdf.fb * light[2]! * k)
          }
        }
      }
      brdf.sample(rPick, r1, r2)
      len = Math.sqrt(brdf.lx * brdf.lx + brdf.ly * brdf.ly + brdf.lz * brdf.lz)
      dx = f32(brdf.lx / len)
      dy = f32(brdf.ly / len)
      dz = f32(brdf.lz / len)
      const gd = dx * gx + dy * gy + dz * gz
      const nd = nx * dx + ny * dy + nz * dz
      // Onwards on the viewer's side, or through a transmissive surface, with both normals agreeing which.
      if (this.#transmissive ? gd * nd <= 0 : gd <= 0) break
      brdf.evaluate(dx, dy, dz)
      if (!(brdf.pdf > 0)) break
      const cos = Math.abs(nd) / brdf.pdf
      tr = f32(tr * brdf.fr * cos)
      tg = f32(tg * brdf.fg * cos)
      tb = f32(tb * brdf.fb * cos)
      camera = false
      bsdfPdf = brdf.pdf
      if (depth + 1 >= RUSSIAN_ROULETTE_DEPTH) {
        const keep = Math.min(0.95, Math.max(0.05, tr, tg, tb))
        if (rRoulette >= keep) break
        tr = f32(tr / keep)
        tg = f32(tg / keep)
        tb = f32(tb / keep)
      }
      ox = gd < 0 ? bx : qx
      oy = gd < 0 ? by : qy
      oz = gd < 0 ? bz : qz
      if (gd < 0 && ior > 0) {
        // Through a volume's surface: into its medium from the front face, out of it from the back.
        const inside = facing > 0
        sr = inside ? mats[m + 36]! : 0
        sg = inside ? mats[m + 37]! : 0
        sb = inside ? mats[m + 38]! : 0
      }
    }
    this.r = lr
    this.g = lg
    this.b = lb
  }

  /**
   * The material of row `m` at the last hit, into `#hit` and `#emitted`: its factors times its textures at the
   * hit's UV, as the shader's `shade` does.
   */
  #material(m: number): void {
    const mats = this.#materials
    const hit = this.#hit
    const emitted = this.#emitted
    hit.r = mats[m]!
    hit.g = mats[m + 1]!
    hit.b = mats[m + 2]!
    hit.metallic = mats[m + 3]!
    hit.roughness = mats[m + 7]!
    hit.f0r = mats[m + 24]!
    hit.f0g = mats[m + 25]!
    hit.f0b = mats[m + 26]!
    hit.specular = mats[m + 27]!
    hit.transmission = this.#transmissive ? mats[m + 32]! : 0
    hit.clearcoat = this.#coated ? mats[m + 33]! : 0
    hit.clearcoatRoughness = this.#coated ? mats[m + 34]! : 0
    hit.sheenR = this.#sheened ? mats[m + 40]! : 0
    hit.sheenG = this.#sheened ? mats[m + 41]! : 0
    hit.sheenB = this.#sheened ? mats[m + 42]! : 0
    hit.sheenRoughness = this.#sheened ? mats[m + 43]! : 0
    for (let k = 0; k < 3; k++) emitted[k] = mats[m + 4 + k]!
    this.#materialTextures(m)
    this.#layerTextures(m)
    this.#specularTextures(m)
    // glTF: COLOR_0 multiplies the base colour (its factor times its texture).
    if (this.#colorOffset !== 0) {
      const c = this.#vertexColor(this.#tri, this.#u, this.#v)
      hit.r = f32(hit.r * c[0]!)
      hit.g = f32(hit.g * c[1]!)
      hit.b = f32(hit.b * c[2]!)
    }
  }

  /** Scales the last hit's factors (`#hit`, `#emitted`) by material word `m`'s textures, if it has any. */
  #materialTextures(m: number): void {
    const hit = this.#hit
    const emitted = this.#emitted
    const bits = this.#materialBits
    if ((bits[m + 11]! | bits[m + 15]! | bits[m + 19]! | bits[m + 23]!) === 0) return
    this.#triangleUv(this.#tri, this.#u, this.#v)
    const tex = this.#texColor
    if (this.#texture(m + 8, tex, SRGB_TO_LINEAR)) {
      hit.r = f32(hit.r * tex[0]!)
      hit.g = f32(hit.g * tex[1]!)
      hit.b = f32(hit.b * tex[2]!)
    }
    if (this.#texture(m + 12, tex, UNORM_TO_FLOAT)) {
      hit.roughness = f32(hit.roughness * tex[1]!)
      hit.metallic = f32(hit.metallic * tex[2]!)
    }
    if (this.#texture(m + 16, tex, SRGB_TO_LINEAR)) for (let k = 0; k < 3; k++) emitted[k] = f32(emitted[k]! * tex[k]!)
  }

  /**
   * Scales the last hit's F0 and specular weight by material word `m`'s specular colour and specular textures
   * (KHR_materials_specular), in scenes that have such textures, as the shader does.
   */
  #specularTextures(m: number): void {
    const bits = this.#materialBits
    // The texture rows 16 and 17: their sampler words.
    if (!this.#specularTextured || (bits[m + 67]! | bits[m + 71]!) === 0) return
    this.#triangleUv(this.#tri, this.#u, this.#v)
    const hit = this.#hit
    if (this.#texture(m + 68, this.#texColor, SRGB_TO_LINEAR)) {
      hit.f0r = f32(hit.f0r * this.#texColor[0]!)
      hit.f0g = f32(hit.f0g * this.#texColor[1]!)
      hit.f0b = f32(hit.f0b * this.#texColor[2]!)
    }
    if (bits[m + 67] !== 0) {
      this.#slotUv(m + 64, this.#uvs)
      hit.specular = f32(hit.specular * sampleTextureAlpha(this.#aux, bits, m + 64, this.#su, this.#sv))
    }
  }

  /**
   * Scales the last hit's transmission, clearcoat and sheen factors by material word `m`'s textures for them (the
   * shader's `layerTexture` calls), in textured scenes with those layers.
   */
  #layerTextures(m: number): void {
    if (this.#uvOffset === 0 || !(this.#transmissive || this.#coated || this.#sheened)) return
    const bits = this.#materialBits
    // The texture rows 11 to 15: their sampler words.
    if ((bits[m + 47]! | bits[m + 51]! | bits[m + 55]! | bits[m + 59]! | bits[m + 63]!) === 0) return
    this.#triangleUv(this.#tri, this.#u, this.#v)
    const hit = this.#hit
    const tex = this.#texColor
    if (this.#transmissive && this.#texture(m + 44, tex, UNORM_TO_FLOAT)) {
      hit.transmission = f32(hit.transmission! * tex[0]!)
    }
    if (this.#coated && this.#texture(m + 48, tex, UNORM_TO_FLOAT)) hit.clearcoat = f32(hit.clearcoat! * tex[0]!)
    if (this.#coated && this.#texture(m + 52, tex, UNORM_TO_FLOAT)) {
      hit.clearcoatRoughness = f32(hit.clearcoatRoughness! * tex[1]!)
    }
    if (this.#sheened && this.#texture(m + 56, tex, SRGB_TO_LINEAR)) {
      hit.sheenR = f32(hit.sheenR! * tex[0]!)
      hit.sheenG = f32(hit.sheenG! * tex[1]!)
      hit.sheenB = f32(hit.sheenB! * tex[2]!)
    }
    if (this.#sheened && bits[m + 63] !== 0) {
      this.#slotUv(m + 60, this.#uvs)
      hit.sheenRoughness = f32(hit.sheenRoughness! * sampleTextureAlpha(this.#aux, bits, m + 60, this.#su, this.#sv))
    }
  }

  /**
   * The vertex colour (glTF COLOR_0, linear RGBA) at barycentrics (u, v) of triangle `tri`, into `#vertexRgba` (the
   * shader's `vertexColor`; scenes with colours only).
   */
  #vertexColor(tri: number, u: number, v: number): Float64Array {
    const o = this.#colorOffset + tri * 6
    const aux = this.#aux
    const w0 = f32(1 - u - v)
    const out = this.#vertexRgba
    for (let k = 0; k < 4; k++) {
      // Channel k of vertex j is the low (k even) or high half of word o + 2j + (k >> 1).
      const word = o + (k >> 1)
      const shift = (k & 1) * 16
      const c0 = unorm16((aux[word]! >>> shift) & 0xffff)
      const c1 = unorm16((aux[word + 2]! >>> shift) & 0xffff)
      const c2 = unorm16((aux[word + 4]! >>> shift) & 0xffff)
      out[k] = f32(c0 * w0 + c1 * u + c2 * v)
    }
    return out
  }

  /** Samples the texture of material word `row` at the last hit's coordinates into `out`; false when there is none. */
  #texture(row: number, out: Float64Array, table: Float32Array): boolean {
    const bits = this.#materialBits
    if (bits[row + 3] === 0) return false
    this.#slotUv(row, this.#uvs)
    sampleTexture(this.#aux, bits, row, this.#su, this.#sv, out, table)
    return true
  }

  /**
   * The shading normal n bent by material `m`'s normal map at the last hit, into `#bent` (the shader's
   * `normalMapped`): the map's texel in the tangent frame (+X tangent, +Y cross(n, tangent) * w, +Z n). A
   * degenerate tangent or bent normal leaves n as it is.
   */
  #normalMapped(m: number, nx: number, ny: number, nz: number): void {
    const out = this.#bent
    out[0] = nx
    out[1] = ny
    out[2] = nz
    const t = this.#auxFloats // the same words as f32s
    const o = this.#tangentOffset + this.#tri * 12
    const w0 = 1 - this.#u - this.#v
    const u = this.#u
    const v = this.#v
    let tx = t[o]! * w0 + t[o + 4]! * u + t[o + 8]! * v
    let ty = t[o + 1]! * w0 + t[o + 5]! * u + t[o + 9]! * v
    let tz = t[o + 2]! * w0 + t[o + 6]! * u + t[o + 10]! * v
    const d = nx * tx + ny * ty + nz * tz
    tx -= nx * d
    ty -= ny * d
    tz -= nz * d
    let len2 = tx * tx + ty * ty + tz * tz
    if (!(len2 > 1e-12)) return
    let len = Math.sqrt(len2)
    tx /= len
    ty /= len
    tz /= len
    const sign = t[o + 3]!
    const bx = (ny * tz - nz * ty) * sign
    const by = (nz * tx - nx * tz) * sign
    const bz = (nx * ty - ny * tx) * sign
    const c = this.#texColor
    this.#texture(m + 20, c, UNORM_TO_FLOAT)
    const scale = this.#materials[m + 28]!
    const mx = (c[0]! * 2 - 1) * scale
    const my = (c[1]! * 2 - 1) * scale
    const mz = c[2]! * 2 - 1
    const x = tx * mx + bx * my + nx * mz
    const y = ty * mx + by * my + ny * mz
    const z = tz * mx + bz * my + nz * mz
    len2 = x * x + y * y + z * z
    if (!(len2 > 1e-12)) return
    len = Math.sqrt(len2)
    out[0] = x / len
    out[1] = y / len
    out[2] = z / len
  }

  /**
   * The texture coordinates at barycentrics (u, v) of triangle `tri`, into `#uvs` (the shader's `triangleUvs`); read
   * once per point, however many of its textures ask.
   */
  #triangleUv(tri: number, u: number, v: number): void {
    if (tri === this.#uvsTri && u === this.#uvsU && v === this.#uvsV) return
    this.#uvsTri = tri
    this.#uvsU = u
    this.#uvsV = v
    this.#uvsAt(tri, u, v, this.#uvs)
  }

  /** Both sets of texture coordinates at barycentrics (u, v) of triangle `tri` into `out`: TEXCOORD_0, then TEXCOORD_1. */
  #uvsAt(tri: number, u: number, v: number, out: Float64Array): void {
    const uv = this.#auxFloats
    const w0 = f32(1 - u - v)
    let o = this.#uvOffset + tri * 6
    out[0] = f32(uv[o]! * w0 + uv[o + 2]! * u + uv[o + 4]! * v)
    out[1] = f32(uv[o + 1]! * w0 + uv[o + 3]! * u + uv[o + 5]! * v)
    if (this.#uv1Offset === 0) {
      out[2] = out[0]!
      out[3] = out[1]!
      return
    }
    o = this.#uv1Offset + tri * 6
    out[2] = f32(uv[o]! * w0 + uv[o + 2]! * u + uv[o + 4]! * v)
    out[3] = f32(uv[o + 1]! * w0 + uv[o + 3]! * u + uv[o + 5]! * v)
  }

  /**
   * Where the texture of material word `row` is sampled among coordinates `uvs`, into `#su`, `#sv`: its set, through
   * its transform (the shader's `slotUv`).
   */
  #slotUv(row: number, uvs: Float64Array): void {
    const word = this.#materialBits[row + 3]!
    const s = (word & 64) !== 0 ? 2 : 0
    const k = word >>> 8
    if (k === 0) {
      this.#su = uvs[s]!
      this.#sv = uvs[s + 1]!
      return
    }
    const t = this.#auxFloats
    const o = this.#uvTransformOffset + k * 6
    const [a, b] = [uvs[s]!, uvs[s + 1]!]
    this.#su = f32(t[o]! * a + t[o + 1]! * b + t[o + 2]!)
    this.#sv = f32(t[o + 3]! * a + t[o + 4]! * b + t[o + 5]!)
  }

  /**
   * The solid-angle pdf with which next-event estimation picks a point on an emissive triangle of material row `m`,
   * seen at squared distance `dist2` and cosine `cosL` off its face (the shader's `lightPdf`).
   */
  #areaLightPdf(m: number, dist2: number, cosL: number): number {
    const mats = this.#materials
    const weight = emissionWeight(mats[m + 4]!, mats[m + 5]!, mats[m + 6]!)
    return (dist2 * weight * (1 - this.#pPunctual - this.#pEnvironment)) / (cosL * this.#lightPower)
  }

  /**
   * A light sample towards a punctual light picked by power with r, from point q with shading normal n and
   * geometric normal g, as the shader's: into `#punctual` the direction (0-2) and the radiance it adds per unit
   * BRDF (3-5, already divided by the pick's probability and times cos), and into `#shadowMax` the shadow ray's
   * length, or 0 when the light is behind the surface.
   */
  #punctualSample(
    r: number,
    qx: number,
    qy: number,
    qz: number,
    nx: number,
    ny: number,
    nz: number,
    gx: number,
    gy: number,
    gz: number,
  ): void {
    const f = this.#auxFloats
    // The light whose cumulative pick probability first exceeds r (the shader's `pickPunctual`).
    let lo = 0
    let hi = this.#punctualCount - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (r < f[this.#punctualOffset + mid * PUNCTUAL_WORDS + 11]!) hi = mid
      else lo = mid + 1
    }
    const o = this.#punctualOffset + lo * PUNCTUAL_WORDS
    const out = this.#punctual
    let wx = -f[o + 4]!
    let wy = -f[o + 5]!
    let wz = -f[o + 6]!
    let shadowMax = FAR
    let scale = 1
    if (this.#aux[o + 3] !== 2) {
      const tx = f[o]! - qx
      const ty = f[o + 1]! - qy
      const tz = f[o + 2]! - qz
      const dist2 = tx * tx + ty * ty + tz * tz
      const dist = Math.sqrt(dist2)
      wx = f32(tx / dist)
      wy = f32(ty / dist)
      wz = f32(tz / dist)
      shadowMax = f32(dist * (1 - 1e-3))
      const range = f[o + 7]!
      const window = range > 0 ? Math.min(1, Math.max(0, 1 - (dist / range) ** 4)) : 1
      const cone = Math.min(
        1,
        Math.max(0, -(f[o + 4]! * wx + f[o + 5]! * wy + f[o + 6]! * wz) * f[o + 12]! + f[o + 13]!),
      )
      scale = (window * cone * cone) / dist2
    }
    const cosS = nx * wx + ny * wy + nz * wz
    const gw = gx * wx + gy * wy + gz * wz
    const behind = this.#transmissive && cosS < 0 && gw < 0
    this.#shadowMax = (cosS > 0 && gw > 0) || behind ? shadowMax : 0
    const k = (scale * Math.abs(cosS)) / (this.#pPunctual * f[o + 14]!)
    out[0] = wx
    out[1] = wy
    out[2] = wz
    out[3] = f[o + 8]! * k
    out[4] = f[o + 9]! * k
    out[5] = f[o + 10]! * k
  }

  /**
   * For a shadow ray towards a punctual light (`#glassPass`): when the triangle at float `o` of `#tris` is
   * thin-walled glass, multiplies `#glassT` by what it lets straight through along d and returns true (the ray goes
   * on), as the shader's `straightThrough`.
   */
  #passGlass(o: number, dx: number, dy: number, dz: number): boolean {
    const m = this.#triBits[o + 3]! * MATERIAL_FLOATS
    const mats = this.#materials
    const transmission = mats[m + 32]!
    // Thin-walled glass only: a volume's surface (an ior in word 35) bends the ray away from the light.
    if (!(transmission > 0) || mats[m + 35] !== 0) return false
    this.#faceNormal(o)
    const c = Math.abs(this.#face[0]! * dx + this.#face[1]! * dy + this.#face[2]! * dz)
    const x = 1 - Math.min(Math.max(c, 0), 1)
    const fw = x * x * x * x * x
    const w = mats[m + 27]!
    const layer =
      w *
      Math.max(
        mats[m + 24]! + (1 - mats[m + 24]!) * fw,
        mats[m + 25]! + (1 - mats[m + 25]!) * fw,
        mats[m + 26]! + (1 - mats[m + 26]!) * fw,
      )
    const k = (1 - layer) * (1 - mats[m + 3]!) * transmission
    for (let i = 0; i < 3; i++) this.#glassT[i] = f32(this.#glassT[i]! * mats[m + i]! * k)
    return true
  }

  /** Whether the material at row `m` is double-sided (glTF doubleSided): it emits from both faces. */
  #doubleSided(m: number): boolean {
    return (this.#materialBits[m + 31]! & 4) !== 0
  }

  /** The unit normal of the triangle at float `o` of `#tris`, cross(e1, e2) normalized, into `#face`. */
  #faceNormal(o: number): void {
    const tris = this.#tris
    const e1x = tris[o + 4]!,
      e1y = tris[o + 5]!,
      e1z = tris[o + 6]!
    const e2x = tris[o + 8]!,
      e2y = tris[o + 9]!,
      e2z = tris[o + 10]!
    const x = e1y * e2z - e1z * e2y
    const y = e1z * e2x - e1x * e2z
    const z = e1x * e2y - e1y * e2x
    const len = Math.sqrt(x * x + y * y + z * z)
    this.#face[0] = x / len
    this.#face[1] = y / len
    this.#face[2] = z / len
  }

  /** The light CDF entry whose cumulative power fraction first exceeds r (the shader's binary search, `pickLight`). */
  #pickLight(r: number): number {
    const table = this.#lights
    let lo = 0
    let hi = this.#lightCount - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (r < table[mid * 2 + 1]!) hi = mid
      else lo = mid + 1
    }
    return this.#lightBits[lo * 2]!
  }

  /**
   * Stackless depth-first traversal with skip links, in the shader's order. With `anyHit` (shadow rays) the first
   * leaf that yields a hit ends it: the caller only asks whether something blocks the ray.
   */
  #intersect(
    ox: number,
    oy: number,
    oz: number,
    dx: number,
    dy: number,
    dz: number,
    tMax: number,
    anyHit: boolean,
  ): void {
    this.#t = tMax
    this.#tri = NO_HIT
    const ix = inverse(dx)
    const iy = inverse(dy)
    const iz = inverse(dz)
    const n = this.#nodes
    const bits = this.#nodeBits
    const end = bits[7] === 0 ? bits[3]! : 1
    let node = 0
    while (node < end) {
      const b = node * 8
      const x0 = (n[b]! - ox) * ix
      const x1 = (n[b + 4]! - ox) * ix
      const y0 = (n[b + 1]! - oy) * iy
      const y1 = (n[b + 5]! - oy) * iy
      const z0 = (n[b + 2]! - oz) * iz
      const z1 = (n[b + 6]! - oz) * iz
      const enter = Math.max(Math.min(x0, x1), Math.min(y0, y1), Math.min(z0, z1), 0)
      const exit = Math.min(Math.max(x0, x1), Math.max(y0, y1), Math.max(z0, z1), this.#t)
      const count = bits[b + 7]!
      const a = bits[b + 3]!
      if (enter > exit) {
        node = count > 0 ? node + 1 : a
        continue
      }
      for (let i = a; i < a + count; i++) this.#hitTriangle(i, ox, oy, oz, dx, dy, dz)
      if (anyHit && this.#tri !== NO_HIT) return
      node++
    }
  }

  #hitTriangle(i: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number): void {
    const tris = this.#tris
    const o = i * 12
    const e1x = tris[o + 4]!,
      e1y = tris[o + 5]!,
      e1z = tris[o + 6]!
    const e2x = tris[o + 8]!,
      e2y = tris[o + 9]!,
      e2z = tris[o + 10]!
    const px = dy * e2z - dz * e2y
    const py = dz * e2x - dx * e2z
    const pz = dx * e2y - dy * e2x
    const det = e1x * px + e1y * py + e1z * pz
    if (Math.abs(det) < 1e-12) return
    const invDet = 1 / det
    const tx = ox - tris[o]!
    const ty = oy - tris[o + 1]!
    const tz = oz - tris[o + 2]!
    const u = (tx * px + ty * py + tz * pz) * invDet
    if (u < 0 || u > 1) return
    const qx = ty * e1z - tz * e1y
    const qy = tz * e1x - tx * e1z
    const qz = tx * e1y - ty * e1x
    const v = (dx * qx + dy * qy + dz * qz) * invDet
    if (v < 0 || u + v > 1) return
    const t = f32((e2x * qx + e2y * qy + e2z * qz) * invDet)
    if (t > 0 && t < this.#t) {
      const fu = f32(u)
      const fv = f32(v)
      if (this.#alphaTested && !this.#opaqueAt(i, fu, fv, this.#triBits[o + 3]!)) return
      if (this.#glassPass && this.#passGlass(o, dx, dy, dz)) return
      this.#t = t
      this.#tri = i
      this.#u = fu
      this.#v = fv
    }
  }

  /**
   * Whether the ray being traced (random number `#seed`) meets material `m` at barycentrics (u, v) of triangle
   * `tri`, as the shader's `opaqueAt`: always when opaque; for MASK where alpha reaches the cutoff; for BLEND with
   * probability alpha, by a hash of the seed and the triangle.
   */
  #opaqueAt(tri: number, u: number, v: number, m: number): boolean {
    const row = m * MATERIAL_FLOATS
    const mode = this.#materialBits[row + 31]! & 3
    if (mode === 0) return true
    let alpha = this.#materials[row + 30]!
    const bits = this.#materialBits
    if (bits[row + 11] !== 0) {
      this.#uvsAt(tri, u, v, this.#alphaUvs)
      this.#slotUv(row + 8, this.#alphaUvs)
      alpha = f32(alpha * sampleTextureAlpha(this.#aux, bits, row + 8, this.#su, this.#sv))
    }
    if (this.#colorOffset !== 0) alpha = f32(alpha * this.#vertexColor(tri, u, v)[3]!)
    if (mode === 1) return alpha >= this.#materials[row + 29]!
    return (pcgHash((this.#seed ^ pcgHash(tri)) >>> 0) >>> 8) * (1 / 16777216) < alpha
  }
}

/**
 * How far along the geometric normal rays leaving a hit point start, given the largest coordinate (absolute) of the
 * hit point and of the origin of the ray that found it: the shader's `rayOffset`. Those are float32 values and the
 * scale a power of two, so from the same coordinates both compute the same offset.
 */
function rayOffset(point: number, origin: number): number {
  return Math.max(RAY_EPSILON, RAY_EPSILON_RELATIVE * Math.max(point, origin))
}

function inverse(d: number): number {
  const safe = Math.abs(d) < 1e-8 ? (d >= 0 ? 1e-8 : -1e-8) : d
  return f32(1 / safe)
}
