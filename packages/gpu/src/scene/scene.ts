/** A three-component vector. */
export type Vec3 = readonly [number, number, number]

import type { SceneEnvironment } from './environment.js'
import type { PunctualLight } from './punctual.js'
import type { TextureSampler } from './texture.js'

/** A row-major 2x3 affine map of texture coordinates `[a b e; d f g]`: (u, v) to (au + bv + e, du + fv + g). */
export type UvTransform = readonly [number, number, number, number, number, number]

/**
 * A material's use of one of the scene's textures: its index, how to sample it, and where: the triangles' texture
 * coordinates of set `texCoord` (glTF TEXCOORD_0 or TEXCOORD_1; default 0) through `transform`
 * (KHR_texture_transform; default none).
 */
export type MaterialTexture = {
  readonly texture: number
  readonly texCoord?: 0 | 1
  readonly transform?: UvTransform
} & TextureSampler

/**
 * A metallic-roughness material as the path tracer uses it: glTF's factors and textures, shaded with the glTF
 * BRDF (GGX specular, Lambertian diffuse under a dielectric Fresnel layer; see `render/brdf.ts`), and its alpha
 * mode. The occlusion texture is not sampled. Each texture is sampled at its own set of coordinates and transform.
 */
export interface Material {
  readonly name: string
  /** Linear RGB base colour (glTF baseColorFactor.rgb), multiplied by the base-color texture where there is one. */
  readonly baseColor: Vec3
  /** The base-color texture (sRGB). */
  readonly baseColorTexture?: MaterialTexture
  /** 0 = dielectric, 1 = metal; values between mix the two BRDFs linearly, as glTF defines. */
  readonly metallic: number
  /** Perceptual roughness: the GGX alpha is its square. 0 gives the sharpest lobe (a mirror). */
  readonly roughness: number
  /** The metallic-roughness texture (linear data): its blue channel scales `metallic`, its green `roughness`. */
  readonly metallicRoughnessTexture?: MaterialTexture
  /** Linear RGB radiance emitted (glTF emissiveFactor). */
  readonly emissive: Vec3
  /** The emissive texture (sRGB), multiplying `emissive`. */
  readonly emissiveTexture?: MaterialTexture
  /**
   * The tangent-space normal map (linear data: +X along the tangent, +Y up the image, +Z out of the surface). Its
   * triangles need tangents (the glTF `TANGENT` attribute, or MikkTSpace ones the loader generates).
   */
  readonly normalTexture?: MaterialTexture
  /** glTF normalTexture.scale: multiplies the map's X and Y. Default 1. */
  readonly normalScale?: number
  /**
   * glTF alphaMode. `opaque` (the default) ignores alpha; `mask` removes the surface where alpha is below
   * `alphaCutoff`; `blend` lets each ray through with probability 1 - alpha (stochastic transparency: the mean over
   * samples is the blend). Alpha is `opacity` times the base-color texture's alpha.
   */
  readonly alphaMode?: AlphaMode
  /** glTF alphaCutoff for `mask`. Default 0.5. */
  readonly alphaCutoff?: number
  /** glTF baseColorFactor's alpha. Default 1. */
  readonly opacity?: number
  /** glTF doubleSided: then the material emits from its back faces too. Default false. */
  readonly doubleSided?: boolean
  /** KHR_materials_ior: the dielectric's index of refraction, which sets its reflectance. Default 1.5 (F0 = 0.04). */
  readonly ior?: number
  /** KHR_materials_specular: the weight of the dielectric's specular layer (default 1) and its colour (default
   * white). */
  readonly specular?: number
  readonly specularColor?: Vec3
  /**
   * KHR_materials_transmission (thin-walled: the extension without a volume): the share of the dielectric's
   * diffuse that passes through the surface instead, as a GGX lobe tinted by the base colour. Default 0.
   */
  readonly transmission?: number
  /**
   * KHR_materials_volume: with `thickness` > 0 (glTF's thicknessFactor; only its sign matters to a path tracer) and
   * some transmission, the surface bounds a volume: transmission refracts at the `ior`, and light inside loses
   * -ln(attenuationColor) / attenuationDistance of itself per unit of distance (Beer-Lambert). Defaults: 0, white,
   * Infinity (no absorption).
   */
  readonly thickness?: number
  readonly attenuationColor?: Vec3
  readonly attenuationDistance?: number
  /**
   * KHR_materials_clearcoat: a clear GGX layer of ior 1.5 over the material, weighted by `clearcoat` (0 to 1, default
   * 0) times its Fresnel, with its own perceptual roughness `clearcoatRoughness` (default 0).
   */
  readonly clearcoat?: number
  readonly clearcoatRoughness?: number
  /**
   * KHR_materials_sheen: a layer of fibres (cloth, velvet) over the rest, beneath any clearcoat: its linear RGB colour
   * (black, the default, for none) and perceptual roughness (default 0), the Charlie lobe of the extension.
   */
  readonly sheenColor?: Vec3
  readonly sheenRoughness?: number
  /**
   * The extensions' textures (linear data but the sheen colour, sRGB), multiplying their factors: the red channel
   * of the transmission and clearcoat textures, the green of the clearcoat roughness texture, the sheen colour
   * texture's RGB and the sheen roughness texture's alpha.
   */
  readonly transmissionTexture?: MaterialTexture
  readonly clearcoatTexture?: MaterialTexture
  readonly clearcoatRoughnessTexture?: MaterialTexture
  readonly sheenColorTexture?: MaterialTexture
  readonly sheenRoughnessTexture?: MaterialTexture
  /**
   * KHR_materials_specular's textures: the specular texture's alpha scales `specular`, the specular colour texture's
   * RGB (sRGB) the dielectric's F0.
   */
  readonly specularTexture?: MaterialTexture
  readonly specularColorTexture?: MaterialTexture
  /**
   * KHR_materials_unlit: the surface shows its base colour (factor, texture and vertex colour) as it is, lit by
   * nothing, and scatters no light; to the rays that meet it, it is a light of that radiance (how baked or scanned
   * assets and sky domes look as their authors meant). Default false.
   */
  readonly unlit?: boolean
}

