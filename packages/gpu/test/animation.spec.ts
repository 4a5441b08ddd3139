import { type Document, type Node, WebIO } from '@gltf-transform/core'
import { describe, expect, it } from 'vitest'
import { generateSceneDocument, loadScene, sceneFromDocument, SceneTimeline } from '../src/index.js'
import { animate } from './helpers/gltf.js'
import { triangleRows } from './helpers/triangles.js'

/** The procedural scene with its diffuse sphere (and its camera) findable by name. */
function still(): { doc: Document; sphere: Node; camera: Node } {
  const doc = generateSceneDocument({ subdivisions: 0 })
  const nodes = doc.getRoot().listNodes()
  return {
    doc,
    sphere: nodes.find((n) => n.getName() === 'diffuse-sphere')!,
    camera: nodes.find((n) => n.getCamera() !== null)!,
  }
}

/** The scene built from the still document with the sphere at `at`: what an animation posing it there must give. */
function withSphereAt(at: [number, number, number]) {
  const { doc, sphere } = still()
  sphere.setTranslation(at)
  return sceneFromDocument(doc)
}

// Keys are float32 in the file: these are exact there, so a pose can be compared with a node placed by hand.
const START: [number, number, number] = [-0.5, 0.375, -0.25]
const END: [number, number, number] = [0.5, 0.375, -0.25]

