import { dielectricF0, emissionWeight } from '../render/brdf.js'
import {
  BVH_MAX_DEPTH,
  MAX_IOR,
  MAX_BVH_TRAVERSAL_COST,
  MAX_NORMAL_SCALE,
  MAX_REFIT_COST_RATIO,
  MAX_SCENE_MATERIALS,
  MAX_SCENE_TEXELS,
  MAX_SCENE_TRIANGLES,
  MAX_SPECULAR_COLOR,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { buildBvh, bvhTraversalCost, refitBvh, type FlatBvh } from './bvh.js'
import { assertCamera } from './camera.js'
import { packPunctualLights, PUNCTUAL_WORDS, type PunctualLight } from './punctual.js'
import { sheenAlbedoTable } from '../render/sheen.js'
import { packVertexColors } from './vertex-colors.js'
import {
  ALPHA_MODES,
  MATERIAL_FLOATS,
  materialTextures,
  TANGENT_WORDS,
  TEXTURE_ROWS,
  TRIANGLE_FLOATS,
  UV_WORDS,
} from './scene.js'
import type { Camera, Material, Scene, UvTransform, Vec3 } from './scene.js'
import { samplerBits, SRGB_TO_LINEAR, TEXTURE_TABLE_WORDS, UNORM_TO_FLOAT, type Texture } from './texture.js'

/** World-space triangle soup: what a loader produces before the BVH is built. */
export interface TriangleSoup {
  /** 9 floats per triangle: v0, v1, v2. */
  vertices: Float32Array
  /** 9 floats per triangle: the three vertex normals (need not be unit length). */
  normals: Float32Array
  /** Material index per triangle. */
  materialIndex: Uint32Array
  materials: readonly Material[]
  /** 6 floats per triangle: the texture coordinates (TEXCOORD_0) of v0, v1, v2; needed when a material has a texture. */
  uvs?: Float32Array
  /** 6 floats per triangle: the second set (TEXCOORD_1); needed when a texture is sampled at it. */
  uvs1?: Float32Array
  /**
   * 12 floats per triangle: the tangents of v0, v1, v2 (xyz, w = ±1 handedness); needed when a material has a
   * normal map.
   */
  tangents?: Float32Array
  /** The textures that the materials' texture slots index. */
  textures?: readonly Texture[]
  /**
   * 12 floats per triangle: the linear RGBA vertex colours (glTF COLOR_0) of v0, v1, v2, which multiply the base
   * colour and its alpha; white where a primitive has none.
   */
  colors?: Float32Array
  /** The scene's camera, or undefined to frame the scene's bounds. */
  camera?: Camera
  /** Lights without area (glTF KHR_lights_punctual). */
  punctualLights?: readonly PunctualLight[]
}

/** A tree and what it costs a ray ({@link bvhTraversalCost}). */
interface CostedBvh {
  tree: FlatBvh
  cost: number
}

function costed(tree: FlatBvh): CostedBvh {
  return { tree, cost: bvhTraversalCost(tree) }
}

/** Each topology tree's own cost: an animated scene refits one tree to every frame, and its cost never changes. */
const topologyCosts = new WeakMap<FlatBvh, number>()

/**
 * `topology` refitted to `vertices`, or undefined where that tree would cost a ray more than
 * {@link MAX_REFIT_COST_RATIO} times what `topology` does (its triangles moved far from where it grouped them) or
 * more than {@link MAX_BVH_TRAVERSAL_COST}. Both costs depend only on the soup and the topology, so every peer keeps
 * or builds the same tree for a frame.
 */
function keptRefit(topology: FlatBvh, vertices: Float32Array): CostedBvh | undefined {
  let own = topologyCosts.get(topology)
  if (own === undefined) topologyCosts.set(topology, (own = bvhTraversalCost(topology)))
  const refitted = costed(refitBvh(topology, vertices))
  return refitted.cost <= Math.min(MAX_REFIT_COST_RATIO * own, MAX_BVH_TRAVERSAL_COST) ? refitted : undefined
}

/**
 * The soup's BVH: `topology` refitted to it where it has the soup's triangles and the refitted tree is kept (see
 * {@link keptRefit}), else one built for it, which may cost far less.
 *
 * @throws GPU__SCENE_TOO_LARGE past {@link BVH_MAX_DEPTH} levels; GPU__TRAVERSAL_COST_EXCEEDED past
 * {@link MAX_BVH_TRAVERSAL_COST}
 */
function boundedBvh(vertices: Float32Array, triangleCount: number, topology: FlatBvh | undefined): FlatBvh {
  const { tree: bvh, cost } =
    (topology?.order.length === triangleCount ? keptRefit(topology, vertices) : undefined) ??
    costed(buildBvh(vertices, triangleCount))
  if (bvh.depth >= BVH_MAX_DEPTH) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the scene's BVH is ${bvh.depth} levels deep, more than ${BVH_MAX_DEPTH - 1}`,
      {
        depth: bvh.depth,
      },
    )
  }
  // Checked on the finished tree, refitted or built: what it costs a ray is known only from its boxes.
  if (cost > MAX_BVH_TRAVERSAL_COST) {
    throw new GpuError(
      'GPU__TRAVERSAL_COST_EXCEEDED',
      `the scene's BVH costs ${Math.round(cost)} box and triangle tests per ray, ` +
        `more than ${MAX_BVH_TRAVERSAL_COST}: long thin or overlapping triangles fill boxes that every ray enters; ` +
        'split or remove them',
      { cost, limit: MAX_BVH_TRAVERSAL_COST },
    )
  }
  return bvh
}

