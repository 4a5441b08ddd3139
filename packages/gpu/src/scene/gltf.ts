import { BufferUtils, GLB_BUFFER, TextureInfo, uuid, WebIO } from '@gltf-transform/core'
import type {
  Accessor,
  Document,
  Skin,
  vec3,
  vec4,
  JSONDocument,
  ILogger,
  Material as GltfMaterial,
  Mesh,
  Node,
  PlatformIO,
  Primitive,
  Texture as GltfTexture,
} from '@gltf-transform/core'
import {
  EXTMeshGPUInstancing,
  EXTMeshoptCompression,
  EXTTextureWebP,
  KHRDracoMeshCompression,
  KHRLightsPunctual,
  KHRMaterialsClearcoat,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
  KHRMaterialsTransmission,
  KHRMaterialsUnlit,
  KHRMaterialsVolume,
  KHRMeshQuantization,
  KHRTextureBasisu,
  KHRTextureTransform,
} from '@gltf-transform/extensions'
import type {
  Clearcoat,
  EmissiveStrength,
  IOR,
  Light,
  Sheen,
  Specular,
  Transform,
  Transmission,
  Volume,
} from '@gltf-transform/extensions'
import { readBoundedFile } from '@tessera/core'
import { logger } from '@libp2p/logger'
import {
  MAX_IOR,
  MAX_LIGHT_RADIANCE,
  MAX_NORMAL_SCALE,
  MAX_SCENE_BYTES,
  MAX_MORPH_READS,
  MAX_MORPH_TARGETS,
  MAX_NODE_DEPTH,
  MAX_SCENE_TEXELS,
  MAX_SCENE_TRIANGLES,
  MAX_SPECULAR_COLOR,
} from '../constants.js'
import { GpuError } from '../errors.js'
import { assertAnimationsWithin, durationOf, type NodeChannel, nodeChannels, poseAt } from './animation.js'
import { assertDeclaredSize, geometryDecoders, isGlb } from './compression.js'
import { assertJointsWithin, assertObjectsWithin } from './json-bounds.js'
import { assertLayout, exactResources } from './gltf-layout.js'
import { assertStructure } from './gltf-structure.js'
import { assertNodeTransforms } from './node-json.js'
import {
  determinant3,
  drawnPrimitives,
  type DrawnPrimitives,
  frontFacingCorners,
  meshMatrices,
  triangleCorners,
  vertexAttribute,
  worldMatrices,
} from './gltf-geometry.js'
import { buildBvh, type FlatBvh } from './bvh.js'
import { assertTriangleSoup, packScene, type TriangleSoup } from './pack.js'
import type { PunctualLight } from './punctual.js'
import { jointMatricesOf, skinning } from './skin.js'
import { soupTangents } from './tangents.js'
import { materialTextures } from './scene.js'
import type { Camera, Material, MaterialTexture, Scene, TextureSlot, UvTransform, Vec3 } from './scene.js'
import { decodeTexture, WrapMode, type Texture, type TextureDecoders, type TextureSampler } from './texture.js'
import { ktx2Decoder, readKtx2 } from './ktx2.js'
import { webpDecoder, webpSize } from './webp.js'
import { imageFormat } from './image-format.js'

const log = logger('tessera:gpu:gltf')

/** Routes glTF-Transform's messages to our logger instead of the console. */
const gltfLog: ILogger = {
  debug: (text) => log.trace(text),
  info: (text) => log(text),
  warn: (text) => log(text),
  error: (text) => log.error(text),
}

/**
 * Extensions read: compressed and quantized geometry (Draco, meshopt, mesh quantization: what exporters and
 * gltfpack write to shrink assets), punctual lights (Blender's lamps export as these), emissive strength (exporters write emitters
 * brighter than emissiveFactor's 1 with it), ior and specular (a dielectric's reflectance), transmission (glass,
 * thin-walled), clearcoat (varnish, car paint), WebP and KTX2 (Basis Universal) textures, and texture transforms
 * (offset, rotation and scale of texture coordinates, for tiling textures).
 */
const EXTENSIONS = [
  EXTMeshGPUInstancing,
  EXTMeshoptCompression,
  EXTTextureWebP,
  KHRDracoMeshCompression,
  KHRLightsPunctual,
  KHRMaterialsClearcoat,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
  KHRMaterialsTransmission,
  KHRMaterialsUnlit,
  KHRMaterialsVolume,
  KHRMeshQuantization,
  KHRTextureBasisu,
  KHRTextureTransform,
]

/**
 * The material of a primitive that names none: glTF 2.0 section 3.9.6's "material with no properties specified",
 * every default applying (white, metallic, rough, opaque, single-sided), as `material: {}` reads.
 */
const DEFAULT_MATERIAL: Material = {
  name: 'default',
  baseColor: [1, 1, 1],
  metallic: 1,
  roughness: 1,
  emissive: [0, 0, 0],
}

/**
 * Loads a glTF 2.0 asset (.glb bytes, .gltf JSON bytes with embedded data URIs, or a file path on Node) into a
 * path-traceable {@link Scene}: meshes of the default scene (triangle lists, strips and fans) with their node
 * transforms, once per instance under EXT_mesh_gpu_instancing, vertex colours (COLOR_0), metallic-roughness and
 * emissive factors, base-color, metallic-roughness, emissive and normal textures (PNG, JPEG, WebP or KTX2, sampled at their
 * texture coordinates with the glTF sampler's wrap modes and nearest or bilinear filtering; normal maps with the
 * primitive's tangents or MikkTSpace ones), alpha modes, the ior, specular, transmission, volume, clearcoat, sheen and unlit extensions, punctual lights
 * (KHR_lights_punctual) and the first camera, perspective or orthographic.
 *
 * @throws GPU__MALFORMED_SCENE when the asset does not parse or holds nothing to draw; GPU__SCENE_TOO_LARGE past
 * the triangle, texel or animation bounds; GPU__TRAVERSAL_COST_EXCEEDED when its BVH would cost a ray more than
 * `MAX_BVH_TRAVERSAL_COST` tests; GPU__UNSUPPORTED_TEXTURE for a texture that is not PNG, JPEG, WebP or 2D KTX2, or
 * for a material whose textures use different texture coordinates
 */
export async function loadScene(
  source: Uint8Array | string,
  options: { time?: number } & SceneTimelineOptions = {},
): Promise<Scene> {
  // At a time, the scene a timeline gives then: a render job's frame, bit for bit, with the job's first frame's time
  // as `topologyTime`.
  if (options.time !== undefined) return (await SceneTimeline.load(source, options)).at(options.time)
  const doc = await readDocument(source)
  return sceneFromDocument(doc, await textureDecoders(doc))
}

/** Options of {@link SceneTimeline.load}. */
export interface SceneTimelineOptions {
  /** The one animation to play, by name (a file may hold several clips for one character). @default every one */
  animation?: string
  /**
   * The time, in seconds, whose pose's BVH every time's scene refits (see {@link SceneTimeline}): a render job's
   * first frame's, so that its frames trace trees grouped as close as can be to where their triangles lie.
   *
   * @default 0
   */
  topologyTime?: number
}

/**
 * A glTF scene parsed once and built at any time of its animations: what a render job's frames need, frame `f`
 * showing time `f / fps`. Animations move nodes (translation, rotation, scale: objects, lights, the camera, the
 * joints of skinned meshes); every
 * animation plays at once from time 0 and holds its last key after it ({@link poseAt}). A still scene is built once;
 * an animated one is posed again at each time asked, its textures decoded once.
 *
 * An animated scene's BVH is built once, for its pose at `topologyTime`, and refitted to every time's pose (a
 * build takes most of a frame's time: at a million triangles, 5.6 to 8 s of 8 to 10). So a frame's scene, bit for
 * bit, depends on its time and `topologyTime` alone, never on which frames were built before: a verifier that
 * builds one frame gets the tree every worker traced. The scene at `topologyTime` is the one a build gives; a
 * refitted tree is as correct, but slower to trace the further its triangles moved from that pose, and one that
 * would cost a ray more than `MAX_REFIT_COST_RATIO` times what the tree cost at `topologyTime`, or more than
 * `MAX_BVH_TRAVERSAL_COST` tests, is replaced by a tree built for its own pose. A pose at `topologyTime` that cannot
 * be drawn (a position past float32's range) leaves no tree to refit: every time is refused with its coded error, as
 * a render job whose first frame it is is refused before it is ordered.
 */
