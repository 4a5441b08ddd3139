import { GLB_BUFFER } from '@gltf-transform/core'
import draco3d, { type DecoderModule } from 'draco3dgltf'
import { MeshoptDecoder } from 'meshoptimizer'
import {
  DRACO_DECODE_BYTES_PER_COMPONENT,
  DRACO_DECODE_BYTES_PER_FACE,
  MAX_DECODED_SCENE_BYTES,
  MAX_MESHOPT_VIEW_BYTES,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { COMPONENT_BYTES, extensionOf, TYPE_COMPONENTS, uses } from './gltf-json.js'

const GLB_MAGIC = 0x46546c67 // "glTF"

/** Whether bytes start as a binary glTF (GLB) container. */
export function isGlb(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GLB_MAGIC
}

/**
 * Refuses an asset whose accessors, meshopt-compressed buffer views and Draco-compressed primitives together declare
 * more data than {@link MAX_DECODED_SCENE_BYTES} before anything is decoded. Compressed geometry (Draco, meshopt) is
 * only bounded by its declared counts: a small file could otherwise inflate to gigabytes while it is read.
 * glTF-Transform decodes every meshopt buffer view into an array of its own and keeps them all until the read ends,
 * whether or not an accessor uses them, so views count beside the accessors that read them; Draco is counted as
 * {@link dracoBytes} says. `resources` are the asset's buffers as the reader will take them (the GLB's binary chunk
 * under `GLB_BUFFER`, others by URI, `data:` URIs decoded): Draco's counts are read from its bitstreams.
 *
 * @throws GPU__SCENE_TOO_LARGE past the bound, or for one meshopt view past {@link MAX_MESHOPT_VIEW_BYTES};
 * GPU__MALFORMED_SCENE for an accessor without a count or type, a meshopt view or fallback buffer whose values
 * EXT_meshopt_compression does not allow, or a Draco primitive whose bitstream and accessors disagree
 */
export function assertDeclaredSize(
  json: Record<string, unknown>,
  resources: Readonly<Record<string, Uint8Array | undefined>> = {},
): void {
  const bytes = accessorBytes(json) + meshoptViewBytes(json) + dracoBytes(json, resources)
  if (bytes > MAX_DECODED_SCENE_BYTES) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the glTF asset's accessors and compressed geometry declare ${bytes} bytes, more than ${MAX_DECODED_SCENE_BYTES}`,
      { bytes, limit: MAX_DECODED_SCENE_BYTES },
    )
  }
  assertFallbackBuffers(json)
}

/** Bytes the asset's accessors declare. */
function accessorBytes(json: Record<string, unknown>): number {
  const accessors = json.accessors ?? []
  if (!Array.isArray(accessors)) throw new GpuError('GPU__MALFORMED_SCENE', 'glTF accessors must be an array', {})
  let bytes = 0
  accessors.forEach((a: unknown, index) => {
    const { count, componentType, type } = (a ?? {}) as { count?: unknown; componentType?: unknown; type?: unknown }
    const size = COMPONENT_BYTES.get(componentType)
    const components = TYPE_COMPONENTS.get(type)
    if (!Number.isSafeInteger(count) || (count as number) < 0 || size === undefined || components === undefined) {
      throw new GpuError('GPU__MALFORMED_SCENE', `glTF accessor ${index} has no valid count, component type or type`, {
        accessor: index,
      })
    }
    bytes += (count as number) * size * components
  })
  return bytes
}

const MESHOPT = 'EXT_meshopt_compression'

/** The byte strides EXT_meshopt_compression allows for each mode, and for each filter (filters apply to ATTRIBUTES). */
const MESHOPT_MODE_STRIDE = new Map<unknown, (stride: number) => boolean>([
  ['ATTRIBUTES', (stride) => stride > 0 && stride <= 256 && stride % 4 === 0],
  ['TRIANGLES', (stride) => stride === 2 || stride === 4],
  ['INDICES', (stride) => stride === 2 || stride === 4],
])
const MESHOPT_FILTER_STRIDE = new Map<unknown, (stride: number) => boolean>([
  ['NONE', () => true],
  ['OCTAHEDRAL', (stride) => stride === 4 || stride === 8],
  ['QUATERNION', (stride) => stride === 8],
  ['EXPONENTIAL', (stride) => stride % 4 === 0],
])

