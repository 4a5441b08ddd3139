import type { GpuContext } from '../../src/device/context.js'

/** A path-tracing dispatch the fake context was given: the tile rows it traced and the samples of each. */
export interface FakeDispatch {
  /** Tile-relative rows, in the order the dispatch holds them. */
  rows: number[]
  sampleCount: number
}

/** A device context with no device, and what it saw. */
export interface FakeContext {
  ctx: GpuContext
  /** Buffers made and not yet destroyed. */
  live: Set<object>
  /** Path-tracing dispatches submitted, in order. */
  dispatches: FakeDispatch[]
}

/**
 * A device context that makes buffers it counts and records the path-tracing dispatches submitted to it, read from
 * their parameter blocks (the words packParams writes: rows 5, first row 11, samples an invocation 9, groups 32). It
 * throws, as a device past its limits would, from the upload labelled `failing`, or from `bind` or `submit` when
 * `failing` names that call.
 */
export function fakeContext(failing?: string): FakeContext {
  const live = new Set<object>()
  const params = new WeakMap<object, Uint32Array>()
  const dispatches: FakeDispatch[] = []
  let tileRows = new Uint32Array(0)
  const buffer = (): GPUBuffer => {
    const b = { destroy: () => void live.delete(b) }
    live.add(b)
    return b as unknown as GPUBuffer
  }
  const fail = (what: string): void => {
    if (what === failing) throw new Error(`${what} is past the device's limits`)
  }
  const ctx = {
    device: { limits: { maxComputeWorkgroupsPerDimension: 65_535 } },
    assertUsable: () => {},
    checkAllocation: () => {},
    checkDispatch: () => {},
    scoped: (_what: string, work: () => Promise<unknown>) => work(),
    pipeline: () => ({}),
    upload: (data: ArrayBufferView, what: string) => {
      fail(what)
      if (what === 'tile rows') tileRows = Uint32Array.from(data as Uint32Array)
      return buffer()
    },
    createStorage: () => buffer(),
    uniform: (data: ArrayBuffer) => {
      const b = buffer()
      params.set(b, new Uint32Array(data.slice(0)))
      return b
    },
    bind: (_pipeline: unknown, entries: Record<number, GPUBuffer>) => {
      fail('bind')
      return { params: entries[0] }
    },
    submit: (passes: readonly { bindGroup: { params: object } }[]) => {
      fail('submit')
      const u = params.get(passes[0]!.bindGroup.params)!
      const first = u[11]!
      dispatches.push({ rows: [...tileRows.subarray(first, first + u[5]!)], sampleCount: u[9]! * u[32]! })
    },
    idle: async () => {},
    read: async (_source: GPUBuffer, bytes: number) => new ArrayBuffer(bytes),
  }
  return { ctx: ctx as unknown as GpuContext, live, dispatches }
}