export class SceneTimeline {
  readonly #doc: Document
  readonly #decoders: TextureDecoders
  readonly #channels: readonly NodeChannel[]
  readonly #textures = new Map<GltfTexture, Texture>()
  /** The animated nodes' translation, rotation and scale as stored, put back for {@link stored}. */
  readonly #rest: ReadonlyArray<readonly [Node, vec3, vec4, vec3, number[]]>
  readonly #topologyTime: number
  /**
   * The tree built for the pose at {@link #topologyTime} once a time is asked, or why that pose cannot be drawn: kept,
   * since posing and flattening the document again would fail the same way for every frame.
   */
  #topology: FlatBvh | GpuError | undefined
  #still: Scene | undefined

  private constructor(doc: Document, decoders: TextureDecoders, options: SceneTimelineOptions) {
    const topologyTime = options.topologyTime ?? 0
    if (!Number.isFinite(topologyTime) || topologyTime < 0) {
      throw new GpuError('GPU__INVALID_INPUT', `a topology time must be finite and at least 0, not ${topologyTime}`, {
        topologyTime,
      })
    }
    this.#doc = doc
    this.#decoders = decoders
    this.#channels = nodeChannels(doc, options.animation)
    this.#topologyTime = topologyTime
    const nodes = new Set(this.#channels.map((c) => c.node))
    this.#rest = [...nodes].map((n) => [n, n.getTranslation(), n.getRotation(), n.getScale(), n.getWeights()] as const)
  }

  /**
   * Parses a scene (bytes or a path, as {@link loadScene}) and checks its animations. Every animation plays, or with
   * `options.animation` the one of that name alone.
   *
   * @throws GPU__SCENE_TOO_LARGE past `MAX_ANIMATION_CHANNELS` channels or samplers in the file, or
   * `MAX_ANIMATION_KEY_FLOATS` key floats in the animations played; GPU__INVALID_INPUT for a topology time that is
   * not finite and at least 0
   */
  static async load(source: Uint8Array | string, options: SceneTimelineOptions = {}): Promise<SceneTimeline> {
    const doc = await readDocument(source)
    return new SceneTimeline(doc, await textureDecoders(doc), options)
  }

  /** Whether anything in the scene moves. */
  get animated(): boolean {
    return this.#channels.length > 0
  }

  /** When the last animation key falls, in seconds (0 for a still scene). */
  get duration(): number {
    return durationOf(this.#channels)
  }

  /**
   * The scene at `time` seconds (finite, at least 0).
   *
   * @throws what the pose at the topology time is refused with (GPU__MALFORMED_SCENE for a position that is not
   * finite), at every time: every frame's tree is that pose's, refitted
   */
  at(time: number): Scene {
    if (!this.animated) return this.stored()
    if (this.#topology === undefined) {
      poseAt(this.#channels, this.#topologyTime)
      let reference: TriangleSoup
      try {
        reference = this.#soup()
        assertTriangleSoup(reference)
      } catch (cause) {
        if (!(cause instanceof GpuError)) throw cause
        this.#topology = new GpuError(
          cause.code,
          `the pose at the topology time, ${this.#topologyTime} s, whose BVH every frame refits, cannot be drawn ` +
            `(${cause.message}): no frame can be; pick another topology time`,
          { ...cause.context, topologyTime: this.#topologyTime },
          { cause },
        )
        throw this.#topology
      }
      this.#topology = buildBvh(reference.vertices, reference.materialIndex.length)
      if (time === this.#topologyTime) return packScene(reference, { topology: this.#topology })
    }
    if (this.#topology instanceof GpuError) throw this.#topology
    poseAt(this.#channels, time)
    return packScene(this.#soup(), { topology: this.#topology })
  }

  /** The scene as its file stores it, no animation played (what {@link loadScene} gives without a time). */
  stored(): Scene {
    if (this.#still === undefined) {
      for (const [node, t, r, s, w] of this.#rest) node.setTranslation(t).setRotation(r).setScale(s).setWeights(w)
      this.#still = sceneFromDocument(this.#doc, this.#decoders, this.#textures)
    }
    return this.#still
  }

  /** The triangles of the document as it is posed now. */
  #soup(): TriangleSoup {
    return soupOfDocument(this.#doc, this.#decoders, this.#textures)
  }
}

/**
 * The decoders a document's textures need beyond PNG and JPEG: libwebp's WebAssembly module when any texture is
 * WebP (EXT_texture_webp), the Basis Universal transcoder when any is KTX2 (KHR_texture_basisu); each created once
 * per process.
 */
export async function textureDecoders(doc: Document): Promise<TextureDecoders> {
  const types = new Set(
    doc
      .getRoot()
      .listTextures()
      .map((t) => t.getMimeType()),
  )
  return {
    ...(types.has('image/webp') ? { webp: await webpDecoder() } : {}),
    ...(types.has('image/ktx2') ? { ktx2: await ktx2Decoder() } : {}),
  }
}

/** Options of {@link readDocument} and {@link packGlb} for a scene named by its path. */
export interface SceneFileOptions {
  /**
   * The file's bytes, when the caller has read them already (bounded, from a regular file, as `readBoundedFile`
   * does): the file is not read a second time. The buffers and images it names are still read from beside its path.
   */
  file?: Uint8Array
  /**
   * Folders no buffer or image the file names may be in (followed through links): a node's data directory, whose
   * keys must never be packed into a scene its jobs upload.
   * @default none
   */
  exclude?: readonly string[]
}

/**
 * Parses glTF/GLB bytes or a path into a glTF-Transform document, with coded errors. For a path, `options.file` spares
 * reading a file the caller holds already.
 */
export async function readDocument(source: Uint8Array | string, options: SceneFileOptions = {}): Promise<Document> {
  try {
    // Files are read here, bounded, never by the reader: WebIO for paths and bytes alike.
    const io: PlatformIO = new WebIO().setLogger(gltfLog).registerExtensions(EXTENSIONS)
    let asset: JSONDocument
    if (typeof source === 'string') {
      // Bounded, and a regular file: a scene path that is a link to /dev/zero or a named pipe would never finish.
      const file =
        options.file ??
        (await readBoundedFile(
          source,
          MAX_SCENE_BYTES,
          (why) =>
            new GpuError('GPU__MALFORMED_SCENE', `the glTF asset ${source} cannot be read: ${why}`, { path: source }),
        ))
      if (file.byteLength > MAX_SCENE_BYTES) throw tooLarge(file.byteLength)
      // A .gltf on disk may name its buffers and images by relative URI: read here, from beside it only, each once,
      // within what is left of the bound (read again by a reader after the checks, a file could have been swapped).
      const json = jsonOfFile(file)
      const beside = await readFilesBeside(json, source, MAX_SCENE_BYTES - file.byteLength, options.exclude ?? [])
      asset = {
        json: json as unknown as JSONDocument['json'],
        // Bytes read from files: backed by plain ArrayBuffers, as the reader's type asks.
        resources: { ...(isGlb(file) ? glbBinary(file) : {}), ...beside } as JSONDocument['resources'],
      }
    } else {
      if (!(source instanceof Uint8Array))
        throw new GpuError('GPU__MALFORMED_SCENE', 'a scene must be bytes or a path', {})
      if (source.byteLength > MAX_SCENE_BYTES) throw tooLarge(source.byteLength)
      if (isGlb(source)) {
        assertGlbFraming(source)
        asset = await io.binaryToJSON(source)
      } else {
        const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(source))
        if (typeof json !== 'object' || json === null) throw new Error('glTF JSON must be an object')
        asset = { json: json as JSONDocument['json'], resources: {} }
      }
    }
    const root = asset.json as unknown as Record<string, unknown>
    // Bytes travel alone: a file they name beside them is nowhere to be found.
    if (typeof source !== 'string') assertSelfContained(root)
    embedDataBuffers(asset)
    asset.resources = exactResources(asset.resources)
    // Checked before anything is decoded: compressed geometry is bounded only by what its accessors declare.
    assertDeclaredSize(root, asset.resources)
    assertLayout(root, asset.resources)
    assertObjectsWithin(root)
    assertJointsWithin(root)
    assertStructure(root)
    assertNodeTransforms(root)
    assertAnimationsWithin(root)
    io.registerDependencies(await geometryDecoders(root))
    return await io.readJSON(asset)
  } catch (cause) {
    throw malformedScene(cause, 'read')
  }
}

/**
 * Reads a .gltf or .glb file with the buffers and images it names beside it (a .gltf exported "separate") and writes
 * it as one self-contained GLB: what a render job uploads, since its workers receive that one blob. Compressed
 * geometry (Draco, meshopt) is stored decoded, as the renderer reads it, so no encoder runs and nothing is lost;
 * textures are kept as they are. Rejects with `GPU__MALFORMED_SCENE` as {@link readDocument} does; `options.file`
 * spares reading the file again when the caller holds its bytes.
 */
export async function packGlb(path: string, options: SceneFileOptions = {}): Promise<Uint8Array> {
  const doc = await readDocument(path, options)
  assertImagesDecodable(doc, path)
  const compression: string[] = [KHRDracoMeshCompression.EXTENSION_NAME, EXTMeshoptCompression.EXTENSION_NAME]
  for (const extension of doc.getRoot().listExtensionsUsed()) {
    if (compression.includes(extension.extensionName)) extension.dispose()
  }
  try {
    return await new WebIO().setLogger(gltfLog).registerExtensions(EXTENSIONS).writeBinary(doc)
  } catch (cause) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `the glTF asset could not be packed into a GLB: ${String((cause as Error)?.message ?? cause)}`,
      { path },
      { cause },
    )
  }
}

/**
 * Refuses an asset with an image (from a file, a `data:` URI or a buffer view) that is none of the formats the loader
 * decodes, by its signature: every worker it is uploaded to would refuse it, and a file named as one (a key, a
 * document) would have travelled to all of them.
 */
function assertImagesDecodable(doc: Document, path: string): void {
  for (const texture of doc.getRoot().listTextures()) {
    const image = texture.getImage()
    if (image === null || imageFormat(image) !== undefined) continue
    const uri = texture.getURI()
    const named = uri === '' || uri.startsWith('__') ? `texture ${JSON.stringify(texture.getName())}` : uri
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `the glTF's image ${named} is not a PNG, JPEG, KTX2 or WebP image: only images the renderer decodes are packed`,
      { path, uri },
    )
  }
}

/**
 * Decodes the asset's buffers named by `data:` URI into its resources, under a name of the reader's internal kind
 * (`__` and a UUID, which it keeps off the buffer's URI), as the reader would when it starts: checks before it can then
 * read every buffer's bytes, and none is decoded twice. A GLB's JSON has had this done already (`binaryToJSON`).
 */
function embedDataBuffers(asset: JSONDocument): void {
  const buffers: unknown = asset.json.buffers
  for (const buffer of Array.isArray(buffers) ? (buffers as unknown[]) : []) {
    const uri = (buffer as { uri?: unknown } | null)?.uri
    if (typeof uri !== 'string' || !uri.startsWith('data:') || uri in asset.resources) continue
    const name = `__${uuid()}.bin`
    asset.resources[name] = BufferUtils.createBufferFromDataURI(uri)
    ;(buffer as { uri: string }).uri = name
  }
}

/** The JSON of a .gltf or .glb file's bytes (a GLB's first chunk), unchecked beyond parsing. */
function jsonOfFile(bytes: Uint8Array): Record<string, unknown> {
  let text: Uint8Array = bytes
  if (isGlb(bytes)) {
    assertGlbFraming(bytes)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    text = bytes.subarray(20, 20 + view.getUint32(12, true))
  }
  const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text))
  if (typeof json !== 'object' || json === null) throw new Error('glTF JSON must be an object')
  return json as Record<string, unknown>
}

/** A file a glTF's buffer or image names (a URI other than `data:`); a buffer's with the length it declares. */
interface NamedFile {
  uri: string
  /** A buffer's `byteLength`, as the JSON states it (checked against the file once read); absent for an image. */
  byteLength?: unknown
}

/** The files a glTF's buffers and images name (URIs other than `data:`). */
function namedFiles(json: Record<string, unknown>): NamedFile[] {
  const named = (list: unknown, buffer: boolean): NamedFile[] =>
    Array.isArray(list)
      ? list.flatMap((item: unknown) => {
          const { uri, byteLength } = (item ?? {}) as { uri?: unknown; byteLength?: unknown }
          if (typeof uri !== 'string' || uri.startsWith('data:')) return []
          return [buffer ? { uri, byteLength } : { uri }]
        })
      : []
  return [...named(json.buffers, true), ...named(json.images, false)]
}

/** The files a glTF's buffers and images name (URIs other than `data:`). */
function fileUris(json: Record<string, unknown>): string[] {
  return namedFiles(json).map((file) => file.uri)
}

/** A GLB's binary chunk, as the glTF reader expects it beside the JSON (none when it has no BIN chunk). */
function glbBinary(glb: Uint8Array): Record<string, Uint8Array> {
  // Framing checked (`assertGlbFraming`, in `jsonOfFile`): the JSON chunk, then maybe the BIN chunk.
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength)
  const at = 20 + view.getUint32(12, true)
  if (at + 8 > glb.byteLength || view.getUint32(at + 4, true) !== GLB_BIN_CHUNK) return {}
  return { [GLB_BUFFER]: glb.subarray(at + 8, at + 8 + view.getUint32(at, true)) }
}

/** The chunk type of a GLB's binary chunk ("BIN\0", little-endian). */
const GLB_BIN_CHUNK = 0x004e4942

/**
 * Reads the files a glTF file names, by URI, refusing anything but regular files in its own folder or below it: an
 * absolute path, a URL, `..` past the folder, a link leading out of it (followed to where it points), a file or
 * folder below it that is hidden (a name starting with `.`, as `.ssh` or `.git`, by its URI or where a link leads), a
 * file inside one of `excluded` (the node's data directory, with its keys), a missing file, a device or pipe (which
 * would never finish reading), files together larger than `budget` bytes, or a buffer's file of another length than
 * its `byteLength`. A scene (from anywhere) naming ../../.ssh/id_ed25519 would otherwise have that file packed into
 * the GLB a job uploads to its workers. Every check but the length comes before any file is read.
 */
async function readFilesBeside(
  json: Record<string, unknown>,
  path: string,
  budget: number,
  excluded: readonly string[],
): Promise<Record<string, Uint8Array>> {
  const { dirname, relative, resolve, sep } = await import('node:path')
  const { realpath, stat } = await import('node:fs/promises')
  const folder = await realpath(resolve(dirname(path)))
  const refuse = (uri: string, why: string): GpuError =>
    new GpuError('GPU__MALFORMED_SCENE', `the glTF names ${uri}, ${why}: only files in its own folder are read`, {
      uri,
    })
  // Compared as real paths, as the files are: a link to the data directory is the data directory.
  const within = (file: string, dir: string) => file === dir || file.startsWith(dir + sep)
  const never = await Promise.all(excluded.map((dir) => realpath(resolve(dir)).catch(() => resolve(dir))))
  const hidden = (file: string) =>
    relative(folder, file)
      .split(sep)
      .some((part) => part.startsWith('.'))
  const files = new Map<string, string>()
  let total = 0
  for (const uri of new Set(fileUris(json))) {
    let target: string
    try {
      target = resolve(folder, decodeURIComponent(uri))
    } catch {
      target = ''
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || !target.startsWith(folder + sep)) {
      throw refuse(uri, 'which is not a file beside it')
    }
    if (hidden(target)) throw refuse(uri, 'which is hidden (a name below its folder starts with ".")')
    const real = await realpath(target).catch(() => undefined)
    if (real === undefined) throw refuse(uri, 'which does not exist')
    if (!real.startsWith(folder + sep)) throw refuse(uri, 'which is not a file beside it')
    if (hidden(real)) throw refuse(uri, 'which is hidden (a name below its folder starts with ".")')
    if (never.some((dir) => within(real, dir))) throw refuse(uri, "which is in the node's data directory")
    const info = await stat(real)
    if (!info.isFile()) throw refuse(uri, 'which is not a regular file')
    total += info.size
    if (total > budget) throw tooLarge(MAX_SCENE_BYTES - budget + total)
    files.set(uri, real)
  }
  // Read as checked, each bounded again: one swapped for something else since fails here rather than being read.
  const resources: Record<string, Uint8Array> = {}
  for (const [uri, real] of files) {
    const left = budget - Object.values(resources).reduce((sum, r) => sum + r.byteLength, 0)
    resources[uri] = await readBoundedFile(real, left, (why) => refuse(uri, `which ${why.replace(/^it /, '')}`))
  }
  // A buffer is its file, whole: one of another length is not the data the asset was written with.
  for (const { uri, byteLength } of namedFiles(json)) {
    const bytes = resources[uri]
    if (byteLength === undefined || bytes === undefined || bytes.byteLength === byteLength) continue
    throw refuse(
      uri,
      `which is ${bytes.byteLength} bytes where its buffer declares a byteLength of ${String(byteLength)}`,
    )
  }
  return resources
}

/** Refuses glTF JSON whose buffers or images name files (URIs other than `data:`), which bytes cannot carry. */
function assertSelfContained(json: Record<string, unknown>): void {
  const uris = fileUris(json)
  if (uris.length > 0) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      `the glTF names files beside it (${uris.slice(0, 3).join(', ')}), which do not travel with its bytes: pack it into one GLB first (packGlb; tessera job submit does)`,
      { uris: uris.slice(0, 8) },
    )
  }
}

