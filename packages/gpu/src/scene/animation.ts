import type { Accessor, Animation, Document, Node } from '@gltf-transform/core'
import { MAX_ANIMATION_CHANNELS, MAX_ANIMATION_KEY_FLOATS } from '../constants.js'
import { GpuError } from '../errors.js'

/**
 * A node property an animation moves. Translation and scale are vec3, rotation a quaternion; `weights` are the morph
 * target weights of the node's mesh, one per target.
 */
type NodePath = 'translation' | 'rotation' | 'scale' | 'weights'
const WIDTH: Record<Exclude<NodePath, 'weights'>, number> = { translation: 3, rotation: 4, scale: 3 }

/** How many morph targets the mesh of `node` has (its first primitive's, as glTF has every primitive agree). */
function morphTargetsOf(node: Node): number {
  return node.getMesh()?.listPrimitives()[0]?.listTargets().length ?? 0
}

/** One channel that moves a node, its keys read and checked once. */
export interface NodeChannel {
  readonly node: Node
  readonly path: NodePath
  readonly interpolation: 'STEP' | 'LINEAR' | 'CUBICSPLINE'
  /** Floats per value: 3, 4, or the number of morph targets. */
  readonly width: number
  /** Key times in seconds, strictly increasing. */
  readonly times: Float64Array
  /** `width` floats per key; CUBICSPLINE keys hold in-tangent, value and out-tangent, in that order. */
  readonly values: Float64Array
}

const malformed = (why: string, context: Record<string, unknown> = {}): GpuError =>
  new GpuError('GPU__MALFORMED_SCENE', `an animation of the glTF asset is malformed: ${why}`, context)

/** Every float of `accessor`, decoded from normalized integers where it holds them. */
function floatsOf(accessor: Accessor, label: string): Float64Array {
  const out = new Float64Array(accessor.getCount() * accessor.getElementSize())
  const element: number[] = []
  for (let i = 0, at = 0; i < accessor.getCount(); i++) {
    accessor.getElement(i, element)
    for (const v of element) {
      if (!Number.isFinite(v)) throw malformed(`${label} holds a value that is not finite`)
      out[at++] = v
    }
  }
  return out
}

/**
 * The keys of one read of a document's animations, each accessor decoded (and checked as key times) once however
 * many channels read it: channels share samplers, and a copy for each would hold channels times keys floats where
 * the file stores the keys once.
 */
class KeyReader {
  readonly #floats = new Map<Accessor, Float64Array>()
  readonly #times = new Set<Accessor>()

  /** The floats of `accessor`, `width` to an element. */
  floats(accessor: Accessor, width: number, label: string): Float64Array {
    if (accessor.getElementSize() !== width) {
      throw malformed(`${label} has ${accessor.getElementSize()} components per element, not ${width}`)
    }
    let floats = this.#floats.get(accessor)
    if (floats === undefined) {
      floats = floatsOf(accessor, label)
      this.#floats.set(accessor, floats)
    }
    return floats
  }

