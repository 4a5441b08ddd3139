import { Document, WebIO } from '@gltf-transform/core'
import type { Buffer as GltfBuffer, Material as GltfMaterial } from '@gltf-transform/core'
import { encode as encodePng } from 'fast-png'
import { GpuError } from '../errors.js'

/** Options of {@link generateScene}. */
export interface GenerateSceneOptions {
  /**
   * Icosphere subdivision level: each sphere has 20 * 4^level triangles.
   * @default 4
   */
  subdivisions?: number
  /**
   * Spheres in the room (1 to 3: diffuse, rough gold metal, mirror).
   * @default 3
   */
  spheres?: number
  /**
   * Emitted radiance of the ceiling light (glTF emissiveFactor, 0 to 1).
   * @default 1
   */
  lightIntensity?: number
  /**
   * A checkerboard base-color texture (PNG, bilinear, repeating twice across) on the floor.
   * @default false
   */
  texturedFloor?: boolean
}

/** Side of the floor's checkerboard texture, texels, and of one of its squares. */
const CHECKER_SIDE = 64
const CHECKER_SQUARE = 8

/** A grey checkerboard as RGBA8 PNG bytes, with a red cross in one square so orientation shows. */
function checkerboardPng(): Uint8Array {
  const data = new Uint8Array(CHECKER_SIDE * CHECKER_SIDE * 4)
  for (let y = 0; y < CHECKER_SIDE; y++) {
    for (let x = 0; x < CHECKER_SIDE; x++) {
      const light = (Math.floor(x / CHECKER_SQUARE) + Math.floor(y / CHECKER_SQUARE)) % 2 === 0
      const cross = x < CHECKER_SQUARE && y < CHECKER_SQUARE && (x === y || x === CHECKER_SQUARE - 1 - y)
      const v = light ? 235 : 45
      data.set(cross ? [220, 20, 20, 255] : [v, v, v, 255], (y * CHECKER_SIDE + x) * 4)
    }
  }
  return encodePng({ width: CHECKER_SIDE, height: CHECKER_SIDE, data, channels: 4, depth: 8 })
}

/** Most subdivisions accepted: level 7 is 327,680 triangles per sphere. */
const MAX_SUBDIVISIONS = 7

/**
 * Builds the procedural test scene as a glTF document: an open-front box room (white floor, ceiling and back wall,
 * red and green side walls), an emissive ceiling panel, icospheres with smooth normals placed by node transforms,
 * and a perspective camera. With the defaults it holds 15,372 triangles.
 */
