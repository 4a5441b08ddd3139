import { Document, WebIO } from '@gltf-transform/core'
import { KHRDracoMeshCompression } from '@gltf-transform/extensions'
import draco3d from 'draco3dgltf'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadScene, MAX_DECODED_SCENE_BYTES } from '../src/index.js'
import { dracoCounts } from '../src/scene/compression.js'
import { addTriangle, editedGltf } from './helpers/gltf.js'

type Json = Record<string, unknown>
type DracoEncoderModule = Awaited<ReturnType<typeof draco3d.createEncoderModule>>

/** An n x n grid of points in the xy plane, two triangles a cell: positions and indices. */
function grid(n: number): { positions: Float32Array; indices: Uint32Array } {
  const positions = new Float32Array(n * n * 3)
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) positions.set([x / n, y / n, 0], (y * n + x) * 3)
  const indices = new Uint32Array((n - 1) * (n - 1) * 6)
  for (let y = 0, k = 0; y < n - 1; y++) {
    for (let x = 0; x < n - 1; x++, k += 6) {
      const i = y * n + x
      indices.set([i, i + 1, i + n, i + 1, i + n + 1, i + n], k)
    }
  }
  return { positions, indices }
}

let encoder: DracoEncoderModule

/**
 * A triangle to draw, and an n x n grid (with texture coordinates when `uv`) in a mesh that `instances` nodes draw,
 * Draco-compressed by glTF-Transform's writer, as .gltf bytes whose JSON `edit` has changed.
 */
async function dracoGltf(n: number, edit: (json: Json) => void, options: { uv?: boolean; instances?: number } = {}) {
  const doc = new Document()
  addTriangle(doc, null)
  const buffer = doc.getRoot().listBuffers()[0]!
  const { positions, indices } = grid(n)
  const accessor = (type: 'VEC2' | 'VEC3' | 'SCALAR', array: Float32Array | Uint32Array) =>
    doc.createAccessor().setType(type).setArray(array).setBuffer(buffer)
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', accessor('VEC3', positions))
    .setIndices(accessor('SCALAR', indices))
  if (options.uv === true)
    prim.setAttribute(
      'TEXCOORD_0',
      accessor(
        'VEC2',
        positions.filter((_, i) => i % 3 !== 2),
      ),
    )
  const mesh = doc.createMesh('grid').addPrimitive(prim)
  const scene = doc.getRoot().getDefaultScene()!
  for (let i = 0; i < (options.instances ?? 1); i++) scene.addChild(doc.createNode().setMesh(mesh))
  doc.createExtension(KHRDracoMeshCompression).setRequired(true)
  const io = new WebIO()
    .registerExtensions([KHRDracoMeshCompression])
    .registerDependencies({ 'draco3d.encoder': encoder })
  return editedGltf(doc, (json) => edit(json as unknown as Json), io)
}

const accessorsOf = (json: Json): Json[] => json.accessors as Json[]
/** The grid's Draco primitive (the last mesh's), its attribute accessor indices and its indices' accessor index. */
const gridPrimitive = (json: Json): { attributes: Record<string, number>; indices: number } & Json =>
  ((json.meshes as Json[]).at(-1)!.primitives as never[])[0]!

/**
 * A Draco bitstream of the n x n grid, encoded by Draco's own encoder `method`, with metadata on the mesh and its
 * positions when `metadata` is set.
 */
function encodeGrid(n: number, method: 'sequential' | 'edgebreaker', metadata: boolean): Uint8Array {
  const m = encoder
  const { positions, indices } = grid(n)
  const mesh = new m.Mesh()
  const builder = new m.MeshBuilder()
  builder.AddFacesToMesh(mesh, indices.length / 3, indices)
  const position = builder.AddFloatAttribute(mesh, m.POSITION, n * n, 3, positions)
  if (metadata) {
    const entries = new m.MetadataBuilder()
    const meshData = new m.Metadata()
    entries.AddStringEntry(meshData, 'name', 'grid')
    entries.AddIntEntry(meshData, 'cells', (n - 1) ** 2)
    builder.AddMetadata(mesh, meshData)
    const positionData = new m.Metadata()
    entries.AddStringEntry(positionData, 'unit', 'metre')
    builder.SetMetadataForAttribute(mesh, position, positionData)
  }
  const e = new m.Encoder()
  e.SetEncodingMethod(method === 'sequential' ? m.MESH_SEQUENTIAL_ENCODING : m.MESH_EDGEBREAKER_ENCODING)
  const out = new m.DracoInt8Array()
  const length = e.EncodeMeshToDracoBuffer(mesh, out)
  const bytes = Uint8Array.from({ length }, (_, i) => out.GetValue(i) & 255)
  for (const object of [mesh, builder, e, out]) m.destroy(object)
  return bytes
}