/** Options of {@link packScene}. */
export interface PackOptions {
  /**
   * A tree built over the same triangles elsewhere (an animated scene's reference frame) to refit to these
   * positions instead of building one (see `refitBvh`); ignored when it holds another number of triangles, and
   * replaced by a tree built for these positions when the refitted one would cost a ray more than
   * {@link MAX_REFIT_COST_RATIO} times what `topology` costs, or more than {@link MAX_BVH_TRAVERSAL_COST} tests.
   * Either way the tree depends only on the soup and the topology.
   *
   * @default a tree built for the soup
   */
  topology?: FlatBvh
}

/**
 * Checks what a BVH is built over and a scene drawn from: some triangles and no more than {@link MAX_SCENE_TRIANGLES},
 * 1 to {@link MAX_SCENE_MATERIALS} materials that every triangle's index names, and finite vertex positions (the
 * builder bins triangles by their centroids, which a position of ±Infinity makes NaN).
 *
 * @throws GPU__MALFORMED_SCENE for no triangles, materials outside those bounds, a missing material or a position that
 * is not finite; GPU__SCENE_TOO_LARGE past {@link MAX_SCENE_TRIANGLES}
 */
export function assertTriangleSoup(soup: TriangleSoup): void {
  const triangleCount = soup.materialIndex.length
  if (triangleCount === 0) throw new GpuError('GPU__MALFORMED_SCENE', 'the scene has no triangles to draw', {})
  if (triangleCount > MAX_SCENE_TRIANGLES) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the scene has ${triangleCount} triangles, more than ${MAX_SCENE_TRIANGLES}`,
      {
        triangles: triangleCount,
        limit: MAX_SCENE_TRIANGLES,
      },
    )
  }
  if (soup.materials.length === 0 || soup.materials.length > MAX_SCENE_MATERIALS) {
    throw new GpuError('GPU__MALFORMED_SCENE', `a scene needs 1 to ${MAX_SCENE_MATERIALS} materials`, {
      materials: soup.materials.length,
    })
  }
  for (const m of soup.materialIndex) {
    if (m >= soup.materials.length)
      throw new GpuError('GPU__MALFORMED_SCENE', 'a triangle names a missing material', { material: m })
  }
  for (let i = 0; i < soup.vertices.length; i++) {
    if (!Number.isFinite(soup.vertices[i]!))
      throw new GpuError('GPU__MALFORMED_SCENE', 'a vertex position is not finite', { index: i })
  }
}

/**
 * Builds (or refits) the BVH and packs a triangle soup into {@link Scene}'s GPU layout.
 *
 * @throws GPU__TRAVERSAL_COST_EXCEEDED when the BVH would cost a ray more than {@link MAX_BVH_TRAVERSAL_COST} box and
 * triangle tests (see {@link bvhTraversalCost})
 */
export function packScene(soup: TriangleSoup, options: PackOptions = {}): Scene {
  assertTriangleSoup(soup)
  const triangleCount = soup.materialIndex.length
  const bvh = boundedBvh(soup.vertices, triangleCount, options.topology)
  const triangles = new Float32Array(triangleCount * TRIANGLE_FLOATS)
  const triangleBits = new Uint32Array(triangles.buffer)
  const normals = new Float32Array(triangleCount * TRIANGLE_FLOATS)
  const min = [Infinity, Infinity, Infinity]
  const max = [-Infinity, -Infinity, -Infinity]
  for (let i = 0; i < triangleCount; i++) {
    const t = bvh.order[i]!
    const v = soup.vertices
    const o = i * TRIANGLE_FLOATS
    for (let a = 0; a < 3; a++) {
      const p0 = v[t * 9 + a]!
      triangles[o + a] = p0
      // Edges are rounded to f32 once, here, so the CPU reference and the shader read the same numbers.
      triangles[o + 4 + a] = v[t * 9 + 3 + a]! - p0
      triangles[o + 8 + a] = v[t * 9 + 6 + a]! - p0
      for (let k = 0; k < 3; k++) {
        const p = v[t * 9 + k * 3 + a]!
        min[a] = Math.min(min[a]!, p)
        max[a] = Math.max(max[a]!, p)
      }
    }
    triangleBits[o + 3] = soup.materialIndex[t]!
    for (let k = 0; k < 3; k++) {
      const n = unit(soup.normals, t * 9 + k * 3, soup.vertices, t * 9)
      normals[o + k * 4] = n[0]
      normals[o + k * 4 + 1] = n[1]
      normals[o + k * 4 + 2] = n[2]
    }
  }
  const lights = lightTable(triangles, soup.materials)
  // Half the bounds' diagonal: the radius a directional light's power is reckoned over.
  const radius = triangleCount > 0 ? Math.hypot(max[0]! - min[0]!, max[1]! - min[1]!, max[2]! - min[2]!) / 2 || 1 : 1
  const punctual = packPunctualLights(soup.punctualLights ?? [], radius)
  const surface = packSurface(soup, bvh.order, lights.table.length + punctual.length)
  const colors = soup.colors === undefined ? new Uint32Array(0) : packVertexColors(soup.colors, bvh.order)
  const sheened = soup.materials.some((m) => sheenOf(m) !== undefined)
  const sheenTable = sheened ? new Uint32Array(sheenAlbedoTable().buffer) : new Uint32Array(0)
  const before = lights.table.length + punctual.length + surface.words.length
  // Offset 0 means "none": a scene with nothing before them (no lights, no textures) skips a word.
  const colorOffset = colors.length === 0 ? 0 : Math.max(1, before)
  const afterColors = Math.max(before, colorOffset) + colors.length
  const sheenOffset = sheened ? Math.max(1, afterColors) : 0
  const aux = new Uint32Array(Math.max(afterColors, sheenOffset) + sheenTable.length)
  aux.set(new Uint32Array(lights.table.buffer), 0)
  aux.set(punctual, lights.table.length)
  aux.set(surface.words, lights.table.length + punctual.length)
  aux.set(colors, colorOffset)
  aux.set(sheenTable, sheenOffset)
  const materials = new Float32Array(soup.materials.length * MATERIAL_FLOATS)
  const materialBits = new Uint32Array(materials.buffer)
  soup.materials.forEach((m, i) => {
    materials.set([...m.baseColor, m.metallic, ...m.emissive, m.roughness], i * MATERIAL_FLOATS)
    const scale = m.normalScale ?? 1
    if (!Number.isFinite(scale) || Math.abs(scale) > MAX_NORMAL_SCALE) {
      throw new GpuError('GPU__MALFORMED_SCENE', `material ${m.name} has a normal scale outside ±${MAX_NORMAL_SCALE}`, {
        normalScale: scale,
      })
    }
    const cutoff = m.alphaCutoff ?? 0.5
    const opacity = m.opacity ?? 1
    const mode = ALPHA_MODES.indexOf(m.alphaMode ?? 'opaque')
    if (mode < 0 || !(cutoff >= 0 && cutoff <= 1) || !(opacity >= 0 && opacity <= 1)) {
      throw new GpuError(
        'GPU__MALFORMED_SCENE',
        `material ${m.name} needs an alpha mode of ${ALPHA_MODES.join(', ')} and a cutoff and opacity in [0, 1]`,
        { alphaMode: m.alphaMode, alphaCutoff: cutoff, opacity },
      )
    }
    const ior = m.ior ?? 1.5
    const specular = m.specular ?? 1
    const specularColor = m.specularColor ?? [1, 1, 1]
    if (
      !(ior >= 1 && ior <= MAX_IOR) ||
      !(specular >= 0 && specular <= 1) ||
      !specularColor.every((c) => c >= 0 && c <= MAX_SPECULAR_COLOR)
    ) {
      throw new GpuError(
        'GPU__MALFORMED_SCENE',
        `material ${m.name} needs an ior in [1, ${MAX_IOR}], a specular factor in [0, 1] and a specular colour in [0, ${MAX_SPECULAR_COLOR}]`,
        { ior, specular, specularColor },
      )
    }
    const f0 = dielectricF0(ior)
    materials.set([...specularColor.map((c) => Math.min(1, f0 * c)), specular], i * MATERIAL_FLOATS + 24)
    materials.set([scale, cutoff, opacity], i * MATERIAL_FLOATS + 28)
    const layers = [m.transmission ?? 0, m.clearcoat ?? 0, m.clearcoatRoughness ?? 0]
    if (!layers.every((x) => x >= 0 && x <= 1)) {
      throw new GpuError(
        'GPU__MALFORMED_SCENE',
        `material ${m.name} needs a transmission, clearcoat and clearcoat roughness in [0, 1]`,
        { transmission: layers[0], clearcoat: layers[1], clearcoatRoughness: layers[2] },
      )
    }
    materials.set(layers, i * MATERIAL_FLOATS + 32)
    const volume = volumeOf(m)
    if (volume !== undefined) {
      // A refracting surface with an ior of exactly 1 would have no half vector for straight-through light.
      materials[i * MATERIAL_FLOATS + 35] = Math.max(ior, MIN_VOLUME_IOR)
      materials.set(volume, i * MATERIAL_FLOATS + 36)
    }
    const sheen = sheenOf(m)
    if (sheen !== undefined) materials.set(sheen, i * MATERIAL_FLOATS + 40)
    materialBits[i * MATERIAL_FLOATS + 31] = mode | (m.doubleSided === true ? 4 : 0) | (m.unlit === true ? 8 : 0)
    materialTextures(m).forEach((tex, slot) => {
      if (tex === undefined) return
      const t = soup.textures![tex.texture]!
      materialBits.set(
        [
          surface.texelOffsets[tex.texture]!,
          t.width,
          t.height,
          (samplerBits(tex) | ((tex.texCoord ?? 0) << 6) | (surface.transformIndex(tex.transform) << 8)) >>> 0,
        ],
        i * MATERIAL_FLOATS + TEXTURE_ROWS[slot]! * 4,
      )
    })
  })
  const bounds = { min: min as unknown as Vec3, max: max as unknown as Vec3 }
  const camera = soup.camera ?? frameBounds(bounds)
  assertCamera(camera)
  return {
    triangleCount,
    triangles,
    normals,
    materials,
    materialList: soup.materials,
    bvh: bvh.nodes,
    bvhNodeCount: bvh.nodeCount,
    bvhDepth: bvh.depth,
    camera,
    lights: new Float32Array(aux.buffer, 0, lights.table.length),
    aux,
    lutOffset: surface.lutOffset,
    uvOffset: surface.uvOffset,
    uv1Offset: surface.uv1Offset,
    uvTransformOffset: surface.uvTransformOffset,
    tangentOffset: surface.tangentOffset,
    colorOffset,
    alphaTested: soup.materials.some((m) => (m.alphaMode ?? 'opaque') !== 'opaque'),
    transmissive: soup.materials.some((m) => (m.transmission ?? 0) > 0),
    coated: soup.materials.some((m) => (m.clearcoat ?? 0) > 0),
    unlit: soup.materials.some((m) => m.unlit === true),
    sheened,
    sheenOffset,
    specularTextured: soup.materials.some(
      (m) => m.specularTexture !== undefined || m.specularColorTexture !== undefined,
    ),
    lightCount: lights.count,
    punctualLights: soup.punctualLights ?? [],
    punctualOffset: punctual.length === 0 ? 0 : lights.table.length,
    punctualCount: punctual.length / PUNCTUAL_WORDS,
    lightArea: lights.area,
    lightPower: lights.power,
    bounds,
  }
}

/**
 * A material's KHR_materials_sheen as (colour, roughness), or undefined without one (a black colour).
 *
 * @throws GPU__MALFORMED_SCENE for a colour or roughness outside [0, 1]
 */
function sheenOf(m: Material): [number, number, number, number] | undefined {
  const color = m.sheenColor ?? [0, 0, 0]
  const roughness = m.sheenRoughness ?? 0
  if (!color.every((c) => c >= 0 && c <= 1) || !(roughness >= 0 && roughness <= 1)) {
    throw new GpuError('GPU__MALFORMED_SCENE', `material ${m.name} needs a sheen colour and roughness in [0, 1]`, {
      sheenColor: color,
      sheenRoughness: roughness,
    })
  }
  return color.some((c) => c > 0) ? [color[0], color[1], color[2], roughness] : undefined
}

/** Smallest ior a volume's surface refracts with (see `volumeOf`). */
const MIN_VOLUME_IOR = 1.001
/** Least attenuation colour channel: a channel of 0 would make an infinite attenuation coefficient. */
const MIN_ATTENUATION_COLOR = 1e-6

/**
 * A material's KHR_materials_volume as its attenuation coefficient per unit length (-ln(colour) / distance per
 * channel), or undefined when its surface does not bound a volume (no thickness, or no transmission to refract).
 *
 * @throws GPU__MALFORMED_SCENE for a negative or non-finite thickness, a colour outside [0, 1] or a distance that is
 * not positive
 */
function volumeOf(m: Material): [number, number, number] | undefined {
  const thickness = m.thickness ?? 0
  const color = m.attenuationColor ?? [1, 1, 1]
  const distance = m.attenuationDistance ?? Infinity
  if (!(thickness >= 0 && thickness < Infinity) || !color.every((c) => c >= 0 && c <= 1) || !(distance > 0)) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `material ${m.name} needs a finite thickness of at least 0, an attenuation colour in [0, 1] and a positive attenuation distance`,
      { thickness, attenuationColor: color, attenuationDistance: distance },
    )
  }
  if (thickness === 0 || !((m.transmission ?? 0) > 0)) return undefined
  const coefficient = (c: number): number =>
    distance === Infinity ? 0 : -Math.log(Math.max(c, MIN_ATTENUATION_COLOR)) / distance
  return [coefficient(color[0]), coefficient(color[1]), coefficient(color[2])]
}

/**
 * The textured part of `aux` (after `start` words of lights): the decoding tables, each triangle's texture coordinates
 * in BVH order (non-finite ones as 0) and the texels; nothing when no material has a texture.
 */
function packSurface(soup: TriangleSoup, order: Uint32Array, start: number): PackedSurface {
  const used = soup.materials.flatMap((m) =>
    materialTextures(m).flatMap((t) => (t === undefined ? [] : [[m, t] as const])),
  )
  if (used.length === 0) {
    return {
      words: new Uint32Array(0),
      lutOffset: 0,
      uvOffset: 0,
      uv1Offset: 0,
      uvTransformOffset: 0,
      tangentOffset: 0,
      texelOffsets: [],
      transformIndex: () => 0,
    }
  }
  const textures = soup.textures ?? []
  for (const [m, t] of used) {
    if (!(Number.isInteger(t.texture) && t.texture >= 0 && t.texture < textures.length)) {
      throw new GpuError('GPU__MALFORMED_SCENE', `material ${m.name} names a missing texture`, {
        texture: t.texture,
      })
    }
  }
  const triangleCount = order.length
  const second = used.some(([, t]) => t.texCoord === 1)
  for (const [set, uvs] of [
    [0, soup.uvs],
    [1, second ? soup.uvs1 : []],
  ] as const) {
    if (set === 1 && !second) continue
    if (uvs === undefined || uvs.length !== triangleCount * UV_WORDS) {
      throw new GpuError('GPU__MALFORMED_SCENE', `a textured scene needs 6 numbers of TEXCOORD_${set} per triangle`, {
        expected: triangleCount * UV_WORDS,
        got: uvs?.length ?? 0,
      })
    }
  }
  const transforms = transformTable(used.map(([m, t]) => [m.name, t.transform] as const))
  const texels = textures.reduce((n, t) => n + t.width * t.height, 0)
  if (texels > MAX_SCENE_TEXELS) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the scene's textures hold ${texels} texels, more than ${MAX_SCENE_TEXELS}`,
      {
        texels,
        limit: MAX_SCENE_TEXELS,
      },
    )
  }
  const mapped = soup.materials.some((m) => m.normalTexture !== undefined)
  if (mapped && soup.tangents?.length !== triangleCount * TANGENT_WORDS) {
    throw new GpuError('GPU__MALFORMED_SCENE', 'a normal-mapped scene needs 12 tangent numbers per triangle', {
      expected: triangleCount * TANGENT_WORDS,
      got: soup.tangents?.length ?? 0,
    })
  }
  const lutOffset = start
  const uvOffset = lutOffset + TEXTURE_TABLE_WORDS
  const uv1Offset = second ? uvOffset + triangleCount * UV_WORDS : 0
  let next = uvOffset + triangleCount * UV_WORDS * (second ? 2 : 1)
  const tangentOffset = mapped ? next : 0
  if (mapped) next += triangleCount * TANGENT_WORDS
  const uvTransformOffset = transforms.words.length > 0 ? next : 0
  next += transforms.words.length
  const words = new Uint32Array(next - start + texels)
  words.set(new Uint32Array(SRGB_TO_LINEAR.buffer), 0)
  words.set(new Uint32Array(UNORM_TO_FLOAT.buffer), SRGB_TO_LINEAR.length)
  for (const [offset, source] of [
    [uvOffset, soup.uvs!],
    [uv1Offset, soup.uvs1!],
  ] as const) {
    if (offset === 0) continue
    const uvs = new Float32Array(words.buffer, (offset - start) * 4, triangleCount * UV_WORDS)
    for (let i = 0; i < triangleCount; i++) {
      for (let k = 0; k < UV_WORDS; k++) {
        const x = source[order[i]! * UV_WORDS + k]!
        uvs[i * UV_WORDS + k] = Number.isFinite(x) ? x : 0
      }
    }
  }
  if (uvTransformOffset !== 0) new Float32Array(words.buffer, (uvTransformOffset - start) * 4).set(transforms.words)
  if (mapped) {
    const tangents = new Float32Array(words.buffer, (tangentOffset - start) * 4, triangleCount * TANGENT_WORDS)
    for (let i = 0; i < triangleCount; i++) {
      for (let k = 0; k < TANGENT_WORDS; k++) {
        const x = soup.tangents![order[i]! * TANGENT_WORDS + k]!
        // w is a handedness sign; a non-finite direction becomes 0, and the shader leaves such normals unmapped.
        tangents[i * TANGENT_WORDS + k] = k % 4 === 3 ? (x < 0 ? -1 : 1) : Number.isFinite(x) ? x : 0
      }
    }
  }
  const texelOffsets = textures.map((t) => {
    const offset = next
    if (t.rgba.length !== t.width * t.height * 4) {
      throw new GpuError('GPU__MALFORMED_SCENE', 'a texture holds fewer texels than its size states', {
        width: t.width,
        height: t.height,
      })
    }
    // RGBA bytes read as little-endian words put red in the low byte on every platform WebGPU runs on.
    const rgba = t.rgba.byteOffset % 4 === 0 ? t.rgba : t.rgba.slice()
    words.set(new Uint32Array(rgba.buffer, rgba.byteOffset, t.width * t.height), offset - start)
    next += t.width * t.height
    return offset
  })
  return {
    words,
    lutOffset,
    uvOffset,
    uv1Offset,
    uvTransformOffset,
    tangentOffset,
    texelOffsets,
    transformIndex: transforms.indexOf,
  }
}

