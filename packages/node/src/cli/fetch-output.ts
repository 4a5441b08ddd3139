import { join } from 'node:path'
import type { AbortOptions } from '@tessera/core'
import { z } from 'zod'
import type { ApiClient } from '../api/client.js'
import type { JobOutput, JobOutputOptions } from '../api/contract.js'
import { isNodeError, NodeError } from '../errors.js'
import { frameManifestName, frameName, PARTIAL_MANIFEST, PARTIAL_RENDER_MANIFEST } from '../peer/job-output.js'
import type { CliIo } from './io.js'
import { makeOutputDir, type OutputOptions, removeStale, writeOutput } from './write-output.js'

/** A frame's list of tiles left blank, as a partial render's reply carries it. */
const frameManifestSchema = z.object({
  missing: z.array(
    z.object({
      frame: z.number().int(),
      x: z.number().int(),
      y: z.number().int(),
      width: z.number().int(),
      height: z.number().int(),
    }),
  ),
})

/** A file to write: its name and its bytes. */
interface FetchedFile {
  name: string
  bytes: Uint8Array
}

/** A JSON reply's file, decoded. */
function decoded(file: JobOutput['files'][number]): FetchedFile {
  return { name: file.name, bytes: Buffer.from(file.base64, 'base64') }
}

/** How `job fetch` writes: aborted by `signal`, replacing files already in its folder only with `force`. */
export interface FetchOptions extends AbortOptions, OutputOptions {}

/** Writes a fetched file into `out`, refusing a name that would leave it. */
async function writeFile(out: string, file: FetchedFile, io: CliIo, options: OutputOptions): Promise<void> {
  if (file.name.includes('/') || file.name.includes('\\') || file.name.startsWith('.')) {
    throw new NodeError('NODE__API_MALFORMED_REPLY', `the node named an output file ${JSON.stringify(file.name)}`, {})
  }
  const path = join(out, file.name)
  await writeOutput(path, file.bytes, options)
  io.stdout(`${path}\n`)
}

/**
 * An output's files: in one JSON reply, or, where they pass what one reply carries (an 8K frame's OpenEXR), one
 * file a reply, by the names `names` gives (a manifest only a partial output has is skipped when absent).
 */
async function outputFiles(
  client: ApiClient,
  jobId: string,
  options: JobOutputOptions & AbortOptions,
  names: { files: string[]; manifest: string },
): Promise<FetchedFile[]> {
  try {
    return (await client.jobOutput(jobId, options)).files.map(decoded)
  } catch (e) {
    if (!isNodeError(e, 'NODE__OUTPUT_TOO_LARGE')) throw e
  }
  const files: FetchedFile[] = []
  for (const name of names.files) files.push(await client.jobOutputFile(jobId, name, options))
  if (options.partial === true) {
    try {
      files.push(await client.jobOutputFile(jobId, names.manifest, options))
    } catch (e) {
      if (!isNodeError(e, 'NODE__OUTPUT_FILE_NOT_FOUND')) throw e
    }
  }
  return files
}

/**
 * Deletes (with `force`; else refuses, `NODE__FILE_EXISTS`) the list of what was missing, `manifest`, that an earlier
 * partial fetch left in `out`: beside an output that lacks nothing, it would say tiles or items are missing that are
 * not.
 */
async function removeStaleManifest(out: string, manifest: string, options: OutputOptions): Promise<void> {
  await removeStale(join(out, manifest), 'an earlier partial fetch left it, and this output misses nothing', options)
}

/**
 * `job fetch`: writes a job's output files into `out`. A render job's frames are asked for one at a time, so a job of
 * hundreds of frames never has to fit one reply (or the node's memory), and a frame whose files pass what one reply
 * carries a file at a time; a partial render's per-frame tile lists are merged into one `tiles.json`, as a one-reply
 * fetch writes it. Each file is written whole or not at all, never through a symbolic link, and one already in `out`
 * is refused with `NODE__FILE_EXISTS` unless `options.force` (as is a list of missing tiles or items an earlier
 * partial fetch left, which `force` deletes when this output misses nothing). Rejects with `AbortError` when
 * `options.signal` aborts, keeping the files written so far.
 */
export async function fetchJobOutput(
  client: ApiClient,
  jobId: string,
  output: Omit<JobOutputOptions, 'frame'>,
  out: string,
  io: CliIo,
  options: FetchOptions = {},
): Promise<void> {
  const { signal, ...write } = options
  const abort = signal === undefined ? {} : { signal }
  const { frames } = await client.jobStatus(jobId, abort)
  await makeOutputDir(out)
  const manifest = frames === undefined ? PARTIAL_MANIFEST : PARTIAL_RENDER_MANIFEST
  // A complete output is known to have no manifest before anything is fetched: a stale one is refused before a file
  // is written.
  if (output.partial !== true) await removeStaleManifest(out, manifest, write)
  if (frames === undefined) {
    const names = { files: ['output.f32'], manifest }
    const files = await outputFiles(client, jobId, { ...output, ...abort }, names)
    for (const file of files) await writeFile(out, file, io, write)
    if (!files.some((file) => file.name === manifest)) await removeStaleManifest(out, manifest, write)
    return
  }
  const missing: z.infer<typeof frameManifestSchema>['missing'] = []
  for (let frame = frames.first; frame < frames.first + frames.count; frame++) {
    const name = frameName(frame)
    const names = { files: [`${name}.png`, `${name}.exr`], manifest: frameManifestName(frame) }
    for (const file of await outputFiles(client, jobId, { ...output, ...abort, frame }, names)) {
      if (file.name !== frameManifestName(frame)) {
        await writeFile(out, file, io, write)
        continue
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(Buffer.from(file.bytes).toString('utf8'))
      } catch {
        parsed = undefined
      }
      const tiles = frameManifestSchema.safeParse(parsed)
      if (!tiles.success) {
        throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's ${file.name} is not a list of tiles`, {})
      }
      missing.push(...tiles.data.missing)
    }
  }
  if (missing.length === 0) return await removeStaleManifest(out, manifest, write)
  const bytes = Buffer.from(`${JSON.stringify({ missing }, null, 2)}\n`)
  await writeFile(out, { name: manifest, bytes }, io, write)
}