export function generateSceneDocument(options: GenerateSceneOptions = {}): Document {
  const subdivisions = options.subdivisions ?? 4
  const spheres = options.spheres ?? 3
  const light = options.lightIntensity ?? 1
  if (!Number.isInteger(subdivisions) || subdivisions < 0 || subdivisions > MAX_SUBDIVISIONS) {
    throw new GpuError('GPU__INVALID_INPUT', `subdivisions must be an integer in 0..${MAX_SUBDIVISIONS}`, {
      subdivisions,
    })
  }
  if (!Number.isInteger(spheres) || spheres < 1 || spheres > 3)
    throw new GpuError('GPU__INVALID_INPUT', 'spheres must be 1, 2 or 3', { spheres })
  if (!(light >= 0 && light <= 1))
    throw new GpuError('GPU__INVALID_INPUT', 'lightIntensity must be in [0, 1]', { lightIntensity: light })

  const doc = new Document()
  const buffer = doc.createBuffer('data')
  const scene = doc.createScene('room')
  doc.getRoot().setDefaultScene(scene)
  const material = (
    name: string,
    rgb: [number, number, number],
    metallic = 0,
    roughness = 1,
    emissive: [number, number, number] = [0, 0, 0],
  ): GltfMaterial =>
    doc
      .createMaterial(name)
      .setBaseColorFactor([...rgb, 1])
      .setMetallicFactor(metallic)
      .setRoughnessFactor(roughness)
      .setEmissiveFactor(emissive)
  const white = material('white', [0.73, 0.73, 0.73])
  const red = material('red', [0.65, 0.05, 0.05])
  const green = material('green', [0.12, 0.45, 0.15])
  const lamp = material('light', [0.78, 0.78, 0.78], 0, 1, [light, light, light])

  // The room spans x in [-1, 1], y in [0, 2], z in [-1, 1]; its front (z = +1) is open towards the camera. Corners
  // run counter-clockwise seen from the room, so every front face (glTF's winding) faces in.
  const quads: Array<[GltfMaterial, number[]]> = [
    [white, [-1, 0, -1, -1, 0, 1, 1, 0, 1, 1, 0, -1]], // floor, facing +y
    [white, [-1, 2, 1, -1, 2, -1, 1, 2, -1, 1, 2, 1]], // ceiling, facing -y
    [white, [-1, 0, -1, 1, 0, -1, 1, 2, -1, -1, 2, -1]], // back wall, facing +z
    [red, [-1, 0, 1, -1, 0, -1, -1, 2, -1, -1, 2, 1]], // left wall, facing +x
    [green, [1, 0, -1, 1, 0, 1, 1, 2, 1, 1, 2, -1]], // right wall, facing -x
    [lamp, [-0.5, 1.98, -0.6, 0.5, 1.98, -0.6, 0.5, 1.98, 0.3, -0.5, 1.98, 0.3]], // light, facing -y
  ]
  if (options.texturedFloor === true) {
    const floor = material('floor', [1, 1, 1]).setBaseColorTexture(
      doc.createTexture('checker').setImage(checkerboardPng()).setMimeType('image/png'),
    )
    quads[0] = [floor, quads[0]![1]]
  }
  for (const [mat, corners] of quads) {
    const uv = mat.getBaseColorTexture() === null ? undefined : [0, 0, 0, 2, 2, 2, 2, 0]
    const node = doc.createNode(mat.getName()).setMesh(quadMesh(doc, buffer, mat, corners, uv))
    scene.addChild(node)
  }

  const sphere = icosphere(subdivisions)
  const placements: Array<{ name: string; mat: GltfMaterial; at: [number, number, number]; r: number }> = [
    { name: 'diffuse-sphere', mat: material('diffuse', [0.8, 0.8, 0.8]), at: [-0.45, 0.35, -0.3], r: 0.35 },
    { name: 'metal-sphere', mat: material('gold', [0.9, 0.7, 0.3], 1, 0.25), at: [0.45, 0.3, 0.2], r: 0.3 },
    { name: 'mirror-sphere', mat: material('mirror', [0.95, 0.95, 0.95], 1, 0), at: [0.1, 0.9, -0.55], r: 0.25 },
  ]
  for (const s of placements.slice(0, spheres)) {
    const mesh = doc
      .createMesh(s.name)
      .addPrimitive(
        doc
          .createPrimitive()
          .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(sphere.positions).setBuffer(buffer))
          .setAttribute(
            'NORMAL',
            doc.createAccessor().setType('VEC3').setArray(sphere.positions.slice()).setBuffer(buffer),
          )
          .setIndices(doc.createAccessor().setType('SCALAR').setArray(sphere.indices).setBuffer(buffer))
          .setMaterial(s.mat),
      )
    scene.addChild(doc.createNode(s.name).setMesh(mesh).setTranslation(s.at).setScale([s.r, s.r, s.r]))
  }

  const camera = doc
    .createCamera('camera')
    .setType('perspective')
    .setYFov(0.69)
    .setZNear(0.01)
    .setZFar(100)
    .setAspectRatio(1)
  scene.addChild(doc.createNode('camera').setCamera(camera).setTranslation([0, 1, 3.4]))
  return doc
}