/** The textured part of `aux` (see {@link packSurface}), where its sections start, and how to address them. */
interface PackedSurface {
  words: Uint32Array
  lutOffset: number
  uvOffset: number
  uv1Offset: number
  uvTransformOffset: number
  tangentOffset: number
  texelOffsets: number[]
  /** A texture's entry in the transform table (0 for none). */
  transformIndex: (transform: UvTransform | undefined) => number
}

/** Most distinct texture transforms in one scene: their index shares the sampler word with 8 bits of flags. */
const MAX_UV_TRANSFORMS = (1 << 24) - 1

/**
 * The scene's distinct texture transforms (KHR_texture_transform) as a table of 6 f32s each behind an unused first
 * entry (index 0 means none), and each transform's index; empty without transforms.
 *
 * @throws GPU__MALFORMED_SCENE for a transform with a number that is not finite
 */
function transformTable(transforms: ReadonlyArray<readonly [string, UvTransform | undefined]>): {
  words: Float32Array
  indexOf: (transform: UvTransform | undefined) => number
} {
  const index = new Map<string, number>()
  const entries: number[] = [0, 0, 0, 0, 0, 0]
  for (const [material, t] of transforms) {
    if (t === undefined) continue
    if (t.length !== 6 || !t.every(Number.isFinite)) {
      throw new GpuError(
        'GPU__MALFORMED_SCENE',
        `material ${material} has a texture transform that is not 6 finite numbers`,
        {
          material,
        },
      )
    }
    const key = t.join(',')
    if (!index.has(key) && index.size < MAX_UV_TRANSFORMS) {
      index.set(key, index.size + 1)
      entries.push(...t)
    }
  }
  return {
    words: index.size === 0 ? new Float32Array(0) : Float32Array.from(entries),
    indexOf: (t) => (t === undefined ? 0 : (index.get(t.join(',')) ?? 0)),
  }
}

