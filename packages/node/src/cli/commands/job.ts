import { extname } from 'node:path'
import { type AbortOptions, delay, MAX_FRAMES_PER_JOB, MAX_INFERENCE_ITEMS, type Split } from '@tessera/core'
import {
  decodeEnvironmentImage,
  loadOnnxModel,
  MAX_TENSOR_RANK,
  modelFlopsLowerBound,
  SceneTimeline,
  tensor,
} from '@tessera/gpu'
import { MAX_VERIFICATION_HORIZON } from '@tessera/proof'
import { checkDeclaredWork, checkTaskCount, checkTaskWork } from '@tessera/scheduler'
import { SingleBar } from 'cli-progress'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { z } from 'zod'
import { ApiClient } from '../../api/client.js'
import { DEFAULT_JOBS_LISTED, type JobRequest, type JobStatus, MAX_JOBS_LISTED } from '../../api/contract.js'
import { NodeError } from '../../errors.js'
import { checkJobVerification, verificationBudgetOf, type VerificationTerms } from '../../peer/job-verification.js'
import { encodeTensorBundle, MAX_TENSOR_BUNDLE_BYTES } from '../../peer/tensor-bundle.js'
import { dataDirOf } from '../data-dir-flag.js'
import type { CliIo } from '../io.js'
import { jobHeadline, jobReport, jobTable } from '../job-report.js'
import { checkEnvironmentFlags, environmentOptions, lightingOf, type EnvironmentFlags } from '../environment-flags.js'
import {
  parseDeadline,
  parseFirstFrame,
  parseFps,
  parseFrameCount,
  parseImageSide,
  parseFlopsPerItem,
  parseFraction,
  parseItemCount,
  parsePositiveAmount,
  parsePositiveInt,
  parseSamples,
} from '../parse.js'
import { checkFlags } from '../errors.js'
import { readInput, readScene } from '../read-input.js'
import { toneOptions, type ToneFlags } from '../tone-flags.js'
import { PNG_EXPOSURE } from '../../peer/job-output.js'
import { fetchJobOutput } from '../fetch-output.js'

const POLL_MS = 500

const tensorJson = z.record(
  z.string().min(1).max(256),
  z.object({ dims: z.array(z.number().int().min(0)).max(MAX_TENSOR_RANK), data: z.array(z.number()) }),
)

/**
 * Numbers a tensor JSON holds fewer of: the float32 values (4 bytes each) of the largest tensor bundle the node takes,
 * which its framing keeps below that. A file of more is no bundle the node would take, and parsed it would make an
 * array past what V8 holds (2^27 - 1 elements), which ends the process with a fatal error, not an exception.
 */
const MAX_TENSOR_JSON_NUMBERS = MAX_TENSOR_BUNDLE_BYTES / Float32Array.BYTES_PER_ELEMENT

/** `,` and `[` in UTF-8. */
const COMMA = 0x2c
const OPEN_BRACKET = 0x5b

/**
 * At most how many numbers JSON `bytes` hold, counted without parsing: an array's elements are one more than its
 * commas (a comma or bracket inside a name counts one more, never fewer).
 */
function numbersAtMost(bytes: Uint8Array): number {
  let count = 0
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === COMMA || bytes[i] === OPEN_BRACKET) count++
  return count
}

/**
 * Inference inputs from JSON (`{ "input": { "dims": [2, 4], "data": [...] } }`) into a tensor bundle blob. A file that
 * is not one is refused on one line, naming the first thing wrong (zod's own message is every issue, in JSON); one of
 * {@link MAX_TENSOR_JSON_NUMBERS} numbers or more is refused before it is parsed.
 */
