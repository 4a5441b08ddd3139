/**
 * glTF 2.0's metallic-roughness BRDF (the specification's Appendix B), as the path tracer evaluates and samples
 * it. The WGSL kernel runs the same functions ({@link BRDF_WGSL}); the CPU reference runs this class. Change both
 * together.
 *
 * - Specular: GGX (Trowbridge-Reitz) microfacets with alpha = roughness², the height-correlated Smith visibility
 *   term and Schlick's Fresnel.
 * - Metal (metallic = 1): the specular lobe with Fresnel from the base colour.
 * - Dielectric (metallic = 0): Lambertian diffuse in the base colour under a specular layer whose reflectance at
 *   normal incidence is F0 = ((ior - 1) / (ior + 1))² times the specular colour (0.04 for glTF's default ior of
 *   1.5), capped at 1 and weighted by the specular factor (KHR_materials_ior and KHR_materials_specular); the
 *   layer's strongest Fresnel channel comes off the diffuse.
 * - Between the two, a linear mix by `metallic`, as the specification does.
 * - Thin-walled transmission (KHR_materials_transmission without a volume): a share `transmission` of the
 *   dielectric's diffuse becomes a GGX lobe through the surface, the specular lobe mirrored about the tangent plane
 *   (the extension's specular BTDF with the half vector of the mirrored direction), tinted by the base colour and
 *   under the same Fresnel layer. A ray leaves on the far side in its own direction, blurred by the roughness.
 * - Refraction (KHR_materials_transmission on the surface of a KHR_materials_volume): the same share refracts
 *   instead, by Walter et al. 2007's microfacet BTDF at the relative index η = η_v / η_l (for radiance, so times
 *   η², as pbrt's), sampled by refracting the view direction at a visible normal; past the critical angle that
 *   normal reflects it (total internal reflection), and leaving the denser side Schlick's Fresnel takes the
 *   transmitted angle's cosine.
 *
 * - Sheen (KHR_materials_sheen): the Charlie lobe of `sheen.ts` in the sheen colour over the layers beneath, which
 *   it dims by the extension's albedo scaling; sampled cosine-weighted with probability its albedo at the view.
 * - Clearcoat (KHR_materials_clearcoat): a second GGX layer of ior 1.5 and its own roughness over all of the
 *   above, weighted by the coat factor times its Fresnel at the viewing angle (the extension's fresnel_coat), which
 *   the layers beneath lose.
 *
 * Directions are sampled from one of three lobes (four with a coat, whose lobe is picked first by its weight): the GGX distribution of visible normals (Dupuy and Benyoub 2023,
 * "Sampling Visible GGX Normals with Spherical Caps"), the same mirrored through the surface, or a cosine-weighted
 * hemisphere. The lobe is picked in proportion to its Fresnel-weighted share at the viewing angle. The returned pdf is that of the mixture, so the
 * estimator f·cos/pdf holds whichever lobe drew the direction (one-sample multiple importance sampling).
 */

import {
  charlieDistribution,
  MIN_SHEEN_ROUGHNESS,
  SHEEN_WGSL,
  sheenAlbedo,
  sheenAlbedoTable,
  sheenVisibility,
} from './sheen.js'

/** Specular reflectance at normal incidence of a dielectric with index of refraction 1.5. */
export const DIELECTRIC_F0 = 0.04
/**
 * Smallest GGX alpha (roughness²). A roughness of 0 becomes a very sharp lobe instead of a perfect mirror, so
 * next-event estimation and multiple importance sampling need no special case for delta reflection.
 */
export const MIN_ALPHA = 1e-3

/** A material's inputs to the BRDF at one hit (linear RGB), as `SurfaceBrdf.set` reads them. */
export interface BrdfMaterial {
  /** Base colour. */
  r: number
  g: number
  b: number
  metallic: number
  /** Perceptual roughness; alpha is its square. */
  roughness: number
  /** The dielectric's specular reflectance at normal incidence per channel (0.04 with glTF's defaults). */
  f0r: number
  f0g: number
  f0b: number
  /** KHR_materials_specular's specular factor: the weight of the dielectric's specular layer (1 by default). */
  specular: number
  /** KHR_materials_transmission's factor: the share of the dielectric's diffuse let through the surface (0 by default). */
  transmission?: number
  /** KHR_materials_clearcoat's factor and perceptual roughness (0 by default: no coat). */
  clearcoat?: number
  clearcoatRoughness?: number
  /**
   * On the surface of a volume (KHR_materials_volume): the relative index of refraction η_v / η_l from the viewer's
   * side to the far side (1 / ior entering, ior leaving), which makes the transmission lobe refract. 0 (the default)
   * for a thin-walled or opaque surface.
   */
  eta?: number
  /** KHR_materials_sheen's colour (linear RGB; black, the default, for no sheen) and perceptual roughness. */
  sheenR?: number
  sheenG?: number
  sheenB?: number
  sheenRoughness?: number
}

/**
 * How much an emissive factor weighs when lights are picked for next-event estimation: its luminance. Positive
 * whenever any channel is, so every emitter can be picked.
 */
export function emissionWeight(r: number, g: number, b: number): number {
  return r * LUM_R + g * LUM_G + b * LUM_B
}

/** The F0 of a dielectric of index of refraction `ior`: ((ior - 1) / (ior + 1))². */
export function dielectricF0(ior: number): number {
  return ((ior - 1) / (ior + 1)) ** 2
}

/** Luminance weights (Rec. 709) that size the two lobes. */
const LUM_R = 0.2126
const LUM_G = 0.7152
const LUM_B = 0.0722

/**
 * The BRDF at one shading point: set it with {@link SurfaceBrdf.set}, then evaluate or sample directions. It keeps
 * its results in fields, so tracing allocates nothing per bounce. Vectors are unit length, in world space; `v`
 * points from the surface towards the viewer.
 */
