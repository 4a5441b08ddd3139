import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/gpu`. Codes are stable: never reused or renamed. */
export type GpuErrorCode = 'GPU__INVALID_INPUT'

/** An error raised by `@tessera/gpu`. */
export class GpuError extends TesseraError<GpuErrorCode> {
  static override name = 'GpuError'
}

/** Narrows `e` to a {@link GpuError}, optionally with the given code. */
export function isGpuError<C extends GpuErrorCode>(e: unknown, code?: C): e is GpuError & { code: C } {
  return e instanceof GpuError && (code === undefined || e.code === code)
}
