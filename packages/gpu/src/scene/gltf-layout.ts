import { GLB_BUFFER } from '@gltf-transform/core'
import { EXTMeshoptCompression } from '@gltf-transform/extensions'
import { GpuError } from '../errors.js'
import {
  COMPONENT_BYTES,
  ComponentType,
  extensionOf,
  isIndex,
  type JsonObject,
  listOf,
  objectOf,
  TYPE_COMPONENTS,
  uses,
} from './gltf-json.js'

/** The component types a sparse accessor's indices may have (glTF 2.0 section 5.3). */
const SPARSE_INDEX_TYPES: ReadonlySet<unknown> = new Set([
  ComponentType.unsignedByte,
  ComponentType.unsignedShort,
  ComponentType.unsignedInt,
])

/** The byte strides a buffer view may declare (glTF 2.0 section 5.11): a multiple of 4 from 4 to 252. */
const MIN_BYTE_STRIDE = 4
const MAX_BYTE_STRIDE = 252

/**
 * Each resource (a GLB's binary chunk, a decoded `data:` URI, a file read beside a .gltf) copied into an
 * ArrayBuffer of its own, exactly its size. glTF-Transform reads accessors from the backing ArrayBuffer of a
 * resource, not from its view: a GLB that arrived as a view into a larger buffer, or a `data:` URI that Node decoded
 * into its shared 8 KiB pool, would have bytes of the process's memory beyond it within reach.
 */
export function exactResources(
  resources: Readonly<Record<string, Uint8Array>>,
): Record<string, Uint8Array<ArrayBuffer>> {
  const copies: Record<string, Uint8Array<ArrayBuffer>> = {}
  for (const [name, bytes] of Object.entries(resources)) copies[name] = new Uint8Array(bytes)
  return copies
}

/** A buffer view as {@link assertLayout} has checked it. */
interface CheckedView {
  byteOffset: number
  byteLength: number
  byteStride: number | undefined
}

/**
 * Refuses an asset whose binary layout does not nest (glTF 2.0 sections 3.6 and 5.11): every buffer within the
 * bytes its resource holds, every buffer view within its buffer, every accessor (and a sparse accessor's indices and
 * values) within its buffer view, aligned to its component size and strided by at least its element's size. A
 * meshopt-compressed view (EXT_meshopt_compression) is decoded to `count` times `byteStride` bytes, which must be its
 * length, and its compressed range must lie within its buffer's bytes. glTF-Transform trusts these offsets and reads
 * past the end of a view or a buffer into whatever memory follows it. `resources` are the asset's buffers as the
 * reader will take them (the GLB's binary chunk under `GLB_BUFFER`, others by URI, `data:` URIs decoded).
 *
 * @throws GPU__MALFORMED_SCENE naming the buffer, buffer view or accessor that does not fit
 */
export function assertLayout(json: JsonObject, resources: Readonly<Record<string, Uint8Array | undefined>>): void {
  const buffers = bufferLengths(json, resources)
  const views = listOf(json, 'bufferViews').map((view, index) => checkedView(json, buffers, view, index))
  listOf(json, 'accessors').forEach((accessor, index) => assertAccessorLayout(views, objectOf(accessor), index))
}

/** A buffer's declared length, and the length of the bytes the reader will find for it (undefined: none). */
interface BufferLength {
  byteLength: number
  data: number | undefined
}

/**
 * Each buffer's declared length, and the length of its resource where it has one. A buffer's length is held to its
 * data's where a buffer view reads its bytes ({@link readBuffer}): a meshopt fallback buffer holds none, and is not read.
 */
function bufferLengths(json: JsonObject, resources: Readonly<Record<string, Uint8Array | undefined>>): BufferLength[] {
  return listOf(json, 'buffers').map((value, index) => {
    const { byteLength, uri } = objectOf(value)
    if (!isIndex(byteLength))
      throw malformed(`buffer ${index}'s byteLength is not a non-negative integer`, { buffer: index })
    if (uri !== undefined && typeof uri !== 'string')
      throw malformed(`buffer ${index}'s uri is not a string`, { buffer: index })
    // Where the reader finds a buffer's bytes: by its URI, or (none given) the GLB's binary chunk.
    return { byteLength, data: resources[uri ? uri : GLB_BUFFER]?.byteLength }
  })
}