export class SurfaceBrdf {
  // The shading frame: tangent, bitangent and normal.
  #tx = 0
  #ty = 0
  #tz = 0
  #bx = 0
  #by = 0
  #bz = 0
  #nx = 0
  #ny = 0
  #nz = 1
  #vx = 0
  #vy = 0
  #vz = 1
  #r = 0
  #g = 0
  #b = 0
  #f0r = DIELECTRIC_F0
  #f0g = DIELECTRIC_F0
  #f0b = DIELECTRIC_F0
  #specular = 1
  #metallic = 0
  #alpha = MIN_ALPHA
  #transmission = 0
  /** η_v / η_l on a volume's surface, else 0 (see BrdfMaterial.eta). */
  #eta = 0
  // The sheen: its colour, alpha, perceptual roughness and strongest channel (0 without sheen).
  #sheenR = 0
  #sheenG = 0
  #sheenB = 0
  #alphaSheen = 1
  #sheenRoughness = 1
  #sheenMax = 0
  /** What the sheen leaves the layers beneath at the viewing angle: 1 - max(sheen colour) E(n·v). */
  #sheenKeepV = 1
  #alphaCoat = MIN_ALPHA
  // The last half vector's cosines with the normal, the viewer and (refraction) the light (see #half).
  #nDotH = 0
  #vDotH = 0
  #lDotH = 0
  /** cos of the angle between the normal and the viewer; the surface reflects nothing when it is not positive. */
  nDotV = 0
  /** Probability of sampling the specular lobe, and the transmission lobe (once the coat's lobe is not picked). */
  pSpecular = 0
  pTransmission = 0
  /** The coat's weight at this viewing angle (factor times its Fresnel): its lobe's share and its sampling probability. */
  pCoat = 0
  /** The sheen's albedo at this viewing angle (max colour times E): its lobe's sampling probability, beneath the coat. */
  pSheen = 0
  /** The last evaluation: BRDF value per channel and the solid-angle pdf of sampling that direction. */
  fr = 0
  fg = 0
  fb = 0
  pdf = 0
  /** The last sampled direction. */
  lx = 0
  ly = 0
  lz = 0

  /** Sets the shading point: normal n, direction to the viewer v, and the material there. */
  set(nx: number, ny: number, nz: number, vx: number, vy: number, vz: number, material: BrdfMaterial): void {
    const { r, g, b, metallic, roughness } = material
    this.#nx = nx
    this.#ny = ny
    this.#nz = nz
    this.#vx = vx
    this.#vy = vy
    this.#vz = vz
    this.#r = r
    this.#g = g
    this.#b = b
    this.#f0r = material.f0r
    this.#f0g = material.f0g
    this.#f0b = material.f0b
    this.#specular = material.specular
    this.#metallic = metallic
    this.#alpha = Math.max(roughness * roughness, MIN_ALPHA)
    // Duff et al. 2017, "Building an Orthonormal Basis, Revisited" (the shader's `orthonormal`).
    const s = nz >= 0 ? 1 : -1
    const a = -1 / (s + nz)
    const k = nx * ny * a
    this.#tx = 1 + s * nx * nx * a
    this.#ty = s * k
    this.#tz = -s * nx
    this.#bx = k
    this.#by = s + ny * ny * a
    this.#bz = -ny
    const nDotV = nx * vx + ny * vy + nz * vz
    this.nDotV = nDotV
    this.#eta = material.eta ?? 0
    // The lobes' odds take Fresnel at the viewing angle as if entering, even inside a volume: past the critical
    // angle a rough surface still refracts through tilted microfacets, and a refraction drawn into total internal
    // reflection becomes that reflection, which the reflecting share's pdf counts.
    const fw = schlickWeight(nDotV)
    const w = material.specular
    const { f0r, f0g, f0b } = material
    const specular = lerp(w * f0r, r, metallic) * LUM_R + lerp(w * f0g, g, metallic) * LUM_G
    const spec = specular + lerp(w * f0b, b, metallic) * LUM_B
    const fresnel = spec + (1 - spec) * fw
    const layer = w * Math.max(f0r + (1 - f0r) * fw, f0g + (1 - f0g) * fw, f0b + (1 - f0b) * fw)
    const diffuse = (1 - metallic) * (1 - layer) * (r * LUM_R + g * LUM_G + b * LUM_B)
    this.pSpecular = fresnel + diffuse > 0 ? fresnel / (fresnel + diffuse) : 1
    this.#transmission = material.transmission ?? 0
    this.pTransmission = (1 - this.pSpecular) * this.#transmission
    const coatRoughness = material.clearcoatRoughness ?? 0
    this.#alphaCoat = Math.max(coatRoughness * coatRoughness, MIN_ALPHA)
    this.pCoat = (material.clearcoat ?? 0) * (DIELECTRIC_F0 + (1 - DIELECTRIC_F0) * fw)
    this.#sheenR = material.sheenR ?? 0
    this.#sheenG = material.sheenG ?? 0
    this.#sheenB = material.sheenB ?? 0
    this.#sheenMax = Math.max(this.#sheenR, this.#sheenG, this.#sheenB)
    this.pSheen = 0
    this.#sheenKeepV = 1
    if (this.#sheenMax > 0) {
      const r = Math.max(material.sheenRoughness ?? 0, MIN_SHEEN_ROUGHNESS)
      this.#sheenRoughness = r
      this.#alphaSheen = r * r
      const albedo = this.#sheenMax * sheenAlbedo(sheenAlbedoTable(), nDotV, r)
      // E passes 1 at grazing views of the smoothest sheens: nothing is left beneath, not less than nothing.
      this.#sheenKeepV = Math.max(0, 1 - albedo)
      this.pSheen = Math.min(albedo, 1)
    }
  }