async function readTensorJson(path: string): Promise<Uint8Array> {
  const bytes = await readInput(path)
  const notTensors = (why: string) =>
    new NodeError('NODE__UNSUPPORTED_INPUT', `${path} is not a JSON map of tensors: ${why}`, { path })
  if (numbersAtMost(bytes) >= MAX_TENSOR_JSON_NUMBERS) {
    throw new NodeError(
      'NODE__UNSUPPORTED_INPUT',
      `${path} holds ${MAX_TENSOR_JSON_NUMBERS} numbers or more, more than a tensor bundle carries ` +
        `(${MAX_TENSOR_BUNDLE_BYTES} bytes, 4 a float): split the job's items over several jobs`,
      { path, limit: MAX_TENSOR_JSON_NUMBERS },
    )
  }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    throw notTensors((e as Error).message)
  }
  const result = tensorJson.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue?.path.map(String).join('.') ?? ''
    throw notTensors(`${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`)
  }
  const parsed = result.data
  try {
    return encodeTensorBundle(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, tensor(v.dims, v.data)])))
  } catch (e) {
    throw new NodeError('NODE__UNSUPPORTED_INPUT', `${path}: ${(e as Error).message}`, { path })
  }
}

interface SubmitFlags extends EnvironmentFlags {
  frames: number
  firstFrame: number
  fps?: number
  animation?: string
  width: number
  height: number
  tile: number
  samples: number
  input?: string
  items?: number
  itemsPerTask?: number
  flopsPerItem?: number
  tier?: string
  maxPrice?: bigint
  deadline?: number
  verifyDetect?: number
  verifyWithin?: number
  verifyCheatRate?: number
  verifyOverhead?: number
  wait: boolean
}

/** The verification terms `job submit` was given; undefined when none was, for the node's default. */
function verificationOf(flags: SubmitFlags): VerificationTerms | undefined {
  const terms = {
    ...(flags.verifyDetect !== undefined ? { detect: flags.verifyDetect } : {}),
    ...(flags.verifyWithin !== undefined ? { withinTasks: flags.verifyWithin } : {}),
    ...(flags.verifyCheatRate !== undefined ? { cheatRate: flags.verifyCheatRate } : {}),
    ...(flags.verifyOverhead !== undefined ? { maxOverhead: flags.verifyOverhead } : {}),
  }
  return Object.keys(terms).length === 0 ? undefined : terms
}

/** What an inference job needs besides its model, from `job submit`'s flags. */
interface InferenceFlags {
  input: string
  items: number
  itemsPerTask: number
  /** The work the order declares an item takes, which workers price it by; absent, they cannot. */
  flopsPerItem?: number
}

/** An inference job's flags, which it cannot do without. */
function inferenceOf(flags: SubmitFlags): InferenceFlags {
  if (flags.input === undefined || flags.items === undefined) {
    throw new NodeError('NODE__UNSUPPORTED_INPUT', 'an inference job needs --input <tensors.json> and --items <n>', {})
  }
  return {
    input: flags.input,
    items: flags.items,
    itemsPerTask: flags.itemsPerTask ?? flags.items,
    ...(flags.flopsPerItem !== undefined ? { flopsPerItem: flags.flopsPerItem } : {}),
  }
}

/** `job submit` flags only a render takes (attribute names): a model ignores them. */
const RENDER_ONLY_FLAGS: ReadonlySet<string> = new Set([
  'frames',
  'firstFrame',
  'fps',
  'animation',
  'width',
  'height',
  'tile',
  'samples',
  'environment',
  'environmentIntensity',
  'environmentRotation',
  'environmentHidden',
])

/** `job submit` flags only an inference takes (attribute names): a scene ignores them. */
const INFERENCE_ONLY_FLAGS: ReadonlySet<string> = new Set(['input', 'items', 'itemsPerTask', 'flopsPerItem'])

/**
 * Refuses a flag of the other kind of job than `file`'s, given on the command line: ignored, it would order a job
 * other than the one asked for (a render where an inference was meant) and succeed.
 */
function refuseOtherKindFlags(command: Command, file: string, inference: boolean): void {
  const others = inference ? RENDER_ONLY_FLAGS : INFERENCE_ONLY_FLAGS
  const given = command.options.find(
    (o) => others.has(o.attributeName()) && command.getOptionValueSource(o.attributeName()) === 'cli',
  )
  if (given === undefined) return
  const flag = given.long ?? given.flags
  const why = inference
    ? `a render's flag, and ${file} is run as an inference`
    : `an inference's flag, and ${file} is rendered`
  throw new NodeError('NODE__UNSUPPORTED_INPUT', `${flag} is ${why}; leave it out`, { file, flag })
}