/**
 * The buffer at `index`, whose bytes a buffer view reads: it must hold data, at least as many bytes as it declares.
 *
 * @throws GPU__MALFORMED_SCENE naming `what` reads it
 */
function readBuffer(buffers: readonly BufferLength[], index: unknown, what: string): BufferLength {
  const buffer = isIndex(index) ? buffers[index] : undefined
  if (buffer === undefined) throw malformed(`${what} names no buffer`, { buffer: index })
  if (buffer.data === undefined)
    throw malformed(`${what} reads buffer ${index}, which holds no data`, { buffer: index })
  if (buffer.byteLength > buffer.data) {
    throw malformed(`buffer ${index} declares ${buffer.byteLength} bytes; its data holds ${buffer.data}`, {
      buffer: index,
      byteLength: buffer.byteLength,
      data: buffer.data,
    })
  }
  return buffer
}

/** A buffer view's range, checked to lie within its buffer (and a meshopt view's compressed range within its own). */
function checkedView(json: JsonObject, buffers: readonly BufferLength[], value: unknown, index: number): CheckedView {
  const view = objectOf(value)
  const { buffer, byteOffset = 0, byteLength, byteStride } = view
  const where = { bufferView: index }
  if (!isIndex(buffer) || buffer >= buffers.length) throw malformed(`buffer view ${index} names no buffer`, where)
  if (!isIndex(byteOffset) || !isIndex(byteLength)) {
    throw malformed(`buffer view ${index}'s byteOffset or byteLength is not a non-negative integer`, where)
  }
  if (
    byteStride !== undefined &&
    !(isIndex(byteStride) && byteStride >= MIN_BYTE_STRIDE && byteStride <= MAX_BYTE_STRIDE && byteStride % 4 === 0)
  ) {
    throw malformed(
      `buffer view ${index}'s byteStride ${String(byteStride)} is not a multiple of 4 from 4 to 252`,
      where,
    )
  }
  const { byteLength: bufferLength } = buffers[buffer]!
  if (byteOffset + byteLength > bufferLength) {
    throw malformed(
      `buffer view ${index} (bytes ${byteOffset} to ${byteOffset + byteLength}) runs past buffer ${buffer}'s ${bufferLength}`,
      {
        ...where,
        buffer,
      },
    )
  }
  const meshopt = uses(json, EXTMeshoptCompression.EXTENSION_NAME)
    ? extensionOf(view, EXTMeshoptCompression.EXTENSION_NAME)
    : undefined
  // The reader views every plain buffer view in its buffer's bytes, used or not; a meshopt view's own are decoded.
  if (meshopt === undefined) readBuffer(buffers, buffer, `buffer view ${index}`)
  else assertMeshoptRange(buffers, meshopt, byteLength, index)
  return { byteOffset, byteLength, byteStride: byteStride as number | undefined }
}

/**
 * Refuses a meshopt view whose compressed bytes do not lie within its buffer's data, or which decodes to another
 * length than its view's (the extension asks the view's `byteLength` to be `count` times `byteStride`; its values are
 * checked with the rest of the extension's in `assertDeclaredSize`).
 */
function assertMeshoptRange(
  buffers: readonly BufferLength[],
  meshopt: JsonObject,
  viewLength: number,
  index: number,
): void {
  const { buffer, byteOffset = 0, byteLength, count, byteStride } = meshopt
  const source = readBuffer(buffers, buffer, `buffer view ${index}'s compressed data`)
  if (!isIndex(byteOffset) || !isIndex(byteLength) || byteOffset + byteLength > source.byteLength) {
    throw malformed(`buffer view ${index}'s compressed data does not lie within a buffer's bytes`, {
      bufferView: index,
    })
  }
  if (!isIndex(count) || !isIndex(byteStride) || count * byteStride !== viewLength) {
    throw malformed(
      `buffer view ${index} decodes to ${String(count)} x ${String(byteStride)} bytes, not its ${viewLength}`,
      {
        bufferView: index,
      },
    )
  }
}