/**
 * Bytes the asset's EXT_meshopt_compression buffer views decode to: `count` times `byteStride` each, which
 * glTF-Transform allocates before the decoder reads a byte of the compressed data.
 *
 * @throws GPU__MALFORMED_SCENE for a count, stride, mode or filter the extension does not allow; GPU__SCENE_TOO_LARGE
 * for one view past {@link MAX_MESHOPT_VIEW_BYTES}
 */
function meshoptViewBytes(json: Record<string, unknown>): number {
  const views = json.bufferViews ?? []
  if (!Array.isArray(views)) throw new GpuError('GPU__MALFORMED_SCENE', 'glTF bufferViews must be an array', {})
  let bytes = 0
  views.forEach((view: unknown, index) => {
    const meshopt = extensionOf(view, MESHOPT)
    if (meshopt === undefined) return
    const { count, byteStride, mode, filter = 'NONE' } = meshopt
    const malformed = (why: string) =>
      new GpuError('GPU__MALFORMED_SCENE', `glTF buffer view ${index}'s ${MESHOPT} ${why}`, { bufferView: index })
    if (!Number.isSafeInteger(count) || (count as number) < 0) throw malformed('count is not a non-negative integer')
    const modeStride = MESHOPT_MODE_STRIDE.get(mode)
    if (modeStride === undefined) throw malformed(`mode ${String(mode)} is not ATTRIBUTES, TRIANGLES or INDICES`)
    const filterStride = MESHOPT_FILTER_STRIDE.get(filter)
    if (filterStride === undefined) throw malformed(`filter ${String(filter)} is not one the extension defines`)
    if (mode !== 'ATTRIBUTES' && filter !== 'NONE') throw malformed(`mode ${mode as string} takes no filter`)
    const stride = byteStride as number
    if (!Number.isSafeInteger(stride) || !modeStride(stride) || !filterStride(stride)) {
      throw malformed(
        `byteStride ${String(stride)} is not allowed with mode ${mode as string} and filter ${filter as string}`,
      )
    }
    if (mode === 'TRIANGLES' && (count as number) % 3 !== 0) throw malformed('count is not a multiple of 3 triangles')
    const decoded = (count as number) * stride
    if (decoded > MAX_MESHOPT_VIEW_BYTES) {
      throw new GpuError(
        'GPU__SCENE_TOO_LARGE',
        `glTF buffer view ${index} decodes to ${decoded} bytes, more than the ${MAX_MESHOPT_VIEW_BYTES} one meshopt view may`,
        { bufferView: index, bytes: decoded, limit: MAX_MESHOPT_VIEW_BYTES },
      )
    }
    bytes += decoded
  })
  return bytes
}

/**
 * Refuses a meshopt fallback buffer whose `byteLength` is not a size within {@link MAX_DECODED_SCENE_BYTES}. The
 * reader allocates nothing for it, but the extension says it holds every decoded view that names it, so a larger one
 * claims more than the bound, and a writer or another reader would allocate it.
 */
function assertFallbackBuffers(json: Record<string, unknown>): void {
  const buffers = json.buffers ?? []
  if (!Array.isArray(buffers)) throw new GpuError('GPU__MALFORMED_SCENE', 'glTF buffers must be an array', {})
  buffers.forEach((buffer: unknown, index) => {
    if (extensionOf(buffer, MESHOPT)?.fallback !== true) return
    const { byteLength } = buffer as { byteLength?: unknown }
    if (!Number.isSafeInteger(byteLength) || (byteLength as number) < 0) {
      throw new GpuError('GPU__MALFORMED_SCENE', `glTF fallback buffer ${index} has no valid byteLength`, {
        buffer: index,
      })
    }
    if ((byteLength as number) > MAX_DECODED_SCENE_BYTES) {
      throw new GpuError(
        'GPU__SCENE_TOO_LARGE',
        `glTF fallback buffer ${index} declares ${byteLength as number} bytes, more than ${MAX_DECODED_SCENE_BYTES}`,
        { buffer: index, bytes: byteLength as number, limit: MAX_DECODED_SCENE_BYTES },
      )
    }
  })
}

const DRACO = 'KHR_draco_mesh_compression'

/** What a Draco bitstream's header says it decodes to, read before the decoder sees it. */
export interface DracoCounts {
  method: 'sequential' | 'edgebreaker'
  faces: number
  /** Sequential: the points decoded. Edgebreaker: the vertices its connectivity encodes, which seams may split. */
  points: number
}

/** The newest Draco mesh bitstream the decoder reads (draco3dgltf 1.5.7; KHR_draco_mesh_compression names 2.2). */
const DRACO_VERSION = [2, 2] as const
/** The header's flag saying metadata follows it. */
const DRACO_METADATA_FLAG = 0x8000