  /** The key times `accessor` holds: finite, at least 0 and strictly increasing. */
  times(accessor: Accessor): Float64Array {
    const times = this.floats(accessor, 1, 'a sampler input')
    if (this.#times.has(accessor)) return times
    if (times.length === 0) throw malformed('a sampler has no keys')
    for (let i = 0; i < times.length; i++) {
      if (times[i]! < 0 || (i > 0 && !(times[i]! > times[i - 1]!))) {
        throw malformed('key times must be at least 0 and strictly increasing', { key: i })
      }
    }
    this.#times.add(accessor)
    return times
  }
}

/** Bounds on what {@link nodeChannels} decodes. */
export interface AnimationBounds {
  /**
   * Most floats the distinct accessors of the played channels' samplers may hold together, checked before any is
   * decoded.
   *
   * @default MAX_ANIMATION_KEY_FLOATS
   */
  maxKeyFloats?: number
}

/**
 * Refuses glTF JSON whose animations hold more than {@link MAX_ANIMATION_CHANNELS} channels, or as many samplers,
 * before glTF-Transform makes a property of each.
 *
 * @throws GPU__SCENE_TOO_LARGE past the bound
 */
export function assertAnimationsWithin(json: Record<string, unknown>): void {
  const animations = Array.isArray(json.animations) ? (json.animations as unknown[]) : []
  const count = (list: 'channels' | 'samplers'): number =>
    animations.reduce<number>((sum, a) => {
      const items = (a as Record<string, unknown> | null)?.[list]
      return sum + (Array.isArray(items) ? items.length : 0)
    }, 0)
  for (const list of ['channels', 'samplers'] as const) {
    const n = count(list)
    if (n > MAX_ANIMATION_CHANNELS) {
      throw new GpuError(
        'GPU__SCENE_TOO_LARGE',
        `the glTF asset's animations hold ${n} ${list}, more than ${MAX_ANIMATION_CHANNELS}`,
        { [list]: n, limit: MAX_ANIMATION_CHANNELS },
      )
    }
  }
}

/**
 * Refuses animations whose channels' samplers read more than `limit` floats, each accessor counted once, before
 * any is decoded.
 */
function assertKeyFloatsWithin(animations: readonly Animation[], limit: number): void {
  const accessors = new Set<Accessor>()
  for (const animation of animations) {
    for (const channel of animation.listChannels()) {
      if (channel.getTargetNode() === null || channel.getTargetPath() === null) continue
      const sampler = channel.getSampler()
      for (const accessor of [sampler?.getInput(), sampler?.getOutput()]) if (accessor) accessors.add(accessor)
    }
  }
  let floats = 0
  for (const accessor of accessors) floats += accessor.getCount() * accessor.getElementSize()
  if (floats > limit) {
    throw new GpuError('GPU__SCENE_TOO_LARGE', `the animations played hold ${floats} key floats, more than ${limit}`, {
      floats,
      limit,
    })
  }
}

/**
 * The channels of `doc`'s animations that move nodes (glTF 2.0 section 3.11), read and checked: key times finite,
 * at least 0 and strictly increasing, one output per key (three for CUBICSPLINE); a weights channel, one output per
 * morph target of the node's mesh in each key. Joints are nodes, so their channels move skinned meshes. With `only`,
 * the channels of the animation of that name alone (GPU__INVALID_INPUT, naming those there are, when there is none).
 * Channels that share a sampler share its keys' arrays.
 *
 * @throws GPU__SCENE_TOO_LARGE when the played channels' keys hold more than `bounds.maxKeyFloats` floats
 */
export function nodeChannels(doc: Document, only?: string, bounds: AnimationBounds = {}): NodeChannel[] {
  const animations = doc.getRoot().listAnimations()
  const played = only === undefined ? animations : animations.filter((a) => a.getName() === only)
  if (only !== undefined && played.length === 0) {
    // A few names, each cut short: the file, from anywhere, chooses them.
    const names = animations.slice(0, 8).map((a) => a.getName().slice(0, 64))
    const more = animations.length > names.length ? ', ...' : ''
    const listed = names.length > 0 ? ` (it has ${names.map((n) => JSON.stringify(n)).join(', ')}${more})` : ''
    throw new GpuError(
      'GPU__INVALID_INPUT',
      `the scene has no animation named ${JSON.stringify(only.slice(0, 64))}${listed}`,
      { animation: only.slice(0, 64), animations: names },
    )
  }
  assertKeyFloatsWithin(played, bounds.maxKeyFloats ?? MAX_ANIMATION_KEY_FLOATS)
  const keys = new KeyReader()
  const channels: NodeChannel[] = []
  for (const animation of played) {
    for (const channel of animation.listChannels()) {
      const node = channel.getTargetNode()
      const path = channel.getTargetPath()
      const sampler = channel.getSampler()
      if (node === null || path === null) continue
      if (path !== 'weights' && !(path in WIDTH)) throw malformed(`a channel animates ${String(path)}`, { path })
      const width = path === 'weights' ? morphTargetsOf(node) : WIDTH[path as keyof typeof WIDTH]
      // Weights of a mesh with no morph targets move nothing.
      if (width === 0) continue
      const input = sampler?.getInput()
      const output = sampler?.getOutput()
      if (sampler === null || sampler === undefined || input == null || output == null) {
        throw malformed(`a channel of ${node.getName() || 'a node'} has no sampler keys`)
      }
      const interpolation = sampler.getInterpolation()
      if (interpolation !== 'STEP' && interpolation !== 'LINEAR' && interpolation !== 'CUBICSPLINE') {
        throw malformed(`interpolation ${String(interpolation)} is not STEP, LINEAR or CUBICSPLINE`)
      }
      const nodePath = path as NodePath
      const times = keys.times(input)
      // Weights are scalars, one per target in each key; the others one element per key.
      const values = keys.floats(output, nodePath === 'weights' ? 1 : width, 'a sampler output')
      const perKey = (interpolation === 'CUBICSPLINE' ? 3 : 1) * width
      if (values.length !== times.length * perKey) {
        throw malformed(`a sampler has ${times.length} key times and ${values.length / perKey} outputs`)
      }
      channels.push({ node, path: nodePath, interpolation, width, times, values })
    }
  }
  return channels
}

/** The time of the last key of any channel, in seconds: how long the animation plays. */
export function durationOf(channels: readonly NodeChannel[]): number {
  return channels.reduce((end, c) => Math.max(end, c.times[c.times.length - 1]!), 0)
}

/**
 * Sets each animated node's translation, rotation or scale to its value at `time` seconds. Every animation plays at
 * once from time 0, and holds its first key before it and its last after it. LINEAR rotations are spherical
 * (slerp); CUBICSPLINE is the Hermite spline of glTF 2.0 appendix C, rotations normalized after it.
 */
export function poseAt(channels: readonly NodeChannel[], time: number): void {
  if (!Number.isFinite(time) || time < 0) {
    throw new GpuError('GPU__INVALID_INPUT', `an animation time must be finite and at least 0, not ${time}`, { time })
  }
  for (const channel of channels) {
    const value = sample(channel, time)
    if (channel.path === 'rotation') channel.node.setRotation(value as [number, number, number, number])
    else if (channel.path === 'translation') channel.node.setTranslation(value as [number, number, number])
    else if (channel.path === 'scale') channel.node.setScale(value as [number, number, number])
    else channel.node.setWeights(value)
  }
}

/**
 * A channel's value at `time`, taken in float32 as the keys are: frame 7 at 24 fps is float32(7 / 24) in a file
 * baked at that rate, a hair above the double 7 / 24, and a STEP key there must be reached at that frame.
 */
function sample(channel: NodeChannel, seconds: number): number[] {
  const time = Math.fround(seconds)
  const { times, values, interpolation, path, width } = channel
  const cubic = interpolation === 'CUBICSPLINE'
  const stride = cubic ? 3 * width : width
  // The value of key `k` (the middle third of a cubic key).
  const key = (k: number): number[] => {
    const at = k * stride + (cubic ? width : 0)
    return Array.from(values.subarray(at, at + width))
  }
  const last = times.length - 1
  if (time <= times[0]!) return key(0)
  if (time >= times[last]!) return key(last)
  // The last key at or before `time`.
  let lo = 0
  let hi = last
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! <= time) lo = mid
    else hi = mid
  }
  const t0 = times[lo]!
  const dt = times[lo + 1]! - t0
  const u = (time - t0) / dt
  if (interpolation === 'STEP') return key(lo)
  const [p0, p1] = [key(lo), key(lo + 1)]
  if (!cubic) return path === 'rotation' ? slerp(p0, p1, u) : p0.map((a, k) => a + (p1[k]! - a) * u)
  // Out-tangent of key lo and in-tangent of key lo + 1, scaled by the interval.
  const m0 = Array.from(values.subarray(lo * stride + 2 * width, lo * stride + 3 * width), (v) => v * dt)
  const m1 = Array.from(values.subarray((lo + 1) * stride, (lo + 1) * stride + width), (v) => v * dt)
  const u2 = u * u
  const u3 = u2 * u
  const out = p0.map(
    (a, k) => (2 * u3 - 3 * u2 + 1) * a + (u3 - 2 * u2 + u) * m0[k]! + (-2 * u3 + 3 * u2) * p1[k]! + (u3 - u2) * m1[k]!,
  )
  return path === 'rotation' ? normalized(out) : out
}

/** Spherical interpolation between unit quaternions, along the shorter arc. */
function slerp(a: number[], b: number[], u: number): number[] {
  let dot = a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]! + a[3]! * b[3]!
  const sign = dot < 0 ? -1 : 1
  dot *= sign
  // Nearly the same rotation: the straight line between them is as good and does not divide by a tiny sine.
  if (dot > 0.9995) return normalized(a.map((x, k) => x + (sign * b[k]! - x) * u))
  const theta = Math.acos(dot)
  const sin = Math.sin(theta)
  const wa = Math.sin((1 - u) * theta) / sin
  const wb = (sign * Math.sin(u * theta)) / sin
  return a.map((x, k) => wa * x + wb * b[k]!)
}

function normalized(q: number[]): number[] {
  const length = Math.hypot(...q)
  return length > 0 ? q.map((x) => x / length) : [0, 0, 0, 1]
}
