import { createHash } from 'node:crypto'
import { type AbortOptions, type Order, type Result, TILE_BYTES_PER_PIXEL } from '@tessera/core'
import { bytesToFloat32, encodeExr, encodePng } from '@tessera/gpu'
import { assembleOutputs, outputBytesBound, type AssembledOutput, type ItemRange } from '@tessera/scheduler/driver'
import {
  type JobOutput,
  type JobOutputOptions,
  MAX_ASSEMBLED_OUTPUT_BYTES,
  MAX_OUTPUT_FILE_BYTES,
  MAX_OUTPUT_REPLY_BYTES,
} from '../api/contract.js'
import { NodeError } from '../errors.js'
import type { AssemblyCache } from './assembly-cache.js'

/** Bytes per pixel of a render task's output: RGBA float32 rows (`@tessera/gpu`'s chunking), core's tile bound's. */
export const RENDER_OUTPUT_BYTES_PER_PIXEL = TILE_BYTES_PER_PIXEL
/** Tone-mapping exposure of delivered PNG frames: the procedural scene's light is dim at exposure 1. */
export const PNG_EXPOSURE = 2

/** An output past what one reply takes, saying what to ask for instead. */
function tooLarge(jobId: string, what: string, bytes: number, limit: number, instead: string): NodeError {
  return new NodeError(
    'NODE__OUTPUT_TOO_LARGE',
    `job ${jobId}'s ${what} take ${Math.ceil(bytes / 2 ** 20)} MiB, more than one reply can (${limit / 2 ** 20} MiB): ${instead}`,
    { jobId, bytes, limit },
  )
}

/** What to ask for instead of an output too large for one reply. */
const ONE_FRAME_AT_A_TIME = 'ask for one frame at a time (`frame`), as `tessera job fetch` does'
const FILE_BY_FILE = 'ask for its files one at a time (`GET /v1/jobs/:id/output/:file`), as `tessera job fetch` does'
const NO_SMALLER_PART = 'a node does not put together more than that'

/** Outputs kept locally once accepted, or fetched from the worker that produced them (`node.blobs`). */
export interface OutputSource {
  /** Whether this node holds the blob. */
  has(cid: string, options?: AbortOptions): Promise<boolean>
  /** A blob this node holds. */
  get(cid: string, options?: AbortOptions): Promise<Uint8Array>
  /** A blob fetched from `peer`, refused when over `maxBytes`. */
  fetchFrom(peer: string, cid: string, options?: AbortOptions & { maxBytes?: number }): Promise<Uint8Array>
}

const OCTETS = 'application/octet-stream'
/** The file beside a partial inference output that says which item ranges it holds. */
export const PARTIAL_MANIFEST = 'ranges.json'
/** The file beside a partial render's frames that lists the tiles left black (`{ missing: [{ frame, x, y, width, height }] }`). */
export const PARTIAL_RENDER_MANIFEST = 'tiles.json'

/** The base name of a frame's files (`frame-0007` for its `.png`, `.exr` and, fetched alone, `.tiles.json`). */
export function frameName(frame: number): string {
  return `frame-${String(frame).padStart(4, '0')}`
}

/** The name of one frame's missing tiles, in a reply for that frame alone. */
export function frameManifestName(frame: number): string {
  return `${frameName(frame)}.${PARTIAL_RENDER_MANIFEST}`
}

/** What {@link PARTIAL_MANIFEST} holds: half-open item ranges `[start, end)`, merged and in order. */
export interface PartialInferenceManifest {
  items: number
  itemBytes: number
  accepted: [number, number][]
  missing: [number, number][]
}

/** The ranges of `[0, items)` that `missing` (merged, in order) leaves. */
function complementOf(missing: readonly ItemRange[], items: number): [number, number][] {
  const out: [number, number][] = []
  let at = 0
  for (const range of missing) {
    if (range.start > at) out.push([at, range.start])
    at = range.end
  }
  if (at < items) out.push([at, items])
  return out
}

/** One output file, its bytes as encoded (a JSON reply carries them in base64, a file reply as they are). */
export interface OutputFile {
  name: string
  contentType: string
  bytes: Uint8Array
}

