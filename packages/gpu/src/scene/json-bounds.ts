import { MAX_GLTF_OBJECTS, MAX_SCENE_JOINTS } from '../constants.js'
import { GpuError } from '../errors.js'

/**
 * The glTF lists glTF-Transform makes a property of per entry; a mesh's primitives and their morph targets, and
 * `KHR_lights_punctual`'s lights, are counted beside them.
 */
const LISTS = [
  'accessors',
  'animations',
  'bufferViews',
  'buffers',
  'cameras',
  'images',
  'materials',
  'meshes',
  'nodes',
  'samplers',
  'scenes',
  'skins',
  'textures',
] as const

/** The length of `value` when it is an array, else 0 (a malformed list is the parser's to refuse). */
function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0
}

/**
 * Refuses a glTF asset whose JSON lists more than {@link MAX_GLTF_OBJECTS} objects (with `GPU__SCENE_TOO_LARGE`),
 * before glTF-Transform parses it: the parser makes a property of a few kilobytes of heap for each, so a few hundred
 * megabytes of `{}` entries would take tens of gigabytes whatever the geometry bounds say.
 */
export function assertObjectsWithin(json: Record<string, unknown>): void {
  let count = 0
  for (const list of LISTS) count += lengthOf(json[list])
  for (const mesh of Array.isArray(json.meshes) ? json.meshes : []) {
    const primitives = (mesh as Record<string, unknown> | null)?.primitives
    count += lengthOf(primitives)
    // Each morph target is a property too, made before MAX_MORPH_TARGETS is checked on the parsed scene.
    for (const primitive of Array.isArray(primitives) ? primitives : []) {
      count += lengthOf((primitive as Record<string, unknown> | null)?.targets)
    }
  }
  // So is each punctual light, before MAX_PUNCTUAL_LIGHTS is checked.
  const extensions = json.extensions as Record<string, unknown> | undefined
  count += lengthOf((extensions?.KHR_lights_punctual as Record<string, unknown> | undefined)?.lights)
  if (count > MAX_GLTF_OBJECTS) {
    throw new GpuError('GPU__SCENE_TOO_LARGE', `the glTF asset lists ${count} objects, more than ${MAX_GLTF_OBJECTS}`, {
      objects: count,
      limit: MAX_GLTF_OBJECTS,
    })
  }
}

/**
 * Refuses a glTF asset whose skins list more than {@link MAX_SCENE_JOINTS} joints together (with
 * `GPU__SCENE_TOO_LARGE`), before glTF-Transform parses it: each skin is bounded on its own, but a file of many skins
 * listing the same few thousand joints costs every build a matrix for each listing.
 */
export function assertJointsWithin(json: Record<string, unknown>): void {
  let joints = 0
  for (const skin of Array.isArray(json.skins) ? json.skins : []) {
    joints += lengthOf((skin as Record<string, unknown> | null)?.joints)
  }
  if (joints > MAX_SCENE_JOINTS) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the glTF asset's skins list ${joints} joints together, more than ${MAX_SCENE_JOINTS}`,
      { joints, limit: MAX_SCENE_JOINTS },
    )
  }
}