/** Checks the GLB header and chunk lengths (glTF 2.0 section 4.4), which the reader trusts. */
function assertGlbFraming(glb: Uint8Array): void {
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength)
  const bad = (why: string): GpuError =>
    new GpuError('GPU__MALFORMED_SCENE', `the GLB container is malformed: ${why}`, { bytes: glb.byteLength })
  if (glb.byteLength < 20) throw bad('shorter than its header')
  if (view.getUint32(4, true) !== 2) throw bad(`version ${view.getUint32(4, true)} is not 2`)
  if (view.getUint32(8, true) !== glb.byteLength)
    throw bad(`the header says ${view.getUint32(8, true)} bytes, ${glb.byteLength} arrived`)
  let offset = 12
  while (offset < glb.byteLength) {
    if (offset + 8 > glb.byteLength) throw bad('a chunk header is cut off')
    const length = view.getUint32(offset, true)
    if (offset + 8 + length > glb.byteLength) throw bad('a chunk runs past the end')
    offset += 8 + length
  }
}

/**
 * A texture's size as its image header states it, or null when the header does not read: glTF-Transform's header
 * readers index past the end of a cut-off image and throw a plain RangeError there. A KTX2 header is read with its
 * level count bounded first ({@link readKtx2}), whose coded refusal is kept; a WebP's as libwebp reads it
 * ({@link webpSize}), which glTF-Transform's reader does not always agree with.
 */