/** Options of {@link jobOutputFiles}. */
export interface OutputFilesOptions extends AbortOptions, JobOutputOptions {
  /**
   * Refuse with `NODE__OUTPUT_TOO_LARGE` as soon as the files pass this many bytes (what one JSON reply carries).
   * Assembling never holds more than {@link MAX_ASSEMBLED_OUTPUT_BYTES} of pixels or items, whatever it says.
   * @default MAX_OUTPUT_FILE_BYTES
   */
  maxBytes?: number
  /** Encode only the file of this name: a client fetching files one at a time is not made to wait on the others. */
  only?: string
  /**
   * Where outputs put together are kept a while (the peer's, see {@link AssemblyCache}), so the next file of the same
   * frame is not assembled again. @default none: assembled for this call alone
   */
  cache?: AssemblyCache
}

/**
 * Puts a finished job's outputs together: a render job's tiles into frames encoded as PNG (tone-mapped as `options`
 * say) and OpenEXR, an inference job's item ranges into one float32 buffer. With `partial`, a job that ended
 * unfinished gives what it accepted: a render's missing tiles are black, an inference's missing items NaN, listed in
 * {@link PARTIAL_MANIFEST}.
 */
export async function assembleJobOutput(
  order: Order,
  results: readonly Result[],
  source: OutputSource,
  options: AbortOptions & JobOutputOptions & Pick<OutputFilesOptions, 'cache'> = {},
): Promise<JobOutput> {
  // Refused as soon as the files pass what one reply carries (before base64, whose string could not be made).
  const files = await jobOutputFiles(order, results, source, { ...options, maxBytes: MAX_OUTPUT_REPLY_BYTES })
  return {
    jobId: order.jobId,
    files: files.map(({ name, contentType, bytes }) => ({
      name,
      contentType,
      base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    })),
  }
}

/**
 * A job's output files (see {@link assembleJobOutput}), as bytes, bounded as `options` say. What is put together
 * is kept a while in `options.cache`, so the next file of the same frame is not assembled again; the files' bytes
 * may be shared with it, and are not to be changed.
 */
