import { type Accessor, type Document, type Node, WebIO } from '@gltf-transform/core'
import { describe, expect, it, vi } from 'vitest'
import {
  assertAnimationsWithin,
  generateSceneDocument,
  isGpuError,
  MAX_ANIMATION_CHANNELS,
  nodeChannels,
  SceneTimeline,
} from '../src/index.js'

const KEYS = 64

/**
 * The procedural scene with one LINEAR sampler of {@link KEYS} keys moving its diffuse sphere along x, read by
 * `channels` channels of one animation: what an exporter writes when tracks share their keys, and what a hostile
 * file repeats to multiply them.
 */
function sharedSampler(channels: number): { doc: Document; sphere: Node; input: Accessor; output: Accessor } {
  const doc = generateSceneDocument({ subdivisions: 0 })
  const sphere = doc
    .getRoot()
    .listNodes()
    .find((n) => n.getName() === 'diffuse-sphere')!
  const buffer = doc.getRoot().listBuffers()[0]!
  const times = Float32Array.from({ length: KEYS }, (_, k) => k / 16)
  const values = Float32Array.from({ length: KEYS * 3 }, (_, i) => (i % 3 === 0 ? (i / 3 - KEYS / 2) / 64 : 0.25))
  const input = doc.createAccessor().setType('SCALAR').setArray(times).setBuffer(buffer)
  const output = doc.createAccessor().setType('VEC3').setArray(values).setBuffer(buffer)
  const sampler = doc.createAnimationSampler().setInput(input).setOutput(output).setInterpolation('LINEAR')
  const animation = doc.createAnimation('shared').addSampler(sampler)
  for (let c = 0; c < channels; c++) {
    animation.addChannel(
      doc.createAnimationChannel().setTargetNode(sphere).setTargetPath('translation').setSampler(sampler),
    )
  }
  return { doc, sphere, input, output }
}

/** glTF JSON of one node and `channels` channels (and samplers) of one key each: only its counts matter. */
function manyChannels(channels: number, samplers = 1): Record<string, unknown> {
  return {
    asset: { version: '2.0' },
    nodes: [{}],
    animations: [
      {
        samplers: Array.from({ length: samplers }, () => ({ input: 0, output: 0 })),
        channels: Array.from({ length: channels }, () => ({ sampler: 0, target: { node: 0, path: 'weights' } })),
      },
    ],
  }
}

describe('animation bounds', () => {
  it('should decode a sampler shared by many channels once, each channel reading the same keys', () => {
    const { doc, input, output } = sharedSampler(50)
    const inputReads = vi.spyOn(input, 'getElement')
    const outputReads = vi.spyOn(output, 'getElement')
    const channels = nodeChannels(doc)
    expect(channels).toHaveLength(50)
    expect(inputReads).toHaveBeenCalledTimes(KEYS)
    expect(outputReads).toHaveBeenCalledTimes(KEYS)
    for (const channel of channels) {
      expect(channel.times).toBe(channels[0]!.times)
      expect(channel.values).toBe(channels[0]!.values)
    }
  })

  it('should play channels that share a sampler as it played them one by one', async () => {
    const shared = await SceneTimeline.load(await new WebIO().writeBinary(sharedSampler(3).doc))
    const single = await SceneTimeline.load(await new WebIO().writeBinary(sharedSampler(1).doc))
    expect(shared.duration).toBe(single.duration)
    for (const time of [0, 0.3, 1.5, 10]) expect(shared.at(time).triangles).toEqual(single.at(time).triangles)
  })

  it('should count each shared accessor once, and refuse key floats past the bound before decoding any', () => {
    const { doc, input, output } = sharedSampler(50)
    // KEYS times and KEYS vec3 values, however many channels read them.
    const floats = KEYS * 4
    expect(nodeChannels(doc, undefined, { maxKeyFloats: floats })).toHaveLength(50)
    const reads = [vi.spyOn(input, 'getElement'), vi.spyOn(output, 'getElement')]
    let error: unknown
    try {
      nodeChannels(doc, undefined, { maxKeyFloats: floats - 1 })
    } catch (e) {
      error = e
    }
    expect(isGpuError(error, 'GPU__SCENE_TOO_LARGE')).toBe(true)
    expect(error).toMatchObject({ context: { floats, limit: floats - 1 } })
    for (const read of reads) expect(read).not.toHaveBeenCalled()
  })

  it(`should refuse more than ${MAX_ANIMATION_CHANNELS} channels or samplers in the file before parsing it`, async () => {
    expect(() => assertAnimationsWithin(manyChannels(MAX_ANIMATION_CHANNELS, MAX_ANIMATION_CHANNELS))).not.toThrow()
    const bytes = (json: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(json))
    await expect(SceneTimeline.load(bytes(manyChannels(MAX_ANIMATION_CHANNELS + 1)))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { channels: MAX_ANIMATION_CHANNELS + 1, limit: MAX_ANIMATION_CHANNELS },
    })
    await expect(SceneTimeline.load(bytes(manyChannels(1, MAX_ANIMATION_CHANNELS + 1)))).rejects.toMatchObject({
      code: 'GPU__SCENE_TOO_LARGE',
      context: { samplers: MAX_ANIMATION_CHANNELS + 1, limit: MAX_ANIMATION_CHANNELS },
    })
  })
})
