import type { Accessor, Node, Primitive, Skin } from '@gltf-transform/core'
import { MAX_SKIN_JOINTS, MAX_SKIN_SETS } from '../constants.js'
import { GpuError } from '../errors.js'
import { multiply } from './gltf-geometry.js'

const IDENTITY: readonly number[] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]

/**
 * The joint matrices of `skin` (each joint's world matrix, from `worldOf`, times its inverse bind matrix), where its
 * joints stand now: build them once per skin and scene, not per primitive.
 *
 * @throws GPU__SCENE_TOO_LARGE past {@link MAX_SKIN_JOINTS}; GPU__MALFORMED_SCENE for inverse bind matrices that are
 * not one MAT4 per joint
 */
export function jointMatricesOf(skin: Skin, worldOf: (node: Node) => readonly number[]): number[][] {
  const joints = skin.listJoints()
  if (joints.length > MAX_SKIN_JOINTS) {
    throw new GpuError('GPU__SCENE_TOO_LARGE', `a skin has ${joints.length} joints, more than ${MAX_SKIN_JOINTS}`, {
      joints: joints.length,
      limit: MAX_SKIN_JOINTS,
    })
  }
  const inverseBind = skin.getInverseBindMatrices()
  if (inverseBind !== null && (inverseBind.getType() !== 'MAT4' || inverseBind.getCount() < joints.length)) {
    throw malformed('inverseBindMatrices must hold one MAT4 per joint', { joints: joints.length })
  }
  return joints.map((joint, i) =>
    multiply(worldOf(joint), inverseBind === null ? IDENTITY : inverseBind.getElement(i, [])),
  )
}

const malformed = (why: string, context: Record<string, unknown> = {}): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `a skin of the glTF asset is malformed: ${why}`, context)

/**
 * How a skinned primitive's vertices move (glTF 2.0 section 3.7.3): each vertex's world matrix, the sum of its
 * joints' matrices (the joint's world matrix times its inverse bind matrix) weighted by JOINTS_n / WEIGHTS_n, the
 * weights scaled to sum to 1. The skinned mesh's own node transform plays no part, as the specification asks.
 * Undefined for a node with no skin or a primitive with no joints, which move with their node as usual. Joints are
 * read where they stand now, so an animation that moves them moves the mesh.
 *
 * @throws GPU__SCENE_TOO_LARGE for more than {@link MAX_SKIN_SETS} pairs of joint and weight attributes;
 * GPU__MALFORMED_SCENE for joint or weight attributes of the wrong shape, a joint index past the skin's joints, a
 * negative or non-finite weight, or inverse bind matrices that are not one MAT4 per joint
 */
export function skinning(
  node: Node,
  prim: Primitive,
  jointMatrices: (skin: Skin) => readonly (readonly number[])[],
): ((vertex: number) => readonly number[]) | undefined {
  const skin = node.getSkin()
  if (skin === null) return undefined
  // Each pair is read at every corner drawn: past the bound, refused before any is read.
  if (prim.getAttribute(`JOINTS_${MAX_SKIN_SETS}`) !== null || prim.getAttribute(`WEIGHTS_${MAX_SKIN_SETS}`) !== null) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `a skinned primitive has more than ${MAX_SKIN_SETS} JOINTS_n / WEIGHTS_n pairs`,
      { limit: MAX_SKIN_SETS },
    )
  }
  const sets: [Accessor, Accessor][] = []
  for (let set = 0; ; set++) {
    const joints = prim.getAttribute(`JOINTS_${set}`)
    const weights = prim.getAttribute(`WEIGHTS_${set}`)
    if (joints === null && weights === null) break
    if (joints === null || weights === null) throw malformed(`JOINTS_${set} and WEIGHTS_${set} come as a pair`)
    const count = prim.getAttribute('POSITION')?.getCount() ?? 0
    if (joints.getType() !== 'VEC4' || weights.getType() !== 'VEC4') {
      throw malformed(`JOINTS_${set} and WEIGHTS_${set} must be VEC4`)
    }
    if (joints.getCount() !== count || weights.getCount() !== count) {
      throw malformed(`JOINTS_${set} and WEIGHTS_${set} must have one element per vertex`, { set })
    }
    sets.push([joints, weights])
  }
  if (sets.length === 0) return undefined
  const matrices = jointMatrices(skin)
  const j: number[] = []
  const w: number[] = []
  const matrixOf = (vertex: number, joint: number): readonly number[] => {
    const matrix = matrices[joint]
    if (matrix === undefined) throw malformed(`vertex ${vertex} names joint ${joint} of ${matrices.length}`, { vertex })
    return matrix
  }
  return (vertex) => {
    const m = new Array<number>(16).fill(0)
    let total = 0
    let firstJoint = 0
    for (const [set, [joints, weights]] of sets.entries()) {
      joints.getElement(vertex, j)
      weights.getElement(vertex, w)
      if (set === 0) firstJoint = j[0]!
      for (let k = 0; k < 4; k++) {
        const weight = w[k]!
        // glTF: weights MUST NOT be negative; a NaN or infinite one would spread over the whole frame.
        if (!(weight >= 0 && weight < Infinity)) {
          throw malformed(`vertex ${vertex} has joint weight ${weight}; weights must be finite and not negative`, {
            vertex,
          })
        }
        if (weight === 0) continue
        const matrix = matrixOf(vertex, j[k]!)
        for (let e = 0; e < 16; e++) m[e] = m[e]! + weight * matrix[e]!
        total += weight
      }
    }
    // Weights SHOULD sum to 1, and quantized or hand-made ones often miss: they are scaled to, as three.js's glTF
    // loader does. A vertex with no weight at all follows its first joint (three.js's choice too) rather than
    // collapsing to the origin.
    if (total === 0) return [...matrixOf(vertex, firstJoint)]
    if (total !== 1) for (let e = 0; e < 16; e++) m[e] = m[e]! / total
    return m
  }
}
