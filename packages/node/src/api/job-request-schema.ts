import {
  environmentLightingSchema,
  MAX_ANIMATION_NAME_LENGTH,
  MAX_FIRST_FRAME,
  MAX_FLOPS_PER_TASK,
  MAX_FPS,
  MAX_FRAMES_PER_JOB,
  MAX_INFERENCE_ITEMS,
  MIN_FPS,
} from '@tessera/core'
import { MAX_VERIFICATION_HORIZON } from '@tessera/proof'
import { MAX_JOB_TIMEOUT_MS } from '@tessera/scheduler'
import { z } from 'zod'
import type { JobRequest } from './contract.js'
import { validate } from './request.js'

/** A token amount: a whole number that fits Solana's u64, as a decimal string (JSON numbers lose precision). */
export const tokenAmount = z
  .string()
  // zod runs the checks after a failed one too, unless it aborts: anything but digits would make BigInt throw.
  .regex(/^\d{1,20}$/, { message: 'expected a whole number of tokens, in decimal digits', abort: true })
  .refine((v) => BigInt(v) <= 0xffff_ffff_ffff_ffffn, 'amount out of u64 range')

/**
 * A {@link JobRequest} as the node takes one: from the control API (`POST /v1/jobs`) and from an embedder calling
 * `Peer.submitJob`, checked by this one schema.
 */
export const jobRequestSchema = z
  .object({
    kind: z.enum(['render', 'inference']),
    inputs: z.array(z.string().min(1).max(128)).min(1).max(64),
    render: z
      .object({
        frames: z.number().int().min(1).max(MAX_FRAMES_PER_JOB),
        width: z.number().int().min(1).max(16_384),
        height: z.number().int().min(1).max(16_384),
        tileWidth: z.number().int().min(1).max(16_384),
        tileHeight: z.number().int().min(1).max(16_384),
        samples: z.number().int().min(1).max(65_536),
        firstFrame: z.number().int().min(0).max(MAX_FIRST_FRAME).optional(),
        fps: z.number().min(MIN_FPS).max(MAX_FPS).optional(),
        animation: z.string().min(1).max(MAX_ANIMATION_NAME_LENGTH).optional(),
        // Strict here though peers' orders are not: a caller's misspelt key (`hidden`) would be dropped unseen.
        environment: environmentLightingSchema.strict().optional(),
      })
      .strict()
      .refine((render) => render.animation === undefined || render.fps !== undefined, {
        message: 'render.animation picks an animation to play, at render.fps: give both',
      })
      .optional(),
    inference: z
      .object({
        items: z.number().int().min(1).max(MAX_INFERENCE_ITEMS),
        itemsPerTask: z.number().int().min(1).max(MAX_INFERENCE_ITEMS),
        flopsPerItem: z.number().int().min(1).max(MAX_FLOPS_PER_TASK).optional(),
      })
      .strict()
      .optional(),
    tier: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional(),
    // Of no price, a job has no budget, and the ledger funds no empty vault.
    maxPrice: tokenAmount
      .refine((v) => BigInt(v) > 0n, 'a job pays at least 1 token unit per benchmark-hour')
      .optional(),
    deadlineMs: z.number().int().min(1).max(MAX_JOB_TIMEOUT_MS).optional(),
    minBids: z.number().int().min(1).max(1024).optional(),
    // The planner's ranges; whether a plan meets the whole is checked against the job's tasks as it is ordered.
    verification: z
      .object({
        detect: z.number().gt(0).lt(1).optional(),
        withinTasks: z.number().int().min(1).max(MAX_VERIFICATION_HORIZON).optional(),
        cheatRate: z.number().gt(0).max(1).optional(),
        maxOverhead: z.number().gt(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine(
    (r) =>
      r.kind === 'render'
        ? r.render !== undefined && r.inference === undefined
        : r.inference !== undefined && r.render === undefined,
    { message: 'a render job needs `render` (and no `inference`), an inference job `inference` (and no `render`)' },
  )
  // Peers read a render's second input as its panorama, lit with defaults when `environment` is absent, and read no
  // input past the second: any other shape orders something else than was meant.
  .refine((r) => r.kind !== 'render' || r.inputs.length === (r.render?.environment === undefined ? 1 : 2), {
    message:
      "a render's inputs are its scene and, only with render.environment, the panorama that lights it: " +
      'one input, or two with render.environment',
    path: ['inputs'],
  })
  .refine((r) => r.kind !== 'inference' || r.inputs.length <= 2, {
    message: "an inference's inputs are its model and its input tensors: at most two",
    path: ['inputs'],
  })

/** `request` checked against {@link jobRequestSchema}; `NODE__API_MALFORMED_REQUEST`, naming the first bad field. */
export function parseJobRequest(request: unknown): JobRequest {
  return validate(request, jobRequestSchema, 'job request')
}