/**
 * Reads a Draco mesh bitstream's header up to its face and point counts, as Draco's decoder reads them (its
 * `DecodeHeader`, metadata skipped, then `DecodeConnectivity` of the sequential or edgebreaker method, versions 1.0
 * to 2.2). Draco allocates for these counts as it decodes, and they say nothing of the accessors glTF-Transform
 * reads the primitive into: a 156 KB file whose accessors claimed 3 vertices held a 250,000-vertex grid.
 *
 * @throws a plain Error for bytes that are not a Draco mesh header Draco would read
 */
export function dracoCounts(bitstream: Uint8Array): DracoCounts {
  let at = 0
  const byte = (): number => {
    if (at >= bitstream.length) throw new Error('the Draco header is cut off')
    return bitstream[at++]!
  }
  const u32 = (): number => (byte() | (byte() << 8) | (byte() << 16) | (byte() << 24)) >>> 0
  // Draco's DecodeVarint<uint32_t>: little-endian groups of 7 bits, at most 5 bytes, kept modulo 2^32 as in C.
  const varint = (): number => {
    let value = 0
    for (let i = 0; i < 5; i++) {
      const b = byte()
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value % 2 ** 32
    }
    throw new Error('a Draco varint runs past 5 bytes')
  }
  if (String.fromCharCode(byte(), byte(), byte(), byte(), byte()) !== 'DRACO') throw new Error('it is not Draco data')
  const [major, minor] = [byte(), byte()]
  const version = major * 256 + minor
  if (major < 1 || version > DRACO_VERSION[0] * 256 + DRACO_VERSION[1]) {
    throw new Error(`Draco bitstream version ${major}.${minor} is not one the decoder reads`)
  }
  if (byte() !== 1) throw new Error('it is a Draco point cloud, not a triangle mesh')
  const method = byte()
  if (method !== 0 && method !== 1) throw new Error(`Draco encoder method ${method} is not sequential or edgebreaker`)
  const flags = byte() | (byte() << 8)
  if (version >= 0x103 && (flags & DRACO_METADATA_FLAG) !== 0) skipDracoMetadata(byte, varint)
  // Before 2.0 the counts are 32-bit words; from 2.0 varints.
  const count = version < 0x200 ? u32 : varint
  if (method === 0) {
    // Sequential: faces, then points; varints only from 2.2.
    const read = version < 0x202 ? u32 : varint
    const faces = read()
    return { method: 'sequential', faces, points: read() }
  }
  byte() // the traversal decoder's type
  if (version < 0x202) count() // vertices added for non-manifold ones, which 2.2 finds as it decodes
  const points = count()
  return { method: 'edgebreaker', faces: count(), points }
}

/**
 * Skips a Draco bitstream's metadata (Draco's `MetadataDecoder::DecodeGeometryMetadata`): attribute metadata, then
 * the geometry's, each a tree of named entries whose records come one after the other.
 */
function skipDracoMetadata(byte: () => number, varint: () => number): void {
  const skip = (n: number): void => {
    for (let i = 0; i < n; i++) byte()
  }
  const metadata = (): void => {
    // Each record: its entries, then how many records below it follow; every one but the first has a name.
    for (let records = 1, first = true; records > 0; records--, first = false) {
      if (!first) skip(byte())
      const entries = varint()
      for (let e = 0; e < entries; e++) {
        skip(byte())
        const size = varint()
        if (size === 0) throw new Error('a Draco metadata entry is empty')
        skip(size)
      }
      records += varint()
    }
  }
  const attributes = varint()
  for (let a = 0; a < attributes; a++) {
    varint()
    metadata()
  }
  metadata()
}

/** The glTF JSON of an accessor, as {@link accessorBytes} has checked it. */
interface AccessorJson {
  count: number
  componentType: number
  type: string
}

/** A primitive's JSON, as far as its Draco data goes. */
interface DracoPrimitive {
  attributes?: Record<string, unknown>
  indices?: unknown
  /** Its KHR_draco_mesh_compression extension: its buffer view, and each attribute's unique ID in the bitstream. */
  draco: { bufferView?: unknown; attributes?: Record<string, unknown> }
  where: { mesh: number; primitive: number }
}

