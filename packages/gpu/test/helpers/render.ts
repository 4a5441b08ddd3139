import type { RenderTileOptions, Scene } from '../../src/index.js'

/** A whole square image `side` pixels wide as one tile of frame 0, with `extra` options over those defaults. */
export function wholeTile(scene: Scene, side: number, extra: Partial<RenderTileOptions> = {}): RenderTileOptions {
  return {
    scene,
    frame: 0,
    imageWidth: side,
    imageHeight: side,
    x: 0,
    y: 0,
    width: side,
    height: side,
    samples: 4,
    ...extra,
  }
}

/** The mean red radiance of RGBA pixels. */
export function meanRed(pixels: Float32Array): number {
  let sum = 0
  for (let i = 0; i < pixels.length; i += 4) sum += pixels[i]!
  return sum / (pixels.length / 4)
}