/**
 * The CDF over emissive triangles (in BVH order) that next-event estimation picks lights by: in proportion to
 * their power, area times the luminance of their emissive factor, so a small bright lamp draws most samples and a
 * large dim panel few (by area alone, a dim panel ten times the lamp's size would take ten of every eleven).
 */
function lightTable(
  triangles: Float32Array,
  materials: readonly Material[],
): { table: Float32Array; count: number; area: number; power: number } {
  const bits = new Uint32Array(triangles.buffer, triangles.byteOffset, triangles.length)
  const index: number[] = []
  const powers: number[] = []
  let area = 0
  for (let i = 0; i < triangles.length / TRIANGLE_FLOATS; i++) {
    const o = i * TRIANGLE_FLOATS
    const m = materials[bits[o + 3]!]!
    if (Math.max(...m.emissive) <= 0) continue
    const [ax, ay, az] = [triangles[o + 4]!, triangles[o + 5]!, triangles[o + 6]!]
    const [bx, by, bz] = [triangles[o + 8]!, triangles[o + 9]!, triangles[o + 10]!]
    const a = Math.hypot(ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx) / 2
    if (!(a > 0)) continue
    index.push(i)
    powers.push(a * emissionWeight(...m.emissive))
    area += a
  }
  const power = powers.reduce((s, p) => s + p, 0)
  const table = new Float32Array(index.length * 2)
  const tableBits = new Uint32Array(table.buffer)
  let running = 0
  index.forEach((tri, k) => {
    running += powers[k]!
    // Bit 31 marks a double-sided emitter (triangle indices stay under 2^31): the shader needs no material load.
    tableBits[k * 2] =
      (tri | (materials[bits[tri * TRIANGLE_FLOATS + 3]!]!.doubleSided === true ? 0x8000_0000 : 0)) >>> 0
    table[k * 2 + 1] = k === index.length - 1 ? 1 : running / power
  })
  return { table, count: index.length, area, power }
}