/** glTF's alpha modes, in the order of their codes in {@link Scene.materials}. */
export const ALPHA_MODES = ['opaque', 'mask', 'blend'] as const
export type AlphaMode = (typeof ALPHA_MODES)[number]

/** A material's texture slots; {@link TEXTURE_ROWS} says where each lies in {@link Scene.materials}. */
export const TEXTURE_SLOTS = [
  'baseColorTexture',
  'metallicRoughnessTexture',
  'emissiveTexture',
  'normalTexture',
  'transmissionTexture',
  'clearcoatTexture',
  'clearcoatRoughnessTexture',
  'sheenColorTexture',
  'sheenRoughnessTexture',
  'specularTexture',
  'specularColorTexture',
] as const
export type TextureSlot = (typeof TEXTURE_SLOTS)[number]
/** The material row of each of {@link TEXTURE_SLOTS}: the core glTF slots first, the extensions' after the factors. */
export const TEXTURE_ROWS: readonly number[] = [2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17]

/** A material's textures in the order of its texture rows in {@link Scene.materials}. */
export function materialTextures(m: Material): Array<MaterialTexture | undefined> {
  return TEXTURE_SLOTS.map((slot) => m[slot])
}

/** A pinhole camera in world space. */
export interface Camera {
  readonly position: Vec3
  /** Unit vectors: the view direction, image up and image right. */
  readonly forward: Vec3
  readonly up: Vec3
  readonly right: Vec3
  /** Vertical field of view, radians (of a perspective camera). */
  readonly yfov: number
  /**
   * An orthographic camera's half-height in scene units (glTF's ymag): rays leave parallel to `forward` from a
   * rectangle that tall around `position`, as wide as the image's aspect makes it. Unset for a perspective camera.
   */
  readonly orthographic?: number
}

/**
 * A scene ready to path-trace: world-space triangles in BVH order plus the flattened BVH, packed exactly as the
 * GPU buffers hold them. The CPU reference traverses these same arrays, so both see identical inputs.
 *
 * Layouts (all 16-byte rows, little-endian f32 unless noted):
 * - `triangles`: 3 rows per triangle: (v0.xyz, material index as u32 bits), (e1 = v1 - v0, 0), (e2 = v2 - v0, 0).
 * - `normals`: 3 rows per triangle: vertex normals n0, n1, n2 (unit, world space).
 * - `materials`: 18 rows per material: (baseColor.rgb, metallic), (emissive.rgb, roughness), then as u32 bits one
 *   row for each of the base-color, metallic-roughness, emissive and normal textures: (first texel's word in
 *   `aux`, width, height, sampler bits; see `samplerBits`), all 0 where the material has no such texture; then
 *   (the dielectric's F0 per channel, specular factor); then (normal scale, alpha cutoff, opacity, flags as u32
 *   bits: the alpha mode's index in `ALPHA_MODES` in bits 0-1, double-sided in bit 2, unlit in bit 3); then (transmission, clearcoat, clearcoat roughness,
 *   the ior where the surface bounds a volume, else 0); then (the volume's attenuation coefficient per unit length, 0); then (sheen colour, sheen roughness); then the texture rows of the transmission, clearcoat, clearcoat roughness,
 *   sheen colour, sheen roughness, specular and specular colour textures.
 * - `aux` (u32 words): first 2 per emissive triangle, (triangle index, with bit 31 set where its material is
 *   double-sided, and the cumulative power fraction as f32 bits), the
 *   CDF that next-event estimation samples lights by (see `lightPower`; the last fraction is exactly 1; `lights`
 *   views it). Then 16 words per punctual light from `punctualOffset` (see `packPunctualLights`). In
 *   a textured scene then, from `lutOffset`: 256 f32s turning sRGB bytes to linear light and 256 turning bytes
 *   to [0, 1] (`SRGB_TO_LINEAR`, `UNORM_TO_FLOAT`); from `uvOffset`: 6 f32s
 *   per triangle, the texture coordinates of v0, v1, v2; where a material has a normal map, from `tangentOffset`:
 *   12 f32s per triangle, the tangents of v0, v1, v2 (xyz, and w = ±1: the bitangent is cross(normal, tangent) *
 *   w); and each texture's texels, RGBA8 (red in the low byte), row by row from the image's top. Last, in a scene
 *   with vertex colours (glTF COLOR_0), from `colorOffset`: 6 words per triangle, the linear RGBA of v0, v1, v2 as
 *   16-bit channels, (R | G << 16, B | A << 16) per vertex (white where a primitive has none). After them, in a
 *   scene with a sheen, from `sheenOffset`: the sheen lobe's albedo table (`SHEEN_TABLE_WORDS` f32s).
 * - `bvh`: 2 rows per node in depth-first order: (min.xyz, a), (max.xyz, count) with a and count as u32 bits. A
 *   leaf has count > 0 and holds triangles [a, a + count); an inner node has count = 0, its left child right after
 *   it, and a is its skip link, the first node after its subtree (its right child is the node after the left
 *   child's subtree). Traversal needs no stack: a hit box goes on to the next node, a missed one to its skip link.
 */
