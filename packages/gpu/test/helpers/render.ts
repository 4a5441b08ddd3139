import { packScene, psnr, renderTileCpu } from '../../src/index.js'
import type { Engine, Material, PunctualLight, RenderTileOptions, Scene } from '../../src/index.js'

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

/** Two triangles of a square in the plane z, centred on (cx, 0, z), facing +z (towards the camera). */
export function pane(z: number, half: number, cx = 0): number[] {
  const [a, b, c, d] = [
    [cx - half, -half, z],
    [cx + half, -half, z],
    [cx + half, half, z],
    [cx - half, half, z],
  ]
  return [...a!, ...b!, ...c!, ...a!, ...c!, ...d!]
}

/** The same triangles wound the other way round, so they face -z. */
export function facingDown(corners: number[]): number[] {
  const out: number[] = []
  for (let t = 0; t < corners.length; t += 9)
    out.push(...corners.slice(t, t + 3), ...corners.slice(t + 6, t + 9), ...corners.slice(t + 3, t + 6))
  return out
}

/** Squares facing a camera at (0, 0, 3) that looks down -z through a tiny field of view, lit by `lights`. */
export function paneScene(
  quads: Array<{ corners: number[]; material: Material }>,
  lights: PunctualLight[] = [],
): Scene {
  const vertices = Float32Array.from(quads.flatMap((q) => q.corners))
  return packScene({
    vertices,
    normals: new Float32Array(vertices.length),
    materialIndex: Uint32Array.from(quads.flatMap((_, i) => [i, i])),
    materials: quads.map((q) => q.material),
    camera: { position: [0, 0, 3], forward: [0, 0, -1], right: [1, 0, 0], up: [0, 1, 0], yfov: 1e-3 },
    punctualLights: lights,
  })
}

/** Renders `options` on the CPU reference and on `engine`: the mean red radiance of each, and their PSNR. */
export async function renderBoth(
  engine: Engine,
  options: RenderTileOptions,
): Promise<{ cpu: number; gpu: number; psnr: number }> {
  const cpu = renderTileCpu(options).pixels
  const gpu = (await engine.renderTile(options)).pixels
  return { cpu: meanRed(cpu), gpu: meanRed(gpu), psnr: psnr(cpu, gpu) }
}
