import { describe, expect, it } from 'vitest'
import { spreadRows, unspreadRows } from '../src/render/row-order.js'

describe('row order', () => {
  it('should take every row once, in bands, the bands in bit-reversed order', () => {
    expect([...spreadRows(8, 1)]).toEqual([0, 4, 2, 6, 1, 5, 3, 7])
    // Three bands of 8 (the last short): bands 0, 2, 1.
    expect([...spreadRows(20, 8)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 12, 13, 14, 15])
    expect([...spreadRows(1, 8)]).toEqual([0])
    for (const [count, band] of [
      [1, 1],
      [5, 1],
      [100, 1],
      [100, 8],
      [513, 8],
    ] as const) {
      const order = [...spreadRows(count, band)]
      expect(order.toSorted((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i))
    }
  })

  it('should spread any aligned run of rows evenly over the tile', () => {
    // 256 rows one by one: each aligned run of 2^k rows holds one row of each 2^k-th part of the tile.
    const order = spreadRows(256, 1)
    for (let run = 1; run <= 256; run *= 2) {
      for (let start = 0; start < 256; start += run) {
        const parts = [...order.subarray(start, start + run)].map((row) => Math.floor((row * run) / 256))
        expect(parts.toSorted((a, b) => a - b)).toEqual(Array.from({ length: run }, (_, i) => i))
      }
    }
  })

  it('should put rows traced in spread order back in place', () => {
    for (const [count, band] of [
      [1, 1],
      [7, 1],
      [20, 8],
      [100, 1],
      [513, 8],
    ] as const) {
      const order = spreadRows(count, band)
      const width = 3
      // Slot k holds row order[k], every float of it the row's index.
      const pixels = new Float32Array(count * width * 4)
      for (let k = 0; k < count; k++) pixels.fill(order[k]!, k * width * 4, (k + 1) * width * 4)
      unspreadRows(pixels, order, width * 4)
      const expected = new Float32Array(count * width * 4)
      for (let row = 0; row < count; row++) expected.fill(row, row * width * 4, (row + 1) * width * 4)
      expect(pixels).toEqual(expected)
    }
  })
})
