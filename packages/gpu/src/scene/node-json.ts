import { GpuError } from '../errors.js'

/** How many numbers each node transform property holds (glTF 2.0 section 5.25). */
const TRANSFORM_LENGTHS = { translation: 3, rotation: 4, scale: 3, matrix: 16 } as const

/**
 * How far a node's rotation may be from unit length: exporters write quaternions rounded to float32 or to a few
 * digits, which leaves them a little off; a zero or doubled one would scale and shear the node instead of turning it.
 */
const UNIT_QUATERNION_TOLERANCE = 1e-3

/** Whether `value` is an array of finite numbers, of `length` of them where that is given. */
function isFiniteArray(value: unknown, length?: number): boolean {
  return (
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((x) => typeof x === 'number' && Number.isFinite(x))
  )
}

/**
 * Refuses a glTF asset whose nodes' `translation`, `rotation`, `scale` or `matrix`, or whose nodes' or meshes'
 * morph target `weights`, are not arrays of finite numbers of the length the specification gives, or whose nodes'
 * `rotation` is not a unit quaternion (within {@link UNIT_QUATERNION_TOLERANCE}), before it is parsed. glTF-Transform keeps what the JSON says for these (a `null` included) and only reading them fails later,
 * as a plain TypeError; a number past float64's range (`1e999` in JSON) would spread NaN through every world matrix.
 *
 * @throws GPU__MALFORMED_SCENE naming the node or mesh and the property
 */
export function assertNodeTransforms(json: Record<string, unknown>): void {
  const nodes = Array.isArray(json.nodes) ? (json.nodes as unknown[]) : []
  nodes.forEach((node, index) => {
    const def = (node ?? {}) as Record<string, unknown>
    for (const [property, length] of Object.entries(TRANSFORM_LENGTHS)) {
      if (def[property] !== undefined && !isFiniteArray(def[property], length)) {
        throw malformed(`node ${index}'s ${property} is not ${length} finite numbers`, { node: index, property })
      }
    }
    const rotation = def.rotation as number[] | undefined
    if (rotation !== undefined && Math.abs(Math.hypot(...rotation) - 1) > UNIT_QUATERNION_TOLERANCE) {
      throw malformed(`node ${index}'s rotation is not a unit quaternion`, { node: index, rotation })
    }
    if (def.weights !== undefined && !isFiniteArray(def.weights)) {
      throw malformed(`node ${index}'s weights are not an array of finite numbers`, { node: index })
    }
  })
  const meshes = Array.isArray(json.meshes) ? (json.meshes as unknown[]) : []
  meshes.forEach((mesh, index) => {
    const weights = (mesh as Record<string, unknown> | null)?.weights
    if (weights !== undefined && !isFiniteArray(weights)) {
      throw malformed(`mesh ${index}'s weights are not an array of finite numbers`, { mesh: index })
    }
  })
}

const malformed = (why: string, context: Record<string, unknown>): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `the glTF asset is malformed: ${why}`, context)
