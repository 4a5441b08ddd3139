import { GpuError } from './errors.js'
import type { RenderedTile } from './render/tile.js'
import type { Tensor } from './tensor/tensor.js'
import { sizeOf } from './tensor/tensor.js'

/**
 * Output chunking for commitments. A render tile's chunk i is its row i as RGBA float32 little-endian (16 bytes
 * per pixel; float32 rather than 8-bit so same-driver checks can be bitwise and cross-driver checks see the real
 * radiance). A tensor's chunk i is batch item i (axis 0) as float32 little-endian. The proof package builds its
 * Merkle tree over these byte arrays; verifiers recompute a challenged chunk with `rows` / `items`.
 */

const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** The little-endian bytes of float32 values (a copy). */
export function float32Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4)
  if (littleEndian) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
  else {
    const view = new DataView(out.buffer)
    values.forEach((v, i) => view.setFloat32(i * 4, v, true))
  }
  return out
}

/** Float32 values from little-endian bytes (a copy). */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new GpuError('GPU__INVALID_INPUT', 'float32 bytes must be a multiple of 4 long', { bytes: bytes.byteLength })
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(bytes.byteLength / 4)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

/** One chunk per row present in the tile (all rows for a full tile), in `tile.rows` order. */
export function tileRowChunks(tile: RenderedTile): Uint8Array[] {
  return tile.rows.map((row) => tileRowChunk(tile, row))
}

/** The chunk of tile-relative row `row`, which must be present in `tile.rows`. */
export function tileRowChunk(tile: RenderedTile, row: number): Uint8Array {
  const k = tile.rows.indexOf(row)
  if (k < 0) throw new GpuError('GPU__INVALID_TILE', `row ${row} is not in this tile output`, { row })
  const stride = tile.width * 4
  return float32Bytes(tile.pixels.subarray(k * stride, (k + 1) * stride))
}

/** One chunk per batch item (axis 0) of a tensor. */
export function tensorItemChunks(t: Tensor): Uint8Array[] {
  if (t.shape.length === 0) return [float32Bytes(t.data)]
  const itemSize = sizeOf(t.shape.slice(1))
  return Array.from({ length: t.shape[0]! }, (_, i) => float32Bytes(t.data.subarray(i * itemSize, (i + 1) * itemSize)))
}