/** The inference split `inference` asks for, as the order and the control API carry it. */
function inferenceSplitOf({ input: _, ...split }: InferenceFlags): NonNullable<JobRequest['inference']> {
  return split
}

/** How the job splits into tasks, as its order will: an inference's, or else the render `flags` ask for. */
function splitOf(flags: SubmitFlags, inference: InferenceFlags | undefined): Split {
  if (inference !== undefined) return { kind: 'inference', ...inferenceSplitOf(inference) }
  return {
    kind: 'render',
    firstFrame: flags.firstFrame,
    frames: flags.frames,
    width: flags.width,
    height: flags.height,
    tileWidth: flags.tile,
    tileHeight: flags.tile,
    samples: flags.samples,
  }
}

/** The frame rate an animated scene plays at when the job does not say (film's). */
const DEFAULT_FPS = 24

/**
 * Polls a job until it ends, drawing a progress bar with ETA on a terminal and plain lines elsewhere; rejects with
 * `AbortError` when `options.signal` aborts (the job goes on).
 */
async function follow(client: ApiClient, jobId: string, io: CliIo, options: AbortOptions): Promise<JobStatus> {
  const bar = io.isTty
    ? new SingleBar({ format: ' {bar} {value}/{total} tasks | ETA {eta_formatted} | {state}' })
    : undefined
  let last = ''
  for (;;) {
    const status = await client.jobStatus(jobId, options)
    if (bar !== undefined) {
      if (bar.getTotal() !== status.tasks) bar.start(status.tasks, status.verified, { state: status.state })
      bar.update(status.verified, { state: status.state })
    } else {
      const line = jobHeadline(status)
      if (line !== last) io.stdout(`${line}\n`)
      last = line
    }
    if (status.state !== 'bidding' && status.state !== 'running') {
      bar?.stop()
      return status
    }
    await delay(POLL_MS, options.signal)
  }
}

/** `--verify-within` of `job submit`: a horizon in tasks, at most what the planner plans for. */
function parseHorizon(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_VERIFICATION_HORIZON) throw new InvalidArgumentError(`expected at most ${MAX_VERIFICATION_HORIZON}`)
  return n
}

/** `--limit` of `job list`: a positive integer up to what the API lists at once. */
function parseListLimit(value: string): number {
  const n = parsePositiveInt(value)
  if (n > MAX_JOBS_LISTED) throw new InvalidArgumentError(`expected at most ${MAX_JOBS_LISTED}`)
  return n
}