/** The asset's primitives that have Draco data, in the order glTF-Transform decodes them. */
function dracoPrimitives(json: Record<string, unknown>): DracoPrimitive[] {
  const found: DracoPrimitive[] = []
  const meshes = Array.isArray(json.meshes) ? (json.meshes as unknown[]) : []
  meshes.forEach((mesh, meshIndex) => {
    const primitives = (mesh as { primitives?: unknown } | null)?.primitives
    ;(Array.isArray(primitives) ? (primitives as unknown[]) : []).forEach((primitive, primitiveIndex) => {
      const draco = extensionOf(primitive, DRACO)
      if (draco === undefined) return
      const { attributes, indices } = primitive as Omit<DracoPrimitive, 'draco' | 'where'>
      found.push({ attributes, indices, draco, where: { mesh: meshIndex, primitive: primitiveIndex } })
    })
  })
  return found
}

/** The accessor at `index` of an asset's checked accessors, if there is one. */
function accessorAt(json: Record<string, unknown>, index: unknown): AccessorJson | undefined {
  const accessors = (json.accessors ?? []) as AccessorJson[]
  return Number.isSafeInteger(index) && (index as number) >= 0 ? accessors[index as number] : undefined
}

/** The Draco attributes' semantics of a primitive, each with the accessor it decodes into, if there is one. */
function dracoAttributes(json: Record<string, unknown>, p: DracoPrimitive): [string, AccessorJson | undefined][] {
  return Object.keys(p.draco.attributes ?? {}).map((semantic) => [semantic, accessorAt(json, p.attributes?.[semantic])])
}

/** Bytes of the arrays glTF-Transform copies out of Draco for a primitive: its accessors', 32-bit indices. */
function dracoArrayBytes(json: Record<string, unknown>, p: DracoPrimitive): number {
  let bytes = p.indices === undefined ? 0 : accessorAt(json, p.indices)!.count * 4
  for (const [, accessor] of dracoAttributes(json, p)) {
    bytes += accessor!.count * TYPE_COMPONENTS.get(accessor!.type)! * COMPONENT_BYTES.get(accessor!.componentType)!
  }
  return bytes
}

/**
 * Bytes Draco-compressed primitives take to decode, each primitive's bitstream header checked against the accessors
 * it decodes into: the face count times 3 must be its index count, and the point count (sequential) each attribute's
 * count, or (edgebreaker, whose seams split vertices into points) each attribute's count must lie between the
 * vertices encoded and 3 points a face. glTF-Transform decodes each bitstream once into Draco's own memory, kept
 * until the read ends ({@link DRACO_DECODE_BYTES_PER_FACE} a face and {@link DRACO_DECODE_BYTES_PER_COMPONENT} an
 * attribute component a point), then copies out fresh arrays for every primitive that names it, so a bitstream
 * named again costs its arrays again ({@link dracoArrayBytes}).
 *
 * @throws GPU__MALFORMED_SCENE for a primitive whose buffer view, attributes, bitstream or counts do not hold
 */
function dracoBytes(
  json: Record<string, unknown>,
  resources: Readonly<Record<string, Uint8Array | undefined>>,
): number {
  if (!uses(json, DRACO)) return 0
  const decoded = new Map<unknown, DracoCounts>()
  let bytes = 0
  for (const p of dracoPrimitives(json)) {
    const malformed = (why: string): GpuError =>
      new GpuError('GPU__MALFORMED_SCENE', `mesh ${p.where.mesh}'s primitive ${p.where.primitive}: ${why}`, p.where)
    let counts = decoded.get(p.draco.bufferView)
    const first = counts === undefined
    counts ??= dracoBitstreamCounts(json, resources, p.draco.bufferView, malformed)
    decoded.set(p.draco.bufferView, counts)
    let components = 0
    let points = 0
    for (const [semantic, accessor] of dracoAttributes(json, p)) {
      const id = p.draco.attributes![semantic]
      if (!Number.isSafeInteger(id) || (id as number) < 0 || accessor === undefined) {
        throw malformed(`its Draco attribute ${semantic} names no Draco attribute or no accessor`)
      }
      const fits =
        counts.method === 'sequential'
          ? accessor.count === counts.points
          : accessor.count >= counts.points && accessor.count <= 3 * counts.faces
      if (!fits) {
        throw malformed(
          counts.method === 'sequential'
            ? `its ${semantic} accessor counts ${accessor.count} vertices, its Draco data ${counts.points}`
            : `its ${semantic} accessor counts ${accessor.count} vertices, not between the ${counts.points} its ` +
                `Draco data encodes and 3 for each of its ${counts.faces} faces`,
        )
      }
      components += TYPE_COMPONENTS.get(accessor.type)!
      points = Math.max(points, accessor.count)
    }
    if (p.indices !== undefined && accessorAt(json, p.indices)?.count !== counts.faces * 3) {
      throw malformed(`its indices accessor is not the 3 x ${counts.faces} faces its Draco data holds`)
    }
    if (first) {
      bytes += counts.faces * DRACO_DECODE_BYTES_PER_FACE + points * components * DRACO_DECODE_BYTES_PER_COMPONENT
    }
    bytes += dracoArrayBytes(json, p)
  }
  return bytes
}

