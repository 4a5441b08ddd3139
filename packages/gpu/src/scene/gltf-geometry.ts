import { MathUtils } from '@gltf-transform/core'
import type { Accessor, Mesh, Node, Primitive } from '@gltf-transform/core'
import type { InstancedMesh } from '@gltf-transform/extensions'
import { MAX_SCENE_TRIANGLES } from '../constants.js'
import { GpuError } from '../errors.js'

/** glTF primitive modes. Points (0) and lines (1 to 3) have no area for a ray to hit. */
export const PrimitiveMode = { triangles: 4, triangleStrip: 5, triangleFan: 6 } as const

/** Whether a primitive's mode draws triangles: a list, a strip or a fan. */
export function drawsTriangles(prim: Primitive): boolean {
  const mode = prim.getMode()
  return mode === PrimitiveMode.triangles || mode === PrimitiveMode.triangleStrip || mode === PrimitiveMode.triangleFan
}

/** Triangles a primitive of `count` vertices (or indices) draws in `mode`; NaN for a list not divisible by 3. */
function triangleCount(mode: number, count: number): number {
  if (mode === PrimitiveMode.triangles) return count % 3 === 0 ? count / 3 : NaN
  return Math.max(0, count - 2)
}

/** Triangles the primitive draws, without reading its indices (for bounds checks before anything is expanded). */
export function primitiveTriangles(prim: Primitive): number {
  const count = prim.getIndices()?.getCount() ?? prim.getAttribute('POSITION')?.getCount() ?? 0
  const n = triangleCount(prim.getMode(), count)
  if (Number.isNaN(n)) {
    throw new GpuError('GPU__MALFORMED_SCENE', 'a triangle primitive has a vertex count not divisible by 3', { count })
  }
  return n
}

/** A mesh's primitives that draw at least one triangle, and the triangles they draw together. */
export interface DrawnPrimitives {
  prims: Primitive[]
  triangles: number
}

/**
 * The primitives of `mesh` that draw triangles, without reading their indices. One that draws none (a strip of two
 * vertices) is left out: every primitive kept adds to the scene's triangle bound wherever it is drawn, so the work
 * done for each node and primitive is paid for by that bound (6,000 nodes drawing 6,000 empty strips, a 329 KB file,
 * took 59 s to load).
 *
 * @throws GPU__MALFORMED_SCENE for a triangle list whose vertex count is not divisible by 3
 */
export function drawnPrimitives(mesh: Mesh): DrawnPrimitives {
  let triangles = 0
  const prims = mesh.listPrimitives().filter((prim) => {
    if (!drawsTriangles(prim)) return false
    const drawn = primitiveTriangles(prim)
    triangles += drawn
    return drawn > 0
  })
  return { prims, triangles }
}

/**
 * The vertices of a triangle primitive's triangles, three per triangle, as the glTF specification (3.7.2.1) orders
 * them: a list as it is; strip triangle i as (v[i], v[i + 1 + i % 2], v[i + 2 - i % 2]), which keeps every
 * triangle's winding; fan triangle i as (v[i + 1], v[i + 2], v[0]). Each v is an index into the vertex attributes.
 *
 * @throws GPU__MALFORMED_SCENE for a primitive without positions, a list not divisible by 3 or an index past its
 * vertices
 */
export function triangleCorners(prim: Primitive): Uint32Array {
  const position = prim.getAttribute('POSITION')
  if (position === null)
    throw new GpuError('GPU__MALFORMED_SCENE', 'a triangle primitive has no POSITION attribute', {})
  const vertexCount = position.getCount()
  const indices: Accessor | null = prim.getIndices()
  const mode = prim.getMode()
  const triangles = primitiveTriangles(prim)
  const vertex = (i: number): number => {
    const v = indices === null ? i : indices.getScalar(i)
    if (!Number.isInteger(v) || v < 0 || v >= vertexCount) {
      throw new GpuError('GPU__MALFORMED_SCENE', 'a triangle index points past its vertices', {
        index: v,
        vertices: vertexCount,
      })
    }
    return v
  }
  const corners = new Uint32Array(triangles * 3)
  for (let t = 0; t < triangles; t++) {
    const odd = t % 2
    const [a, b, c] =
      mode === PrimitiveMode.triangles
        ? [3 * t, 3 * t + 1, 3 * t + 2]
        : mode === PrimitiveMode.triangleStrip
          ? [t, t + 1 + odd, t + 2 - odd]
          : [t + 1, t + 2, 0]
    corners[3 * t] = vertex(a)
    corners[3 * t + 1] = vertex(b)
    corners[3 * t + 2] = vertex(c)
  }
  return corners
}

/** The determinant of a column-major 4x4 matrix's upper 3x3: negative for one that mirrors. */
export function determinant3(m: readonly number[]): number {
  return (
    m[0]! * (m[5]! * m[10]! - m[6]! * m[9]!) -
    m[4]! * (m[1]! * m[10]! - m[2]! * m[9]!) +
    m[8]! * (m[1]! * m[6]! - m[2]! * m[5]!)
  )
}

/**
 * A primitive's triangle corners (from {@link triangleCorners}) in the order that makes them counter-clockwise seen
 * from their front under `world`, as the path tracers take front faces: glTF 2.0 (section 3.7.2.1) makes clockwise
 * triangles the front ones under a matrix of negative determinant (a mirror), so there each triangle's second and
 * third corners swap. Every vertex is copied per corner, so its attributes follow it.
 */