function headerSize(t: GltfTexture): [number, number] | null {
  const image = t.getImage()
  try {
    if (t.getMimeType() === 'image/ktx2' && image !== null) {
      const { pixelWidth, pixelHeight } = readKtx2(image)
      return [pixelWidth, pixelHeight]
    }
    if (t.getMimeType() === 'image/webp' && image !== null) return webpSize(image)
    return t.getSize()
  } catch (cause) {
    if (cause instanceof GpuError) throw cause
    return null
  }
}

function tooLarge(bytes: number): GpuError {
  return new GpuError('GPU__MALFORMED_SCENE', `the glTF asset is ${bytes} bytes, more than ${MAX_SCENE_BYTES}`, {
    bytes,
    limit: MAX_SCENE_BYTES,
  })
}

/**
 * Flattens a glTF-Transform document into a {@link Scene}, decoding WebP textures with `decoders` (see
 * {@link textureDecoders}). Textures decoded before into `decoded` (the same document built at another time of its
 * animation) are taken from it, and those decoded now are added.
 */
export function sceneFromDocument(
  doc: Document,
  decoders: TextureDecoders = {},
  decoded: Map<GltfTexture, Texture> = new Map(),
): Scene {
  return packScene(soupOfDocument(doc, decoders, decoded))
}

/** A coded error as it is, anything else as GPU__MALFORMED_SCENE keeping it as the cause: what no check caught. */
function malformedScene(cause: unknown, failed: string): GpuError {
  if (cause instanceof GpuError) return cause
  const message = String((cause as Error)?.message ?? cause)
  return new GpuError('GPU__MALFORMED_SCENE', `the glTF asset could not be ${failed}: ${message}`, {}, { cause })
}

/**
 * The world-space triangles of a document as it is posed now, what {@link sceneFromDocument} packs.
 *
 * @throws GPU__MALFORMED_SCENE, keeping the cause, for anything glTF-Transform's properties throw as they are read: a
 * document holds what its file said, and what no check before caught must still be refused with a code
 */
function soupOfDocument(doc: Document, decoders: TextureDecoders, decoded: Map<GltfTexture, Texture>): TriangleSoup {
  try {
    return flattenDocument(doc, decoders, decoded)
  } catch (cause) {
    throw malformedScene(cause, 'flattened')
  }
}

