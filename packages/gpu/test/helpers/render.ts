import { packScene, psnr, renderTileCpu } from '../../src/index.js'
import type { Camera, Engine, Material, PunctualLight, RenderTileOptions, Scene } from '../../src/index.js'

/** Clear glass: white, smooth, all its diffuse let through (KHR_materials_transmission = 1), thin-walled. */
export const CLEAR_GLASS: Material = {
  name: 'glass',
  baseColor: [1, 1, 1],
  metallic: 0,
  roughness: 0,
  emissive: [0, 0, 0],
  transmission: 1,
}

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
  return channelMean(pixels, 0)
}

/** The mean of channel c (0 red, 1 green, 2 blue) of RGBA pixels. */
export function channelMean(pixels: Float32Array, c: number): number {
  let sum = 0
  for (let i = c; i < pixels.length; i += 4) sum += pixels[i]!
  return sum / (pixels.length / 4)
}

/** Groups of triangles (9 numbers each), each group of one material, seen by `camera`, lit by `lights`. */
export function partsScene(
  parts: Array<{ corners: number[]; material: Material }>,
  camera: Camera,
  lights: PunctualLight[] = [],
): Scene {
  const vertices = Float32Array.from(parts.flatMap((p) => p.corners))
  return packScene({
    vertices,
    normals: new Float32Array(vertices.length),
    materialIndex: Uint32Array.from(parts.flatMap((p, i) => Array<number>(p.corners.length / 9).fill(i))),
    materials: parts.map((p) => p.material),
    camera,
    punctualLights: lights,
  })
}

/** A camera at (0, 0, z) looking down -z, its view `halfHeight` tall either side at z = 0. */
export function cameraOnZ(z: number, halfHeight: number): Camera {
  return {
    position: [0, 0, z],
    forward: [0, 0, -1],
    right: [1, 0, 0],
    up: [0, 1, 0],
    yfov: 2 * Math.atan(halfHeight / z),
  }
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
  return partsScene(
    quads,
    { position: [0, 0, 3], forward: [0, 0, -1], right: [1, 0, 0], up: [0, 1, 0], yfov: 1e-3 },
    lights,
  )
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

/** One way to render a scene to pixels: the CPU reference's or a GPU engine's, by name. */
export type Renderer = readonly [name: 'cpu' | 'gpu', render: (scene: Scene) => Promise<Float32Array>]

/**
 * The CPU reference and `engine()` (read when a render starts, so a suite can create its engine in beforeAll)
 * rendering `tile(scene)`: for tests that check both implementations alike.
 */
export function bothRenderers(engine: () => Engine, tile: (scene: Scene) => RenderTileOptions): Renderer[] {
  return [
    ['cpu', async (scene) => renderTileCpu(tile(scene)).pixels],
    ['gpu', async (scene) => (await engine().renderTile(tile(scene))).pixels],
  ]
}
