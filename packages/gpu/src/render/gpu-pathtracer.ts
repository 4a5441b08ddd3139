import {
  DISPATCH_GROWTH,
  DISPATCH_TARGET_MS,
  MAX_IMAGE_SIDE,
  PACED_SPREAD_ROWS,
  PIXEL_SAMPLES_PER_DISPATCH,
  RENDER_WORKGROUP,
} from '../constants.js'
import { GpuError } from '../errors.js'
import type { GpuContext } from '../device/context.js'
import type { Scene } from '../scene/scene.js'
import { projectionScale } from '../scene/camera.js'
import { environmentTables } from '../scene/environment.js'
import { lightShares } from './light-shares.js'
import { kernelFeatures, kernelVariant, withFeatures, type KernelFeatures } from './kernel-features.js'
import { PATH_TRACER_PARAMS_BYTES, PATH_TRACER_REDUCE_WGSL, pathTracerWgsl } from './pathtracer-wgsl.js'
import { spreadRows, unspreadRows } from './row-order.js'
import { resolveTile } from './tile.js'
import type { RenderControlOptions, RenderedTile, RenderTileOptions, ResolvedTile } from './tile.js'

/** How the path tracer cuts a render into dispatches. The defaults suit every device; tests lower them. */
export interface DispatchPacing {
  /**
   * Most pixel-samples one dispatch traces; at least {@link MAX_IMAGE_SIDE}, so one sample of one row fits.
   * @default PIXEL_SAMPLES_PER_DISPATCH
   */
  pixelSamplesPerDispatch?: number
  /**
   * Run time an abortable render aims each dispatch at, milliseconds.
   * @default DISPATCH_TARGET_MS
   */
  targetDispatchMs?: number
  /**
   * The clock, in milliseconds, that times an abortable render's dispatches.
   * @default performance.now
   */
  now?: () => number
}

/** A scene's buffers on the device, and the renders using them. */
interface SceneBuffers {
  nodes: GPUBuffer
  triangles: GPUBuffer
  normals: GPUBuffer
  materials: GPUBuffer
  aux: GPUBuffer
  /** Renders in flight on these buffers: a release waits for the last of them. */
  renders: number
  /** Released: destroyed once no render uses them (later renders of the scene upload it again). */
  released: boolean
}

/** Renders tiles with the WGSL path tracer; keeps each scene's buffers on the device while the scene lives. */
export class GpuPathTracer {
  readonly #ctx: GpuContext
  readonly #scenes = new WeakMap<Scene, SceneBuffers>()
  readonly #samplesInParallel: boolean
  readonly #extraFeatures: Partial<KernelFeatures>
  readonly #cap: number
  readonly #targetMs: number
  readonly #now: () => number