/** {@link soupOfDocument}'s work, its errors not yet coded. */
function flattenDocument(doc: Document, decoders: TextureDecoders, decoded: Map<GltfTexture, Texture>): TriangleSoup {
  assertNodeDepth(doc)
  const root = doc.getRoot()
  const scene = root.getDefaultScene() ?? root.listScenes()[0]
  if (scene === undefined) throw new GpuError('GPU__MALFORMED_SCENE', 'the glTF asset has no scene', {})
  const materialIndex = new Map<GltfMaterial | Material, number>()
  const materials: Material[] = []
  const vertices: number[] = []
  const normals: number[] = []
  const uvs: number[] = []
  let tangents: number[] | undefined
  let colors: number[] | undefined
  let uvs1: number[] | undefined
  const punctualLights: PunctualLight[] = []
  const triMaterial: number[] = []
  const textures: Texture[] = []
  const textureIndex = new Map<GltfTexture, number>()
  let texels = 0
  let camera: Camera | undefined
  // Each node's world matrix once per build, shared by the walk and the skins that list it as a joint.
  const worldOf = worldMatrices()
  // Each skin's joint matrices once per build, however many primitives it skins.
  const skinMatrices = new Map<Skin, number[][]>()
  const jointMatrices = (skin: Skin): number[][] => {
    let matrices = skinMatrices.get(skin)
    if (matrices === undefined) skinMatrices.set(skin, (matrices = jointMatricesOf(skin, worldOf)))
    return matrices
  }
  const morphBudget: MorphWork = { reads: 0, checked: new Map() }

  /** Decodes each texture once, however many materials share it. */
  const textureOf = (t: GltfTexture): number => {
    let index = textureIndex.get(t)
    if (index === undefined) {
      const label = t.getName() || t.getURI() || `#${textureIndex.size}`
      const texture =
        decoded.get(t) ??
        decodeTexture(
          t.getImage() ?? new Uint8Array(0),
          t.getMimeType(),
          headerSize(t),
          MAX_SCENE_TEXELS - texels,
          label,
          decoders,
        )
      decoded.set(t, texture)
      texels += texture.width * texture.height
      index = textures.length
      textures.push(texture)
      textureIndex.set(t, index)
    }
    return index
  }

  const materialOf = (m: GltfMaterial | null): number => {
    const key = m ?? DEFAULT_MATERIAL
    let index = materialIndex.get(key)
    if (index === undefined) {
      index = materials.length
      materialIndex.set(key, index)
      materials.push(m == null ? DEFAULT_MATERIAL : toMaterial(m, textureOf))
    }
    return index
  }

  /**
   * Appends a triangle primitive's triangles (`stored`, from {@link triangleCorners}) under a world matrix, or
   * under each vertex's own matrix for a skinned primitive (`skin`, from {@link skinning}), wound front-facing as the
   * world matrix's determinant says ({@link frontFacingCorners}); the caller has checked them against the triangle
   * bound.
   */
  const addPrimitive = (
    prim: Primitive,
    stored: Uint32Array,
    world: readonly number[],
    skin?: (vertex: number) => readonly number[],
    weights: readonly number[] = [],
  ): void => {
    const corners = frontFacingCorners(stored, world)
    const position = morphed(prim, 'POSITION', weights, corners.length, morphBudget)!
    const normal = morphed(prim, 'NORMAL', weights, corners.length, morphBudget)
    const color = vertexAttribute(prim, 'COLOR_0', ['VEC3', 'VEC4'])
    const normalMatrix = normalMatrixOf(world)
    const mat = materialOf(prim.getMaterial())
    const material = materials[mat]!
    const uv = texCoordsOf(prim, material, 0)
    const uv1 = texCoordsOf(prim, material, 1)
    const firstVertex = vertices.length / 3
    if (uv1 !== null) {
      // Only scenes where a texture reads TEXCOORD_1 keep it: zeros for the vertices of the primitives before.
      uvs1 ??= []
      while (uvs1.length < firstVertex * 2) uvs1.push(0)
    }
    if (color !== null) {
      // Only scenes with vertex colours keep them: white for the vertices of the primitives before.
      colors ??= []
      while (colors.length < firstVertex * 4) colors.push(1)
    }
    const p: number[] = []
    const n: number[] = []
    const c: number[] = []
    const rgba: number[] = []
    for (const v of corners) {
      const matrix = skin === undefined ? world : skin(v)
      const pos = transformPoint(matrix, position.getElement(v, p))
      vertices.push(pos[0], pos[1], pos[2])
      if (normal === null) normals.push(0, 0, 0)
      else {
        const nn = transformVector(skin === undefined ? normalMatrix : normalMatrixOf(matrix), normal.getElement(v, n))
        normals.push(nn[0], nn[1], nn[2])
      }
      if (uv === null) uvs.push(0, 0)
      else {
        const [s = 0, t = 0] = uv.getElement(v, c)
        uvs.push(s, t)
      }
      if (uv1 !== null) {
        const [s = 0, t = 0] = uv1.getElement(v, c)
        uvs1!.push(s, t)
      } else if (uvs1 !== undefined) uvs1.push(0, 0)
      if (color !== null) {
        // Normalized integer colours are decoded to [0, 1]; VEC3 colours are opaque.
        const [r = 1, g = 1, b = 1, alpha = 1] = color.getElement(v, rgba)
        colors!.push(r, g, b, alpha)
      } else if (colors !== undefined) colors.push(1, 1, 1, 1)
    }
    for (let t = 0; t < corners.length / 3; t++) triMaterial.push(mat)
    const normalTexture = material.normalTexture
    if (normalTexture !== undefined) {
      // Only scenes with a normal map keep tangents: zeros for the vertices of the primitives before. MikkTSpace
      // takes the normal map's own coordinates, transformed, so its frame turns with a rotated map.
      tangents ??= []
      while (tangents.length < firstVertex * 4) tangents.push(0)
      const mapped = transformedUvs(normalTexture.texCoord === 1 ? uvs1! : uvs, firstVertex, normalTexture.transform)
      // A skinned surface bends vertex by vertex: its tangents are derived from where it lies now (MikkTSpace).
      const given = skin === undefined ? morphed(prim, 'TANGENT', weights, corners.length, morphBudget) : null
      for (const x of primitiveTangents(given, corners, world, vertices, normals, mapped, firstVertex)) tangents.push(x)
    }
  }

  /** Each mesh's primitives that draw triangles, found once however many nodes draw the mesh. */
  const drawnByMesh = new Map<Mesh, DrawnPrimitives>()
  const visit = (node: Node): void => {
    const world = worldOf(node)
    const cam = node.getCamera()
    if (camera === undefined && cam !== null) {
      camera =
        cam.getType() === 'orthographic'
          ? { ...toCamera(world, NaN), orthographic: orthographicHalfHeight(cam.getYMag()) }
          : toCamera(world, cam.getYFov())
    }
    const light = node.getExtension<Light>('KHR_lights_punctual')
    if (light !== null) punctualLights.push(toPunctualLight(world, light))
    const mesh = node.getMesh()
    if (mesh !== null) {
      let drawn = drawnByMesh.get(mesh)
      if (drawn === undefined) drawnByMesh.set(mesh, (drawn = drawnPrimitives(mesh)))
      const { prims, triangles } = drawn
      const matrices = meshMatrices(node, world, triangles, MAX_SCENE_TRIANGLES - triMaterial.length)
      // What is drawn nowhere is not read. Else every primitive adds at least one triangle per matrix, so the work
      // below for each node and primitive counts against the triangle bound. Indices are read once per primitive,
      // however many instances draw it.
      const corners = matrices.length === 0 ? [] : prims.map(triangleCorners)
      const skins = matrices.length === 0 ? [] : prims.map((prim) => skinning(node, prim, jointMatrices))
      // Morph target weights: the node's where it sets them (an animation does), else its mesh's defaults.
      const weights = node.getWeights().length > 0 ? node.getWeights() : mesh.getWeights()
      // A skinned mesh lies where its joints put it, whatever the node's instances: drawn once.
      for (const matrix of node.getSkin() === null ? matrices : matrices.slice(0, 1)) {
        prims.forEach((prim, i) => addPrimitive(prim, corners[i]!, matrix, skins[i], weights))
      }
    }
    for (const child of node.listChildren()) visit(child)
  }
  for (const node of scene.listChildren()) visit(node)

  return {
    vertices: Float32Array.from(vertices),
    normals: Float32Array.from(normals),
    materialIndex: Uint32Array.from(triMaterial),
    materials: materials.length > 0 ? materials : [DEFAULT_MATERIAL],
    ...(textures.length === 0 ? {} : { uvs: Float32Array.from(uvs), textures }),
    ...(uvs1 === undefined ? {} : { uvs1: padded(uvs1, (vertices.length / 3) * 2) }),
    ...(tangents === undefined ? {} : { tangents: padded(tangents, (vertices.length / 3) * 4) }),
    ...(colors === undefined ? {} : { colors: padded(colors, (vertices.length / 3) * 4, 1) }),
    ...(camera === undefined ? {} : { camera }),
    ...(punctualLights.length === 0 ? {} : { punctualLights }),
  }
}

/** `values` as floats, with `fill` after them up to `length`. */
function padded(values: readonly number[], length: number, fill = 0): Float32Array {
  const out = new Float32Array(length).fill(fill)
  out.set(values)
  return out
}

