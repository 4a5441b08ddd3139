import draco3d from 'draco3dgltf'
import { MeshoptDecoder } from 'meshoptimizer'
import { MAX_DECODED_SCENE_BYTES, MAX_MESHOPT_VIEW_BYTES } from '../constants.js'
import { GpuError } from '../errors.js'

const GLB_MAGIC = 0x46546c67 // "glTF"

/**
 * Bytes per component of glTF's accessor component types, and components per accessor type. Maps, not objects: an
 * object would also answer `constructor` or `toString` with a function, and one NaN in the sum lifts the bound.
 */
const COMPONENT_BYTES = new Map<unknown, number>([
  [5120, 1],
  [5121, 1],
  [5122, 2],
  [5123, 2],
  [5125, 4],
  [5126, 4],
])
const TYPE_COMPONENTS = new Map<unknown, number>([
  ['SCALAR', 1],
  ['VEC2', 2],
  ['VEC3', 3],
  ['VEC4', 4],
  ['MAT2', 4],
  ['MAT3', 9],
  ['MAT4', 16],
])

/** Whether bytes start as a binary glTF (GLB) container. */
export function isGlb(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GLB_MAGIC
}

/**
 * Refuses an asset whose accessors and meshopt-compressed buffer views together declare more data than
 * {@link MAX_DECODED_SCENE_BYTES} before anything is decoded. Compressed geometry (Draco, meshopt) is only bounded by
 * its declared counts: a small file could otherwise inflate to gigabytes while it is read. glTF-Transform decodes
 * every meshopt buffer view into an array of its own and keeps them all until the read ends, whether or not an
 * accessor uses them, so views count beside the accessors that read them.
 *
 * @throws GPU__SCENE_TOO_LARGE past the bound, or for one meshopt view past {@link MAX_MESHOPT_VIEW_BYTES};
 * GPU__MALFORMED_SCENE for an accessor without a count or type, or a meshopt view or fallback buffer whose values
 * EXT_meshopt_compression does not allow
 */
export function assertDeclaredSize(json: Record<string, unknown>): void {
  const bytes = accessorBytes(json) + meshoptViewBytes(json)
  if (bytes > MAX_DECODED_SCENE_BYTES) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the glTF asset's accessors and meshopt buffer views declare ${bytes} bytes, more than ${MAX_DECODED_SCENE_BYTES}`,
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

/** A glTF object's extension JSON by name, when it has one that is an object. */
function extensionOf(property: unknown, name: string): Record<string, unknown> | undefined {
  const extensions = (property as { extensions?: unknown } | null)?.extensions
  const extension = (extensions as Record<string, unknown> | null | undefined)?.[name]
  return typeof extension === 'object' && extension !== null ? (extension as Record<string, unknown>) : undefined
}

let draco: Promise<unknown> | undefined

/**
 * The decoders an asset's compressed geometry needs, as glTF-Transform's I/O takes them: Google's Draco decoder
 * (`draco3dgltf`) for KHR_draco_mesh_compression and meshoptimizer's for EXT_meshopt_compression. Each WebAssembly
 * module is created once per process, and only when an asset uses its extension.
 */
export async function geometryDecoders(json: Record<string, unknown>): Promise<Record<string, unknown>> {
  const used = Array.isArray(json.extensionsUsed) ? (json.extensionsUsed as unknown[]) : []
  const deps: Record<string, unknown> = {}
  if (used.includes('KHR_draco_mesh_compression'))
    deps['draco3d.decoder'] = await (draco ??= draco3d.createDecoderModule())
  if (used.includes('EXT_meshopt_compression')) {
    await MeshoptDecoder.ready
    deps['meshopt.decoder'] = MeshoptDecoder
  }
  return deps
}
