/**
 * Capped inflation of zlib streams that a decoder will inflate again without a cap (fast-png for PNG, three.js's
 * EXRLoader for OpenEXR, both through fflate): inflating once here with the output capped tells a bomb apart before
 * the decoder allocates whatever it inflates to.
 */
import type { ZlibOptions } from 'node:zlib'
import { GpuError } from '../errors.js'

/**
 * Synchronous raw inflation: Node's, taken through `process.getBuiltinModule` (Node 20.16, 22.3 and later). A Node
 * without it gets an inflater that refuses every stream, since skipping the cap there would let a worker inflate an
 * untrusted texture or panorama uncapped. This module also runs in browsers, which a static `node:zlib` import would
 * stop loading; there the cap is skipped, as a tab that loads its own scene risks only itself, not a worker.
 */
const inflateRawSync: ((data: Uint8Array, options: ZlibOptions) => Uint8Array) | undefined =
  typeof process !== 'object' || typeof process.versions?.node !== 'string'
    ? undefined
    : typeof process.getBuiltinModule === 'function'
      ? process.getBuiltinModule('node:zlib').inflateRawSync
      : () => {
          throw new GpuError(
            'GPU__DECODER_UNAVAILABLE',
            `compressed images are inflated with a cap that needs process.getBuiltinModule (Node 20.16, 22.3 or later); this is ${process.version}`,
            { decoder: 'zlib', node: process.version },
          )
        }

/**
 * Whether a zlib stream inflates to at most `limit` bytes. Its header is checked as fflate checks it (deflate, a
 * window of at most 32 KiB, the check bits, no preset dictionary), then its raw deflate stream is inflated with the
 * output capped: fflate ignores the Adler-32 trailer, so a stream with a wrong one passes here as it decodes there.
 * True without inflating where the runtime has no synchronous inflate.
 *
 * @throws a plain Error when the header is not one fflate reads or the stream does not inflate
 */
export function inflatesWithin(stream: Uint8Array, limit: number): boolean {
  const [cmf = 0, flg = 0] = stream
  if ((cmf & 15) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || (flg & 32) !== 0) {
    throw new Error('its data is not a zlib stream without a preset dictionary')
  }
  if (inflateRawSync === undefined) return true
  try {
    inflateRawSync(stream.subarray(2), { maxOutputLength: limit })
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return false
    throw cause
  }
  return true
}