/** The procedural scene of {@link generateSceneDocument} as GLB bytes (load it with `loadScene`). */
export async function generateScene(options: GenerateSceneOptions = {}): Promise<Uint8Array> {
  return new WebIO().writeBinary(generateSceneDocument(options))
}

/** Writes the procedural scene to a .glb (or .gltf) file with glTF-Transform's NodeIO. */
export async function writeScene(path: string, options: GenerateSceneOptions = {}): Promise<void> {
  const { NodeIO } = await import('@gltf-transform/core')
  await new NodeIO().write(path, generateSceneDocument(options))
}

function quadMesh(
  doc: Document,
  buffer: GltfBuffer,
  mat: GltfMaterial,
  corners: number[],
  uv?: number[],
): ReturnType<Document['createMesh']> {
  const prim = doc
    .createPrimitive()
    .setAttribute(
      'POSITION',
      doc.createAccessor().setType('VEC3').setArray(Float32Array.from(corners)).setBuffer(buffer),
    )
    .setIndices(
      doc
        .createAccessor()
        .setType('SCALAR')
        .setArray(Uint32Array.from([0, 1, 2, 0, 2, 3]))
        .setBuffer(buffer),
    )
    .setMaterial(mat)
  if (uv !== undefined) {
    prim.setAttribute(
      'TEXCOORD_0',
      doc.createAccessor().setType('VEC2').setArray(Float32Array.from(uv)).setBuffer(buffer),
    )
  }
  return doc.createMesh(mat.getName()).addPrimitive(prim)
}

/** A unit icosphere: positions double as normals. */
function icosphere(level: number): { positions: Float32Array; indices: Uint32Array } {
  const t = (1 + Math.sqrt(5)) / 2
  const verts: number[][] = [
    [-1, t, 0],
    [1, t, 0],
    [-1, -t, 0],
    [1, -t, 0],
    [0, -1, t],
    [0, 1, t],
    [0, -1, -t],
    [0, 1, -t],
    [t, 0, -1],
    [t, 0, 1],
    [-t, 0, -1],
    [-t, 0, 1],
  ].map(normalize)
  let faces: number[][] = [
    [0, 11, 5],
    [0, 5, 1],
    [0, 1, 7],
    [0, 7, 10],
    [0, 10, 11],
    [1, 5, 9],
    [5, 11, 4],
    [11, 10, 2],
    [10, 7, 6],
    [7, 1, 8],
    [3, 9, 4],
    [3, 4, 2],
    [3, 2, 6],
    [3, 6, 8],
    [3, 8, 9],
    [4, 9, 5],
    [2, 4, 11],
    [6, 2, 10],
    [8, 6, 7],
    [9, 8, 1],
  ]
  for (let l = 0; l < level; l++) {
    const midpoints = new Map<string, number>()
    const mid = (a: number, b: number): number => {
      const key = a < b ? `${a},${b}` : `${b},${a}`
      let index = midpoints.get(key)
      if (index === undefined) {
        const pa = verts[a]!
        const pb = verts[b]!
        index = verts.push(normalize([(pa[0]! + pb[0]!) / 2, (pa[1]! + pb[1]!) / 2, (pa[2]! + pb[2]!) / 2])) - 1
        midpoints.set(key, index)
      }
      return index
    }
    faces = faces.flatMap(([a, b, c]) => {
      const ab = mid(a!, b!)
      const bc = mid(b!, c!)
      const ca = mid(c!, a!)
      return [
        [a!, ab, ca],
        [b!, bc, ab],
        [c!, ca, bc],
        [ab, bc, ca],
      ]
    })
  }
  return { positions: Float32Array.from(verts.flat()), indices: Uint32Array.from(faces.flat()) }
}

function normalize(v: number[]): number[] {
  const l = Math.hypot(v[0]!, v[1]!, v[2]!)
  return [v[0]! / l, v[1]! / l, v[2]! / l]
}