/** Refuses an accessor (or its sparse indices and values) that does not lie within its buffer view, aligned. */
function assertAccessorLayout(views: readonly CheckedView[], accessor: JsonObject, index: number): void {
  const { bufferView, byteOffset = 0, count, componentType, type, sparse } = accessor
  const componentBytes = COMPONENT_BYTES.get(componentType)
  const components = TYPE_COMPONENTS.get(type)
  if (!isIndex(count) || componentBytes === undefined || components === undefined) {
    throw malformed(`accessor ${index} has no valid count, component type or type`, { accessor: index })
  }
  if (bufferView !== undefined) {
    assertWithinView(
      views,
      { bufferView, byteOffset, count, componentBytes, components, strided: true },
      `accessor ${index}`,
    )
  } else if (byteOffset !== 0) {
    throw malformed(`accessor ${index} has a byteOffset but no buffer view`, { accessor: index })
  }
  if (sparse === undefined) return
  const { count: sparseCount, indices, values } = objectOf(sparse)
  if (!isIndex(sparseCount) || sparseCount < 1 || sparseCount > count) {
    throw malformed(`accessor ${index}'s sparse count is not from 1 to its ${count} elements`, { accessor: index })
  }
  const indexType = objectOf(indices).componentType
  if (!SPARSE_INDEX_TYPES.has(indexType)) {
    throw malformed(`accessor ${index}'s sparse indices are not unsigned integers`, { accessor: index })
  }
  for (const [part, def, bytes, perElement] of [
    ['indices', objectOf(indices), COMPONENT_BYTES.get(indexType)!, 1],
    ['values', objectOf(values), componentBytes, components],
  ] as const) {
    const { bufferView: partView, byteOffset: partOffset = 0 } = def
    assertWithinView(
      views,
      {
        bufferView: partView,
        byteOffset: partOffset,
        count: sparseCount,
        componentBytes: bytes,
        components: perElement,
        strided: false,
      },
      `accessor ${index}'s sparse ${part}`,
    )
  }
}

/** Where an accessor (or a sparse part) reads: `count` elements of `components` components from `byteOffset`. */
interface AccessorRange {
  bufferView: unknown
  byteOffset: unknown
  count: number
  componentBytes: number
  components: number
  /** Whether its buffer view may interleave it (a sparse part's may not have a byteStride). */
  strided: boolean
}

/**
 * Refuses a range that names no buffer view, does not lie within it (the last element ending at
 * `byteOffset + stride * (count - 1) + elementSize`), is not aligned to its component size within the view and the
 * buffer, or whose view's stride is shorter than its element or not a multiple of its component size.
 */
function assertWithinView(views: readonly CheckedView[], range: AccessorRange, what: string): void {
  const { bufferView, byteOffset, count, componentBytes, components, strided } = range
  const view = isIndex(bufferView) ? views[bufferView] : undefined
  if (view === undefined) throw malformed(`${what} names no buffer view`, { bufferView })
  if (!isIndex(byteOffset)) throw malformed(`${what}'s byteOffset is not a non-negative integer`, { bufferView })
  const elementSize = componentBytes * components
  if (view.byteStride !== undefined) {
    if (!strided)
      throw malformed(`${what} lies in buffer view ${bufferView}, which must not have a byteStride`, { bufferView })
    if (view.byteStride < elementSize || view.byteStride % componentBytes !== 0) {
      throw malformed(
        `${what}'s elements are ${elementSize} bytes; buffer view ${bufferView}'s byteStride ${view.byteStride} does not fit them`,
        { bufferView },
      )
    }
  }
  if (byteOffset % componentBytes !== 0 || (view.byteOffset + byteOffset) % componentBytes !== 0) {
    throw malformed(`${what} is not aligned to its ${componentBytes}-byte components`, { bufferView, byteOffset })
  }
  const end = count === 0 ? byteOffset : byteOffset + (view.byteStride ?? elementSize) * (count - 1) + elementSize
  if (end > view.byteLength) {
    throw malformed(
      `${what} (bytes ${byteOffset} to ${end}) runs past buffer view ${bufferView}'s ${view.byteLength}`,
      {
        bufferView,
        end,
        byteLength: view.byteLength,
      },
    )
  }
}

const malformed = (why: string, context: Record<string, unknown>): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `the glTF asset is malformed: ${why}`, context)