export async function jobOutputFiles(
  order: Order,
  results: readonly Result[],
  source: OutputSource,
  options: OutputFilesOptions = {},
): Promise<OutputFile[]> {
  const split = order.split
  const maxBytes = options.maxBytes ?? MAX_OUTPUT_FILE_BYTES
  // An inference output's file is its assembled items, which are held whole.
  const maxItemBytes = Math.min(maxBytes, MAX_ASSEMBLED_OUTPUT_BYTES)
  const itemsInstead = maxItemBytes < MAX_ASSEMBLED_OUTPUT_BYTES ? FILE_BY_FILE : NO_SMALLER_PART
  if (options.frame !== undefined) return frameFiles(order, results, source, options.frame, options)
  if (split.kind === 'render' && split.frames > 1) {
    // Checked before anything is fetched: every frame's pixels are held while they are put together.
    const bytes = split.frames * split.width * split.height * RENDER_OUTPUT_BYTES_PER_PIXEL
    if (bytes > MAX_ASSEMBLED_OUTPUT_BYTES) {
      throw tooLarge(order.jobId, 'frames would', bytes, MAX_ASSEMBLED_OUTPUT_BYTES, ONE_FRAME_AT_A_TIME)
    }
  }
  // Kept, as put together before any file is encoded: the next file of the same frame (whatever its tone mapping)
  // is encoded from it rather than fetched and assembled again, and requests for it at once share one assembly.
  const tooMany = (fetched: number) => tooLarge(order.jobId, 'output items', fetched, maxItemBytes, itemsInstead)
  const assembleHere = (abort: AbortOptions) =>
    assemble(order, results, source, { ...options, ...abort, maxItemBytes, tooMany })
  const assembled =
    options.cache === undefined
      ? await assembleHere(options)
      : await options.cache.getOrAssemble(assemblyKey(order, results, options.partial === true), assembleHere, {
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          // Only an inference output is refused past a bound while it is fetched.
          ...(split.kind === 'inference' ? { bound: maxItemBytes } : {}),
        })
  const wanted = (name: string) => options.only === undefined || options.only === name
  if (assembled.kind === 'inference') {
    const { bytes, itemBytes, missing } = assembled
    if (bytes.byteLength > maxItemBytes) {
      throw tooLarge(order.jobId, 'output items', bytes.byteLength, maxItemBytes, itemsInstead)
    }
    // A partial output: the items no accepted range covers are NaN (all-ones bytes), never zeros a model could
    // have computed, and a manifest says which ranges are in. (Filled in the kept output: the same every time.)
    for (const range of missing) bytes.fill(0xff, range.start * itemBytes, range.end * itemBytes)
    const files: OutputFile[] = [{ name: 'output.f32', contentType: OCTETS, bytes }]
    if (missing.length > 0) {
      // The order says how many items there are (an item of no bytes leaves the buffer none to count them by).
      const items = order.split.kind === 'inference' ? order.split.items : 0
      const manifest: PartialInferenceManifest = {
        items,
        itemBytes,
        accepted: complementOf(missing, items),
        missing: missing.map((r) => [r.start, r.end]),
      }
      files.push(jsonFile(PARTIAL_MANIFEST, manifest))
    }
    return files.filter((f) => wanted(f.name))
  }
  // Each frame twice: a PNG to look at, and the verified linear radiance as OpenEXR to composite and grade. Encoded
  // one frame after another, and refused as soon as the files pass the bound.
  const tone = { exposure: options.exposure ?? PNG_EXPOSURE, toneCurve: options.toneCurve ?? 'clamp' }
  const files: OutputFile[] = []
  let total = 0
  for (const f of assembled.frames) {
    const image = { width: f.width, height: f.height, pixels: bytesToFloat32(f.pixels) }
    const name = frameName(f.frame)
    const encoded: OutputFile[] = []
    if (wanted(`${name}.png`)) {
      encoded.push({ name: `${name}.png`, contentType: 'image/png', bytes: encodePng(image, tone) })
    }
    if (wanted(`${name}.exr`)) {
      encoded.push({ name: `${name}.exr`, contentType: 'image/x-exr', bytes: await encodeExr(image) })
    }
    for (const file of encoded) total += file.bytes.byteLength
    if (total > maxBytes) {
      const alone = maxBytes < MAX_OUTPUT_FILE_BYTES ? FILE_BY_FILE : NO_SMALLER_PART
      const instead = assembled.frames.length > 1 ? ONE_FRAME_AT_A_TIME : alone
      throw tooLarge(order.jobId, 'frame files', total, maxBytes, instead)
    }
    files.push(...encoded)
  }
  // A partial render: which tiles are left black, so a script can order them again.
  if (assembled.missing.length > 0 && wanted(PARTIAL_RENDER_MANIFEST)) {
    files.push(jsonFile(PARTIAL_RENDER_MANIFEST, { missing: assembled.missing }))
  }
  return files
}

/**
 * What an assembled output is made of, as a cache key: the job, the frames (one, or all), whether missing parts are
 * left blank, and every task's output CID (content-addressed, so one key is ever one output).
 */
function assemblyKey(order: Order, results: readonly Result[], partial: boolean): string {
  const split = order.split
  const frames = split.kind === 'render' ? `${split.firstFrame}+${split.frames}` : 'items'
  const outputs = createHash('sha256')
  for (const part of results.map((r) => `${r.taskId}=${r.output}\n`).sort()) outputs.update(part)
  return `${order.jobId}/${frames}/${partial ? 'partial' : 'whole'}/${outputs.digest('hex')}`
}

/** Options of {@link assemble}. */
interface AssembleOptions extends AbortOptions, JobOutputOptions {
  /** Bytes of inference items fetched at most. */
  maxItemBytes: number
  /** The error thrown when the inference items fetched pass `maxItemBytes`. */
  tooMany: (fetched: number) => Error
}

