import { broadcastStrides } from './shapes.js'
import { sizeOf } from './tensor.js'

/**
 * Calls `f(o, offsets)` for every element `o` of `out` in row-major order, where `offsets[k]` is the element of
 * operand `k` (of shape `operands[k]`) that numpy broadcasting pairs with it. The CPU reference's elementwise
 * kernels and the runtime's host integer operators share this walk.
 */
export function forEachBroadcast(
  out: readonly number[],
  operands: readonly (readonly number[])[],
  f: (o: number, offsets: readonly number[]) => void,
): void {
  const strides = operands.map((shape) => broadcastStrides(shape, out))
  const total = sizeOf(out)
  const rank = out.length
  const idx = new Array<number>(rank).fill(0)
  const offsets = operands.map(() => 0)
  for (let o = 0; o < total; o++) {
    f(o, offsets)
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++
      for (let k = 0; k < offsets.length; k++) offsets[k]! += strides[k]![d]!
      if (idx[d]! < out[d]!) break
      for (let k = 0; k < offsets.length; k++) offsets[k]! -= strides[k]![d]! * out[d]!
      idx[d] = 0
    }
  }
}
