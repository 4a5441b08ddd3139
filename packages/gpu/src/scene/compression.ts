import draco3d from 'draco3dgltf'
import { MeshoptDecoder } from 'meshoptimizer'
import { MAX_DECODED_SCENE_BYTES } from '../constants.js'
import { GpuError } from '../errors.js'

const GLB_MAGIC = 0x46546c67 // "glTF"

/** Bytes per component of glTF's accessor component types, and components per accessor type. */
const COMPONENT_BYTES: Record<number, number> = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 }
const TYPE_COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 }

/** Whether bytes start as a binary glTF (GLB) container. */
export function isGlb(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GLB_MAGIC
}

/**
 * Refuses an asset whose accessors declare more data than {@link MAX_DECODED_SCENE_BYTES} before anything is
 * decoded. Compressed geometry (Draco, meshopt) is only bounded by its declared counts: a small file could
 * otherwise inflate to gigabytes while it is read.
 *
 * @throws GPU__SCENE_TOO_LARGE past the bound; GPU__MALFORMED_SCENE for an accessor without a count or type
 */
export function assertDeclaredSize(json: Record<string, unknown>): void {
  const accessors = json.accessors ?? []
  if (!Array.isArray(accessors)) throw new GpuError('GPU__MALFORMED_SCENE', 'glTF accessors must be an array', {})
  let bytes = 0
  accessors.forEach((a: unknown, index) => {
    const { count, componentType, type } = (a ?? {}) as { count?: unknown; componentType?: unknown; type?: unknown }
    const size = COMPONENT_BYTES[componentType as number]
    const components = TYPE_COMPONENTS[type as string]
    if (!Number.isSafeInteger(count) || (count as number) < 0 || size === undefined || components === undefined) {
      throw new GpuError('GPU__MALFORMED_SCENE', `glTF accessor ${index} has no valid count, component type or type`, {
        accessor: index,
      })
    }
    bytes += (count as number) * size * components
  })
  if (bytes > MAX_DECODED_SCENE_BYTES) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `the glTF asset's accessors declare ${bytes} bytes, more than ${MAX_DECODED_SCENE_BYTES}`,
      { bytes, limit: MAX_DECODED_SCENE_BYTES },
    )
  }
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
