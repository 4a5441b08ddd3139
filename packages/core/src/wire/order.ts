import { z } from 'zod'
import {
  MAX_ENVIRONMENT_INTENSITY,
  MAX_ENVIRONMENT_ROTATION,
  MAX_FEATURES,
  MAX_FIRST_FRAME,
  MAX_FPS,
  MIN_FPS,
  MAX_ANIMATION_NAME_LENGTH,
  MAX_FRAMES_PER_JOB,
  MAX_ID_LENGTH,
  MAX_IMAGE_SIDE,
  MAX_INPUTS_PER_ORDER,
  MAX_SAMPLES_PER_PIXEL,
  MAX_INFERENCE_ITEMS,
  MAX_PIXEL_SAMPLES_PER_TASK,
  MAX_FLOPS_PER_TASK,
} from '../constants.js'
import { amount, cid, id, label, nonNegative, peerId, posInt, probability, tier, uint } from './fields.js'
import { orderIdMatches } from './job-id.js'

/**
 * How a render's panorama (its order's second input) lights the scene: a multiplier of its radiance, a turn about
 * +y in radians, and whether the camera sees it (else black behind the scene) (`@tessera/gpu`'s `withEnvironment`
 * options). The multiplier is above 0, as `job submit --environment-intensity` takes it: a panorama scaled to nothing
 * lights nothing, which is a render without `environment`, ordered with an input no one reads.
 */
export const environmentLightingSchema = z.object({
  intensity: z.number().gt(0).max(MAX_ENVIRONMENT_INTENSITY),
  rotation: z.number().min(-MAX_ENVIRONMENT_ROTATION).max(MAX_ENVIRONMENT_ROTATION),
  visible: z.boolean().optional(),
})

/** The split's fields a render task's work is reckoned from. */
interface RenderWork {
  width: number
  height: number
  tileWidth: number
  tileHeight: number
  samples: number
}

/**
 * Pixels of a render split's largest task: a whole tile (edge tiles are clipped, so the image bounds a tile). What a
 * worker's device must hold the output of (16 bytes a pixel): a worker skips an order past what its device holds, and a
 * creator keeps to `MAX_TILE_PIXELS`, which every device holds.
 */
export function renderTaskPixels(split: Omit<RenderWork, 'samples'>): number {
  return Math.min(split.tileWidth, split.width) * Math.min(split.tileHeight, split.height)
}

/**
 * Pixel-samples of a render split's largest task: its tile's pixels ({@link renderTaskPixels}) times the samples per
 * pixel. What {@link MAX_PIXEL_SAMPLES_PER_TASK} bounds and workers price an order's work by.
 */
export function renderTaskPixelSamples(split: RenderWork): number {
  return renderTaskPixels(split) * split.samples
}

/**
 * Render jobs split into frames x tiles, each task at most {@link MAX_PIXEL_SAMPLES_PER_TASK} pixel-samples: within
 * the bounds of each field one task could still be a 16384x16384 tile at 65,536 samples, work no worker finishes.
 * A tile's pixels are not bounded here: what a device holds differs between workers (see `MAX_TILE_PIXELS`),
 * and an order only some devices hold is no malformed message, so peers relay it and each worker decides.
 */
export const renderSplitSchema = z
  .object({
    kind: z.literal('render'),
    firstFrame: uint.max(MAX_FIRST_FRAME),
    frames: posInt.max(MAX_FRAMES_PER_JOB),
    width: posInt.max(MAX_IMAGE_SIDE),
    height: posInt.max(MAX_IMAGE_SIDE),
    tileWidth: posInt.max(MAX_IMAGE_SIDE),
    tileHeight: posInt.max(MAX_IMAGE_SIDE),
    samples: posInt.max(MAX_SAMPLES_PER_PIXEL),
    /** Set when the order's second input is a panorama lighting the scene. */
    environment: environmentLightingSchema.optional(),
    /**
     * Plays the scene's animations: frame `f` shows them at `f / fps` seconds. Absent, every frame shows the scene as
     * its file stores it.
     */
    fps: z.number().min(MIN_FPS).max(MAX_FPS).optional(),
    /** With `fps`, the one animation of the scene to play (by name); absent, all of them. */
    animation: z.string().min(1).max(MAX_ANIMATION_NAME_LENGTH).optional(),
  })
  .refine((split) => renderTaskPixelSamples(split) <= MAX_PIXEL_SAMPLES_PER_TASK, {
    message: `a task is at most ${MAX_PIXEL_SAMPLES_PER_TASK} pixel-samples (tile pixels x samples): use smaller tiles or fewer samples`,
    path: ['samples'],
  })

