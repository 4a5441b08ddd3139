import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bitwiseEqual,
  createEngine,
  generateScene,
  loadScene,
  MAX_LIGHT_RADIANCE,
  psnr,
  renderTileCpu,
  TOLERANCE,
  withEnvironment,
} from '../src/index.js'
import type { EnvironmentImage, Engine, Material, RenderTileOptions, Scene } from '../src/index.js'
import { SurfaceBrdf } from '../src/render/brdf.js'
import { lightShares } from '../src/render/light-shares.js'
import { errorCode } from './helpers/errors.js'
import { bothRenderers, channelMean, pane, paneScene, wholeTile } from './helpers/render.js'

const GREY: Material = { name: 'grey', baseColor: [0.5, 0.5, 0.5], metallic: 0, roughness: 0.5, emissive: [0, 0, 0] }

/** A 64 x 32 panorama: a dim sky of 0.25 everywhere, and a sun of 40 just above the horizon towards +z. */
function sunAndSky(): EnvironmentImage {
  const width = 64
  const height = 32
  const radiance = new Float32Array(width * height * 3).fill(0.25)
  for (let row = 12; row < 16; row++)
    for (let col = 46; col < 50; col++) radiance.fill(40, (row * width + col) * 3, (row * width + col) * 3 + 3)
  return { width, height, radiance }
}

/**
 * What direction (x, y, z) sees of `image` turned by `rotation` about +y, channel c: three.js's panorama mapping, then
 * bilinear between texel centres (wrapping in u, held at the poles).
 */
function seen(image: EnvironmentImage, rotation: number, x: number, y: number, z: number, c = 0): number {
  const [cos, sin] = [Math.cos(rotation), Math.sin(rotation)]
  const u = Math.atan2(x * sin + z * cos, x * cos - z * sin) / (2 * Math.PI) + 0.5
  const v = Math.acos(Math.max(-1, Math.min(1, y))) / Math.PI
  const { width: w, height: h, radiance } = image
  const fx = u * w - 0.5
  const fy = Math.min(Math.max(v * h - 0.5, 0), h - 1)
  const [c0, r0] = [Math.floor(fx), Math.floor(fy)]
  const texel = (row: number, col: number): number =>
    radiance[(Math.min(row, h - 1) * w + (((col % w) + w) % w)) * 3 + c]!
  const [tx, ty] = [fx - c0, fy - r0]
  const top = texel(r0, c0) * (1 - tx) + texel(r0, c0 + 1) * tx
  const bottom = texel(r0 + 1, c0) * (1 - tx) + texel(r0 + 1, c0 + 1) * tx
  return top * (1 - ty) + bottom * ty
}

/**
 * The radiance a plane facing +z of material GREY sends back along +z under `image`: f E cos integrated by brute
 * force over a grid of equal solid angles on the upper hemisphere.
 */
function reflected(image: EnvironmentImage, rotation: number): number {
  const brdf = new SurfaceBrdf()
  brdf.set(0, 0, 1, 0, 0, 1, {
    r: 0.5,
    g: 0.5,
    b: 0.5,
    metallic: 0,
    roughness: 0.5,
    f0r: 0.04,
    f0g: 0.04,
    f0b: 0.04,
    specular: 1,
  })
  const steps = 1000
  const dOmega = (2 * Math.PI) / (steps * steps)
  let sum = 0
  for (let i = 0; i < steps; i++) {
    const cosTheta = 1 - (i + 0.5) / steps
    const sinTheta = Math.sqrt(1 - cosTheta * cosTheta)
    for (let j = 0; j < steps; j++) {
      const phi = (2 * Math.PI * (j + 0.5)) / steps
      const [x, y] = [sinTheta * Math.cos(phi), sinTheta * Math.sin(phi)]
      brdf.evaluate(x, y, cosTheta)
      sum += brdf.fr * seen(image, rotation, x, y, cosTheta) * cosTheta * dOmega
    }
  }
  return sum
}

