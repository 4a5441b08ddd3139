import { EXTMeshoptCompression, KHRMeshQuantization } from '@gltf-transform/extensions'
import { GpuError } from '../errors.js'
import { ComponentType, isIndex, type JsonObject, listOf, objectOf, uses } from './gltf-json.js'

/**
 * A component type an attribute may have, and whether it must, may or must not be normalized (glTF 2.0 section
 * 3.7.2.1, and KHR_mesh_quantization's table).
 */
type Encoding = readonly [componentType: number, normalized: boolean]

const { byte, unsignedByte, short, unsignedShort, float } = ComponentType
const FLOAT: Encoding = [float, false]
/** Normalized unsigned bytes and shorts: what texture coordinates, colours and weights may also be. */
const UNORM: readonly Encoding[] = [
  [unsignedByte, true],
  [unsignedShort, true],
]
/** Normalized signed bytes and shorts: what quantized normals and tangents are. */
const SNORM: readonly Encoding[] = [
  [byte, true],
  [short, true],
]
/** Every integer encoding of bytes and shorts, normalized or not: what quantized positions may be. */
const INTEGERS: readonly Encoding[] = [byte, unsignedByte, short, unsignedShort].flatMap((type) => [
  [type, false] as const,
  [type, true] as const,
])

/** What a vertex attribute may be: its accessor types, and its encodings without and with KHR_mesh_quantization. */
interface AttributeRule {
  types: readonly string[]
  encodings: readonly Encoding[]
  quantized: readonly Encoding[]
}

/** The rule of a primitive's attribute by semantic (`TEXCOORD_n`, `COLOR_n`, … by their prefix). */
const ATTRIBUTE_RULES: ReadonlyArray<[RegExp, AttributeRule]> = [
  [/^POSITION$/, { types: ['VEC3'], encodings: [FLOAT], quantized: INTEGERS }],
  [/^NORMAL$/, { types: ['VEC3'], encodings: [FLOAT], quantized: SNORM }],
  [/^TANGENT$/, { types: ['VEC4'], encodings: [FLOAT], quantized: SNORM }],
  [/^TEXCOORD_\d+$/, { types: ['VEC2'], encodings: [FLOAT, ...UNORM], quantized: INTEGERS }],
  [/^COLOR_\d+$/, { types: ['VEC3', 'VEC4'], encodings: [FLOAT, ...UNORM], quantized: [] }],
  [
    /^JOINTS_\d+$/,
    {
      types: ['VEC4'],
      encodings: [
        [unsignedByte, false],
        [unsignedShort, false],
      ],
      quantized: [],
    },
  ],
  [/^WEIGHTS_\d+$/, { types: ['VEC4'], encodings: [FLOAT, ...UNORM], quantized: [] }],
]

/** The rule of a morph target's attribute: displacements, floats or (quantized) signed integers. */
const TARGET_RULES: ReadonlyArray<[RegExp, AttributeRule]> = [
  [/^POSITION$/, { types: ['VEC3'], encodings: [FLOAT], quantized: [...SNORM, [byte, false], [short, false]] }],
  [/^(NORMAL|TANGENT)$/, { types: ['VEC3'], encodings: [FLOAT], quantized: SNORM }],
]

/** What a primitive's indices may be. */
const INDEX_RULE: AttributeRule = {
  types: ['SCALAR'],
  encodings: [
    [unsignedByte, false],
    [unsignedShort, false],
    [ComponentType.unsignedInt, false],
  ],
  quantized: [],
}

/** The component types `normalized` may be set on (glTF 2.0 section 5.1: not on floats or 32-bit integers). */
const NORMALIZABLE: ReadonlySet<unknown> = new Set([byte, unsignedByte, short, unsignedShort])

/** A material's core texture infos, whose `index` names a texture. */
const MATERIAL_TEXTURES = ['normalTexture', 'occlusionTexture', 'emissiveTexture'] as const
const PBR_TEXTURES = ['baseColorTexture', 'metallicRoughnessTexture'] as const

