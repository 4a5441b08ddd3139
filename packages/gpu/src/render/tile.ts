import type { AbortOptions } from '@tessera/core'
import { MAX_IMAGE_SIDE, MAX_PATH_DEPTH, MAX_SAMPLES_PER_PIXEL } from '../constants.js'
import { GpuError } from '../errors.js'
import type { Scene, Vec3 } from '../scene/scene.js'

/** What to render: a tile (x, y, width, height) of frame `frame` of an imageWidth x imageHeight image. */
export interface RenderTileOptions {
  scene: Scene
  /** Frame number; part of every sample's random seed. */
  frame: number
  /** Size of the whole image the tile belongs to (the camera's projection depends on it). */
  imageWidth: number
  imageHeight: number
  /** The tile's top-left pixel and size, in image pixels. */
  x: number
  y: number
  width: number
  height: number
  /** Samples per pixel. */
  samples: number
  /**
   * Tile-relative row indices to render, ascending and distinct; the rest are skipped. Verifiers recompute
   * challenged rows this way, and get the same bits as the full tile.
   * @default every row
   */
  rows?: readonly number[]
  /**
   * Bounces at most per path.
   * @default 8
   */
  maxDepth?: number
  /**
   * Radiance of rays that leave the scene (linear RGB).
   * @default [0, 0, 0]
   */
  background?: Vec3
}

/** How far a render has got, reported after each dispatch it waited for. */
export interface RenderProgress {
  /** Dispatches finished on the device so far. */
  dispatches: number
  /** Pixel-samples those dispatches traced. */
  pixelSamples: number
  /** Pixel-samples of the whole render: rows x width x samples. */
  total: number
}

/** How a render can be stopped and watched. */
export interface RenderControlOptions extends AbortOptions {
  /**
   * Called after each dispatch has finished on the device. A render given this or a signal waits for each of its
   * dispatches and sizes the next by the time the last one took (see DISPATCH_TARGET_MS), so an abort is seen
   * within about that time; the image is the same bits either way.
   */
  onProgress?: (progress: RenderProgress) => void
}

/** What identifies a rendered tile: everything its pixels depend on besides the scene. */
export interface TileIdentity {
  frame: number
  imageWidth: number
  imageHeight: number
  x: number
  y: number
  width: number
  height: number
  samples: number
  maxDepth: number
  background: Vec3
}

/**
 * A rendered tile (or some of its rows): linear-light RGBA float32, row-major, alpha 1. `pixels` holds
 * `rows.length * width * 4` floats: row `rows[k]` of the tile is at offset `k * width * 4`.
 */
export interface RenderedTile extends TileIdentity {
  /** Tile-relative indices of the rows present, ascending. */
  rows: readonly number[]
  pixels: Float32Array
  /** Rays traced (path segments and shadow rays: every BVH traversal), for throughput figures. */
  rays: number
}

/** Validated render options. */
export interface ResolvedTile extends TileIdentity {
  rows: readonly number[]
  identity: TileIdentity
}

const isU32 = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff

/** Validates render options; throws GPU__INVALID_TILE or GPU__INVALID_INPUT naming the bad field. */
export function resolveTile(o: RenderTileOptions): ResolvedTile {
  const { frame, imageWidth, imageHeight, x, y, width, height, samples } = o
  if (!isU32(frame)) throw new GpuError('GPU__INVALID_INPUT', 'frame must be an unsigned 32-bit integer', { frame })
  for (const [name, side] of [
    ['imageWidth', imageWidth],
    ['imageHeight', imageHeight],
  ] as const) {
    if (!Number.isInteger(side) || side < 1 || side > MAX_IMAGE_SIDE) {
      throw new GpuError('GPU__INVALID_TILE', `${name} must be an integer in 1..${MAX_IMAGE_SIDE}`, { [name]: side })
    }
  }
  if (
    ![x, y].every(isU32) ||
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    x + width > imageWidth ||
    y + height > imageHeight
  ) {
    throw new GpuError('GPU__INVALID_TILE', 'the tile must be non-empty and lie inside the image', {
      x,
      y,
      width,
      height,
      imageWidth,
      imageHeight,
    })
  }
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES_PER_PIXEL) {
    throw new GpuError('GPU__INVALID_INPUT', `samples must be an integer in 1..${MAX_SAMPLES_PER_PIXEL}`, { samples })
  }
  const maxDepth = o.maxDepth ?? MAX_PATH_DEPTH
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > 64) {
    throw new GpuError('GPU__INVALID_INPUT', 'maxDepth must be an integer in 1..64', { maxDepth })
  }
  const background: Vec3 = o.background ?? [0, 0, 0]
  if (background.length !== 3 || !background.every((c) => Number.isFinite(c) && c >= 0)) {
    throw new GpuError('GPU__INVALID_INPUT', 'background must be three finite non-negative numbers', { background })
  }
  let rows: readonly number[]
  if (o.rows === undefined) {
    rows = Array.from({ length: height }, (_, i) => i)
  } else {
    rows = [...o.rows]
    if (rows.length === 0) throw new GpuError('GPU__INVALID_TILE', 'rows must name at least one row', {})
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      if (!Number.isInteger(r) || r < 0 || r >= height || (i > 0 && r <= rows[i - 1]!)) {
        throw new GpuError('GPU__INVALID_TILE', 'rows must be ascending, distinct tile-relative row indices', {
          row: r,
          height,
        })
      }
    }
  }
  if (o.scene?.triangleCount === undefined) throw new GpuError('GPU__INVALID_INPUT', 'scene must be a loaded Scene', {})
  const identity: TileIdentity = { frame, imageWidth, imageHeight, x, y, width, height, samples, maxDepth, background }
  return { ...identity, rows, identity }
}
