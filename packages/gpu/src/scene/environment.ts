/**
 * Image-based lighting: an equirectangular HDR panorama around the scene, seen by rays that leave it and sampled
 * by next-event estimation in proportion to its brightness (a piecewise-constant 2D distribution over its texels,
 * rows by their total and each row's texels within it, as PBRT samples infinite area lights).
 */
import { MAX_ENVIRONMENT_INTENSITY, MAX_ENVIRONMENT_TEXELS, MAX_LIGHT_RADIANCE } from '../constants.js'
import { GpuError } from '../errors.js'
import { emissionWeight } from '../render/brdf.js'
import type { EnvironmentImage } from './environment-image.js'
import type { Scene } from './scene.js'

/** How a panorama lights a scene. */
export interface EnvironmentOptions {
  /**
   * Multiplies the image's radiance; a texel it would take past {@link MAX_LIGHT_RADIANCE} is dimmed to that.
   * @default 1
   */
  intensity?: number
  /**
   * Turns the panorama about +y by this many radians (counter-clockwise seen from above), so a direction d sees
   * the texel the unrotated panorama shows at d turned back.
   * @default 0
   */
  rotation?: number
  /**
   * Whether camera rays see the panorama. With false they see the tile's `background` colour instead, while the
   * panorama still lights the scene (a product shot on a plain backdrop).
   * @default true
   */
  visible?: boolean
}

/**
 * A scene's environment as packed in {@link Scene.aux} from `offset`: its texels' radiance (3 f32s each, times the
 * intensity, row by row from the +y pole), then the cumulative distribution over rows (`height` f32s, the last
 * exactly 1), then each row's cumulative distribution over its texels (`width` f32s a row, each row's last exactly
 * 1). A texel weighs its luminance times the sine of its row's polar angle (the solid angle it covers).
 */
export interface SceneEnvironment {
  readonly width: number
  readonly height: number
  readonly intensity: number
  readonly rotation: number
  readonly visible: boolean
  readonly offset: number
  /** Sum of the texels' weights; 0 for a black panorama, which next-event estimation then never samples. */
  readonly power: number
}

/** Word offsets of an environment's tables in `aux`, from its first word. */
export function environmentTables(env: SceneEnvironment): { radiance: number; rows: number; columns: number } {
  const rows = env.offset + env.width * env.height * 3
  return { radiance: env.offset, rows, columns: rows + env.height }
}

/**
 * The scene lit by `image` around it: rays that leave the scene see the panorama instead of the tile's
 * background colour, and next-event estimation samples it beside the scene's lights. Panoramas of more than
 * {@link MAX_ENVIRONMENT_TEXELS} texels are box-filtered by halves until they fit (the light they give is the
 * same). The scene itself is not changed; a scene that has a panorama already gets this one instead.
 */
export function withEnvironment(scene: Scene, image: EnvironmentImage, options: EnvironmentOptions = {}): Scene {
  const intensity = options.intensity ?? 1
  const rotation = options.rotation ?? 0
  const visible = options.visible ?? true
  if (
    !(intensity >= 0 && intensity <= MAX_ENVIRONMENT_INTENSITY) ||
    !Number.isFinite(rotation) ||
    typeof visible !== 'boolean'
  ) {
    throw new GpuError(
      'GPU__INVALID_INPUT',
      `an environment needs an intensity in [0, ${MAX_ENVIRONMENT_INTENSITY}], a finite rotation and a boolean visible`,
      { intensity, rotation, visible },
    )
  }
  let { width, height, radiance } = assertImage(image)
  while (width * height > MAX_ENVIRONMENT_TEXELS) ({ width, height, radiance } = halve(width, height, radiance))
  const texels = width * height
  // A scene lit already gives up its old panorama, which lies last in its aux.
  const before = scene.environment === undefined ? scene.aux : scene.aux.subarray(0, scene.environment.offset)
  const offset = Math.max(1, before.length)
  const aux = new Uint32Array(offset + texels * 4 + height)
  aux.set(before)
  const floats = new Float32Array(aux.buffer)
  const scaled = floats.subarray(offset, offset + texels * 3)
  scaleRadiance(radiance, intensity, scaled)
  const power = samplingTables(
    width,
    height,
    scaled,
    floats.subarray(offset + texels * 3, offset + texels * 3 + height),
    floats.subarray(offset + texels * 3 + height),
  )
  return {
    ...scene,
    aux,
    lights: new Float32Array(aux.buffer, 0, scene.lights.length),
    environment: { width, height, intensity, rotation, visible, offset, power },
  }
}