  /**
   * `samplesInParallel`: one sample per invocation (real GPUs) or a pixel's samples in turn (CPU drivers).
   * `extraFeatures`: kernel features compiled in whether or not a scene needs them; they cost speed and change
   * nothing in the image (tests check exactly that). `pacing`: see {@link DispatchPacing}; throws
   * GPU__INVALID_INPUT for a bad value.
   */
  constructor(
    ctx: GpuContext,
    samplesInParallel: boolean,
    extraFeatures: Partial<KernelFeatures> = {},
    pacing: DispatchPacing = {},
  ) {
    this.#ctx = ctx
    this.#samplesInParallel = samplesInParallel
    this.#extraFeatures = extraFeatures
    this.#cap = pacing.pixelSamplesPerDispatch ?? PIXEL_SAMPLES_PER_DISPATCH
    this.#targetMs = pacing.targetDispatchMs ?? DISPATCH_TARGET_MS
    this.#now = pacing.now ?? (() => performance.now())
    if (!Number.isSafeInteger(this.#cap) || this.#cap < MAX_IMAGE_SIDE) {
      const message = `pixelSamplesPerDispatch must be an integer of at least ${MAX_IMAGE_SIDE}`
      throw new GpuError('GPU__INVALID_INPUT', message, { pixelSamplesPerDispatch: this.#cap })
    }
    if (!(this.#targetMs > 0 && Number.isFinite(this.#targetMs))) {
      throw new GpuError('GPU__INVALID_INPUT', 'targetDispatchMs must be a positive number', {
        targetDispatchMs: this.#targetMs,
      })
    }
  }

  /**
   * Renders a tile (or the given rows of it); see {@link RenderTileOptions}. Given a signal (or `onProgress`), the
   * render keeps one dispatch queued behind the running one (more where the cap keeps them short, see
   * {@link DispatchPacer.depth}), waits for each and sizes the next by the time it took, tracing the rows in an order
   * spread over the tile (see {@link spreadRows}), the samples in passes over them (see {@link DispatchOrder}), so
   * that time foretells the next dispatch's even where the image's cost is uneven; an abort then stops it within about
   * twice DISPATCH_TARGET_MS (see there). Without, it queues dispatches of the largest size over blocks of rows in
   * order.
   */
  async renderTile(options: RenderTileOptions, control: RenderControlOptions = {}): Promise<RenderedTile> {
    const t = resolveTile(options)
    const ctx = this.#ctx
    const { signal, onProgress } = control
    ctx.assertUsable(signal)
    const maxWorkgroups = ctx.device.limits.maxComputeWorkgroupsPerDimension
    const paced = signal !== undefined || onProgress !== undefined
    // Paced, the samples go in passes over the rows, so the dispatches the pacer learns from hold rows from all over
    // the tile; unpaced, in blocks of rows, the fewest dispatches.
    const planner = new DispatchPlanner(
      t,
      this.#samplesInParallel,
      maxWorkgroups,
      this.#cap,
      paced ? 'passes' : 'blocks',
    )
    const outBytes = t.rows.length * t.width * 16
    const partialBytes = planner.largestGroupPixels * 16
    ctx.checkAllocation(outBytes, 'render tile output')
    ctx.checkAllocation(partialBytes, 'render sample groups')
    ctx.checkDispatch(
      Math.ceil(t.width / RENDER_WORKGROUP),
      Math.ceil(planner.largestRows / RENDER_WORKGROUP),
      planner.largestGroupCount,
      'render tile',
    )
    const pacer = paced ? new DispatchPacer(t.width, this.#cap, this.#targetMs) : undefined
    const total = t.rows.length * t.width * t.samples
    return ctx.scoped('renderTile', async () => {
      const features = withFeatures(kernelFeatures(options.scene), this.#extraFeatures)
      const trace = ctx.pipeline(kernelVariant(features), () => pathTracerWgsl(features))
      const reduce = ctx.pipeline('pathtracer-reduce', () => PATH_TRACER_REDUCE_WGSL)
      // Every buffer is made inside the try: one that fails to allocate must not leave the others behind.
      const transient: GPUBuffer[] = []
      // Each dispatch's parameters, from their making until the dispatch is waited for (or the render ends): a
      // dispatch that fails to encode or submit must not leave its parameters behind either.
      const dispatchParams = new Set<GPUBuffer>()
      let scene: SceneBuffers | undefined
      // Paced, the rows go in an order spread over the tile, put back in place once read: one by one where samples go
      // in turn (a CPU driver, where a dispatch holds few rows of many samples each, so bands would bunch its rows
      // together), in bands of a workgroup's height where they go side by side (a GPU, where a dispatch holds many
      // bands, and a workgroup on neighbouring rows traces alike rays together).
      const band = this.#samplesInParallel ? RENDER_WORKGROUP : 1
      const order = pacer === undefined ? undefined : spreadRows(t.rows.length, band)
      try {
        scene = this.#hold(options.scene)
        const { nodes, triangles, normals, materials, aux } = scene
        const tracedRows = order === undefined ? Uint32Array.from(t.rows) : order.map((k) => t.rows[k]!)
        const rows = ctx.upload(tracedRows, 'tile rows')
        transient.push(rows)
        const accum = ctx.createStorage(outBytes, 'render tile output')
        transient.push(accum)
        const partial = ctx.createStorage(partialBytes, 'render sample groups')
        transient.push(partial)
        // Where the dispatches' boundaries fall (by size, or by measured time) does not change the bits: each pixel
        // adds its samples one at a time in ascending order from zero however they are cut (see PATH_TRACER_WGSL).
        let traced = 0
        let dispatches = 0
        let settled = this.#now()
        // Dispatches submitted and not yet waited for, oldest first: the next is submitted before the last is waited
        // for, so the device never sits idle while the host times a dispatch and plans the next.
        const inFlight: QueuedDispatch[] = []
        const settle = async (q: QueuedDispatch): Promise<void> => {
          try {
            await q.done
          } finally {
            dispatchParams.delete(q.params)
            q.params.destroy()
          }
          // Queued behind the one before, a dispatch runs from that one's end to its own.
          const now = this.#now()
          pacer?.record(q.pixelSamples, now - settled)
          settled = now
          traced += q.pixelSamples
          dispatches++
          onProgress?.({ dispatches, pixelSamples: traced, total })
        }
        while (!planner.done) {
          ctx.assertUsable(signal)
          const chunk = planner.next(pacer?.budget ?? this.#cap)
          const shape = this.#shape(chunk)
          const last = chunk.firstSample + chunk.sampleCount === t.samples
          const params = ctx.uniform(packParams(options.scene, t, chunk, shape, last), 'params')
          dispatchParams.add(params)
          const x = Math.ceil(t.width / RENDER_WORKGROUP)
          const y = Math.ceil(chunk.rowCount / RENDER_WORKGROUP)
          ctx.submit([
            {
              pipeline: trace,
              bindGroup: ctx.bind(trace, {
                0: params,
                1: nodes,
                2: triangles,
                3: normals,
                4: materials,
                5: rows,
                6: accum,
                7: aux,
                8: partial,
              }),
              workgroups: [x, y, shape.groupCount],
            },
            {
              pipeline: reduce,
              bindGroup: ctx.bind(reduce, { 0: params, 6: accum, 8: partial }),
              workgroups: [x, y],
            },
          ])
          // Nothing to stop or report: keep the queue full; the parameters go when the render ends.
          if (pacer === undefined) continue
          const done = ctx.idle()
          // An abort leaves the last dispatches unwaited for; their failures then have no one to report to.
          done.catch(() => undefined)
          inFlight.push({ done, params, pixelSamples: chunk.rowCount * t.width * chunk.sampleCount })
          // Wait for the oldest (the one running) while more are queued behind it than the pacer keeps: one, or several
          // where the cap keeps each far shorter than the target (the host's turn between two would show).
          while (inFlight.length > pacer.depth) await settle(inFlight.shift()!)
        }
        for (const q of inFlight.splice(0)) await settle(q)
        const pixels = new Float32Array(await ctx.read(accum, outBytes, signal))
        if (order !== undefined) unspreadRows(pixels, order, t.width * 4)
        let rays = 0
        for (let i = 3; i < pixels.length; i += 4) {
          rays += pixels[i]!
          pixels[i] = 1
        }
        return { ...t.identity, rows: t.rows, pixels, rays }
      } finally {
        for (const b of dispatchParams) b.destroy()
        for (const b of transient) b.destroy()
        if (scene !== undefined) this.#letGo(scene)
      }
    })
  }

  /**
   * Frees a scene's device buffers rather than when the scene is garbage-collected (which, for buffers the
   * collector does not see the size of, can be never in time). Renders in flight on the scene finish first: its
   * buffers go when the last of them ends. A later render of the scene uploads it again.
   */
  releaseScene(scene: Scene): void {
    const b = this.#scenes.get(scene)
    if (b === undefined) return
    this.#scenes.delete(scene)
    b.released = true
    if (b.renders === 0) destroySceneBuffers(b)
  }

  /** The scene's buffers, uploaded on first use, held for one render. */
  #hold(scene: Scene): SceneBuffers {
    let b = this.#scenes.get(scene)
    if (b === undefined) {
      const ctx = this.#ctx
      const uploaded: GPUBuffer[] = []
      const upload = (data: ArrayBufferView, what: string): GPUBuffer => {
        const buffer = ctx.upload(data, what)
        uploaded.push(buffer)
        return buffer
      }
      try {
        b = {
          nodes: upload(scene.bvh, 'scene BVH'),
          triangles: upload(scene.triangles, 'scene triangles'),
          normals: upload(scene.normals, 'scene normals'),
          materials: upload(scene.materials, 'scene materials'),
          aux: upload(scene.aux, 'scene lights and textures'),
          renders: 0,
          released: false,
        }
      } catch (e) {
        // A buffer past the device's limits: the ones already made go with the failure.
        for (const buffer of uploaded) buffer.destroy()
        throw e
      }
      this.#scenes.set(scene, b)
    }
    b.renders++
    return b
  }

  /** How a chunk's samples map onto invocations: one a group in parallel, or one group traced in turn. */
  #shape(chunk: DispatchChunk): GroupShape {
    if (this.#samplesInParallel) return { groupSize: 1, groupCount: chunk.sampleCount, carry: false }
    // The one group of a later chunk carries on from the pixels' running sums, so the sum is the same as in turn.
    return { groupSize: chunk.sampleCount, groupCount: 1, carry: chunk.firstSample > 0 }
  }

  #letGo(b: SceneBuffers): void {
    b.renders--
    if (b.released && b.renders === 0) destroySceneBuffers(b)
  }
}

function destroySceneBuffers(b: SceneBuffers): void {
  for (const buffer of [b.nodes, b.triangles, b.normals, b.materials, b.aux]) buffer.destroy()
}

/**
 * One dispatch: samples [firstSample, firstSample + sampleCount) of every pixel of the rows [firstRow, firstRow +
 * rowCount) (indices into the tile's rows).
 */
export interface DispatchChunk {
  firstRow: number
  rowCount: number
  firstSample: number
  sampleCount: number
}

/** A submitted dispatch of an abortable render, waited for once the next is submitted. */
interface QueuedDispatch {
  /** Settles when the device has finished it. */
  done: Promise<void>
  params: GPUBuffer
  pixelSamples: number
}

/** How a dispatch's samples are laid on its invocations (see PATH_TRACER_WGSL). */
interface GroupShape {
  /** Samples each invocation traces in turn. */
  groupSize: number
  /** Groups side by side (the dispatch's z extent). */
  groupCount: number
  /** The one group starts from the pixels' running sums rather than from zero. */
  carry: boolean
}

/**
 * How a plan walks a tile's pixel-samples. `blocks`: the rows go in blocks, each block's samples in ascending order
 * before the next block starts (the fewest dispatches at the cap). `passes`: the samples go in passes over every row,
 * each pass's samples chosen at its start (as many as fit the budget over {@link PACED_SPREAD_ROWS} rows where samples
 * go in turn, over every row where they go side by side), its rows in dispatches as large as each budget allows, so
 * that a small dispatch early in an abortable render holds rows from all over the tile (in their spread order, see
 * {@link spreadRows}) rather than the first row's samples: with blocks, a row of many samples took every dispatch
 * the pacer grew on, and a cheap first row (sky above costly geometry) let it plan one dispatch of 24 s on lavapipe.
 */
export type DispatchOrder = 'blocks' | 'passes'

/**
 * Cuts a tile's pixel-samples into dispatches, each given a budget of pixel-samples: the cap, or what an abortable
 * render's measured speed allows, in the given {@link DispatchOrder}. Whatever the cut, each pixel's samples go in
 * ascending order, so the bits are the same. With `samplesInParallel` each invocation traces one sample and a
 * dispatch holds its rows' next samples side by side; otherwise each invocation traces its pixel's next samples in
 * turn (which lavapipe needs to keep its lanes busy), as many as the budget allows, so a wide tile at many samples
 * splits a pixel's samples over several dispatches rather than passing the cap. On an H100 samples in parallel traced
 * 3.4x (32x32 tiles) to 1.5x (1024x1024) the rays/s, at 16 spp: a small tile alone cannot fill the GPU. A dispatch
 * never traces more than the cap (at least {@link MAX_IMAGE_SIDE}, so one sample of one row fits), which bounds its
 * run time; nor more than its budget, except for one sample of its block's rows (blocks) or one row of its pass's
 * samples (passes).
 */
export class DispatchPlanner {
  readonly #width: number
  readonly #rowCount: number
  readonly #samples: number
  readonly #samplesInParallel: boolean
  readonly #maxWorkgroups: number
  readonly #cap: number
  readonly #order: DispatchOrder
  #row = 0
  #sample = 0
  /** Rows of the block under way (blocks), or samples of the pass under way (passes). */
  #stride = 0

  constructor(
    t: ResolvedTile,
    samplesInParallel: boolean,
    maxWorkgroups: number,
    cap: number,
    order: DispatchOrder = 'blocks',
  ) {
    this.#width = t.width
    this.#rowCount = t.rows.length
    this.#samples = t.samples
    this.#samplesInParallel = samplesInParallel
    this.#maxWorkgroups = maxWorkgroups
    this.#cap = cap
    this.#order = order
  }

  /** Every pixel-sample is in a chunk already returned. */
  get done(): boolean {
    return this.#order === 'blocks' ? this.#row >= this.#rowCount : this.#sample >= this.#samples
  }

  /**
   * Most rows a chunk holds: a block's rows at the full cap (a smaller budget never makes a taller block), or a pass's
   * rows at one sample each.
   */
  get largestRows(): number {
    const perRow = this.#order === 'blocks' ? this.#samplesPerInvocation(this.#cap) : 1
    return this.#rowsFor(this.#cap, this.#rowCount, perRow)
  }

  /** Most sample groups a chunk lays side by side. */
  get largestGroupCount(): number {
    return this.#samplesInParallel ? Math.min(this.#samples, this.#maxWorkgroups) : 1
  }

  /** Most pixel-sample groups a chunk writes: rows x width x groups, never past the cap. */
  get largestGroupPixels(): number {
    return Math.min(this.#cap, this.largestRows * this.#width * this.largestGroupCount)
  }

  /** The next chunk, of at most `budget` pixel-samples (clamped to the cap) where one sample of its rows fits. */
  next(budget: number): DispatchChunk {
    if (this.done) throw new GpuError('GPU__INVALID_INPUT', 'every dispatch of the tile is planned already', {})
    const b = Math.min(this.#cap, Math.max(this.#width, Math.floor(budget)))
    return this.#order === 'blocks' ? this.#nextOfBlock(b) : this.#nextOfPass(b)
  }

  #nextOfBlock(b: number): DispatchChunk {
    if (this.#sample === 0) {
      this.#stride = this.#rowsFor(b, this.#rowCount - this.#row, this.#samplesPerInvocation(b))
    }
    const sampleCount = this.#samplesFor(b, this.#stride)
    const chunk = { firstRow: this.#row, rowCount: this.#stride, firstSample: this.#sample, sampleCount }
    this.#sample += sampleCount
    if (this.#sample === this.#samples) {
      this.#sample = 0
      this.#row += this.#stride
    }
    return chunk
  }

  #nextOfPass(b: number): DispatchChunk {
    // A pass's samples are fixed at its start, as many of a row as the budget then holds over the rows a dispatch
    // should spread over (at least one sample); its rows then go in dispatches as large as each budget allows. Side by
    // side, more samples buy no speed, so a dispatch spreads over every row it can.
    if (this.#row === 0) {
      const spread = this.#samplesInParallel ? this.#rowCount : Math.min(this.#rowCount, PACED_SPREAD_ROWS)
      this.#stride = this.#samplesFor(b, spread)
    }
    const rowCount = this.#rowsFor(b, this.#rowCount - this.#row, this.#stride)
    const chunk = { firstRow: this.#row, rowCount, firstSample: this.#sample, sampleCount: this.#stride }
    this.#row += rowCount
    if (this.#row === this.#rowCount) {
      this.#row = 0
      this.#sample += this.#stride
    }
    return chunk
  }

  /** Where samples go in turn, how many of a pixel's samples one invocation traces: all, or as many as fit a row. */
  #samplesPerInvocation(budget: number): number {
    return this.#samplesInParallel ? 1 : Math.max(1, Math.min(this.#samples, Math.floor(budget / this.#width)))
  }

  /** The next samples of `rows` rows that fit `budget`: at least one, within the workgroups side by side. */
  #samplesFor(budget: number, rows: number): number {
    const groupLimit = this.#samplesInParallel ? this.#maxWorkgroups : Infinity
    const fit = Math.floor(budget / (this.#width * rows))
    return Math.max(1, Math.min(this.#samples - this.#sample, fit, groupLimit))
  }

  /** Rows of `samples` pixel-samples each that fit `budget`: at least one, within the workgroups of a dispatch. */
  #rowsFor(budget: number, rowsLeft: number, samples: number): number {
    const perRow = this.#width * samples
    return Math.max(1, Math.min(rowsLeft, Math.floor(budget / perRow), this.#maxWorkgroups * RENDER_WORKGROUP))
  }
}

/** Every chunk of a tile at the full cap: what a render without a signal dispatches. */
export function planDispatches(
  t: ResolvedTile,
  samplesInParallel: boolean,
  maxWorkgroups: number,
  cap = PIXEL_SAMPLES_PER_DISPATCH,
): DispatchChunk[] {
  const planner = new DispatchPlanner(t, samplesInParallel, maxWorkgroups, cap)
  const chunks: DispatchChunk[] = []
  while (!planner.done) chunks.push(planner.next(cap))
  return chunks
}

/**
 * Sizes an abortable render's dispatches by their measured run time, toward a target: fed each dispatch's
 * pixel-samples and milliseconds, it reads no clock itself. It starts at one sample of one row, the least a
 * dispatch can be, since nothing is known of the scene's cost, and never plans a dispatch more than
 * {@link DISPATCH_GROWTH} times the largest of those its speed is read from, nor past the cap.
 */
export class DispatchPacer {
  readonly #minimum: number
  readonly #cap: number
  readonly #targetMs: number
  #budget: number
  #depth = 1
  /** Dispatches recorded so far. */
  #recorded = 0
  /** The latest dispatches timed, oldest first, that the speed is read from (see {@link record}). */
  readonly #recent: { pixelSamples: number; ms: number }[] = []
  #recentPixelSamples = 0
  #recentMs = 0

  constructor(minimum: number, cap: number, targetMs: number) {
    this.#minimum = minimum
    this.#cap = cap
    this.#targetMs = targetMs
    this.#budget = minimum
  }

  /** Pixel-samples for the next dispatch. */
  get budget(): number {
    return this.#budget
  }

  /**
   * Dispatches to keep queued behind the running one: one, or, where the cap keeps dispatches under the target, as
   * many as the target's worth at the measured speed holds, within {@link DISPATCH_GROWTH} times the largest dispatch
   * timed. Work queued is what an abort waits for, so it stays within about the target.
   */
  get depth(): number {
    return this.#depth
  }

  /**
   * A dispatch of `pixelSamples` took `ms`: the next aims at the target at the speed of the latest dispatches that
   * together ran at least the target (or of all, if they ran less). Quick dispatches do not outweigh a slow one
   * before them until they have run as long: quick because their rows were cheap (rows further on may not be), or
   * because the host saw the one before late (a queued dispatch is timed from the host's sight of the one before it
   * ending). The first dispatch is not timed: it also carries the scene's upload and the kernel's first run, and the
   * second, planned before the first was timed, is as small and timed instead.
   */
  record(pixelSamples: number, measuredMs: number): void {
    if (this.#recorded++ === 0) return
    // A clock that went back, or an injected one that answers NaN, says nothing: counted as no time, which
    // DISPATCH_GROWTH bounds, rather than a NaN budget that would plan dispatches of no rows for ever.
    const ms = Number.isFinite(measuredMs) && measuredMs > 0 ? measuredMs : 0
    const recent = this.#recent
    recent.push({ pixelSamples, ms })
    this.#recentPixelSamples += pixelSamples
    this.#recentMs += ms
    while (recent.length > 1 && this.#recentMs - recent[0]!.ms >= this.#targetMs) {
      const oldest = recent.shift()!
      this.#recentPixelSamples -= oldest.pixelSamples
      this.#recentMs -= oldest.ms
    }
    // Dispatches quicker than the clock's resolution count as a microsecond; DISPATCH_GROWTH bounds the guess.
    const aim = Math.floor((this.#recentPixelSamples / Math.max(this.#recentMs, 1e-3)) * this.#targetMs)
    // Growth counts from what was timed, not from the budget: with one dispatch queued, the budget was spent on a
    // dispatch not yet timed, and growing it again compounded two guesses (16 times the last dispatch timed). A time
    // near nothing says only that the work was cheap, not what work past it costs: a modest step from it, no more.
    let largest = 0
    for (const r of recent) largest = Math.max(largest, r.pixelSamples)
    this.#budget = Math.max(this.#minimum, Math.min(this.#cap, aim, largest * DISPATCH_GROWTH))
    this.#depth = Math.max(1, Math.floor(Math.min(aim, largest * DISPATCH_GROWTH) / this.#budget))
  }
}

function packParams(scene: Scene, t: ResolvedTile, c: DispatchChunk, g: GroupShape, finalize: boolean): ArrayBuffer {
  const data = new ArrayBuffer(PATH_TRACER_PARAMS_BYTES)
  const u = new Uint32Array(data)
  const f = new Float32Array(data)
  u.set([
    t.imageWidth,
    t.imageHeight,
    t.x,
    t.y,
    t.width,
    c.rowCount,
    t.frame,
    t.maxDepth,
    c.firstSample,
    g.groupSize,
    t.samples,
    c.firstRow,
  ])
  const cam = scene.camera
  f.set([...cam.position, projectionScale(cam)], 12)
  f.set([...cam.right, t.imageWidth / t.imageHeight], 16)
  f.set([...cam.up], 20)
  u[23] = scene.lightCount
  f.set([...cam.forward, scene.lightPower], 24)
  f.set([...t.background, 0], 28)
  u.set([g.groupCount, finalize ? 1 : 0, g.carry ? 1 : 0], 32)
  u.set([scene.lutOffset, scene.uvOffset, scene.tangentOffset, scene.colorOffset], 36)
  u.set([scene.punctualOffset, scene.punctualCount, scene.unlit ? 1 : 0, scene.specularTextured ? 1 : 0], 40)
  const hidden = scene.environment?.visible === false ? 1 : 0
  u.set([scene.sheenOffset, scene.uv1Offset, scene.uvTransformOffset, hidden], 44)
  const env = scene.environment
  if (env !== undefined) {
    const tables = environmentTables(env)
    u.set([tables.radiance, env.width, env.height, tables.rows], 48)
  }
  const shares = lightShares(scene)
  f.set([shares.punctual, shares.environment, Math.cos(env?.rotation ?? 0), Math.sin(env?.rotation ?? 0)], 52)
  return data
}