/**
 * The counts of the Draco bitstream in buffer view `index`, which must lie within its buffer's bytes.
 *
 * @throws what `malformed` makes of why not
 */
function dracoBitstreamCounts(
  json: Record<string, unknown>,
  resources: Readonly<Record<string, Uint8Array | undefined>>,
  index: unknown,
  malformed: (why: string) => GpuError,
): DracoCounts {
  const views = Array.isArray(json.bufferViews) ? (json.bufferViews as unknown[]) : []
  const view = (Number.isSafeInteger(index) ? views[index as number] : undefined) as
    { buffer?: unknown; byteOffset?: unknown; byteLength?: unknown } | undefined
  const buffers = Array.isArray(json.buffers) ? (json.buffers as unknown[]) : []
  const buffer = (Number.isSafeInteger(view?.buffer) ? buffers[view!.buffer as number] : undefined) as
    { uri?: unknown } | undefined
  // Where the reader finds a buffer's bytes: by its URI, or the GLB's binary chunk.
  const bytes = buffer === undefined ? undefined : resources[typeof buffer.uri === 'string' ? buffer.uri : GLB_BUFFER]
  const { byteOffset = 0, byteLength } = view ?? {}
  if (
    bytes === undefined ||
    !Number.isSafeInteger(byteOffset) ||
    !Number.isSafeInteger(byteLength) ||
    (byteOffset as number) < 0 ||
    (byteLength as number) < 0 ||
    (byteOffset as number) + (byteLength as number) > bytes.byteLength
  ) {
    throw malformed(`its Draco buffer view ${String(index)} does not lie within a buffer's bytes`)
  }
  try {
    return dracoCounts(bytes.subarray(byteOffset as number, (byteOffset as number) + (byteLength as number)))
  } catch (cause) {
    throw malformed(`its Draco data does not read: ${(cause as Error).message}`)
  }
}

/**
 * Draco's decoder module as glTF-Transform takes it, with the arrays it copies out of Draco's memory for each
 * primitive held to `budget` bytes together. glTF-Transform allocates each of them in the module's memory first, by
 * its `_malloc`, sized by what Draco decoded (its points and each attribute's components as the bitstream states
 * them, not the accessor's type), so a primitive decoding to more than its accessors declare is refused before it
 * is copied. The module itself is shared: everything else is read through to it.
 */
function budgetedDracoDecoder(module: DecoderModule, budget: number): DecoderModule {
  let left = budget
  return Object.create(module, {
    _malloc: {
      value: (bytes: number): number => {
        if (bytes > left) {
          throw new GpuError(
            'GPU__MALFORMED_SCENE',
            `a Draco primitive decodes to more than the ${budget} bytes its accessors declare`,
            { limit: budget },
          )
        }
        left -= bytes
        return module._malloc(bytes)
      },
    },
  }) as DecoderModule
}

let draco: Promise<DecoderModule> | undefined

/**
 * The decoders an asset's compressed geometry needs, as glTF-Transform's I/O takes them: Google's Draco decoder
 * (`draco3dgltf`) for KHR_draco_mesh_compression, its arrays held to what the asset's Draco primitives declare, and
 * meshoptimizer's for EXT_meshopt_compression. Each WebAssembly module is created once per process, and only when an
 * asset uses its extension; make these once per read, after {@link assertDeclaredSize}.
 */
export async function geometryDecoders(json: Record<string, unknown>): Promise<Record<string, unknown>> {
  const deps: Record<string, unknown> = {}
  if (uses(json, DRACO)) {
    const budget = dracoPrimitives(json).reduce((sum, p) => sum + dracoArrayBytes(json, p), 0)
    deps['draco3d.decoder'] = budgetedDracoDecoder(await (draco ??= draco3d.createDecoderModule()), budget)
  }
  if (uses(json, MESHOPT)) {
    await MeshoptDecoder.ready
    deps['meshopt.decoder'] = MeshoptDecoder
  }
  return deps
}
