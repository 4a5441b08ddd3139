import { describe, expect, it } from 'vitest'
import { loadScene } from '../src/index.js'
import { exactResources } from '../src/scene/gltf-layout.js'
import { rejectionCode } from './helpers/errors.js'
import { QUAD_BIN as QUAD, quadGlb as glb, quadGltf as gltf, type QuadJson as Json } from './helpers/gltf.js'

/** Vertex colours read from a 16-byte buffer view starting where the quad's buffer ends. */
const coloursPastTheBuffer = (json: Json): void => {
  json.bufferViews.push({ buffer: 0, byteOffset: QUAD.length, byteLength: 16 })
  json.accessors.push({ bufferView: 2, componentType: 5121, normalized: true, count: 4, type: 'VEC4' })
  json.meshes[0]!.primitives[0]!.attributes.COLOR_0 = 2
}

describe('glTF buffer layout', () => {
  it('should load the quad as written, from a GLB, a GLB viewed in a larger buffer, and a data: URI', async () => {
    const file = glb()
    const backing = new Uint8Array(file.length + 64).fill(0xff)
    backing.set(file, 32)
    for (const bytes of [file, backing.subarray(32, 32 + file.length), gltf()]) {
      expect((await loadScene(bytes)).triangleCount).toBe(2)
    }
  })

  it('should refuse a buffer view past its buffer rather than read the bytes after a GLB', async () => {
    const file = glb(coloursPastTheBuffer)
    // The GLB arrives as a view into a larger buffer (bytes off a stream, a pooled Buffer): a secret follows it.
    const backing = new Uint8Array(file.length + 64)
    backing.set(file)
    backing.set(new TextEncoder().encode('SECRET:worker-private-key'), file.length)
    expect(await rejectionCode(loadScene(backing.subarray(0, file.length)))).toBe('GPU__MALFORMED_SCENE')
  })

  it('should refuse a buffer view past a data: URI buffer rather than read Node\u2019s shared pool', async () => {
    // Decoded by Buffer.from into Node's 8 KiB pool: what the process allocated next would be read as colours.
    expect(await rejectionCode(loadScene(gltf(coloursPastTheBuffer)))).toBe('GPU__MALFORMED_SCENE')
  })

  it('should refuse whatever does not nest in its buffer, view or alignment', async () => {
    const cases: Array<[string, (json: Json) => void]> = [
      ['a buffer longer than its data', (j) => (j.buffers[0]!.byteLength = QUAD.length + 4)],
      ['a view past its buffer', (j) => (j.bufferViews[0]!.byteLength = 4800)],
      ['a view naming no buffer', (j) => (j.bufferViews[0]!.buffer = 3)],
      ['an accessor past its view', (j) => (j.accessors[0]!.count = 40)],
      ['an accessor offset past its view', (j) => (j.accessors[0]!.byteOffset = 4)],
      ['an accessor naming no view', (j) => (j.accessors[0]!.bufferView = 9)],
      ['a stride shorter than the element', (j) => (j.bufferViews[0]!.byteStride = 4)],
      ['a stride that is no multiple of 4', (j) => (j.bufferViews[0]!.byteStride = 14)],
      ['a strided accessor past its view', (j) => (j.bufferViews[0]!.byteStride = 16)],
      [
        'a float accessor misaligned',
        (j) => {
          j.accessors[0]!.byteOffset = 2
          j.accessors[0]!.count = 3
        },
      ],
      [
        'a view misaligning its float accessor',
        (j) => {
          j.bufferViews[0]!.byteOffset = 2
          j.bufferViews[0]!.byteLength = 36
          j.accessors[0]!.count = 3
        },
      ],
      [
        'sparse values past their view',
        (j) =>
          (j.accessors[0]!.sparse = {
            count: 2,
            indices: { bufferView: 1, componentType: 5123 },
            values: { bufferView: 1 },
          }),
      ],
      [
        'sparse indices past their view',
        (j) =>
          (j.accessors[0]!.sparse = {
            count: 2,
            indices: { bufferView: 1, byteOffset: 10, componentType: 5123 },
            values: { bufferView: 0 },
          }),
      ],
      [
        'sparse indices that are floats',
        (j) =>
          (j.accessors[0]!.sparse = {
            count: 1,
            indices: { bufferView: 1, componentType: 5126 },
            values: { bufferView: 0 },
          }),
      ],
      [
        'a sparse count past the accessor',
        (j) =>
          (j.accessors[0]!.sparse = {
            count: 5,
            indices: { bufferView: 1, componentType: 5123 },
            values: { bufferView: 0 },
          }),
      ],
    ]
    // Positions decoded by meshopt into a fallback buffer, from a compressed range that runs past the data.
    const meshopt =
      (range: { byteOffset: number; byteLength: number }, count = 4) =>
      (j: Json) => {
        j.extensionsUsed = ['EXT_meshopt_compression']
        j.buffers.push({ byteLength: 48, extensions: { EXT_meshopt_compression: { fallback: true } } })
        j.bufferViews[0] = {
          buffer: 1,
          byteLength: 48,
          extensions: {
            EXT_meshopt_compression: { buffer: 0, ...range, byteStride: 12, count, mode: 'ATTRIBUTES' },
          },
        }
      }
    cases.push(
      ['meshopt data past its buffer', meshopt({ byteOffset: 40, byteLength: 40 })],
      ['a meshopt view shorter than it decodes to', meshopt({ byteOffset: 0, byteLength: 40 }, 5)],
    )
    for (const [name, edit] of cases) {
      expect(await rejectionCode(loadScene(gltf(edit))), name).toBe('GPU__MALFORMED_SCENE')
      expect(await rejectionCode(loadScene(glb(edit))), `${name} (GLB)`).toBe('GPU__MALFORMED_SCENE')
    }
  })

  it('should load a sparse accessor and an interleaved view that fit', async () => {
    const sparse = (j: Json): void => {
      j.accessors[0]!.sparse = {
        count: 1,
        indices: { bufferView: 1, componentType: 5123 },
        values: { bufferView: 0, byteOffset: 12 },
      }
    }
    expect((await loadScene(gltf(sparse))).triangleCount).toBe(2)
    // Positions 16 bytes apart: the quad's four fit in 16 x 3 + 12 = 60 bytes.
    const interleaved = new Uint8Array(72)
    const floats = new Float32Array(interleaved.buffer, 0, 15)
    ;[-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0].forEach((x, i) => (floats[Math.floor(i / 3) * 4 + (i % 3)] = x))
    interleaved.set(QUAD.subarray(48), 60)
    const strided = (j: Json): void => {
      j.buffers[0]!.byteLength = 72
      j.bufferViews[0] = { buffer: 0, byteOffset: 0, byteLength: 60, byteStride: 16 }
      j.bufferViews[1]!.byteOffset = 60
    }
    expect((await loadScene(gltf(strided, interleaved))).triangleCount).toBe(2)
  })

  it('should copy each resource into an ArrayBuffer of exactly its size', () => {
    const backing = new Uint8Array(100).fill(7)
    const copies = exactResources({ bin: backing.subarray(10, 30) })
    expect(copies.bin!.buffer.byteLength).toBe(20)
    expect(copies.bin!.byteOffset).toBe(0)
    expect([...copies.bin!]).toEqual(new Array(20).fill(7))
  })
})