/** Fetches every result's output (from this node's store, or its worker) and puts them together. */
async function assemble(
  order: Order,
  results: readonly Result[],
  source: OutputSource,
  options: AssembleOptions,
): Promise<AssembledOutput> {
  const outputs = new Map<string, Uint8Array>()
  // An inference output's size is known only from its parts: refused as soon as they pass the bound, not after all.
  let fetched = 0
  await Promise.all(
    results.map(async (r) => {
      const part = (await source.has(r.output, options))
        ? await source.get(r.output, options)
        : await source.fetchFrom(r.worker, r.output, {
            signal: options.signal,
            maxBytes: outputBytesBound(order, r.taskId, r.chunks, RENDER_OUTPUT_BYTES_PER_PIXEL),
          })
      fetched += part.byteLength
      if (order.split.kind === 'inference' && fetched > options.maxItemBytes) throw options.tooMany(fetched)
      outputs.set(r.taskId, part)
    }),
  )
  // A task without a result is a blank tile of a partial render (a job that ended unfinished), or a size mismatch.
  return assembleOutputs(
    order,
    (taskId) => outputs.get(taskId) ?? (options.partial === true ? undefined : new Uint8Array(0)),
    RENDER_OUTPUT_BYTES_PER_PIXEL,
    { partial: options.partial === true },
  )
}

/**
 * Whether `order`'s output (of frame `frame`, when given) could have a file of this name, by the names
 * {@link jobOutputFiles} gives: a cheap check before anything is fetched.
 */
export function mayHaveOutputFile(order: Pick<Order, 'split'>, name: string, frame?: number): boolean {
  const split = order.split
  if (split.kind !== 'render') return frame === undefined && (name === 'output.f32' || name === PARTIAL_MANIFEST)
  if (frame !== undefined && name === frameManifestName(frame)) return true
  if (frame === undefined && name === PARTIAL_RENDER_MANIFEST) return true
  const match = /^frame-(\d{4,9})\.(png|exr)$/.exec(name)
  if (match === null) return false
  const named = Number(match[1])
  const inJob = named >= split.firstFrame && named < split.firstFrame + split.frames
  return inJob && frameName(named) === name.slice(0, -4) && (frame === undefined || frame === named)
}

/** A small JSON file of an output, written as people read it. */
function jsonFile(name: string, value: unknown): OutputFile {
  return {
    name,
    contentType: 'application/json',
    bytes: new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`),
  }
}

/**
 * One frame of a render job (`frame`, which the job must have): only that frame's tiles are fetched and put
 * together, so a job of hundreds of frames is fetched a frame a reply. A partial frame's missing tiles are listed
 * in `frame-NNNN.tiles.json`, which a client merges into {@link PARTIAL_RENDER_MANIFEST}.
 */
async function frameFiles(
  order: Order,
  results: readonly Result[],
  source: OutputSource,
  frame: number,
  options: OutputFilesOptions,
): Promise<OutputFile[]> {
  const split = order.split
  if (split.kind !== 'render') {
    throw new NodeError('NODE__API_MALFORMED_REQUEST', `job ${order.jobId} is no render job: it has no frames`, {
      jobId: order.jobId,
    })
  }
  if (frame < split.firstFrame || frame >= split.firstFrame + split.frames) {
    throw new NodeError(
      'NODE__API_MALFORMED_REQUEST',
      `job ${order.jobId} has frames ${split.firstFrame} to ${split.firstFrame + split.frames - 1}, not ${frame}`,
      { jobId: order.jobId, frame },
    )
  }
  // The frame's tasks keep their ids in a one-frame split: `${jobId}/f${frame}/t${x}_${y}`.
  const one: Order = { ...order, split: { ...split, firstFrame: frame, frames: 1 } }
  const prefix = `${order.jobId}/f${frame}/`
  // Its own manifest, named for it: the frames of one job are written into one folder.
  const name = frameManifestName(frame)
  const files = await jobOutputFiles(
    one,
    results.filter((r) => r.taskId.startsWith(prefix)),
    source,
    {
      ...options,
      frame: undefined,
      ...(options.only === name ? { only: PARTIAL_RENDER_MANIFEST } : {}),
    },
  )
  return files.map((f) => (f.name === PARTIAL_RENDER_MANIFEST ? { ...f, name } : f))
}