export function frontFacingCorners(corners: Uint32Array, world: readonly number[]): Uint32Array {
  if (!(determinant3(world) < 0)) return corners
  const swapped = corners.slice()
  for (let i = 0; i < swapped.length; i += 3) {
    swapped[i + 1] = corners[i + 2]!
    swapped[i + 2] = corners[i + 1]!
  }
  return swapped
}

/**
 * The world matrices (column-major 4x4) a node draws its mesh at: its own world matrix, or with
 * EXT_mesh_gpu_instancing one per instance, the node's world matrix times the instance's TRANSLATION x ROTATION x
 * SCALE (each attribute optional, normalized integer rotations decoded). Each copies the mesh's `meshTriangles`
 * triangles into the scene, so `trianglesLeft` bounds them before any matrix is built or index read.
 *
 * @throws GPU__MALFORMED_SCENE for instance attributes of different counts or types; GPU__SCENE_TOO_LARGE when the
 * instances would pass the triangle bound
 */
export function meshMatrices(
  node: Node,
  world: readonly number[],
  meshTriangles: number,
  trianglesLeft: number,
): Array<readonly number[]> {
  const instanced = node.getExtension<InstancedMesh>('EXT_mesh_gpu_instancing')
  if (instanced === null) {
    if (meshTriangles > trianglesLeft) throw tooManyTriangles(1)
    return [world]
  }
  // Instances of nothing draw nothing: no need to read (possibly millions of) their transforms.
  if (meshTriangles === 0) return []
  const attribute = (semantic: string, type: string): Accessor | null => {
    const a = instanced.getAttribute(semantic)
    if (a !== null && a.getType() !== type) {
      throw new GpuError(
        'GPU__MALFORMED_SCENE',
        `the instances' ${semantic} attribute is ${a.getType()}, not ${type}`,
        {
          node: node.getName(),
        },
      )
    }
    return a
  }
  const translation = attribute('TRANSLATION', 'VEC3')
  const rotation = attribute('ROTATION', 'VEC4')
  const scale = attribute('SCALE', 'VEC3')
  const counts = new Set([translation, rotation, scale].filter((a) => a !== null).map((a) => a.getCount()))
  if (counts.size !== 1) {
    throw new GpuError('GPU__MALFORMED_SCENE', 'EXT_mesh_gpu_instancing needs attributes of one instance count', {
      node: node.getName(),
      counts: [...counts],
    })
  }
  const instances = [...counts][0]!
  if (instances * meshTriangles > trianglesLeft) throw tooManyTriangles(instances)
  const matrices: Array<readonly number[]> = []
  for (let i = 0; i < instances; i++) {
    const t = (translation?.getElement(i, []) ?? [0, 0, 0]) as [number, number, number]
    const r = (rotation?.getElement(i, []) ?? [0, 0, 0, 1]) as [number, number, number, number]
    const s = (scale?.getElement(i, []) ?? [1, 1, 1]) as [number, number, number]
    const local = MathUtils.compose(t, r, s, new Array<number>(16).fill(0) as never) as unknown as number[]
    matrices.push(multiply(world, local))
  }
  return matrices
}

function tooManyTriangles(instances: number): GpuError {
  return new GpuError('GPU__SCENE_TOO_LARGE', `the scene has more than ${MAX_SCENE_TRIANGLES} triangles`, {
    limit: MAX_SCENE_TRIANGLES,
    instances,
  })
}

/** a x b for column-major 4x4 matrices. */
export function multiply(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(16)
  for (let col = 0; col < 4; col++) {
    for (let row = 0; row < 4; row++) {
      // Summed from the first product, not from 0, in glTF-Transform's order: its products bit for bit, -0 included.
      let sum = a[row]! * b[col * 4]!
      for (let k = 1; k < 4; k++) sum += a[k * 4 + row]! * b[col * 4 + k]!
      out[col * 4 + row] = sum
    }
  }
  return out
}

/**
 * Nodes' world matrices where they stand now, each its parent's times its own local matrix and computed once: one
 * pass over the nodes a build reads, however many skins list a joint. glTF-Transform's `getWorldMatrix` walks every
 * call up the whole chain of parents, finding each among all the node's parents (a joint has one per skin that lists
 * it), so a build of many skins of deep joints took minutes. The products are glTF-Transform's, in its order. Make
 * one per pose: a memo outlives no change to the nodes. The caller has bounded the depth and refused cycles.
 */
export function worldMatrices(): (node: Node) => readonly number[] {
  const world = new Map<Node, readonly number[]>()
  const worldOf = (node: Node): readonly number[] => {
    let matrix = world.get(node)
    if (matrix === undefined) {
      const parent = node.getParentNode()
      matrix = parent === null ? node.getMatrix() : multiply(worldOf(parent), node.getMatrix())
      world.set(node, matrix)
    }
    return matrix
  }
  return worldOf
}

/**
 * A primitive's vertex attribute, or null when it has none, checked as glTF requires: one element per vertex (as
 * many as POSITION) and one of the `types` its semantic allows. An attribute with fewer elements would otherwise
 * read as NaNs past its end.
 *
 * @throws GPU__MALFORMED_SCENE for another element count or type
 */
export function vertexAttribute(prim: Primitive, semantic: string, types: readonly string[]): Accessor | null {
  const attribute = prim.getAttribute(semantic)
  if (attribute === null) return null
  const vertices = prim.getAttribute('POSITION')?.getCount() ?? 0
  if (attribute.getCount() !== vertices || !types.includes(attribute.getType())) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `a primitive's ${semantic} holds ${attribute.getCount()} ${attribute.getType()} elements; it needs ${vertices} of ${types.join(' or ')}`,
      { semantic, count: attribute.getCount(), vertices, type: attribute.getType() },
    )
  }
  return attribute
}