  /**
   * The cosine that Schlick's Fresnel takes at a cosine c to the viewer: c itself, except leaving a denser volume
   * (η_v > η_l), where it is the transmitted angle's cosine, and 0 (all reflected) past the critical angle.
   */
  #fresnelCos(c: number): number {
    const eta = this.#eta
    if (eta <= 1) return c
    const sin2 = eta * eta * (1 - c * c)
    return sin2 >= 1 ? 0 : Math.sqrt(1 - sin2)
  }

  /**
   * How likely the lobes that reflect about a half vector are to be drawn, at v·h = vDotH: the specular lobe, and on
   * a volume's surface the transmission lobe too where it meets total internal reflection.
   */
  #reflectingShare(vDotH: number): number {
    return this.#eta > 1 && this.#fresnelCos(vDotH) === 0 ? this.pSpecular + this.pTransmission : this.pSpecular
  }

  /**
   * Evaluates the BSDF towards l into `fr`, `fg`, `fb` and its sampling pdf into `pdf`: the BRDF above the surface,
   * the transmission lobe below it (all 0 there for an opaque material).
   */
  evaluate(lx: number, ly: number, lz: number): void {
    this.#evaluateBase(lx, ly, lz)
    if (this.#sheenMax > 0 && this.nDotV > 0) this.#addSheen(lx, ly, lz)
    const coat = this.pCoat
    if (!(coat > 0) || !(this.nDotV > 0)) return
    // The coat: what it does not reflect reaches the layers beneath; its lobe is drawn with probability coat.
    const keep = 1 - coat
    this.fr *= keep
    this.fg *= keep
    this.fb *= keep
    this.pdf = keep * this.pdf + coat * this.#pdfReflected(lx, ly, lz, 0, this.#alphaCoat)
    const nDotL = this.#nx * lx + this.#ny * ly + this.#nz * lz
    if (nDotL > 0) {
      this.#half(lx, ly, lz)
      const f = coat * this.#distribution(this.#nDotH, this.#alphaCoat) * this.#visibility(nDotL, this.#alphaCoat)
      this.fr += f
      this.fg += f
      this.fb += f
    }
  }

  /**
   * The sheen over the layers beneath (whose value and pdf the fields hold): the extension's albedo scaling dims
   * them by min(1 - max(sheen) E(n·v), 1 - max(sheen) E(n·l)) (by the first alone below the surface), and the sheen
   * lobe adds its own, drawn cosine-weighted with probability `pSheen`.
   */
  #addSheen(lx: number, ly: number, lz: number): void {
    const nDotL = this.#nx * lx + this.#ny * ly + this.#nz * lz
    let keep = this.#sheenKeepV
    let sheen = 0
    if (nDotL > 0) {
      keep = Math.max(
        0,
        Math.min(keep, 1 - this.#sheenMax * sheenAlbedo(sheenAlbedoTable(), nDotL, this.#sheenRoughness)),
      )
      this.#half(lx, ly, lz)
      sheen = charlieDistribution(this.#alphaSheen, this.#nDotH) * sheenVisibility(nDotL, this.nDotV)
    }
    this.fr = this.fr * keep + this.#sheenR * sheen
    this.fg = this.fg * keep + this.#sheenG * sheen
    this.fb = this.fb * keep + this.#sheenB * sheen
    this.pdf = (1 - this.pSheen) * this.pdf + (nDotL > 0 ? (this.pSheen * nDotL) / Math.PI : 0)
  }

  /** The layers beneath the coat: the BRDF above the surface, the transmission lobe below it. */
  #evaluateBase(lx: number, ly: number, lz: number): void {
    const nDotV = this.nDotV
    const nDotL = this.#nx * lx + this.#ny * ly + this.#nz * lz
    if (nDotL < 0 && nDotV > 0 && this.#transmission > 0) {
      if (this.#eta > 0) this.#evaluateRefraction(lx, ly, lz, -nDotL)
      else this.#evaluateTransmission(lx, ly, lz, -nDotL)
      return
    }
    if (!(nDotL > 0) || !(nDotV > 0)) {
      this.fr = this.fg = this.fb = this.pdf = 0
      return
    }
    this.#half(lx, ly, lz)
    const d = this.#distribution(this.#nDotH, this.#alpha)
    const spec = d * this.#visibility(nDotL, this.#alpha)
    const fw = schlickWeight(this.#fresnelCos(this.#vDotH))
    const m = this.#metallic
    const w = this.#specular
    // The dielectric's specular layer per channel, weighted by the specular factor.
    const lr = w * (this.#f0r + (1 - this.#f0r) * fw)
    const lg = w * (this.#f0g + (1 - this.#f0g) * fw)
    const lb = w * (this.#f0b + (1 - this.#f0b) * fw)
    // mix(dielectric, metal, m): the dielectric's diffuse under its specular layer, the metal's tinted specular.
    const diffuse = ((1 - Math.max(lr, lg, lb)) * (1 - m) * (1 - this.#transmission)) / Math.PI
    this.fr = m * (this.#r + (1 - this.#r) * fw) * spec + (1 - m) * (lr * spec) + diffuse * this.#r
    this.fg = m * (this.#g + (1 - this.#g) * fw) * spec + (1 - m) * (lg * spec) + diffuse * this.#g
    this.fb = m * (this.#b + (1 - this.#b) * fw) * spec + (1 - m) * (lb * spec) + diffuse * this.#b
    this.pdf =
      this.#reflectingShare(this.#vDotH) * this.#reflectionPdf(d, this.#alpha) +
      (1 - this.pSpecular) * (1 - this.#transmission) * (nDotL / Math.PI)
    // The transmission lobe reaches this side too, where the reflection it mirrors dipped below the horizon (or the
    // refraction rose above it).
    if (this.#transmission > 0) {
      this.pdf +=
        this.pTransmission *
        (this.#eta > 0 ? this.#pdfRefracted(lx, ly, lz) : this.#pdfReflected(lx, ly, lz, -2 * nDotL, this.#alpha))
    }
  }

  /**
   * The refraction lobe of a volume's surface towards l below it (|n·l| = nDotL): Walter et al. 2007's microfacet
   * BTDF at the generalized half vector, for radiance (so times (η_v / η_l)², as pbrt's), tinted by the base colour
   * and scaled by what the Fresnel layer lets through and the transmission factor. The pdf adds the reflecting
   * lobes' reach below the horizon.
   */
  #evaluateRefraction(lx: number, ly: number, lz: number, nDotL: number): void {
    this.fr = this.fg = this.fb = 0
    this.pdf = this.#reflectingPdf(lx, ly, lz)
    if (!this.#refractionHalf(lx, ly, lz)) return
    const eta = this.#eta
    const vh = this.#vDotH
    const lh = this.#lDotH
    const d = this.#distribution(this.#nDotH, this.#alpha)
    const denom = lh + eta * vh
    const fw = schlickWeight(this.#fresnelCos(vh))
    const layer =
      this.#specular *
      Math.max(this.#f0r + (1 - this.#f0r) * fw, this.#f0g + (1 - this.#f0g) * fw, this.#f0b + (1 - this.#f0b) * fw)
    // |v·h| |l·h| / (n·v |n·l|) (1 - F) D G η² / denom², with G = 4 n·v |n·l| times the visibility term.
    const k =
      (1 - layer) *
      (1 - this.#metallic) *
      this.#transmission *
      4 *
      vh *
      -lh *
      eta *
      eta *
      d *
      (this.#visibility(nDotL, this.#alpha) / (denom * denom))
    this.fr = k * this.#r
    this.fg = k * this.#g
    this.fb = k * this.#b
    this.pdf += this.pTransmission * this.#refractionPdf(d, vh, lh, denom)
  }

  /** The pdf with which the reflecting lobes (see `#reflectingShare`) draw l. */
  #reflectingPdf(lx: number, ly: number, lz: number): number {
    const p = this.#pdfReflected(lx, ly, lz, 0, this.#alpha)
    return p > 0 ? this.#reflectingShare(this.#vDotH) * p : 0
  }

  /**
   * The refraction half vector of l (Walter et al.'s generalized one, -(η v + l), turned to the normal's side) into
   * `#nDotH`, `#vDotH` and `#lDotH`; false where no microfacet refracts v into l.
   */
  #refractionHalf(lx: number, ly: number, lz: number): boolean {
    const eta = this.#eta
    let hx = -(eta * this.#vx + lx)
    let hy = -(eta * this.#vy + ly)
    let hz = -(eta * this.#vz + lz)
    const len = Math.sqrt(hx * hx + hy * hy + hz * hz)
    if (!(len > 1e-6)) return false
    const s = this.#nx * hx + this.#ny * hy + this.#nz * hz < 0 ? -1 / len : 1 / len
    hx *= s
    hy *= s
    hz *= s
    this.#nDotH = this.#nx * hx + this.#ny * hy + this.#nz * hz
    this.#vDotH = this.#vx * hx + this.#vy * hy + this.#vz * hz
    this.#lDotH = lx * hx + ly * hy + lz * hz
    return this.#vDotH > 0 && this.#lDotH < 0 && this.#fresnelCos(this.#vDotH) > 0
  }

  /** The pdf of the refraction lobe's visible normal drawing l (with `#refractionHalf`'s h): D_v(h) |l·h| / denom². */
  #refractionPdf(d: number, vh: number, lh: number, denom: number): number {
    const nDotV = this.nDotV
    const a2 = this.#alpha * this.#alpha
    const g1 = (2 * nDotV) / (nDotV + Math.sqrt(a2 + (1 - a2) * nDotV * nDotV))
    return (((g1 * d * vh) / nDotV) * -lh) / (denom * denom)
  }

  /** The pdf of the refraction lobe drawing l, wherever l lies; 0 where no microfacet refracts v into it. */
  #pdfRefracted(lx: number, ly: number, lz: number): number {
    if (!this.#refractionHalf(lx, ly, lz)) return 0
    const d = this.#distribution(this.#nDotH, this.#alpha)
    return this.#refractionPdf(d, this.#vDotH, this.#lDotH, this.#lDotH + this.#eta * this.#vDotH)
  }

  /**
   * The transmission lobe towards l below the surface (|n·l| = nDotL): the GGX lobe of l mirrored to the viewer's
   * side, times what the Fresnel layer lets through, the base colour and the transmission factor.
   */
  #evaluateTransmission(lx: number, ly: number, lz: number, nDotL: number): void {
    this.#half(lx + 2 * nDotL * this.#nx, ly + 2 * nDotL * this.#ny, lz + 2 * nDotL * this.#nz)
    const d = this.#distribution(this.#nDotH, this.#alpha)
    const fw = schlickWeight(this.#vDotH)
    const layer =
      this.#specular *
      Math.max(this.#f0r + (1 - this.#f0r) * fw, this.#f0g + (1 - this.#f0g) * fw, this.#f0b + (1 - this.#f0b) * fw)
    const k = (1 - layer) * (1 - this.#metallic) * this.#transmission * d * this.#visibility(nDotL, this.#alpha)
    this.fr = k * this.#r
    this.fg = k * this.#g
    this.fb = k * this.#b
    // Plus the reflection lobe's reach below the horizon: every lobe that can draw l counts in its pdf.
    this.pdf =
      this.pTransmission * this.#reflectionPdf(d, this.#alpha) +
      this.pSpecular * this.#pdfReflected(lx, ly, lz, 0, this.#alpha)
  }

  /**
   * The pdf of the visible-normal reflection of GGX alpha `alpha` drawing direction l + k n (k = 0 for l itself,
   * -2 n·l for its mirror image), 0 where the half vector faces away from the normal.
   */
  #pdfReflected(lx: number, ly: number, lz: number, k: number, alpha: number): number {
    this.#half(lx + k * this.#nx, ly + k * this.#ny, lz + k * this.#nz)
    return this.#nDotH > 0 ? this.#reflectionPdf(this.#distribution(this.#nDotH, alpha), alpha) : 0
  }

  /** Normalizes v + l into the half vector and keeps n·h and v·h (clamped at 0) in `#nDotH` and `#vDotH`. */
  #half(lx: number, ly: number, lz: number): void {
    let hx = this.#vx + lx
    let hy = this.#vy + ly
    let hz = this.#vz + lz
    const len = Math.sqrt(hx * hx + hy * hy + hz * hz)
    hx /= len
    hy /= len
    hz /= len
    this.#nDotH = this.#nx * hx + this.#ny * hy + this.#nz * hz
    this.#vDotH = Math.max(this.#vx * hx + this.#vy * hy + this.#vz * hz, 0)
  }

  /** GGX's (Trowbridge-Reitz) normal distribution D of `alpha` at n·h. */
  #distribution(nDotH: number, alpha: number): number {
    const a2 = alpha * alpha
    const d0 = nDotH * nDotH * (a2 - 1) + 1
    return a2 / (Math.PI * d0 * d0)
  }

  /** The height-correlated Smith visibility term, G / (4 n·l n·v), towards a direction with n·l = nDotL. */
  #visibility(nDotL: number, alpha: number): number {
    const nDotV = this.nDotV
    const a2 = alpha * alpha
    return 0.5 / (nDotL * Math.sqrt(nDotV * nDotV * (1 - a2) + a2) + nDotV * Math.sqrt(nDotL * nDotL * (1 - a2) + a2))
  }

  /** The solid-angle pdf of the visible-normal reflection at a half vector of distribution value d: G1 D / (4 n·v). */
  #reflectionPdf(d: number, alpha: number): number {
    const nDotV = this.nDotV
    const a2 = alpha * alpha
    const g1 = (2 * nDotV) / (nDotV + Math.sqrt(a2 + (1 - a2) * nDotV * nDotV))
    return (g1 * d) / (4 * nDotV)
  }

  /**
   * Samples a direction into `lx`, `ly`, `lz` from the lobe `pick` chooses (specular below `pSpecular`, then
   * transmission for the next `pTransmission`, then diffuse), with two more uniform numbers. The caller evaluates
   * it, which also checks which side of the surface it lies on.
   */
  sample(pick: number, u1: number, u2: number): void {
    // Both lobes take their azimuth from u1 (the shader computes one sine and cosine for either).
    const phi = 2 * Math.PI * u1
    const cos = Math.cos(phi)
    const sin = Math.sin(phi)
    const coat = this.pCoat
    if (coat > 0) {
      if (pick < coat) {
        this.#reflect(this.#alphaCoat, cos, sin, u2, false)
        return
      }
      // The same number, stretched over the layers beneath.
      pick = (pick - coat) / (1 - coat)
    }
    const sheen = this.pSheen
    if (sheen > 0) {
      if (pick < sheen) {
        // The sheen lobe: cosine-weighted, as the diffuse lobe.
        const r = Math.sqrt(u2)
        this.#toWorld(cos * r, sin * r, Math.sqrt(Math.max(0, 1 - u2)))
        return
      }
      pick = (pick - sheen) / (1 - sheen)
    }
    if (pick < this.pSpecular + this.pTransmission) {
      // The transmission lobe draws the reflection mirrored through the surface, or on a volume's surface refracts.
      const through = pick >= this.pSpecular
      this.#reflect(this.#alpha, cos, sin, u2, through && this.#eta === 0, through && this.#eta > 0)
      return
    }
    const r = Math.sqrt(u2)
    this.#toWorld(cos * r, sin * r, Math.sqrt(Math.max(0, 1 - u2)))
  }

  /**
   * The view direction reflected about a visible normal of GGX alpha `a` (spherical caps), drawn with the azimuth's
   * cosine and sine and u2, into `lx`, `ly`, `lz`; with `through`, mirrored through the surface; with `refract`
   * (a volume's surface), refracted through that normal instead, or reflected past the critical angle (total
   * internal reflection).
   */
  #reflect(a: number, cos: number, sin: number, u2: number, through: boolean, refract = false): void {
    // The visible normal, in the frame where n = +z, and the view direction mirrored about it.
    const vx = this.#tx * this.#vx + this.#ty * this.#vy + this.#tz * this.#vz
    const vy = this.#bx * this.#vx + this.#by * this.#vy + this.#bz * this.#vz
    const vz = this.nDotV
    let sx = vx * a
    let sy = vy * a
    let sz = vz
    const sl = Math.sqrt(sx * sx + sy * sy + sz * sz)
    sx /= sl
    sy /= sl
    sz /= sl
    const cz = (1 - u2) * (1 + sz) - sz
    const sinTheta = Math.sqrt(Math.min(Math.max(1 - cz * cz, 0), 1))
    let hx = (cos * sinTheta + sx) * a
    let hy = (sin * sinTheta + sy) * a
    let hz = cz + sz
    const hl = Math.sqrt(hx * hx + hy * hy + hz * hz)
    hx /= hl
    hy /= hl
    hz /= hl
    const c = vx * hx + vy * hy + vz * hz
    const eta = this.#eta
    const sin2 = eta * eta * (1 - c * c)
    if (refract && sin2 < 1) {
      // Snell's law at the microfacet: -η v + (η c - cos θt) h.
      const k = eta * c - Math.sqrt(1 - sin2)
      this.#toWorld(k * hx - eta * vx, k * hy - eta * vy, k * hz - eta * vz)
      return
    }
    const k = 2 * c
    const z = k * hz - vz
    this.#toWorld(k * hx - vx, k * hy - vy, through ? -z : z)
  }

  /** A direction in the shading frame (n = +z) into world space, in `lx`, `ly`, `lz`. */
  #toWorld(x: number, y: number, z: number): void {
    this.lx = this.#tx * x + this.#bx * y + this.#nx * z
    this.ly = this.#ty * x + this.#by * y + this.#ny * z
    this.lz = this.#tz * x + this.#bz * y + this.#nz * z
  }
}

/**
 * The power heuristic's weight (Veach 1997, β = 2) of a strategy with pdf `a` against one with pdf `b`. The ratio
 * is capped so that its square stays finite in f32, as the shader computes it.
 */
export function powerHeuristic(a: number, b: number): number {
  const r = Math.min(b / a, 1e15)
  return 1 / (1 + r * r)
}

/** Schlick's (1 - cos θ)^5. */
function schlickWeight(cos: number): number {
  const x = 1 - Math.min(Math.max(cos, 0), 1)
  const x2 = x * x
  return x2 * x2 * x
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t
}

/** WGSL of the same BRDF; spliced into the path-tracing kernel (see `pathtracer-wgsl.ts`). */
export const BRDF_WGSL = /* wgsl */ `
const MIN_ALPHA = ${MIN_ALPHA};
${SHEEN_WGSL}
const LUMINANCE = vec3f(${LUM_R}, ${LUM_G}, ${LUM_B});

// The BRDF at one shading point (see brdf.ts): the shading frame (t, b, n), the direction to the viewer, the base
// colour, metallic, alpha, n·v and the probability of sampling the specular lobe.
struct Surface {
  t: vec3f,
  b: vec3f,
  n: vec3f,
  v: vec3f,
  base: vec3f,
  f0: vec3f,        // the dielectric's specular reflectance at normal incidence
  specular: f32,    // the weight of the dielectric's specular layer
  metallic: f32,
  alpha: f32,
  nDotV: f32,
  pSpecular: f32,
  transmission: f32,  // the share of the dielectric's diffuse let through (thin-walled)
  pTransmission: f32,
  pCoat: f32,         // the clearcoat's weight at this viewing angle, and its lobe's sampling probability
  alphaCoat: f32,
  eta: f32,           // on a volume's surface η_v / η_l (the transmission lobe refracts), else 0
  sheen: vec3f,       // KHR_materials_sheen's colour (SHEEN kernels; black without sheen)
  alphaSheen: f32,
  sheenRoughness: f32,
  sheenMax: f32,      // the colour's strongest channel
  sheenKeepV: f32,    // what the sheen leaves the layers beneath at the viewing angle
  pSheen: f32,        // the sheen lobe's sampling probability, beneath the coat
}

struct BrdfValue { f: vec3f, pdf: f32 }

fn schlickWeight(c: f32) -> f32 {
  let x = 1.0 - clamp(c, 0.0, 1.0);
  let x2 = x * x;
  return x2 * x2 * x;
}

// coat: KHR_materials_clearcoat's factor and roughness; eta: η_v / η_l on a volume's surface, else 0; sheen:
// KHR_materials_sheen's colour and roughness.
fn surfaceAt(n: vec3f, v: vec3f, base: vec3f, metallic: f32, roughness: f32, f0: vec3f, specular: f32, transmission: f32, coat: vec2f, eta: f32, sheen: vec4f) -> Surface {
  let s = select(-1.0, 1.0, n.z >= 0.0);
  let a = -1.0 / (s + n.z);
  let k = n.x * n.y * a;
  let t = vec3f(1.0 + s * n.x * n.x * a, s * k, -s * n.x);
  let b = vec3f(k, s + n.y * n.y * a, -n.y);
  let nDotV = dot(n, v);
  let fw = schlickWeight(nDotV);
  let spec = dot(mix(specular * f0, base, metallic), LUMINANCE);
  let fresnel = spec + (1.0 - spec) * fw;
  let layer = specular * (f0 + (1.0 - f0) * fw);
  let diffuse = (1.0 - metallic) * (1.0 - max(layer.x, max(layer.y, layer.z))) * dot(base, LUMINANCE);
  let pSpecular = select(1.0, fresnel / (fresnel + diffuse), fresnel + diffuse > 0.0);
  let alpha = max(roughness * roughness, MIN_ALPHA);
  let pTransmission = (1.0 - pSpecular) * transmission;
  let pCoat = coat.x * (${DIELECTRIC_F0} + (1.0 - ${DIELECTRIC_F0}) * fw);
  let alphaCoat = max(coat.y * coat.y, MIN_ALPHA);
  let sheenMax = max(sheen.x, max(sheen.y, sheen.z));
  var sheenRoughness = 1.0;
  var sheenKeepV = 1.0;
  var pSheen = 0.0;
  if (SHEEN && sheenMax > 0.0) {
    sheenRoughness = max(sheen.w, ${MIN_SHEEN_ROUGHNESS});
    let albedo = sheenMax * sheenAlbedo(nDotV, sheenRoughness);
    sheenKeepV = max(0.0, 1.0 - albedo);
    pSheen = min(albedo, 1.0);
  }
  return Surface(t, b, n, v, base, f0, specular, metallic, alpha, nDotV, pSpecular, transmission, pTransmission, pCoat, alphaCoat, eta,
    sheen.xyz, sheenRoughness * sheenRoughness, sheenRoughness, sheenMax, sheenKeepV, pSheen);
}

// The sheen over the layers beneath (see SurfaceBrdf's addSheen): they dim by the albedo scaling, the sheen lobe
// adds its own, drawn cosine-weighted with probability pSheen.
fn addSheen(s: Surface, l: vec3f, beneath: BrdfValue) -> BrdfValue {
  let nDotL = dot(s.n, l);
  var keep = s.sheenKeepV;
  var f = vec3f(0.0);
  var pdf = (1.0 - s.pSheen) * beneath.pdf;
  if (nDotL > 0.0) {
    keep = max(0.0, min(keep, 1.0 - s.sheenMax * sheenAlbedo(nDotL, s.sheenRoughness)));
    let h = normalize(s.v + l);
    f = s.sheen * (charlieDistribution(s.alphaSheen, dot(s.n, h)) * sheenVisibility(nDotL, s.nDotV));
    pdf += s.pSheen * nDotL / PI;
  }
  return BrdfValue(beneath.f * keep + f, pdf);
}

// The cosine Schlick's Fresnel takes at cosine c to the viewer (see SurfaceBrdf's fresnelCos): leaving a denser
// volume the transmitted angle's, 0 past the critical angle.
fn fresnelCos(s: Surface, c: f32) -> f32 {
  if (!TRANSMISSIVE || s.eta <= 1.0) { return c; }
  let sin2 = s.eta * s.eta * (1.0 - c * c);
  return select(sqrt(1.0 - sin2), 0.0, sin2 >= 1.0);
}

// How likely the lobes that reflect about a half vector at v·h = vh are drawn (see SurfaceBrdf's reflectingShare).
fn reflectingShare(s: Surface, vh: f32) -> f32 {
  if (TRANSMISSIVE && s.eta > 1.0 && fresnelCos(s, vh) == 0.0) { return s.pSpecular + s.pTransmission; }
  return s.pSpecular;
}

// The BSDF towards l: the layers beneath, under the clearcoat in kernels built for coated scenes (COATED).
fn evaluateBrdf(s: Surface, l: vec3f) -> BrdfValue {
  var beneath = evaluateBase(s, l);
  if (SHEEN && s.sheenMax > 0.0 && s.nDotV > 0.0) { beneath = addSheen(s, l, beneath); }
  if (!COATED || !(s.pCoat > 0.0) || !(s.nDotV > 0.0)) { return beneath; }
  // What the coat does not reflect reaches the layers beneath; its lobe is drawn with probability pCoat.
  let keep = 1.0 - s.pCoat;
  var f = beneath.f * keep;
  let nDotL = dot(s.n, l);
  if (nDotL > 0.0) {
    let h = normalize(s.v + l);
    f += vec3f(s.pCoat * ggxDistribution(s.alphaCoat, dot(s.n, h)) * smithVisibility(s, nDotL, s.alphaCoat));
  }
  return BrdfValue(f, keep * beneath.pdf + s.pCoat * pdfReflected(s, l, s.alphaCoat));
}

// The layers beneath the coat: the BRDF above the surface; below it the transmission lobe, in kernels built for
// scenes with transmissive materials (TRANSMISSIVE), else nothing.
fn evaluateBase(s: Surface, l: vec3f) -> BrdfValue {
  let nDotL = dot(s.n, l);
  if (TRANSMISSIVE && nDotL < 0.0 && s.nDotV > 0.0 && s.transmission > 0.0) {
    if (s.eta > 0.0) { return evaluateRefraction(s, l, -nDotL); }
    return evaluateTransmission(s, l, -nDotL);
  }
  if (!(nDotL > 0.0) || !(s.nDotV > 0.0)) { return BrdfValue(vec3f(0.0), 0.0); }
  let h = normalize(s.v + l);
  let d = ggxDistribution(s.alpha, dot(s.n, h));
  let spec = d * smithVisibility(s, nDotL, s.alpha);
  let vh = max(dot(s.v, h), 0.0);
  let fw = schlickWeight(fresnelCos(s, vh));
  let m = s.metallic;
  let layer = s.specular * (s.f0 + (1.0 - s.f0) * fw);
  let diffuse = (1.0 - max(layer.x, max(layer.y, layer.z))) * (1.0 - m) * (1.0 - s.transmission) / PI;
  let f = m * (s.base + (1.0 - s.base) * fw) * spec + (1.0 - m) * (layer * spec) + diffuse * s.base;
  var pdf = reflectingShare(s, vh) * reflectionPdf(s, d, s.alpha) + (1.0 - s.pSpecular) * (1.0 - s.transmission) * (nDotL / PI);
  // The transmission lobe reaches this side too, where the reflection it mirrors dipped below the horizon (or the
  // refraction rose above it).
  if (TRANSMISSIVE && s.transmission > 0.0) {
    if (s.eta > 0.0) { pdf += s.pTransmission * pdfRefracted(s, l); }
    else { pdf += s.pTransmission * pdfReflected(s, l + (-2.0 * nDotL) * s.n, s.alpha); }
  }
  return BrdfValue(f, pdf);
}

// The refraction half vector of l (-(η v + l), turned to the normal's side) in xyz, and in w 1 where a microfacet
// refracts v into l, else 0 (see SurfaceBrdf's refractionHalf).
fn refractionHalf(s: Surface, l: vec3f) -> vec4f {
  let g = -(s.eta * s.v + l);
  let len = length(g);
  if (!(len > 1e-6)) { return vec4f(0.0); }
  let h = g * select(1.0, -1.0, dot(s.n, g) < 0.0) / len;
  let vh = dot(s.v, h);
  return vec4f(h, select(0.0, 1.0, vh > 0.0 && dot(l, h) < 0.0 && fresnelCos(s, vh) > 0.0));
}

// The refraction lobe's pdf at half vector h: D_v(h) |l·h| / (l·h + η v·h)².
fn refractionPdf(s: Surface, d: f32, vh: f32, lh: f32) -> f32 {
  let a2 = s.alpha * s.alpha;
  let g1 = 2.0 * s.nDotV / (s.nDotV + sqrt(a2 + (1.0 - a2) * s.nDotV * s.nDotV));
  let denom = lh + s.eta * vh;
  return g1 * d * vh / s.nDotV * -lh / (denom * denom);
}

// The pdf of the refraction lobe drawing l, wherever it lies.
fn pdfRefracted(s: Surface, l: vec3f) -> f32 {
  let h = refractionHalf(s, l);
  if (h.w == 0.0) { return 0.0; }
  return refractionPdf(s, ggxDistribution(s.alpha, dot(s.n, h.xyz)), dot(s.v, h.xyz), dot(l, h.xyz));
}

// The pdf with which the reflecting lobes draw l.
fn reflectingPdf(s: Surface, l: vec3f) -> f32 {
  let h = s.v + l;
  let nDotH = dot(s.n, h) / length(h);
  if (!(nDotH > 0.0)) { return 0.0; }
  return reflectingShare(s, max(dot(s.v, h) / length(h), 0.0)) * reflectionPdf(s, ggxDistribution(s.alpha, nDotH), s.alpha);
}

// The refraction lobe of a volume's surface towards l below it (|n·l| = nDotL): see SurfaceBrdf's
// evaluateRefraction.
fn evaluateRefraction(s: Surface, l: vec3f, nDotL: f32) -> BrdfValue {
  var pdf = reflectingPdf(s, l);
  let h = refractionHalf(s, l);
  if (h.w == 0.0) { return BrdfValue(vec3f(0.0), pdf); }
  let vh = dot(s.v, h.xyz);
  let lh = dot(l, h.xyz);
  let d = ggxDistribution(s.alpha, dot(s.n, h.xyz));
  let denom = lh + s.eta * vh;
  let fw = schlickWeight(fresnelCos(s, vh));
  let layer = s.specular * (s.f0 + (1.0 - s.f0) * fw);
  let k = ((1.0 - max(layer.x, max(layer.y, layer.z))) * (1.0 - s.metallic) * s.transmission * 4.0 * vh * -lh * s.eta * s.eta * d) *
    (smithVisibility(s, nDotL, s.alpha) / (denom * denom));
  pdf += s.pTransmission * refractionPdf(s, d, vh, lh);
  return BrdfValue(s.base * k, pdf);
}

// GGX's (Trowbridge-Reitz) normal distribution D at n·h.
fn ggxDistribution(alpha: f32, nDotH: f32) -> f32 {
  let a2 = alpha * alpha;
  let d0 = nDotH * nDotH * (a2 - 1.0) + 1.0;
  return a2 / (PI * d0 * d0);
}

// The height-correlated Smith visibility term, G / (4 n·l n·v), towards a direction with n·l = nDotL.
fn smithVisibility(s: Surface, nDotL: f32, alpha: f32) -> f32 {
  let a2 = alpha * alpha;
  return 0.5 / (nDotL * sqrt(s.nDotV * s.nDotV * (1.0 - a2) + a2) + s.nDotV * sqrt(nDotL * nDotL * (1.0 - a2) + a2));
}

// The solid-angle pdf of the visible-normal reflection at a half vector where D = d: G1 D / (4 n·v).
fn reflectionPdf(s: Surface, d: f32, alpha: f32) -> f32 {
  let a2 = alpha * alpha;
  let g1 = 2.0 * s.nDotV / (s.nDotV + sqrt(a2 + (1.0 - a2) * s.nDotV * s.nDotV));
  return g1 * d / (4.0 * s.nDotV);
}

// The pdf of the visible-normal reflection drawing direction l, 0 where the half vector faces away from the
// normal (see SurfaceBrdf's pdfReflected).
fn pdfReflected(s: Surface, l: vec3f, alpha: f32) -> f32 {
  let h = s.v + l;
  let nDotH = dot(s.n, h) / length(h);
  if (!(nDotH > 0.0)) { return 0.0; }
  return reflectionPdf(s, ggxDistribution(alpha, nDotH), alpha);
}

// The transmission lobe towards l below the surface (|n·l| = nDotL): see SurfaceBrdf's evaluateTransmission.
fn evaluateTransmission(s: Surface, l: vec3f, nDotL: f32) -> BrdfValue {
  let h = normalize(s.v + l + 2.0 * nDotL * s.n);
  let d = ggxDistribution(s.alpha, dot(s.n, h));
  let fw = schlickWeight(max(dot(s.v, h), 0.0));
  let layer = s.specular * (s.f0 + (1.0 - s.f0) * fw);
  let k = (1.0 - max(layer.x, max(layer.y, layer.z))) * (1.0 - s.metallic) * s.transmission * d * smithVisibility(s, nDotL, s.alpha);
  // Plus the reflection lobe's reach below the horizon: every lobe that can draw l counts in its pdf.
  return BrdfValue(s.base * k, s.pTransmission * reflectionPdf(s, d, s.alpha) + s.pSpecular * pdfReflected(s, l, s.alpha));
}

fn sampleBrdf(s: Surface, pick0: f32, u1: f32, u2: f32) -> vec3f {
  // Both lobes take their azimuth from u1, so one sine and cosine serve whichever lobe a lane picked.
  let phi = 2.0 * PI * u1;
  let cs = vec2f(cos(phi), sin(phi));
  var pick = pick0;
  var local: vec3f;
  if (COATED && s.pCoat > 0.0) {
    if (pick < s.pCoat) { return toWorld(s, visibleReflection(s, s.alphaCoat, cs, u2)); }
    // The same number, stretched over the layers beneath.
    pick = (pick - s.pCoat) / (1.0 - s.pCoat);
  }
  if (SHEEN && s.pSheen > 0.0) {
    // The sheen lobe: cosine-weighted, as the diffuse lobe.
    if (pick < s.pSheen) { return toWorld(s, vec3f(cs * sqrt(u2), sqrt(max(0.0, 1.0 - u2)))); }
    pick = (pick - s.pSheen) / (1.0 - s.pSheen);
  }
  if (pick < s.pSpecular + s.pTransmission) {
    let v = vec3f(dot(s.t, s.v), dot(s.b, s.v), s.nDotV);
    let h = visibleNormal(v, s.alpha, cs, u2);
    let c = dot(v, h);
    local = 2.0 * c * h - v;
    if (TRANSMISSIVE && pick >= s.pSpecular) {
      // The transmission lobe: the reflection mirrored through the surface (n = +z here), or on a volume's surface
      // the view direction refracted at h by Snell's law (kept reflected past the critical angle).
      let sin2 = s.eta * s.eta * (1.0 - c * c);
      if (s.eta == 0.0) { local.z = -local.z; }
      else if (sin2 < 1.0) { local = (s.eta * c - sqrt(1.0 - sin2)) * h - s.eta * v; }
    }
  } else {
    local = vec3f(cs * sqrt(u2), sqrt(max(0.0, 1.0 - u2)));
  }
  return toWorld(s, local);
}

// The view direction reflected about a visible normal of GGX alpha a (spherical caps), in the shading frame.
fn visibleReflection(s: Surface, a: f32, cs: vec2f, u2: f32) -> vec3f {
  let v = vec3f(dot(s.t, s.v), dot(s.b, s.v), s.nDotV);
  let h = visibleNormal(v, a, cs, u2);
  return 2.0 * dot(v, h) * h - v;
}

// A visible normal of GGX alpha a for the local view direction v (spherical caps), in the shading frame.
fn visibleNormal(v: vec3f, a: f32, cs: vec2f, u2: f32) -> vec3f {
  let sv = normalize(vec3f(v.xy * a, v.z));
  let cz = (1.0 - u2) * (1.0 + sv.z) - sv.z;
  let sinTheta = sqrt(clamp(1.0 - cz * cz, 0.0, 1.0));
  return normalize(vec3f((cs * sinTheta + sv.xy) * a, cz + sv.z));
}

fn toWorld(s: Surface, local: vec3f) -> vec3f {
  return s.t * local.x + s.b * local.y + s.n * local.z;
}

// The light-picking weight of an emissive factor: its luminance (see emissionWeight in brdf.ts).
fn emissionWeight(e: vec3f) -> f32 {
  return dot(e, LUMINANCE);
}

fn powerHeuristic(a: f32, b: f32) -> f32 {
  let r = min(b / a, 1e15);
  return 1.0 / (1.0 + r * r);
}
`
