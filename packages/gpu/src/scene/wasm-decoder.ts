import { GpuError } from '../errors.js'

/**
 * A decoder whose WebAssembly module is created once per process, on first use. A start that fails (a missing
 * `.wasm`, a module that does not compile) rejects with `GPU__DECODER_UNAVAILABLE` naming the decoder, keeping the
 * cause, and is not kept: the next asset that needs it tries again.
 */
export function onceStarted<T>(decoder: string, start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined
  return () => {
    if (started !== undefined) return started
    const starting: Promise<T> = start().catch((cause: unknown) => {
      // Only this start is forgotten: a later one may already be under way.
      if (started === starting) started = undefined
      if (cause instanceof GpuError) throw cause
      throw new GpuError(
        'GPU__DECODER_UNAVAILABLE',
        `the ${decoder} decoder could not start: ${String((cause as Error)?.message ?? cause)}`,
        { decoder },
        { cause },
      )
    })
    started = starting
    return starting
  }
}