/**
 * FLOPs of an inference split's largest task: its items times the order's declared `flopsPerItem`, or undefined for an
 * order that declares none. What {@link MAX_FLOPS_PER_TASK} bounds and workers price an order's work by.
 */
export function inferenceTaskFlops(split: {
  itemsPerTask: number
  items: number
  flopsPerItem?: number
}): number | undefined {
  return split.flopsPerItem === undefined ? undefined : Math.min(split.itemsPerTask, split.items) * split.flopsPerItem
}

/**
 * Inference jobs split into ranges of input batch items. The model is named only by CID, so its work is in the
 * order only as the creator declares it (`flopsPerItem`), each task at most {@link MAX_FLOPS_PER_TASK}; a worker
 * checks the declaration against the model it loads.
 */
export const inferenceSplitSchema = z
  .object({
    kind: z.literal('inference'),
    items: posInt.max(MAX_INFERENCE_ITEMS),
    itemsPerTask: posInt.max(MAX_INFERENCE_ITEMS),
    /**
     * FLOPs of one batch item's forward pass: twice its multiply-adds (MatMul, Gemm, Conv), as the capacity
     * benchmark counts a matmul's. Absent in orders from before it existed: workers then cannot price the work.
     */
    flopsPerItem: posInt.max(MAX_FLOPS_PER_TASK).optional(),
  })
  .refine((split) => (inferenceTaskFlops(split) ?? 0) <= MAX_FLOPS_PER_TASK, {
    message: `a task is at most ${MAX_FLOPS_PER_TASK} FLOPs (items per task x flopsPerItem): use fewer items per task`,
    path: ['flopsPerItem'],
  })

export const splitSchema = z.discriminatedUnion('kind', [renderSplitSchema, inferenceSplitSchema])

/** The creator's verification budget, handed to `@tessera/proof`'s planner. */
export const verificationBudgetSchema = z.object({
  detect: probability,
  withinTasks: posInt,
  cheatRate: probability,
  maxOverhead: probability,
})

/** The creator's 64-bit random nonce, in hex: two identical specs from one creator are two jobs. */
export const jobNonce = z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits')

/** An order's fields, before the check that its id derives from them. */
const orderFields = z.object({
  jobId: id,
  creator: peerId,
  nonce: jobNonce,
  kind: z.union([z.literal('render'), z.literal('inference')]),
  inputs: z.array(cid).min(1).max(MAX_INPUTS_PER_ORDER),
  split: splitSchema,
  tier,
  /** Highest acceptable price per benchmark-hour, token units. */
  maxPrice: amount,
  /** The creator's estimate of benchmark-hours per task, to turn prices into expected cost. */
  benchHoursPerTask: nonNegative,
  requirements: z.object({ features: z.array(label).max(MAX_FEATURES), minMemoryMb: uint }),
  /** Bid window: closes at `bidDeadline` or once `minBids` bids arrived, whichever is first. */
  bidDeadline: uint,
  minBids: posInt.max(1024),
  /** The job must be complete by then. */
  deadline: uint,
  verification: verificationBudgetSchema,
  /** The creator's escrow reference on the ledger. */
  escrow: z.string().max(MAX_ID_LENGTH),
  issuedAt: uint,
  /** Set on a re-published order when the creator withdraws it: workers stop its tasks and stop bidding. */
  cancelled: z.boolean().optional(),
})

/**
 * A creator's signed request for work (DESIGN.md, "Order"), published on `/tessera/1/orders`. Workers bid on it;
 * the creator awards tasks by reverse auction within the order's tier. Its `jobId` must be the one its content
 * derives (`jobIdOf`), so the job id a worker signs in its Result names this order and no other.
 */
export const orderSchema = orderFields.refine(orderIdMatches, {
  message: "jobId is not the id the order's content derives",
  path: ['jobId'],
})

export type Order = z.output<typeof orderFields>
export type Split = z.output<typeof splitSchema>
export type RenderSplit = z.output<typeof renderSplitSchema>
export type InferenceSplit = z.output<typeof inferenceSplitSchema>
export type VerificationBudget = z.output<typeof verificationBudgetSchema>
