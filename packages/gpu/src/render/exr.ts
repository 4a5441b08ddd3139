import { DataTexture, FloatType, RGBAFormat } from 'three'
import { EXRExporter } from 'three/examples/jsm/exporters/EXRExporter.js'
import { assertImage, type LinearImage } from './image.js'

/**
 * Encodes a linear image losslessly as OpenEXR (32-bit float RGBA, ZIP-compressed, top row first) with three.js's
 * exporter: the radiance the checks verified, for compositing and grading, where an 8-bit PNG has already clipped
 * and tone-mapped it.
 */
export async function encodeExr(image: LinearImage): Promise<Uint8Array> {
  assertImage(image)
  const { width, height, pixels } = image
  // The exporter writes a texture's rows bottom-up, as WebGL stores them: hand it the rows in that order.
  const rows = new Float32Array(pixels.length)
  for (let y = 0; y < height; y++) {
    rows.set(pixels.subarray(y * width * 4, (y + 1) * width * 4), (height - 1 - y) * width * 4)
  }
  return new EXRExporter().parse(new DataTexture(rows, width, height, RGBAFormat, FloatType), { type: FloatType })
}