/**
 * The tangents (4 floats per vertex) of a normal-mapped primitive's vertices, which `sceneFromDocument` has just
 * appended from `first` on: its `TANGENT` attribute (morphed) under the node's transform where it has one, else
 * MikkTSpace tangents of its world-space triangles at `uvs` (the normal map's coordinates of just these vertices).
 */
function primitiveTangents(
  tangent: VertexReader | null,
  corners: Uint32Array,
  world: readonly number[],
  vertices: readonly number[],
  normals: readonly number[],
  uvs: readonly number[],
  first: number,
): ArrayLike<number> & Iterable<number> {
  if (tangent === null) {
    return soupTangents(
      Float32Array.from(vertices.slice(first * 3)),
      Float32Array.from(normals.slice(first * 3)),
      Float32Array.from(uvs),
    )
  }
  // Tangents lie in the surface, so they move with the node's matrix (not the normals' inverse transpose); a
  // mirroring matrix flips the frame's handedness.
  const det = determinant3(world)
  const linear = [...world.slice(0, 12), 0, 0, 0, 1]
  const out: number[] = []
  const t: number[] = []
  for (const v of corners) {
    if (v >= tangent.getCount()) {
      throw new GpuError('GPU__MALFORMED_SCENE', 'a triangle index points past its tangents', {
        index: v,
        tangents: tangent.getCount(),
      })
    }
    tangent.getElement(v, t)
    const [x, y, z] = transformPoint(linear, t)
    out.push(x, y, z, (t[3] ?? 1) * (det < 0 ? -1 : 1))
  }
  return out
}

const IDENTITY_UV: UvTransform = [1, 0, 0, 0, 1, 0]

/** A material's texture slots that the path tracer samples, in the order of its texture rows. */
function textureInfos(m: GltfMaterial): Array<{
  slot: TextureSlot
  info: TextureInfo | null
  texture: GltfTexture | null
}> {
  return [
    { slot: 'baseColorTexture', info: m.getBaseColorTextureInfo(), texture: m.getBaseColorTexture() },
    {
      slot: 'metallicRoughnessTexture',
      info: m.getMetallicRoughnessTextureInfo(),
      texture: m.getMetallicRoughnessTexture(),
    },
    { slot: 'emissiveTexture', info: m.getEmissiveTextureInfo(), texture: m.getEmissiveTexture() },
    { slot: 'normalTexture', info: m.getNormalTextureInfo(), texture: m.getNormalTexture() },
    ...extensionTextureInfos(m),
  ]
}

/** The extensions' texture slots the path tracer samples: transmission, clearcoat, sheen and specular. */
function extensionTextureInfos(m: GltfMaterial): Array<{
  slot: TextureSlot
  info: TextureInfo | null
  texture: GltfTexture | null
}> {
  const transmission = m.getExtension<Transmission>('KHR_materials_transmission')
  const coat = m.getExtension<Clearcoat>('KHR_materials_clearcoat')
  const sheen = m.getExtension<Sheen>('KHR_materials_sheen')
  const specular = m.getExtension<Specular>('KHR_materials_specular')
  return [
    {
      slot: 'transmissionTexture',
      info: transmission?.getTransmissionTextureInfo() ?? null,
      texture: transmission?.getTransmissionTexture() ?? null,
    },
    {
      slot: 'clearcoatTexture',
      info: coat?.getClearcoatTextureInfo() ?? null,
      texture: coat?.getClearcoatTexture() ?? null,
    },
    {
      slot: 'clearcoatRoughnessTexture',
      info: coat?.getClearcoatRoughnessTextureInfo() ?? null,
      texture: coat?.getClearcoatRoughnessTexture() ?? null,
    },
    {
      slot: 'sheenColorTexture',
      info: sheen?.getSheenColorTextureInfo() ?? null,
      texture: sheen?.getSheenColorTexture() ?? null,
    },
    {
      slot: 'sheenRoughnessTexture',
      info: sheen?.getSheenRoughnessTextureInfo() ?? null,
      texture: sheen?.getSheenRoughnessTexture() ?? null,
    },
    {
      slot: 'specularTexture',
      info: specular?.getSpecularTextureInfo() ?? null,
      texture: specular?.getSpecularTexture() ?? null,
    },
    {
      slot: 'specularColorTexture',
      info: specular?.getSpecularColorTextureInfo() ?? null,
      texture: specular?.getSpecularColorTexture() ?? null,
    },
  ]
}

/**
 * Where a texture is sampled: its `TEXCOORD_n` set (its KHR_texture_transform's, which overrides the texture
 * info's) and its transform, left out where they are glTF's defaults (set 0, no transform).
 *
 * @throws GPU__UNSUPPORTED_TEXTURE for a set past TEXCOORD_1
 */
function texCoordOf(
  m: GltfMaterial,
  slot: TextureSlot,
  info: TextureInfo | null,
): Pick<MaterialTexture, 'texCoord' | 'transform'> {
  const transform = info?.getExtension<Transform>('KHR_texture_transform') ?? null
  const texCoord = transform?.getTexCoord() ?? info?.getTexCoord() ?? 0
  if (texCoord !== 0 && texCoord !== 1) {
    throw new GpuError(
      'GPU__UNSUPPORTED_TEXTURE',
      `material ${m.getName() || '(unnamed)'} samples its ${slot} at TEXCOORD_${texCoord}; the path tracer keeps TEXCOORD_0 and TEXCOORD_1`,
      { material: m.getName(), slot, texCoord },
    )
  }
  const matrix = textureTransform(transform)
  return {
    ...(texCoord === 1 ? { texCoord: 1 as const } : {}),
    ...(matrix.every((x, i) => x === IDENTITY_UV[i]) ? {} : { transform: matrix }),
  }
}

/**
 * A primitive's texture coordinates of set `set` (TEXCOORD_0 or TEXCOORD_1), or null when none of its material's
 * textures reads that set.
 *
 * @throws GPU__MALFORMED_SCENE when a texture reads a set the primitive lacks (or holds with another count or type)
 */
function texCoordsOf(prim: Primitive, material: Material, set: 0 | 1): Accessor | null {
  const used = materialTextures(material).some((t) => t !== undefined && (t.texCoord ?? 0) === set)
  if (!used) return null
  const uv = vertexAttribute(prim, `TEXCOORD_${set}`, ['VEC2'])
  if (uv === null) {
    throw new GpuError('GPU__MALFORMED_SCENE', `a textured primitive has no TEXCOORD_${set} attribute`, {
      material: material.name,
    })
  }
  return uv
}

/** The coordinates (2 numbers a vertex) from vertex `first` on, through `transform` where there is one. */
function transformedUvs(uvs: readonly number[], first: number, transform: UvTransform | undefined): number[] {
  const out = uvs.slice(first * 2)
  if (transform === undefined) return out
  const [a, b, e, d, f, g] = transform
  for (let i = 0; i < out.length; i += 2) {
    const [s, t] = [out[i]!, out[i + 1]!]
    out[i] = a * s + b * t + e
    out[i + 1] = d * s + f * t + g
  }
  return out
}

/**
 * KHR_texture_transform as the row-major 2x3 matrix `[a b e; d f g]` mapping (u, v) to (au + bv + e, du + fv + g):
 * translation x rotation x scale, as the extension defines it. The identity without a transform.
 */
function textureTransform(t: Transform | null): UvTransform {
  if (t === null) return IDENTITY_UV
  const [ox, oy] = t.getOffset()
  const [sx, sy] = t.getScale()
  const r = t.getRotation()
  const cos = Math.cos(r)
  const sin = Math.sin(r)
  return [cos * sx, sin * sy, ox, -sin * sx, cos * sy, oy]
}