export interface Scene {
  readonly triangleCount: number
  readonly triangles: Float32Array
  readonly normals: Float32Array
  readonly materials: Float32Array
  readonly materialList: readonly Material[]
  readonly bvh: Float32Array
  readonly bvhNodeCount: number
  /** Longest root-to-leaf path: the shader's traversal stack must be deeper. */
  readonly bvhDepth: number
  readonly camera: Camera
  /** Emissive triangles, picked by power for next-event estimation (see layout above): a view of `aux`. */
  readonly lights: Float32Array
  /** Lights, then in a textured scene the decoding tables, texture coordinates, tangents and texels (see above). */
  readonly aux: Uint32Array
  /** Word offsets in `aux` of the decoding tables and the texture coordinates; 0 when no material has a texture. */
  readonly lutOffset: number
  readonly uvOffset: number
  /** Word offset in `aux` of the second set of texture coordinates (TEXCOORD_1); 0 when no texture uses it. */
  readonly uv1Offset: number
  /**
   * Word offset in `aux` of the texture transforms (KHR_texture_transform), 6 f32s each, the first entry unused
   * (index 0 means none); 0 when no texture has one.
   */
  readonly uvTransformOffset: number
  /** Word offset in `aux` of the tangents; 0 when no material has a normal map. */
  readonly tangentOffset: number
  /** Word offset in `aux` of the vertex colours (glTF COLOR_0); 0 when no primitive has them. */
  readonly colorOffset: number
  /** Whether some material's alpha mode is `mask` or `blend`: then traversal tests alpha at every candidate hit. */
  readonly alphaTested: boolean
  /** Whether some material lets light through (`transmission` > 0): then the kernel shades both sides of surfaces. */
  readonly transmissive: boolean
  /** Whether some material has a clearcoat: then the kernel evaluates and samples its layer. */
  readonly coated: boolean
  /** Whether some material is unlit: then shading checks each hit's material for it. */
  readonly unlit: boolean
  /** Whether some material has a specular or specular colour texture: then shading reads them. */
  readonly specularTextured: boolean
  /** Whether some material has a sheen: then the kernel evaluates and samples its layer. */
  readonly sheened: boolean
  /** Word offset in `aux` of the sheen albedo table (see `render/sheen.ts`); 0 when no material has a sheen. */
  readonly sheenOffset: number
  readonly lightCount: number
  /** Lights without area (KHR_lights_punctual), and where they are packed in `aux` (see `packPunctualLights`). */
  readonly punctualLights: readonly PunctualLight[]
  readonly punctualOffset: number
  readonly punctualCount: number
  /** Total area of the emissive triangles. */
  readonly lightArea: number
  /**
   * Total power of the emissive triangles as next-event estimation weighs them: each one's area times the
   * luminance of its emissive factor (see `emissionWeight`).
   */
  readonly lightPower: number
  readonly bounds: { readonly min: Vec3; readonly max: Vec3 }
  /** The panorama lighting the scene (see `withEnvironment`), packed in `aux`; undefined for none. */
  readonly environment?: SceneEnvironment
}

/** Floats per triangle in {@link Scene.triangles} and {@link Scene.normals}. */
export const TRIANGLE_FLOATS = 12
/** Floats per material in {@link Scene.materials}. */
export const MATERIAL_FLOATS = 72
/** 16-byte rows per material in {@link Scene.materials}. */
export const MATERIAL_ROWS = MATERIAL_FLOATS / 4
/** Words per triangle of texture coordinates in {@link Scene.aux}. */
export const UV_WORDS = 6
/** Words per triangle of tangents in {@link Scene.aux}. */
export const TANGENT_WORDS = 12
/** Words per triangle of vertex colours in {@link Scene.aux}: 16-bit RGBA, two words a vertex. */
export const COLOR_WORDS = 6
/** Floats per node in {@link Scene.bvh}. */
export const BVH_NODE_FLOATS = 8