/**
 * Writes each texel's radiance times `intensity` to `out`, a texel whose brightest channel would pass
 * {@link MAX_LIGHT_RADIANCE} dimmed to it, hue kept, as an emissive strength is held to it: a decoded infinity (the
 * largest float32) or a bright texel times a large intensity would otherwise overflow to infinity, and the sampling
 * tables built from it to NaN.
 */
function scaleRadiance(radiance: Float32Array, intensity: number, out: Float32Array): void {
  for (let i = 0; i < radiance.length; i += 3) {
    const brightest = Math.max(radiance[i]!, radiance[i + 1]!, radiance[i + 2]!) * intensity
    const scale = brightest > MAX_LIGHT_RADIANCE ? (intensity * MAX_LIGHT_RADIANCE) / brightest : intensity
    for (let c = 0; c < 3; c++) out[i + c] = Math.min(radiance[i + c]! * scale, MAX_LIGHT_RADIANCE)
  }
}

function assertImage(image: EnvironmentImage): EnvironmentImage {
  const { width, height, radiance } = image ?? {}
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    !(radiance instanceof Float32Array) ||
    radiance.length !== width * height * 3
  ) {
    throw new GpuError('GPU__INVALID_INPUT', 'an environment image needs width * height * 3 float radiances', {
      width,
      height,
    })
  }
  for (let i = 0; i < radiance.length; i++) {
    if (!(radiance[i]! >= 0 && radiance[i]! <= 3.4e38)) {
      throw new GpuError('GPU__INVALID_INPUT', 'environment radiance must be finite and not negative', {
        index: i,
        value: radiance[i],
      })
    }
  }
  return image
}

/** The panorama at half the resolution (rounded up), each texel the mean of the up to four it covers. */
function halve(width: number, height: number, radiance: Float32Array): EnvironmentImage {
  const w = Math.ceil(width / 2)
  const h = Math.ceil(height / 2)
  const out = new Float32Array(w * h * 3)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let n = 0
      const sum = [0, 0, 0]
      for (let dy = 0; dy < 2 && 2 * y + dy < height; dy++) {
        for (let dx = 0; dx < 2 && 2 * x + dx < width; dx++) {
          const i = ((2 * y + dy) * width + 2 * x + dx) * 3
          for (let c = 0; c < 3; c++) sum[c]! += radiance[i + c]!
          n++
        }
      }
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = sum[c]! / n
    }
  }
  return { width: w, height: h, radiance: out }
}

/**
 * Fills the cumulative distributions over rows and over each row's texels; returns the total weight. A row of no
 * weight gets a uniform distribution, so every row's table stays well-formed.
 */
function samplingTables(
  width: number,
  height: number,
  radiance: Float32Array,
  rows: Float32Array,
  columns: Float32Array,
): number {
  const rowSums = new Float64Array(height)
  const cumulative = new Float64Array(width)
  for (let y = 0; y < height; y++) {
    const sinTheta = Math.sin((Math.PI * (y + 0.5)) / height)
    let sum = 0
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      sum += emissionWeight(radiance[i]!, radiance[i + 1]!, radiance[i + 2]!) * sinTheta
      cumulative[x] = sum
    }
    for (let x = 0; x < width; x++) columns[y * width + x] = sum > 0 ? cumulative[x]! / sum : (x + 1) / width
    columns[y * width + width - 1] = 1
    rowSums[y] = sum
  }
  let total = 0
  for (let y = 0; y < height; y++) total += rowSums[y]!
  let running = 0
  for (let y = 0; y < height; y++) {
    running += rowSums[y]!
    rows[y] = total > 0 ? running / total : (y + 1) / height
  }
  rows[height - 1] = 1
  return total
}