/** glTF's sampler codes to the path tracer's. */
function wrapOf(code: number | undefined): WrapMode {
  if (code === TextureInfo.WrapMode.CLAMP_TO_EDGE) return WrapMode.clamp
  if (code === TextureInfo.WrapMode.MIRRORED_REPEAT) return WrapMode.mirror
  return WrapMode.repeat
}

function samplerOf(info: TextureInfo | null): TextureSampler {
  // A path tracer has no ray footprint to pick a mip level by, so the magnification filter decides (glTF leaves
  // it undefined more often than not; LINEAR is what viewers do then).
  return {
    wrapS: wrapOf(info?.getWrapS()),
    wrapT: wrapOf(info?.getWrapT()),
    linear: info?.getMagFilter() !== TextureInfo.MagFilter.NEAREST,
  }
}

function toMaterial(m: GltfMaterial, textureOf: (t: GltfTexture) => number): Material {
  const clamp = (x: number | undefined, hi = 1): number => (Number.isFinite(x) ? Math.min(hi, Math.max(0, x!)) : 0)
  const bc = m.getBaseColorFactor()
  const em = m.getEmissiveFactor()
  const textures: { -readonly [K in TextureSlot]?: MaterialTexture } = {}
  for (const { slot, info, texture } of textureInfos(m)) {
    if (texture !== null)
      textures[slot] = { texture: textureOf(texture), ...samplerOf(info), ...texCoordOf(m, slot, info) }
  }
  const strength = clamp(
    m.getExtension<EmissiveStrength>('KHR_materials_emissive_strength')?.getEmissiveStrength() ?? 1,
    MAX_LIGHT_RADIANCE,
  )
  return {
    name: m.getName(),
    baseColor: [clamp(bc[0]), clamp(bc[1]), clamp(bc[2])],
    metallic: clamp(m.getMetallicFactor()),
    roughness: clamp(m.getRoughnessFactor()),
    // glTF bounds emissiveFactor to [0, 1]; KHR_materials_emissive_strength scales it past 1.
    emissive: [clamp(em[0]) * strength, clamp(em[1]) * strength, clamp(em[2]) * strength],
    ...textures,
    ...(textures.normalTexture === undefined ? {} : { normalScale: finiteScale(m.getNormalScale()) }),
    ...alphaOf(m, clamp(bc[3])),
    ...(m.getDoubleSided() ? { doubleSided: true } : {}),
    ...dielectricOf(m),
    ...sheenFactors(m),
    ...(m.getExtension('KHR_materials_unlit') === null ? {} : { unlit: true }),
  }
}

/**
 * A material's KHR_materials_ior, KHR_materials_specular, KHR_materials_transmission, KHR_materials_volume and
 * KHR_materials_clearcoat factors (their textures are not read), bounded; nothing when it has none (glTF's defaults:
 * ior 1.5, specular 1, white, no transmission, no volume, no coat). Transmission is thin-walled unless a volume
 * with a thickness sits beside it. The coat shares the base's normal (its own normal texture is not read).
 */
function dielectricOf(
  m: GltfMaterial,
): Pick<
  Material,
  | 'ior'
  | 'specular'
  | 'specularColor'
  | 'transmission'
  | 'thickness'
  | 'attenuationColor'
  | 'attenuationDistance'
  | 'clearcoat'
  | 'clearcoatRoughness'
> {
  const ior = m.getExtension<IOR>('KHR_materials_ior')?.getIOR()
  const specular = m.getExtension<Specular>('KHR_materials_specular')
  const transmission = m.getExtension<Transmission>('KHR_materials_transmission')?.getTransmissionFactor()
  const coat = m.getExtension<Clearcoat>('KHR_materials_clearcoat')
  const volume = m.getExtension<Volume>('KHR_materials_volume')
  const color = specular?.getSpecularColorFactor()
  const bounded = (x: number | undefined, lo: number, hi: number, fallback: number): number =>
    Number.isFinite(x) ? Math.min(hi, Math.max(lo, x!)) : fallback
  return {
    ...(ior === undefined ? {} : { ior: bounded(ior, 1, MAX_IOR, 1.5) }),
    ...(specular === null || specular === undefined
      ? {}
      : {
          specular: bounded(specular.getSpecularFactor(), 0, 1, 1),
          specularColor: [0, 1, 2].map((k) => bounded(color?.[k], 0, MAX_SPECULAR_COLOR, 1)) as unknown as Vec3,
        }),
    ...(transmission === undefined ? {} : { transmission: bounded(transmission, 0, 1, 0) }),
    ...(volume === null || volume === undefined ? {} : volumeFactors(volume)),
    ...(coat === null || coat === undefined
      ? {}
      : {
          clearcoat: bounded(coat.getClearcoatFactor(), 0, 1, 0),
          clearcoatRoughness: bounded(coat.getClearcoatRoughnessFactor(), 0, 1, 0),
        }),
  }
}

/** A material's alpha mode, cutoff and opacity; nothing for OPAQUE (the default), which ignores alpha. */
function alphaOf(m: GltfMaterial, opacity: number): Pick<Material, 'alphaMode' | 'alphaCutoff' | 'opacity'> {
  const mode = m.getAlphaMode()
  if (mode !== 'MASK' && mode !== 'BLEND') return {}
  const cutoff = m.getAlphaCutoff()
  return {
    alphaMode: mode === 'MASK' ? 'mask' : 'blend',
    alphaCutoff: Number.isFinite(cutoff) ? Math.min(1, Math.max(0, cutoff)) : 0.5,
    opacity,
  }
}

/**
 * Refuses a node hierarchy deeper than {@link MAX_NODE_DEPTH}: glTF-Transform's world matrices and the scene walk
 * recurse once per level, and a chain of thousands of nodes would overflow the stack. Each node's depth is counted
 * once, walking up to the first ancestor already counted. Nodes that form a cycle are refused (`GPU__MALFORMED_SCENE`).
 */
function assertNodeDepth(doc: Document): void {
  const depth = new Map<Node, number>()
  for (const node of doc.getRoot().listNodes()) {
    const chain: Node[] = []
    // A node that is its own ancestor (glTF forbids it; a reader takes it) would be walked up for ever.
    const onChain = new Set<Node>()
    let at: Node | null = node
    for (; at !== null && !depth.has(at); at = at.getParentNode()) {
      if (onChain.has(at)) {
        throw new GpuError(
          'GPU__MALFORMED_SCENE',
          `node "${at.getName()}" is its own ancestor: the nodes form a cycle`,
          {
            node: at.getName(),
          },
        )
      }
      onChain.add(at)
      chain.push(at)
    }
    const above = at === null ? 0 : depth.get(at)!
    if (above + chain.length > MAX_NODE_DEPTH) {
      throw new GpuError('GPU__SCENE_TOO_LARGE', `the scene nests nodes more than ${MAX_NODE_DEPTH} deep`, {
        limit: MAX_NODE_DEPTH,
      })
    }
    chain.forEach((n, i) => depth.set(n, above + chain.length - i))
  }
}

/** What a build's morph targets have cost so far. */
interface MorphWork {
  /** Values blended: corners times weighted targets, held to {@link MAX_MORPH_READS}. */
  reads: number
  /** The semantics whose targets each primitive has had checked. */
  checked: Map<Primitive, Set<string>>
}

/** A vertex attribute that yields its elements as `getElement` does (an accessor, or one morphed). */
interface VertexReader {
  getElement(index: number, target: number[]): number[]
  getCount(): number
}

/**
 * A primitive's POSITION, NORMAL or TANGENT with its morph targets blended in (glTF 2.0 section 3.7.2.2: the base
 * plus each target's displacement times its weight; a tangent's displacement moves its xyz, not its handedness).
 * The accessor itself where no weight is set (NORMAL and TANGENT may be null); targets past the weights count for
 * nothing.
 *
 * @throws GPU__MALFORMED_SCENE for a target attribute that is not one VEC3 per vertex
 */
