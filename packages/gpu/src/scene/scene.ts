/** A three-component vector. */
export type Vec3 = readonly [number, number, number]

/** A metallic-roughness material as the path tracer uses it (glTF factors; textures are not sampled). */
export interface Material {
  readonly name: string
  /** Linear RGB albedo (glTF baseColorFactor.rgb). */
  readonly baseColor: Vec3
  /** 0 = diffuse, 1 = metal; the path tracer picks metal with this probability. */
  readonly metallic: number
  /** Fuzz of metallic reflection, 0 = mirror. */
  readonly roughness: number
  /** Linear RGB radiance emitted (glTF emissiveFactor). */
  readonly emissive: Vec3
}

/** A pinhole camera in world space. */
export interface Camera {
  readonly position: Vec3
  /** Unit vectors: the view direction, image up and image right. */
  readonly forward: Vec3
  readonly up: Vec3
  readonly right: Vec3
  /** Vertical field of view, radians. */
  readonly yfov: number
}

/**
 * A scene ready to path-trace: world-space triangles in BVH order plus the flattened BVH, packed exactly as the
 * GPU buffers hold them. The CPU reference traverses these same arrays, so both see identical inputs.
 *
 * Layouts (all 16-byte rows, little-endian f32 unless noted):
 * - `triangles`: 3 rows per triangle: (v0.xyz, material index as u32 bits), (e1 = v1 - v0, 0), (e2 = v2 - v0, 0).
 * - `normals`: 3 rows per triangle: vertex normals n0, n1, n2 (unit, world space).
 * - `materials`: 2 rows per material: (baseColor.rgb, metallic), (emissive.rgb, roughness).
 * - `lights`: 2 floats per emissive triangle: (triangle index as u32 bits, cumulative area fraction), the CDF
 *   that next-event estimation samples lights by area; the last fraction is exactly 1.
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
  /** Emissive triangles, sampled by area for next-event estimation (see layout above). */
  readonly lights: Float32Array
  readonly lightCount: number
  /** Total area of the emissive triangles. */
  readonly lightArea: number
  readonly bounds: { readonly min: Vec3; readonly max: Vec3 }
}

/** Floats per triangle in {@link Scene.triangles} and {@link Scene.normals}. */
export const TRIANGLE_FLOATS = 12
/** Floats per material in {@link Scene.materials}. */
export const MATERIAL_FLOATS = 8
/** Floats per node in {@link Scene.bvh}. */
export const BVH_NODE_FLOATS = 8