describe('Draco-compressed geometry bounds', () => {
  beforeAll(async () => {
    encoder = await draco3d.createEncoderModule()
  })

  it("should read a Draco bitstream's face and point counts as Draco does, metadata or none", () => {
    for (const method of ['sequential', 'edgebreaker'] as const) {
      for (const metadata of [false, true]) {
        const bytes = encodeGrid(20, method, metadata)
        expect(bytes[10]! & 0x80, `${method}, metadata ${metadata}`).toBe(metadata ? 0x80 : 0)
        expect(dracoCounts(bytes), `${method}, metadata ${metadata}`).toEqual({
          method,
          faces: 19 * 19 * 2,
          points: 400,
        })
      }
    }
    expect(() => dracoCounts(encodeGrid(20, 'sequential', true).subarray(0, 20))).toThrow(/cut off/)
    expect(() => dracoCounts(new TextEncoder().encode('GLTF and more'))).toThrow(/not Draco/)
  })

  it('should load a Draco-compressed .gltf whose accessors agree with its bitstream', async () => {
    const scene = await loadScene(await dracoGltf(30, () => {}, { uv: true }))
    expect(scene.triangleCount).toBe(1 + 29 * 29 * 2)
  })

  it('should refuse accessors that count fewer vertices or indices than the bitstream, before decoding it', async () => {
    // A reviewer's file: a 250,000-point grid whose accessors claim 3, so the declared-size check saw nothing.
    const fewer = await dracoGltf(50, (json) => {
      const { attributes, indices } = gridPrimitive(json)
      accessorsOf(json)[attributes.POSITION!]!.count = 3
      accessorsOf(json)[indices]!.count = 3
    })
    await expect(loadScene(fewer)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/POSITION accessor counts 3 vertices/),
      context: { mesh: 1, primitive: 0 },
    })
    const indices = await dracoGltf(50, (json) => (accessorsOf(json)[gridPrimitive(json).indices]!.count = 3))
    await expect(loadScene(indices)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/indices/),
    })
  })

  it('should count every primitive that names one Draco bitstream, and refuse them past the bound undecoded', async () => {
    // One 300 x 300 grid (3.2 MB of arrays each time it is read), named by primitives that share its accessors:
    // glTF-Transform decodes fresh arrays for each, which the accessors counted once did not bound.
    const copies = Math.ceil(MAX_DECODED_SCENE_BYTES / (300 * 300 * 12 + 299 * 299 * 24))
    const shared = await dracoGltf(300, (json) => {
      const mesh = (json.meshes as Json[]).at(-1)!
      const primitive = gridPrimitive(json)
      mesh.primitives = Array.from({ length: copies }, () => primitive)
      // Drawn by no node: only reading them costs.
      json.nodes = (json.nodes as Json[]).filter((node) => node.mesh !== (json.meshes as Json[]).length - 1)
      ;(json.scenes as Json[])[0]!.nodes = [0]
    })
    await expect(loadScene(shared)).rejects.toMatchObject({ code: 'GPU__SCENE_TOO_LARGE' })
  })

  it('should refuse a Draco primitive that decodes to more than its accessors declare', async () => {
    // Texture coordinates declared one float a vertex, decoded two: the arrays copied out would pass what was counted.
    // Renamed to an application's own attribute, whose type glTF leaves free (a TEXCOORD_0 must be VEC2).
    const narrower = await dracoGltf(
      300,
      (json) => {
        const primitive = gridPrimitive(json)
        const draco = (primitive.extensions as Json).KHR_draco_mesh_compression as Json
        for (const attributes of [primitive.attributes, draco.attributes as Record<string, number>]) {
          attributes._UV = attributes.TEXCOORD_0!
          delete attributes.TEXCOORD_0
        }
        accessorsOf(json)[primitive.attributes._UV!]!.type = 'SCALAR'
      },
      { uv: true },
    )
    await expect(loadScene(narrower)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/decodes to more than/),
    })
  })
})