/** `tessera job submit|status|list|cancel|delete|fetch`. */
export function registerJob(program: Command, io: CliIo, options: AbortOptions = {}): void {
  const job = program.command('job').description('order work from the network and collect it')
  const client = () => ApiClient.forDataDir(dataDirOf(program), options)

  environmentOptions(
    job
      .command('submit <file>')
      .description('order a render (<scene.glb|.gltf>) or an inference (<model.onnx> with --input) job'),
  )
    .option('--frames <n>', `frames to render (at most ${MAX_FRAMES_PER_JOB})`, parseFrameCount, 1)
    .option('--first-frame <n>', 'number of the first frame', parseFirstFrame, 0)
    .option(
      '--fps <n>',
      `frame rate the scene's animations play at: frame f shows time f / fps (default ${DEFAULT_FPS} for an animated scene)`,
      parseFps,
    )
    .option('--animation <name>', 'the one animation of the scene to play (default: all of them)')
    .option('--width <px>', 'image width', parseImageSide, 128)
    .option('--height <px>', 'image height', parseImageSide, 128)
    .option('--tile <px>', 'tile side; each tile is a task', parseImageSide, 64)
    .option('--samples <n>', 'samples per pixel', parseSamples, 16)
    .option('--input <tensors.json>', 'inference inputs: JSON map of { dims, data } tensors')
    .option('--items <n>', `inference batch items (at most ${MAX_INFERENCE_ITEMS})`, parseItemCount)
    .option('--items-per-task <n>', 'batch items per task', parseItemCount)
    .option(
      '--flops-per-item <n>',
      "the model's FLOPs for one batch item (twice its multiply-adds), which workers price the job by",
      parseFlopsPerItem,
    )
    .addOption(new Option('--tier <tier>', 'reputation tier').choices(['1', '2', '3']).default('3'))
    .option('--max-price <units>', 'highest price per benchmark-hour (at least 1)', parsePositiveAmount)
    .option('--deadline <seconds>', 'the job must finish within this (at most 30 days)', parseDeadline)
    .option('--verify-detect <p>', 'verification: chance of catching a cheater (default 0.999)', parseFraction(false))
    .option(
      '--verify-within <tasks>',
      "verification: ...within this many of the cheater's tasks (default 200)",
      parseHorizon,
    )
    .option(
      '--verify-cheat-rate <f>',
      'verification: ...wrong on this share of its tasks (default 0.1)',
      parseFraction(true),
    )
    .option(
      '--verify-overhead <f>',
      'verification: most compute spent on checks, as a share of the job (default 0.1)',
      parseFraction(true),
    )
    .option('--no-wait', 'return once ordered instead of following progress')
    .action(async (file: string, flags: SubmitFlags, command: Command) => {
      const ext = extname(file).toLowerCase()
      if (!['.glb', '.gltf', '.onnx'].includes(ext)) {
        throw new NodeError('NODE__UNSUPPORTED_INPUT', `${file}: expected a .glb or .gltf scene or an .onnx model`, {
          file,
        })
      }
      checkFlags(() => {
        refuseOtherKindFlags(command, file, ext === '.onnx')
        checkEnvironmentFlags(command, flags)
      })
      const inference = ext === '.onnx' ? checkFlags(() => inferenceOf(flags)) : undefined
      // Counted and sized as the node counts and sizes the order's tasks, before anything is read or uploaded for an
      // order it would refuse.
      const verification = verificationOf(flags)
      const split = checkFlags(() => {
        const split = splitOf(flags, inference)
        checkTaskCount(split)
        checkTaskWork(split)
        if (verification !== undefined) checkJobVerification(split, verificationBudgetOf(verification))
        return split
      })
      const bytes =
        ext === '.onnx' ? await readInput(file) : await readScene(file, { dataDir: dataDirOf(program).root })
      // Declared below what its model's weights alone cost, the order would be refused by every worker that loads it.
      if (inference?.flopsPerItem !== undefined) {
        // Read outside checkFlags: a model that does not load is a failed input (exit 1, GPU__MALFORMED_MODEL), as a
        // malformed scene is, not a bad flag; only a declaration below the model's cost is.
        const modelFlops = modelFlopsLowerBound(loadOnnxModel(bytes))
        checkFlags(() => checkDeclaredWork(split, modelFlops))
      }
      // Read before anything is uploaded: a missing or malformed --input would fail after the model's upload, which
      // the node keeps a day.
      const tensors = inference === undefined ? undefined : await readTensorJson(inference.input)
      const api = await client()
      const common = {
        tier: Number(flags.tier) as 1 | 2 | 3,
        ...(flags.maxPrice !== undefined ? { maxPrice: flags.maxPrice.toString() } : {}),
        ...(flags.deadline !== undefined ? { deadlineMs: flags.deadline * 1000 } : {}),
        ...(verification !== undefined ? { verification } : {}),
      }
      let request: JobRequest
      if (inference !== undefined && tensors !== undefined) {
        const inputs = [await api.putBlob(bytes, options), await api.putBlob(tensors, options)]
        request = {
          kind: 'inference',
          inputs,
          inference: inferenceSplitOf(inference),
          ...common,
        }
      } else {
        // An animated scene plays at the frame rate asked for, or the usual one; a still one needs none.
        const animation = flags.animation === undefined ? {} : { animation: flags.animation }
        const animated = (await SceneTimeline.load(bytes, animation)).animated
        const fps = flags.fps ?? (animated ? DEFAULT_FPS : undefined)
        // On stderr: stdout's first line stays the job id, for scripts.
        if (animated && flags.fps === undefined) io.stderr(`the scene is animated: playing it at ${DEFAULT_FPS} fps\n`)
        const panorama = flags.environment === undefined ? undefined : await readInput(flags.environment)
        // Checked here, so a panorama no worker could read fails before anything is uploaded, ordered or paid.
        if (panorama !== undefined) decodeEnvironmentImage(panorama)
        const inputs = [await api.putBlob(bytes, options)]
        if (panorama !== undefined) inputs.push(await api.putBlob(panorama, options))
        request = {
          kind: 'render',
          inputs,
          render: {
            frames: flags.frames,
            firstFrame: flags.firstFrame,
            ...(fps !== undefined ? { fps, ...animation } : {}),
            width: flags.width,
            height: flags.height,
            tileWidth: flags.tile,
            tileHeight: flags.tile,
            samples: flags.samples,
            ...(flags.environment !== undefined ? { environment: lightingOf(flags) } : {}),
          },
          ...common,
        }
      }
      const { jobId } = await api.submitJob(request, options)
      io.stdout(`job ${jobId}\n`)
      if (!flags.wait) return
      const final = await follow(api, jobId, io, options)
      // Without a terminal, follow has printed the final headline already.
      io.stdout(jobReport(final, { headline: io.isTty }))
      if (final.state !== 'completed')
        throw new NodeError('NODE__JOB_NOT_COMPLETE', `job ${jobId} ended ${final.state}`, { jobId })
    })

  job
    .command('status <jobId>')
    .description("show a job's progress")
    .option('--json', 'print JSON')
    .action(async (jobId: string, flags: { json?: boolean }) => {
      const status = await (await client()).jobStatus(jobId, options)
      io.stdout(flags.json === true ? `${JSON.stringify(status)}\n` : jobReport(status))
    })

  job
    .command('list')
    .description('list the jobs this node ordered, newest first')
    .option('-n, --limit <n>', `how many (at most ${MAX_JOBS_LISTED})`, parseListLimit, DEFAULT_JOBS_LISTED)
    .option('--json', 'print JSON')
    .action(async (flags: { limit: number; json?: boolean }) => {
      const jobs = await (await client()).listJobs(flags.limit, options)
      io.stdout(flags.json === true ? `${JSON.stringify(jobs)}\n` : jobTable(jobs))
    })

  job
    .command('cancel <jobId>')
    .description('cancel a job: its accepted tasks are paid, the rest of its budget refunded')
    .option('--json', 'print JSON')
    .action(async (jobId: string, flags: { json?: boolean }) => {
      const status = await (await client()).cancelJob(jobId, options)
      io.stdout(flags.json === true ? `${JSON.stringify(status)}\n` : jobReport(status))
    })

  job
    .command('delete <jobId>')
    .description('delete a job that has ended and settled, with its inputs and outputs where no other job holds them')
    .action(async (jobId: string) => {
      const { blobsDeleted } = await (await client()).deleteJob(jobId, options)
      io.stdout(`deleted job ${jobId} and ${blobsDeleted} blob${blobsDeleted === 1 ? '' : 's'}\n`)
    })

  toneOptions(
    job
      .command('fetch <jobId>')
      .description("write a finished job's output (PNG and OpenEXR frames, or a float32 tensor file)")
      .option('-o, --out <dir>', 'output directory', '.')
      .option(
        '--partial',
        'for a job that was cancelled, expired or failed: what it accepted (missing tiles black, missing items NaN and listed in ranges.json)',
      )
      .option('--force', "replace files already in the output directory (and delete an earlier partial fetch's list)"),
    PNG_EXPOSURE,
  ).action(async (jobId: string, flags: { out: string; partial?: boolean; force?: boolean } & ToneFlags) => {
    const output = {
      exposure: flags.exposure,
      toneCurve: flags.toneCurve,
      ...(flags.partial === true ? { partial: true } : {}),
    }
    await fetchJobOutput(await client(), jobId, output, flags.out, io, { ...options, force: flags.force === true })
  })
}