describe('environment lighting', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  const renderers = bothRenderers(
    () => engine,
    (scene) => wholeTile(scene, 4, { samples: 256, maxDepth: 2 }),
  )

  it.each(renderers.flatMap(([name, render]) => [0, Math.PI / 2].map((rotation) => [name, rotation, render] as const)))(
    'should light a surface as the panorama integrates to (%s, rotation %s)',
    async (_name, rotation, render) => {
      const image = sunAndSky()
      const scene = withEnvironment(paneScene([{ corners: pane(0, 50), material: GREY }]), image, { rotation })
      const expected = reflected(image, rotation)
      const got = channelMean(await render(scene), 0)
      expect(got).toBeGreaterThan(expected * 0.97)
      expect(got).toBeLessThan(expected * 1.03)
    },
  )

  it.each(renderers.flatMap(([name, render]) => [0, Math.PI / 2].map((rotation) => [name, rotation, render] as const)))(
    'should show camera rays the panorama where their direction maps it, filtered between texels (%s, rotation %s)',
    async (_name, rotation, render) => {
      // 3 x 3 texels, each its own colour; the camera looks down -z through a tiny field of view, which sees a quarter
      // of the way from texel (row 1, column 0) to (1, 1) unturned, and (1, 1) itself turned a quarter round.
      const image = { width: 3, height: 3, radiance: Float32Array.from({ length: 27 }, (_, i) => 0.125 * (i + 1)) }
      const far = paneScene([{ corners: pane(10, 0.1), material: GREY }])
      const pixels = await render(withEnvironment(far, image, { rotation }))
      const expected = [0, 1, 2].map((c) => seen(image, rotation, 0, 0, -1, c))
      expect(expected[0]).toBeCloseTo(rotation === 0 ? 0.125 * (10 + 0.25 * 3) : 0.125 * 13, 6)
      for (let p = 0; p < pixels.length; p += 4) {
        for (let c = 0; c < 3; c++) expect(pixels[p + c]!).toBeCloseTo(expected[c]!, 3)
      }
    },
  )

  it.each(['cpu', 'gpu'] as const)(
    'should show camera rays the background where the panorama is hidden, and light alike (%s)',
    async (name) => {
      const draw = async (options: RenderTileOptions): Promise<Float32Array> =>
        name === 'cpu' ? renderTileCpu(options).pixels : (await engine.renderTile(options)).pixels
      const background: [number, number, number] = [0.25, 0.5, 1]
      const radiance = Float32Array.from({ length: 27 }, (_, i) => 0.125 * (i + 1))
      const far = paneScene([{ corners: pane(10, 0.1), material: GREY }])
      const hiddenSky = withEnvironment(far, { width: 3, height: 3, radiance }, { visible: false })
      const pixels = await draw(wholeTile(hiddenSky, 4, { background }))
      for (let p = 0; p < pixels.length; p += 4) expect(Array.from(pixels.subarray(p, p + 3))).toEqual(background)
      // A surface that fills the view is lit the same, bit for bit, whether its panorama shows or not.
      const plane = paneScene([{ corners: pane(0, 50), material: GREY }])
      const shown = await draw(wholeTile(withEnvironment(plane, sunAndSky()), 4, { background }))
      const hidden = await draw(wholeTile(withEnvironment(plane, sunAndSky(), { visible: false }), 4, { background }))
      expect(bitwiseEqual(shown, hidden)).toBe(true)
      expect(channelMean(shown, 0)).toBeGreaterThan(0.1)
    },
  )

  it('should render the room lit through its open front alike on the CPU and the GPU, sub-rectangles bit-identical', async () => {
    const room = withEnvironment(await loadScene(await generateScene({ subdivisions: 2 })), sunAndSky(), {
      intensity: 0.5,
      rotation: 1,
    })
    const tile: RenderTileOptions = {
      ...wholeTile(room, 24, { samples: 8 }),
      imageWidth: 96,
      imageHeight: 96,
      x: 36,
      y: 40,
    }
    const gpu = await engine.renderTile(tile)
    expect(psnr(renderTileCpu(tile).pixels, gpu.pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    const sub = await engine.renderTile({ ...tile, x: 41, y: 47, width: 9, height: 5 })
    for (let r = 0; r < 5; r++) {
      const row = gpu.pixels.subarray(((7 + r) * 24 + 5) * 4, ((7 + r) * 24 + 14) * 4)
      expect(bitwiseEqual(sub.pixels.subarray(r * 36, (r + 1) * 36), row)).toBe(true)
    }
    // The sun lights the room: brighter than without its panorama.
    const dark = await engine.renderTile({ ...tile, scene: await loadScene(await generateScene({ subdivisions: 2 })) })
    expect(channelMean(gpu.pixels, 0)).toBeGreaterThan(channelMean(dark.pixels, 0) * 1.2)
  })

  it('should share light samples equally among the kinds of light a scene has', async () => {
    const room = await loadScene(await generateScene({ subdivisions: 0 }))
    expect(lightShares(room)).toEqual({ punctual: 0, environment: 0 })
    expect(lightShares(withEnvironment(room, sunAndSky()))).toEqual({ punctual: 0, environment: 0.5 })
    const lit: Scene = { ...room, punctualCount: 1 }
    expect(lightShares(lit)).toEqual({ punctual: 0.5, environment: 0 })
    expect(lightShares(withEnvironment(lit, sunAndSky()))).toEqual({
      punctual: Math.fround(1 / 3),
      environment: Math.fround(1 / 3),
    })
    // A black panorama is seen but never sampled.
    const black = { width: 2, height: 1, radiance: new Float32Array(6) }
    expect(lightShares(withEnvironment(room, black))).toEqual({ punctual: 0, environment: 0 })
  })

  it.each(renderers)('should render a black panorama as black, not NaN (%s)', async (_name, render) => {
    const scene = withEnvironment(paneScene([{ corners: pane(0, 50), material: GREY }]), {
      width: 2,
      height: 1,
      radiance: new Float32Array(6),
    })
    expect(Array.from(await render(scene)).filter((_, i) => i % 4 !== 3)).toEqual(new Array(48).fill(0))
  })

  it('should replace a panorama, not stack a second one, when a lit scene is lit again', async () => {
    const plane = paneScene([{ corners: pane(0, 50), material: GREY }])
    const once = withEnvironment(plane, sunAndSky(), { rotation: 1 })
    const twice = withEnvironment(
      withEnvironment(plane, { width: 2, height: 1, radiance: new Float32Array(6) }),
      sunAndSky(),
      {
        rotation: 1,
      },
    )
    expect(Array.from(twice.aux)).toEqual(Array.from(once.aux))
    expect(twice.environment).toEqual(once.environment)
    expect(
      bitwiseEqual(
        (await engine.renderTile(wholeTile(twice, 4))).pixels,
        (await engine.renderTile(wholeTile(once, 4))).pixels,
      ),
    ).toBe(true)
  })

  it.each([
    ['a decoded infinity (the largest float32) at intensity 2', 3.4e38, 2],
    ['a bright texel at the largest intensity', 1e33, 1e6],
  ])(
    'should dim %s to the light radiance bound, hue kept, and render it alike on the CPU and the GPU',
    async (_name, peak, intensity) => {
      // Times the intensity the peak passes float32's range: stored as is it was infinity, and the sampling tables NaN.
      const radiance = new Float32Array(8 * 4 * 3).fill(0.5)
      radiance.set([peak, peak / 2, 0], (1 * 8 + 3) * 3)
      const room = await loadScene(await generateScene({ subdivisions: 0, spheres: 1 }))
      const scene = withEnvironment(room, { width: 8, height: 4, radiance }, { intensity })
      const env = scene.environment!
      expect(Number.isFinite(env.power)).toBe(true)
      const packed = new Float32Array(scene.aux.buffer, env.offset * 4, 8 * 4 * 3)
      expect(Array.from(packed.subarray((1 * 8 + 3) * 3, (1 * 8 + 4) * 3))).toEqual([
        MAX_LIGHT_RADIANCE,
        MAX_LIGHT_RADIANCE / 2,
        0,
      ])
      // Texels within the bound are scaled as before.
      expect(packed[0]).toBe(Math.fround(0.5 * intensity))
      const tile = wholeTile(scene, 16, { samples: 2 })
      const cpu = renderTileCpu(tile).pixels
      expect(cpu.every(Number.isFinite)).toBe(true)
      expect(psnr(cpu, (await engine.renderTile(tile)).pixels)).toBeGreaterThanOrEqual(TOLERANCE.render.minDb)
    },
  )

  it('should box-filter a panorama larger than the limit by halves, keeping its mean', () => {
    const width = 2049
    const height = 1024
    const radiance = new Float32Array(width * height * 3)
    for (let i = 0; i < radiance.length; i += 3) radiance[i] = (i / 3) % 7
    const scene = withEnvironment(paneScene([{ corners: pane(0, 1), material: GREY }]), { width, height, radiance })
    const env = scene.environment!
    expect([env.width, env.height]).toEqual([1025, 512])
    const packed = new Float32Array(scene.aux.buffer, env.offset * 4, env.width * env.height * 3)
    let mean = 0
    for (let i = 0; i < packed.length; i += 3) mean += packed[i]! / (env.width * env.height)
    // The odd last column is averaged alone, so the means agree to its weight.
    expect(mean).toBeCloseTo(3, 1)
  })

  it.each([
    ['a negative intensity', { intensity: -1 }],
    ['a non-finite rotation', { rotation: Number.NaN }],
  ])('should refuse %s', (_name, options) => {
    expect(
      errorCode(() => withEnvironment(paneScene([{ corners: pane(0, 1), material: GREY }]), sunAndSky(), options)),
    ).toBe('GPU__INVALID_INPUT')
  })

  it.each([
    ['too few radiances', { width: 2, height: 2, radiance: new Float32Array(11) }],
    ['a negative radiance', { width: 1, height: 1, radiance: Float32Array.from([1, -1, 1]) }],
    ['a NaN radiance', { width: 1, height: 1, radiance: Float32Array.from([1, Number.NaN, 1]) }],
    ['no rows', { width: 1, height: 0, radiance: new Float32Array(0) }],
    ['not an image', null],
  ])('should refuse a panorama with %s', (_name, image) => {
    const scene = paneScene([{ corners: pane(0, 1), material: GREY }])
    expect(errorCode(() => withEnvironment(scene, image as unknown as EnvironmentImage))).toBe('GPU__INVALID_INPUT')
  })
})
