import { describe, expect, it } from 'vitest'
import { loadScene } from '../src/index.js'
import { rejectionCode } from './helpers/errors.js'
import { quadGltf, type QuadJson } from './helpers/gltf.js'

/** The quad's primitive. */
const primitiveOf = (j: QuadJson) => j.meshes[0]!.primitives[0]!

/** A third accessor: the quad's positions read again as `type` of `componentType`, with `extra` properties. */
function positionsAs(j: QuadJson, type: string, componentType: number, extra: Record<string, unknown> = {}): number {
  j.accessors.push({ bufferView: 0, componentType, count: 4, type, ...extra })
  return j.accessors.length - 1
}

describe('glTF structure', () => {
  it('should refuse nodes that do not form disjoint trees', async () => {
    const cases: Array<[string, (j: QuadJson) => void]> = [
      ['a node its own child', (j) => (j.nodes[0]!.children = [0])],
      [
        'two nodes each the other\u2019s child',
        (j) => {
          j.nodes[0]!.children = [1]
          j.nodes.push({ mesh: 0, children: [0] })
        },
      ],
      ['two nodes in a cycle outside the scene', (j) => j.nodes.push({ mesh: 0, children: [2] }, { children: [1] })],
      [
        'a node with two parents',
        (j) => {
          j.nodes = [{ children: [2] }, { children: [2], translation: [5, 0, 0] }, { mesh: 0 }]
          j.scenes[0]!.nodes = [0, 1]
        },
      ],
      [
        'a node listed twice as one node\u2019s child',
        (j) => {
          j.nodes = [{ children: [1, 1] }, { mesh: 0 }]
        },
      ],
      [
        'a scene root that is also a child',
        (j) => {
          j.nodes[0]!.children = [1]
          j.nodes.push({ mesh: 0, translation: [3, 0, 0] })
          j.scenes[0]!.nodes = [0, 1]
        },
      ],
      ['a scene root listed twice', (j) => (j.scenes[0]!.nodes = [0, 0])],
    ]
    for (const [name, edit] of cases) {
      expect(await rejectionCode(loadScene(quadGltf(edit))), name).toBe('GPU__MALFORMED_SCENE')
    }
  })

  it('should load a tree of nodes, and one node a root of two scenes', async () => {
    const tree = quadGltf((j) => {
      j.nodes = [{ children: [1, 2] }, { mesh: 0 }, { mesh: 0, translation: [3, 0, 0], children: [3] }, { mesh: 0 }]
      j.scenes.push({ nodes: [0] })
    })
    expect((await loadScene(tree)).triangleCount).toBe(6)
  })

  it('should refuse an index that names nothing', async () => {
    const cases: Array<[string, (j: QuadJson) => void]> = [
      ['scene', (j) => (j.scene = 3)],
      ['scene root', (j) => (j.scenes[0]!.nodes = [4])],
      ['child', (j) => (j.nodes[0]!.children = [7])],
      ['mesh', (j) => (j.nodes[0]!.mesh = 2)],
      ['camera', (j) => (j.nodes[0]!.camera = 0)],
      ['skin', (j) => (j.nodes[0]!.skin = 0)],
      ['material', (j) => (primitiveOf(j).material = 5)],
      ['attribute accessor', (j) => (primitiveOf(j).attributes.NORMAL = 9)],
      ['indices accessor', (j) => (primitiveOf(j).indices = -1)],
      ['morph target accessor', (j) => (primitiveOf(j).targets = [{ POSITION: 9 }])],
      [
        'texture',
        (j) => {
          j.materials = [{ emissiveTexture: { index: 4 } }]
          primitiveOf(j).material = 0
        },
      ],
      [
        'image',
        (j) => {
          j.textures = [{ source: 2 }]
        },
      ],
      ['sampler', (j) => (j.textures = [{ sampler: 0 }])],
      ['skin joint', (j) => (j.skins = [{ joints: [3] }])],
    ]
    for (const [name, edit] of cases) {
      expect(await rejectionCode(loadScene(quadGltf(edit))), name).toBe('GPU__MALFORMED_SCENE')
    }
  })

  it('should refuse an accessor its semantic does not allow, or normalized floats', async () => {
    const cases: Array<[string, (j: QuadJson) => void]> = [
      ['POSITION as VEC2', (j) => (primitiveOf(j).attributes.POSITION = positionsAs(j, 'VEC2', 5126))],
      ['POSITION as unsigned bytes', (j) => (primitiveOf(j).attributes.POSITION = positionsAs(j, 'VEC3', 5121))],
      ['TEXCOORD_0 as VEC3', (j) => (primitiveOf(j).attributes.TEXCOORD_0 = positionsAs(j, 'VEC3', 5126))],
      ['NORMAL as unsigned shorts', (j) => (primitiveOf(j).attributes.NORMAL = positionsAs(j, 'VEC3', 5123))],
      ['COLOR_0 as bytes not normalized', (j) => (primitiveOf(j).attributes.COLOR_0 = positionsAs(j, 'VEC3', 5121))],
      ['indices as floats', (j) => (primitiveOf(j).indices = positionsAs(j, 'SCALAR', 5126))],
      ['indices normalized', (j) => (j.accessors[1]!.normalized = true)],
      ['normalized floats', (j) => (j.accessors[0]!.normalized = true)],
      ['normalized 32-bit integers', (j) => positionsAs(j, 'SCALAR', 5125, { normalized: true })],
      ['normalized not a boolean', (j) => (j.accessors[0]!.normalized = 1)],
      ['a morph target of VEC2', (j) => (primitiveOf(j).targets = [{ POSITION: positionsAs(j, 'VEC2', 5126) }])],
    ]
    for (const [name, edit] of cases) {
      expect(await rejectionCode(loadScene(quadGltf(edit))), name).toBe('GPU__MALFORMED_SCENE')
    }
  })

  it('should load integer attributes where the core specification or KHR_mesh_quantization allows them', async () => {
    // Positions as shorts, 8 bytes apart: what KHR_mesh_quantization allows, and the core specification does not.
    const bin = new Uint8Array(44)
    new Int16Array(bin.buffer, 0, 16).set([-1, -1, 0, 0, 1, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0])
    new Uint16Array(bin.buffer, 32, 6).set([0, 1, 2, 0, 2, 3])
    const shorts = (quantized: boolean) => (j: QuadJson) => {
      if (quantized) j.extensionsUsed = j.extensionsRequired = ['KHR_mesh_quantization']
      j.buffers[0]!.byteLength = 44
      j.bufferViews = [
        { buffer: 0, byteOffset: 0, byteLength: 32, byteStride: 8 },
        { buffer: 0, byteOffset: 32, byteLength: 12 },
      ]
      j.accessors[0] = { bufferView: 0, componentType: 5122, count: 4, type: 'VEC3', min: [-1, -1, 0], max: [1, 1, 0] }
      // Colours as normalized unsigned bytes, which the core specification allows.
      j.bufferViews.push({ buffer: 0, byteOffset: 0, byteLength: 32, byteStride: 8 })
      j.accessors.push({ bufferView: 2, componentType: 5121, normalized: true, count: 4, type: 'VEC4' })
      primitiveOf(j).attributes.COLOR_0 = 2
    }
    expect((await loadScene(quadGltf(shorts(true), bin))).triangleCount).toBe(2)
    expect(await rejectionCode(loadScene(quadGltf(shorts(false), bin)))).toBe('GPU__MALFORMED_SCENE')
  })
})
