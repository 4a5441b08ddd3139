import { isGpuError } from '../../src/index.js'

/** The code of the GpuError `f` throws, 'uncoded' for any other error, undefined when it throws nothing. */
export function errorCode(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return isGpuError(e) ? e.code : 'uncoded'
  }
  return undefined
}

/** The code of the GpuError `p` rejects with, 'uncoded' for any other error, undefined when it resolves. */
export async function rejectionCode(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isGpuError(e) ? e.code : 'uncoded'),
  )
}