/** The unit normal at `offset`, or the face normal when the given one is degenerate or not finite. */
function unit(normals: Float32Array, offset: number, vertices: Float32Array, tri: number): [number, number, number] {
  let x = normals[offset]!
  let y = normals[offset + 1]!
  let z = normals[offset + 2]!
  let len = Math.hypot(x, y, z)
  if (!(len > 1e-12) || !Number.isFinite(len)) {
    const e1 = [0, 1, 2].map((a) => vertices[tri + 3 + a]! - vertices[tri + a]!)
    const e2 = [0, 1, 2].map((a) => vertices[tri + 6 + a]! - vertices[tri + a]!)
    x = e1[1]! * e2[2]! - e1[2]! * e2[1]!
    y = e1[2]! * e2[0]! - e1[0]! * e2[2]!
    z = e1[0]! * e2[1]! - e1[1]! * e2[0]!
    len = Math.hypot(x, y, z)
    if (!(len > 0)) return [0, 1, 0]
  }
  return [x / len, y / len, z / len]
}

/** A camera on +Z looking at the centre of `bounds`, far enough back to see all of it. */
export function frameBounds(bounds: { min: Vec3; max: Vec3 }): Camera {
  const yfov = 0.7
  const center: Vec3 = [0, 1, 2].map((a) => (bounds.min[a]! + bounds.max[a]!) / 2) as unknown as Vec3
  const radius = Math.hypot(...[0, 1, 2].map((a) => bounds.max[a]! - bounds.min[a]!)) / 2
  const distance = radius / Math.sin(yfov / 2) + 1e-3
  return {
    position: [center[0], center[1], center[2] + distance],
    forward: [0, 0, -1],
    up: [0, 1, 0],
    right: [1, 0, 0],
    yfov,
  }
}