function morphed(
  prim: Primitive,
  semantic: 'POSITION' | 'NORMAL' | 'TANGENT',
  weights: readonly number[],
  corners: number,
  budget: MorphWork,
): VertexReader | null {
  const base =
    semantic === 'POSITION'
      ? prim.getAttribute('POSITION')!
      : semantic === 'NORMAL'
        ? vertexAttribute(prim, 'NORMAL', ['VEC3'])
        : prim.getAttribute('TANGENT')
  if (base === null) return null
  const all = prim.listTargets()
  if (all.length > MAX_MORPH_TARGETS) {
    throw new GpuError(
      'GPU__SCENE_TOO_LARGE',
      `a primitive has ${all.length} morph targets, more than ${MAX_MORPH_TARGETS}`,
      {
        targets: all.length,
        limit: MAX_MORPH_TARGETS,
      },
    )
  }
  // Every target is checked, weighted or not: one that an animation weights later must not fail a later frame. Once
  // a build, not for every node that draws the primitive, which would cost each of them every target.
  const checked = budget.checked.get(prim) ?? new Set<string>()
  if (!checked.has(semantic)) {
    for (const target of all) {
      const attribute = target.getAttribute(semantic)
      if (attribute !== null && (attribute.getType() !== 'VEC3' || attribute.getCount() !== base.getCount())) {
        throw new GpuError('GPU__MALFORMED_SCENE', `a morph target's ${semantic} is not one VEC3 per vertex`, {
          semantic,
        })
      }
    }
    budget.checked.set(prim, checked.add(semantic))
  }
  const targets: Array<{ weight: number; attribute: Accessor }> = []
  for (let i = 0; i < Math.min(weights.length, all.length); i++) {
    const attribute = weights[i] === 0 ? null : all[i]!.getAttribute(semantic)
    if (attribute !== null) targets.push({ weight: weights[i]!, attribute })
  }
  if (targets.length === 0) return base
  budget.reads += corners * targets.length
  if (budget.reads > MAX_MORPH_READS) {
    throw new GpuError('GPU__SCENE_TOO_LARGE', `the scene's morph targets blend more than ${MAX_MORPH_READS} values`, {
      limit: MAX_MORPH_READS,
    })
  }
  const d: number[] = []
  return {
    getCount: () => base.getCount(),
    getElement(index, target) {
      base.getElement(index, target)
      for (const { weight, attribute } of targets) {
        attribute.getElement(index, d)
        for (let k = 0; k < 3; k++) target[k] = target[k]! + weight * d[k]!
      }
      return target
    },
  }
}

/** glTF normalTexture.scale, bounded to ±{@link MAX_NORMAL_SCALE}; 1 when it is not a number. */
function finiteScale(scale: number): number {
  return Number.isFinite(scale) ? Math.min(MAX_NORMAL_SCALE, Math.max(-MAX_NORMAL_SCALE, scale)) : 1
}

function transformPoint(m: readonly number[], p: number[]): Vec3 {
  const [x = 0, y = 0, z = 0] = p
  return [
    m[0]! * x + m[4]! * y + m[8]! * z + m[12]!,
    m[1]! * x + m[5]! * y + m[9]! * z + m[13]!,
    m[2]! * x + m[6]! * y + m[10]! * z + m[14]!,
  ]
}

function transformVector(m: readonly number[], p: number[]): Vec3 {
  const [x = 0, y = 0, z = 0] = p
  return [m[0]! * x + m[3]! * y + m[6]! * z, m[1]! * x + m[4]! * y + m[7]! * z, m[2]! * x + m[5]! * y + m[8]! * z]
}

/** The inverse transpose of the upper 3x3 (column-major 3x3 result); normals stay perpendicular under scaling. */
function normalMatrixOf(m: readonly number[]): number[] {
  const a = m[0]!,
    b = m[1]!,
    c = m[2]!,
    d = m[4]!,
    e = m[5]!,
    f = m[6]!,
    g = m[8]!,
    h = m[9]!,
    i = m[10]!
  // Cofactor matrix = det * inverse transpose; the determinant's magnitude does not matter for directions.
  const cof = [
    e * i - f * h,
    f * g - d * i,
    d * h - e * g,
    c * h - b * i,
    a * i - c * g,
    b * g - a * h,
    b * f - c * e,
    c * d - a * f,
    a * e - b * d,
  ]
  const det = a * cof[0]! + b * cof[1]! + c * cof[2]!
  const s = det < 0 ? -1 : 1
  return cof.map((x) => x * s)
}

/** KHR_materials_sheen's colour and roughness factors, each bounded to [0, 1] (its textures are not read). */
function sheenFactors(m: GltfMaterial): Pick<Material, 'sheenColor' | 'sheenRoughness'> {
  const sheen = m.getExtension<Sheen>('KHR_materials_sheen')
  if (sheen === null) return {}
  const unit = (x: number | undefined): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x!)) : 0)
  const color = sheen.getSheenColorFactor()
  return {
    sheenColor: [unit(color[0]), unit(color[1]), unit(color[2])],
    sheenRoughness: unit(sheen.getSheenRoughnessFactor()),
  }
}

/**
 * KHR_materials_volume's factors, bounded: a thickness of at least 0 (only whether it is 0 matters), an attenuation
 * colour in [0, 1] and a positive distance (Infinity, glTF's default, for none). The thickness texture is not read.
 */
function volumeFactors(volume: Volume): Pick<Material, 'thickness' | 'attenuationColor' | 'attenuationDistance'> {
  const thickness = volume.getThicknessFactor()
  const distance = volume.getAttenuationDistance()
  const color = volume.getAttenuationColor()
  return {
    thickness: Number.isFinite(thickness) ? Math.max(0, thickness) : 0,
    attenuationColor: [0, 1, 2].map((k) =>
      Number.isFinite(color[k]) ? Math.min(1, Math.max(0, color[k]!)) : 1,
    ) as unknown as Vec3,
    attenuationDistance: distance > 0 ? distance : Infinity,
  }
}

/**
 * A KHR_lights_punctual light under its node's world matrix: at the node's origin, shining along its -Z axis, with
 * colour times intensity (candela, or lux for directional lights). Out-of-range values are left for
 * `packPunctualLights` to refuse with a coded error.
 */
function toPunctualLight(world: readonly number[], light: Light): PunctualLight {
  const [r, g, b] = light.getColor()
  const intensity = light.getIntensity()
  const range = light.getRange()
  return {
    type: light.getType(),
    position: [world[12]!, world[13]!, world[14]!],
    direction: [-world[8]!, -world[9]!, -world[10]!],
    intensity: [r * intensity, g * intensity, b * intensity],
    ...(range === null ? {} : { range }),
    ...(light.getType() === 'spot'
      ? { innerConeAngle: light.getInnerConeAngle(), outerConeAngle: light.getOuterConeAngle() }
      : {}),
  }
}

/** glTF's ymag bounded to a positive finite half-height (1 where it is not: an asset's bad camera is not fatal). */
function orthographicHalfHeight(ymag: number): number {
  const half = Math.abs(ymag)
  return half > 0 && half < 1e30 ? half : 1
}

function toCamera(world: readonly number[], yfov: number): Camera {
  const norm = (x: number, y: number, z: number): Vec3 => {
    const l = Math.hypot(x, y, z) || 1
    return [x / l, y / l, z / l]
  }
  const right = norm(world[0]!, world[1]!, world[2]!)
  const up = norm(world[4]!, world[5]!, world[6]!)
  const back = norm(world[8]!, world[9]!, world[10]!)
  const fov = Number.isFinite(yfov) && yfov > 0 && yfov < Math.PI ? yfov : 0.7
  return {
    position: [world[12]!, world[13]!, world[14]!],
    forward: [-back[0], -back[1], -back[2]],
    up,
    right,
    yfov: fov,
  }
}