describe('SceneTimeline', () => {
  it('should build a still scene once, whatever the time', async () => {
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(still().doc))
    expect(timeline.animated).toBe(false)
    expect(timeline.duration).toBe(0)
    expect(timeline.at(3)).toBe(timeline.at(0))
  })

  it('should move a node along its keys, read from GLB bytes, holding the first and last keys outside them', async () => {
    const { doc, sphere } = still()
    animate(doc, sphere, 'translation', [1, 3], [...START, ...END])
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(doc))
    expect(timeline).toMatchObject({ animated: true, duration: 3 })
    expect(triangleRows(timeline.at(0))).toEqual(triangleRows(withSphereAt(START)))
    expect(triangleRows(timeline.at(2))).toEqual(triangleRows(withSphereAt([0, 0.375, -0.25])))
    expect(triangleRows(timeline.at(3))).toEqual(triangleRows(withSphereAt(END)))
    expect(triangleRows(timeline.at(10))).toEqual(triangleRows(withSphereAt(END)))
    // Built again at an earlier time, it is what it was: posing does not accumulate.
    expect(triangleRows(timeline.at(2))).toEqual(triangleRows(withSphereAt([0, 0.375, -0.25])))
    // As stored in the file, after being posed: the node where the file put it, not where the animation left it.
    expect(timeline.stored().triangles).toEqual(sceneFromDocument(still().doc).triangles)
    // loadScene at a time is the timeline at that time.
    expect(triangleRows(await loadScene(await new WebIO().writeBinary(doc), { time: 2 }))).toEqual(
      triangleRows(timeline.at(2)),
    )
  })

  it('should reach a key baked at a frame rate at that very frame, the keys being float32', async () => {
    // A STEP track baked at 24 fps: key k at float32(k / 24), each moving the sphere a step further.
    const { doc, sphere } = still()
    const frames = 48
    const times = Array.from({ length: frames }, (_, k) => k / 24)
    const values = times.flatMap((_, k) => [k / 64, 0.375, -0.25])
    animate(doc, sphere, 'translation', times, values, 'STEP')
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(doc))
    for (const k of [1, 2, 4, 7, 8, 11, 47]) {
      expect(triangleRows(timeline.at(k / 24)), `frame ${k}`).toEqual(
        triangleRows(withSphereAt([k / 64, 0.375, -0.25])),
      )
    }
  })

  it('should hold a STEP key until the next, and follow a CUBICSPLINE through its tangents', async () => {
    const stepped = still()
    animate(stepped.doc, stepped.sphere, 'translation', [0, 1], [...START, ...END], 'STEP')
    const step = await SceneTimeline.load(await new WebIO().writeBinary(stepped.doc))
    expect(triangleRows(step.at(0.99))).toEqual(triangleRows(withSphereAt(START)))
    expect(triangleRows(step.at(1))).toEqual(triangleRows(withSphereAt(END)))

    // x from -0.5 to 0.5 over 2 s, leaving the first key and reaching the second at 0.5 per second (times the
    // interval, a slope of 1 over it): the Hermite curve is the straight line. The tangents on the outer sides (9)
    // must play no part.
    const curved = still()
    const keys = [9, 0, 0, ...START, 0.5, 0, 0, 0.5, 0, 0, ...END, 9, 0, 0]
    animate(curved.doc, curved.sphere, 'translation', [0, 2], keys, 'CUBICSPLINE')
    // Its tree built for this pose, as a fresh scene's: the triangles compare in order.
    const cubic = await SceneTimeline.load(await new WebIO().writeBinary(curved.doc), { topologyTime: 0.5 })
    const quarter = cubic.at(0.5).triangles
    const expected = withSphereAt([-0.25, 0.375, -0.25]).triangles
    for (let i = 0; i < expected.length; i++) expect(quarter[i]).toBeCloseTo(expected[i]!, 5)
  })

  it('should turn a node along the shorter arc and move the camera, the view following it', async () => {
    const { doc, camera } = still()
    const s = Math.SQRT1_2
    // A quarter turn about +y: halfway is an eighth of a turn.
    animate(doc, camera, 'rotation', [0, 2], [0, 0, 0, 1, 0, s, 0, s])
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(doc))
    const ref = still()
    ref.camera.setRotation([0, Math.sin(Math.PI / 8), 0, Math.cos(Math.PI / 8)])
    const halfway = timeline.at(1).camera
    const expected = sceneFromDocument(ref.doc).camera
    for (const [k, v] of Object.entries(expected)) {
      if (Array.isArray(v)) (v as number[]).forEach((x, i) => expect((halfway as never)[k][i]).toBeCloseTo(x, 5))
    }
    expect(timeline.at(0).camera).toEqual(sceneFromDocument(still().doc).camera)
  })

  it('should play one animation of several when asked, by name, and name them when there is no such one', async () => {
    const { doc, sphere } = still()
    animate(doc, sphere, 'translation', [0, 1], [...START, ...END])
    animate(doc, sphere, 'scale', [0, 1], [1, 1, 1, 2, 2, 2])
    const bytes = await new WebIO().writeBinary(doc)
    const moved = await SceneTimeline.load(bytes, { animation: 'diffuse-sphere-translation' })
    expect(triangleRows(moved.at(1))).toEqual(triangleRows(withSphereAt(END)))
    // Both at once: it moves and grows, which is neither pose alone.
    expect(triangleRows((await SceneTimeline.load(bytes)).at(1))).not.toEqual(triangleRows(withSphereAt(END)))
    await expect(SceneTimeline.load(bytes, { animation: 'walk' })).rejects.toMatchObject({
      code: 'GPU__INVALID_INPUT',
      message: expect.stringMatching(
        /no animation named "walk" \(it has "diffuse-sphere-translation", "diffuse-sphere-scale"\)/,
      ),
    })
  })

  it('should refuse keys that go back in time or do not match their outputs, with a coded error', async () => {
    const backwards = still()
    animate(backwards.doc, backwards.sphere, 'translation', [1, 0.5], [...START, ...END])
    await expect(SceneTimeline.load(await new WebIO().writeBinary(backwards.doc))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/strictly increasing/),
    })
    const short = still()
    animate(short.doc, short.sphere, 'translation', [0, 1, 2], [...START, ...END])
    await expect(SceneTimeline.load(await new WebIO().writeBinary(short.doc))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
    })
    const timeline = await SceneTimeline.load(await new WebIO().writeBinary(still().doc))
    const moving = still()
    animate(moving.doc, moving.sphere, 'translation', [0, 1], [...START, ...END])
    const animated = await SceneTimeline.load(await new WebIO().writeBinary(moving.doc))
    expect(() => animated.at(-1)).toThrow(expect.objectContaining({ code: 'GPU__INVALID_INPUT' }))
    expect(() => animated.at(Number.NaN)).toThrow(expect.objectContaining({ code: 'GPU__INVALID_INPUT' }))
    expect(timeline.at(0).triangleCount).toBeGreaterThan(0)
  })
})
