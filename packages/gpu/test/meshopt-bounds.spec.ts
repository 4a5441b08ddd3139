import { MeshoptDecoder } from 'meshoptimizer'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadScene, MAX_DECODED_SCENE_BYTES, MAX_MESHOPT_VIEW_BYTES } from '../src/index.js'
import { assertDeclaredSize } from '../src/scene/compression.js'

/** A few bytes standing in for compressed data: every scene here must be refused before they are decoded. */
const SOURCE = new Uint8Array(64)

interface MeshoptView {
  count?: unknown
  byteStride?: unknown
  mode?: unknown
  filter?: unknown
}

/**
 * A .gltf with no accessors and buffer views that all decode the same compressed bytes, as the audit's scenes did:
 * only the views' own counts say how much the reader would allocate.
 */
function meshoptScene(views: readonly MeshoptView[], fallbackByteLength: unknown = 0): Uint8Array {
  const json = {
    asset: { version: '2.0' },
    extensionsUsed: ['EXT_meshopt_compression'],
    extensionsRequired: ['EXT_meshopt_compression'],
    buffers: [
      {
        byteLength: SOURCE.length,
        uri: `data:application/octet-stream;base64,${Buffer.from(SOURCE).toString('base64')}`,
      },
      { byteLength: fallbackByteLength, extensions: { EXT_meshopt_compression: { fallback: true } } },
    ],
    bufferViews: views.map((view) => ({
      buffer: 1,
      byteLength: 0,
      extensions: { EXT_meshopt_compression: { buffer: 0, byteLength: SOURCE.length, ...view } },
    })),
    scenes: [{ nodes: [] }],
    scene: 0,
  }
  return new TextEncoder().encode(JSON.stringify(json))
}

describe('meshopt buffer view bounds', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** Loads `scene` with the meshopt decoder replaced by a spy, and asserts the loader refused before calling it. */
  async function expectRefused(scene: Uint8Array, code: string): Promise<void> {
    await MeshoptDecoder.ready
    const decode = vi.spyOn(MeshoptDecoder, 'decodeGltfBuffer').mockImplementation(() => {
      throw new Error('a meshopt buffer view was decoded')
    })
    await expect(loadScene(scene)).rejects.toMatchObject({ code })
    expect(decode).not.toHaveBeenCalled()
  }

  it('should refuse one view that decodes past the per-view bound', async () => {
    const byteStride = 256
    await expectRefused(
      meshoptScene([{ count: MAX_MESHOPT_VIEW_BYTES / byteStride + 1, byteStride, mode: 'ATTRIBUTES' }]),
      'GPU__SCENE_TOO_LARGE',
    )
  })

  it('should refuse views each within the per-view bound that decode past the scene bound together', async () => {
    const view = { count: MAX_MESHOPT_VIEW_BYTES / 256, byteStride: 256, mode: 'ATTRIBUTES' }
    const views = Array.from({ length: MAX_DECODED_SCENE_BYTES / MAX_MESHOPT_VIEW_BYTES + 1 }, () => view)
    await expectRefused(meshoptScene(views), 'GPU__SCENE_TOO_LARGE')
  })

  it('should refuse a fallback buffer that declares more than the scene bound', async () => {
    await expectRefused(meshoptScene([], MAX_DECODED_SCENE_BYTES + 1), 'GPU__SCENE_TOO_LARGE')
    await expectRefused(meshoptScene([], 'large'), 'GPU__MALFORMED_SCENE')
  })

  it('should keep the bound whatever names an accessor or a view gives its type and mode', async () => {
    // An object table answers `constructor` with a function, whose product with a count is NaN: a sum that is NaN is
    // never past any bound, so the first accessor's gigabyte would pass.
    const accessors = [
      { count: MAX_DECODED_SCENE_BYTES + 1, componentType: 5121, type: 'SCALAR' },
      { count: 1, componentType: 5126, type: 'constructor' },
    ]
    expect(() => assertDeclaredSize({ accessors })).toThrow(expect.objectContaining({ code: 'GPU__MALFORMED_SCENE' }))
    await expectRefused(meshoptScene([{ count: 4, byteStride: 4, mode: 'toString' }]), 'GPU__MALFORMED_SCENE')
  })

  it.each([
    ['a negative count', { count: -1, byteStride: 4, mode: 'ATTRIBUTES' }],
    ['a fractional count', { count: 1.5, byteStride: 4, mode: 'ATTRIBUTES' }],
    ['a count past safe integers', { count: 2 ** 53, byteStride: 4, mode: 'ATTRIBUTES' }],
    ['no stride', { count: 4, mode: 'ATTRIBUTES' }],
    ['an attribute stride not a multiple of 4', { count: 4, byteStride: 6, mode: 'ATTRIBUTES' }],
    ['an attribute stride past 256', { count: 4, byteStride: 260, mode: 'ATTRIBUTES' }],
    ['an index stride other than 2 or 4', { count: 3, byteStride: 8, mode: 'TRIANGLES' }],
    ['triangle indices not in threes', { count: 4, byteStride: 2, mode: 'TRIANGLES' }],
    ['an unknown mode', { count: 4, byteStride: 4, mode: 'POINTS' }],
    ['an unknown filter', { count: 4, byteStride: 4, mode: 'ATTRIBUTES', filter: 'ZSTD' }],
    ['a filter on indices', { count: 4, byteStride: 4, mode: 'INDICES', filter: 'OCTAHEDRAL' }],
    [
      'a quaternion filter at a stride other than 8',
      { count: 4, byteStride: 4, mode: 'ATTRIBUTES', filter: 'QUATERNION' },
    ],
    [
      'an octahedral filter at a stride other than 4 or 8',
      { count: 4, byteStride: 12, mode: 'ATTRIBUTES', filter: 'OCTAHEDRAL' },
    ],
  ])('should refuse a view with %s as malformed', async (_, view) => {
    await expectRefused(meshoptScene([view]), 'GPU__MALFORMED_SCENE')
  })
})
