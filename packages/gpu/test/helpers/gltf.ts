import { WebIO } from '@gltf-transform/core'
import type { Document, JSONDocument, Material as GltfMaterial, Node, Scene as GltfScene } from '@gltf-transform/core'
import { decode as decodePng } from 'fast-png'

/**
 * Adds one triangle of `material` (corners (0,0,z), (1,0,z), (0,1,z)) to the document's default scene, creating
 * the buffer and the scene where it has none: the least asset that loads, for tests of what the loader reads.
 */
export function addTriangle(doc: Document, material: GltfMaterial | null, z = 0): GltfScene {
  const root = doc.getRoot()
  const buffer = root.listBuffers()[0] ?? doc.createBuffer()
  const scene = root.getDefaultScene() ?? doc.createScene()
  root.setDefaultScene(scene)
  const positions = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(Float32Array.from([0, 0, z, 1, 0, z, 0, 1, z]))
    .setBuffer(buffer)
  const prim = doc.createPrimitive().setAttribute('POSITION', positions).setMaterial(material)
  return scene.addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)))
}

/**
 * Adds an animation named `<node>-<path>` moving `node`'s `path` through keys at `times` holding `values`
 * (flattened: three or four floats a key, or one per morph target for weights).
 */
export function animate(
  doc: Document,
  node: Node,
  path: 'translation' | 'rotation' | 'scale' | 'weights',
  times: number[],
  values: number[],
  interpolation: 'STEP' | 'LINEAR' | 'CUBICSPLINE' = 'LINEAR',
): void {
  const buffer = doc.getRoot().listBuffers()[0]!
  const type = path === 'rotation' ? 'VEC4' : path === 'weights' ? 'SCALAR' : 'VEC3'
  const sampler = doc
    .createAnimationSampler()
    .setInput(doc.createAccessor().setType('SCALAR').setArray(new Float32Array(times)).setBuffer(buffer))
    .setOutput(doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer))
    .setInterpolation(interpolation)
  const channel = doc.createAnimationChannel().setTargetNode(node).setTargetPath(path).setSampler(sampler)
  doc.createAnimation(`${node.getName()}-${path}`).addSampler(sampler).addChannel(channel)
}

/**
 * Re-encodes each of the document's PNG textures with `encode` (RGBA8 texels, rows top to bottom) as `mimeType`,
 * keeping only the first `keep` bytes when that is set (a texture cut off).
 */
export async function reencodeTextures(
  doc: Document,
  mimeType: string,
  encode: (rgba: Uint8Array, width: number, height: number) => Promise<Uint8Array>,
  keep?: number,
): Promise<void> {
  for (const t of doc.getRoot().listTextures()) {
    const png = decodePng(t.getImage()!)
    const rgba = new Uint8Array(png.width * png.height * 4)
    for (let i = 0; i < png.width * png.height; i++) {
      for (let c = 0; c < 4; c++) rgba[i * 4 + c] = c < png.channels ? png.data[i * png.channels + c]! : 255
    }
    const bytes = await encode(rgba, png.width, png.height)
    t.setImage(bytes.slice(0, keep)).setMimeType(mimeType)
  }
}

/**
 * The document as .gltf bytes, its buffers and images embedded as `data:` URIs, its JSON first changed by `edit`:
 * for assets no writer would write (a node whose translation is null, counts that disagree with compressed data).
 * `io` writes it, with whatever extensions and encoders the document needs.
 */
export async function editedGltf(
  doc: Document,
  edit: (json: JSONDocument['json']) => void,
  io: WebIO = new WebIO(),
): Promise<Uint8Array> {
  const { json, resources } = await io.writeJSON(doc)
  for (const item of [...(json.buffers ?? []), ...(json.images ?? [])]) {
    if (item.uri === undefined) continue
    item.uri = `data:application/octet-stream;base64,${Buffer.from(resources[item.uri]!).toString('base64')}`
  }
  edit(json)
  return new TextEncoder().encode(JSON.stringify(json))
}

/** A quad: four VEC3 float positions (48 bytes), then six UNSIGNED_SHORT indices (12 bytes). */
export const QUAD_BIN = new Uint8Array([
  ...new Uint8Array(Float32Array.from([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]).buffer),
  ...new Uint8Array(Uint16Array.from([0, 1, 2, 0, 2, 3]).buffer),
])

type JsonObject = Record<string, unknown>

/** The quad's glTF JSON, typed as far as tests edit it (any value may be set: the point is to write bad ones). */
export interface QuadJson extends JsonObject {
  scenes: Array<JsonObject & { nodes: number[] }>
  nodes: JsonObject[]
  buffers: JsonObject[]
  bufferViews: JsonObject[]
  accessors: JsonObject[]
  meshes: Array<{ primitives: Array<JsonObject & { attributes: Record<string, number> }> }>
}

/** The quad's glTF JSON, its buffer given by `uri` (none: a GLB's binary chunk), with `edit` applied. */
function quadJson(edit: (json: QuadJson) => void = () => {}, uri?: string): QuadJson {
  const json: QuadJson = {
    asset: { version: '2.0' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    buffers: [{ ...(uri === undefined ? {} : { uri }), byteLength: QUAD_BIN.length }],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: 48 },
      { buffer: 0, byteOffset: 48, byteLength: 12 },
    ],
    accessors: [
      { bufferView: 0, componentType: 5126, count: 4, type: 'VEC3', min: [-1, -1, 0], max: [1, 1, 0] },
      { bufferView: 1, componentType: 5123, count: 6, type: 'SCALAR' },
    ],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, indices: 1 }] }],
  }
  edit(json)
  return json
}

/**
 * A quad (corners (±1, ±1, 0), counter-clockwise seen from +z) as .gltf bytes, its buffer `bin` as a `data:` URI, its
 * JSON written by hand and changed by `edit`: for the layouts and structures no writer would write.
 */
export function quadGltf(edit?: (json: QuadJson) => void, bin: Uint8Array = QUAD_BIN): Uint8Array {
  const uri = `data:application/octet-stream;base64,${Buffer.from(bin).toString('base64')}`
  return new TextEncoder().encode(JSON.stringify(quadJson(edit, uri)))
}

/** The quad of {@link quadGltf} as a GLB holding `bin` as its binary chunk. */
export function quadGlb(edit?: (json: QuadJson) => void, bin: Uint8Array = QUAD_BIN): Uint8Array {
  const padded = (bytes: Uint8Array, fill: number): Uint8Array => {
    const out = new Uint8Array((bytes.length + 3) & ~3).fill(fill)
    out.set(bytes)
    return out
  }
  const text = padded(new TextEncoder().encode(JSON.stringify(quadJson(edit))), 0x20)
  const data = padded(bin, 0)
  const out = new Uint8Array(28 + text.length + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, 0x46546c67, true)
  view.setUint32(4, 2, true)
  view.setUint32(8, out.length, true)
  view.setUint32(12, text.length, true)
  view.setUint32(16, 0x4e4f534a, true)
  out.set(text, 20)
  view.setUint32(20 + text.length, data.length, true)
  view.setUint32(24 + text.length, 0x004e4942, true)
  out.set(data, 28 + text.length)
  return out
}