/**
 * Refuses glTF JSON whose structure the specification forbids, before glTF-Transform reads it and quietly makes
 * something else of it (glTF 2.0 sections 3.5 and 3.7): nodes that do not form disjoint trees (a node that is its
 * own ancestor, one listed as the child of two nodes, a scene root that is also a child, which would be drawn twice),
 * an index naming no object (a scene, node, mesh, camera, skin, material, texture, image, sampler or accessor), an
 * accessor marked `normalized` whose components are floats or 32-bit integers, and a vertex attribute, morph target
 * or index accessor of a type or component type its semantic does not allow (integer positions, normals and the like
 * only under KHR_mesh_quantization or EXT_meshopt_compression). Layout (offsets, strides) is {@link assertLayout}'s.
 *
 * @throws GPU__MALFORMED_SCENE naming what is wrong and where
 */
export function assertStructure(json: JsonObject): void {
  const count = (list: string): number => listOf(json, list).length
  const within = (list: string, index: unknown, where: string): void => {
    if (!isIndex(index) || index >= count(list)) {
      const noun = list.endsWith('hes') ? list.slice(0, -2) : list.slice(0, -1)
      throw malformed(`${where} names ${noun} ${String(index)}, which does not exist`, { list, index })
    }
  }
  if (json.scene !== undefined) within('scenes', json.scene, 'the asset')
  assertNodeTrees(json, within)
  listOf(json, 'accessors').forEach((value, index) => {
    const { normalized = false, componentType } = objectOf(value)
    if (typeof normalized !== 'boolean')
      throw malformed(`accessor ${index}'s normalized is not a boolean`, { accessor: index })
    if (normalized && !NORMALIZABLE.has(componentType)) {
      throw malformed(`accessor ${index} is normalized, but its components are not 8- or 16-bit integers`, {
        accessor: index,
      })
    }
  })
  // glTF-Transform's meshopt encoder writes filtered normals as normalized bytes without listing
  // KHR_mesh_quantization: meshopt's filters quantize by design, so its files may use the quantized encodings too.
  const quantized = [KHRMeshQuantization, EXTMeshoptCompression].some((e) => uses(json, e.EXTENSION_NAME))
  listOf(json, 'meshes').forEach((mesh, m) => {
    listOf(objectOf(mesh), 'primitives').forEach((value, p) => {
      const primitive = objectOf(value)
      const where = `mesh ${m}'s primitive ${p}`
      if (primitive.material !== undefined) within('materials', primitive.material, where)
      const accessor = (index: unknown, what: string, rule: AttributeRule | undefined): void => {
        within('accessors', index, `${where}'s ${what}`)
        if (rule !== undefined)
          assertEncoding(objectOf(listOf(json, 'accessors')[index as number]), rule, quantized, `${where}'s ${what}`)
      }
      if (primitive.indices !== undefined) accessor(primitive.indices, 'indices', INDEX_RULE)
      for (const [semantic, index] of Object.entries(objectOf(primitive.attributes))) {
        accessor(index, semantic, ruleOf(ATTRIBUTE_RULES, semantic))
      }
      listOf(primitive, 'targets').forEach((target, t) => {
        for (const [semantic, index] of Object.entries(objectOf(target))) {
          accessor(index, `morph target ${t}'s ${semantic}`, ruleOf(TARGET_RULES, semantic))
        }
      })
    })
  })
  listOf(json, 'materials').forEach((value, index) => {
    const material = objectOf(value)
    const infos = [
      ...MATERIAL_TEXTURES.map((slot) => [slot, material[slot]] as const),
      ...PBR_TEXTURES.map((slot) => [slot, objectOf(material.pbrMetallicRoughness)[slot]] as const),
    ]
    for (const [slot, info] of infos) {
      if (info !== undefined) within('textures', objectOf(info).index, `material ${index}'s ${slot}`)
    }
  })
  listOf(json, 'textures').forEach((value, index) => {
    const { source, sampler } = objectOf(value)
    if (source !== undefined) within('images', source, `texture ${index}`)
    if (sampler !== undefined) within('samplers', sampler, `texture ${index}`)
  })
  listOf(json, 'skins').forEach((value, index) => {
    const skin = objectOf(value)
    for (const joint of listOf(skin, 'joints')) within('nodes', joint, `skin ${index}`)
    if (skin.skeleton !== undefined) within('nodes', skin.skeleton, `skin ${index}`)
    if (skin.inverseBindMatrices !== undefined) within('accessors', skin.inverseBindMatrices, `skin ${index}`)
  })
}

