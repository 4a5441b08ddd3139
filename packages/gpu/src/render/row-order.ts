/**
 * The order an abortable render traces a tile's rows in: `order[k]` is the index (into the tile's rows) of the k-th
 * row traced. The rows go in bands of `band` rows, and the bands in bit-reversed order, so any run of consecutive
 * bands is spread evenly over the tile. A dispatch then costs about its share of the whole tile whatever part of the
 * image is costly, and the time measured for one dispatch foretells the next: traced top to bottom, cheap background
 * rows timed near nothing and let the dispatch pacer grow one dispatch over the costly rows below to many seconds.
 */
export function spreadRows(count: number, band: number): Uint32Array {
  const bands = Math.ceil(count / band)
  const bits = Math.ceil(Math.log2(Math.max(1, bands)))
  const order = new Uint32Array(count)
  let k = 0
  for (let i = 0; i < 1 << bits; i++) {
    const b = reverseBits(i, bits)
    if (b >= bands) continue
    for (let row = b * band; row < Math.min(count, (b + 1) * band); row++) order[k++] = row
  }
  return order
}

/**
 * Puts rows traced in `order` (see {@link spreadRows}) back in the tile's order, in place: `pixels` holds the row
 * `order[k]` at row slot k, each row `rowFloats` floats long; after, it holds row i at slot i. Moves each row once,
 * holding one row aside per cycle of the permutation, so a large tile needs no second copy.
 */
export function unspreadRows(pixels: Float32Array, order: Uint32Array, rowFloats: number): void {
  const slotOf = new Uint32Array(order.length)
  for (let k = 0; k < order.length; k++) slotOf[order[k]!] = k
  const placed = new Uint8Array(order.length)
  const held = new Float32Array(rowFloats)
  for (let start = 0; start < order.length; start++) {
    if (placed[start] === 1 || slotOf[start] === start) continue
    // Slot `start` wants the row now in slot slotOf[start], which wants the one in its own slotOf, and so on round
    // the cycle back to `start`, whose row was held aside before its slot was written.
    held.set(pixels.subarray(start * rowFloats, (start + 1) * rowFloats))
    let slot = start
    for (let from = slotOf[slot]!; from !== start; from = slotOf[slot]!) {
      pixels.copyWithin(slot * rowFloats, from * rowFloats, (from + 1) * rowFloats)
      placed[slot] = 1
      slot = from
    }
    pixels.set(held, slot * rowFloats)
    placed[slot] = 1
  }
}

function reverseBits(value: number, bits: number): number {
  let reversed = 0
  for (let i = 0; i < bits; i++) reversed |= ((value >>> i) & 1) << (bits - 1 - i)
  return reversed
}