/**
 * Refuses nodes that do not form disjoint trees under the scenes: children naming no node, a node listed twice as a
 * child (of one node or two), a node that is its own ancestor, and a scene root that is some node's child or listed
 * twice in its scene. Also checks the indices each node names (mesh, camera, skin).
 */
function assertNodeTrees(json: JsonObject, within: (list: string, index: unknown, where: string) => void): void {
  const nodes = listOf(json, 'nodes')
  const parent = new Map<number, number>()
  nodes.forEach((value, index) => {
    const node = objectOf(value)
    for (const [property, list] of [
      ['mesh', 'meshes'],
      ['camera', 'cameras'],
      ['skin', 'skins'],
    ] as const) {
      if (node[property] !== undefined) within(list, node[property], `node ${index}'s ${property}`)
    }
    for (const child of listOf(node, 'children')) {
      within('nodes', child, `node ${index}'s children list`)
      const other = parent.get(child as number)
      if (other !== undefined) {
        throw malformed(`node ${String(child)} is a child of node ${other} and of node ${index}`, { node: child })
      }
      parent.set(child as number, index)
    }
  })
  // Each node has one parent at most: following parents from any node either ends at a root or comes round again.
  const settled = new Set<number>()
  for (let start = 0; start < nodes.length; start++) {
    const path = new Set<number>()
    for (let at: number | undefined = start; at !== undefined && !settled.has(at); at = parent.get(at)) {
      if (path.has(at)) throw malformed(`node ${at} is its own ancestor: the nodes form a cycle`, { node: at })
      path.add(at)
    }
    for (const node of path) settled.add(node)
  }
  listOf(json, 'scenes').forEach((scene, s) => {
    const roots = new Set<unknown>()
    for (const root of listOf(objectOf(scene), 'nodes')) {
      within('nodes', root, `scene ${s}`)
      if (parent.has(root as number) || roots.has(root)) {
        throw malformed(`scene ${s} lists node ${String(root)} as a root, but it is a child or listed already`, {
          scene: s,
          node: root,
        })
      }
      roots.add(root)
    }
  })
}

/** The rule of the first pattern `semantic` matches, or none (an application's own `_NAME` attributes). */
function ruleOf(rules: ReadonlyArray<[RegExp, AttributeRule]>, semantic: string): AttributeRule | undefined {
  return rules.find(([pattern]) => pattern.test(semantic))?.[1]
}

/** Refuses an accessor whose type or component type (normalized or not) `rule` does not allow. */
function assertEncoding(accessor: JsonObject, rule: AttributeRule, quantized: boolean, what: string): void {
  const { type, componentType, normalized = false } = accessor
  const encodedAs = ([c, n]: Encoding): boolean => c === componentType && n === normalized
  if (
    rule.types.includes(type as string) &&
    (rule.encodings.some(encodedAs) || (quantized && rule.quantized.some(encodedAs)))
  ) {
    return
  }
  // Say so where the extension would have allowed it: an exporter's quantized file that forgot to list it.
  const unlisted = !quantized && rule.types.includes(type as string) && rule.quantized.some(encodedAs)
  throw malformed(
    `${what} is a ${String(type)} of component type ${String(componentType)}${normalized === true ? ' (normalized)' : ''}, ` +
      `which its semantic does not allow${unlisted ? ' without KHR_mesh_quantization' : ''}`,
    { type, componentType, normalized },
  )
}

const malformed = (why: string, context: Record<string, unknown>): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `the glTF asset is malformed: ${why}`, context)
