import { join } from 'node:path'
import type { AbortOptions } from '@tessera/core'
import { z } from 'zod'
import type { ApiClient } from '../api/client.js'
import type { JobOutput, JobOutputOptions } from '../api/contract.js'
import { isNodeError, NodeError } from '../errors.js'
import { frameManifestName, frameName, PARTIAL_MANIFEST, PARTIAL_RENDER_MANIFEST } from '../peer/job-output.js'
import type { CliIo } from './io.js'
import { makeOutputDir, writeOutput } from './write-output.js'

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

/** Writes a fetched file into `out`, refusing a name that would leave it. */
async function writeFile(out: string, file: FetchedFile, io: CliIo): Promise<void> {
  if (file.name.includes('/') || file.name.includes('\\') || file.name.startsWith('.')) {
    throw new NodeError('NODE__API_MALFORMED_REPLY', `the node named an output file ${JSON.stringify(file.name)}`, {})
  }
  const path = join(out, file.name)
  await writeOutput(path, file.bytes)
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
 * `job fetch`: writes a job's output files into `out`. A render job's frames are asked for one at a time, so a job of
 * hundreds of frames never has to fit one reply (or the node's memory), and a frame whose files pass what one reply
 * carries a file at a time; a partial render's per-frame tile lists are merged into one `tiles.json`, as a one-reply
 * fetch writes it. Rejects with `AbortError` when `abort.signal` aborts, keeping the files written so far.
 */
export async function fetchJobOutput(
  client: ApiClient,
  jobId: string,
  options: Omit<JobOutputOptions, 'frame'>,
  out: string,
  io: CliIo,
  abort: AbortOptions = {},
): Promise<void> {
  const { frames } = await client.jobStatus(jobId, abort)
  await makeOutputDir(out)
  if (frames === undefined) {
    const names = { files: ['output.f32'], manifest: PARTIAL_MANIFEST }
    for (const file of await outputFiles(client, jobId, { ...options, ...abort }, names)) await writeFile(out, file, io)
    return
  }
  const missing: z.infer<typeof frameManifestSchema>['missing'] = []
  for (let frame = frames.first; frame < frames.first + frames.count; frame++) {
    const name = frameName(frame)
    const names = { files: [`${name}.png`, `${name}.exr`], manifest: frameManifestName(frame) }
    for (const file of await outputFiles(client, jobId, { ...options, ...abort, frame }, names)) {
      if (file.name !== frameManifestName(frame)) {
        await writeFile(out, file, io)
        continue
      }
      let manifest: unknown
      try {
        manifest = JSON.parse(Buffer.from(file.bytes).toString('utf8'))
      } catch {
        manifest = undefined
      }
      const parsed = frameManifestSchema.safeParse(manifest)
      if (!parsed.success) {
        throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's ${file.name} is not a list of tiles`, {})
      }
      missing.push(...parsed.data.missing)
    }
  }
  if (missing.length > 0) {
    const manifest = Buffer.from(`${JSON.stringify({ missing }, null, 2)}\n`)
    await writeFile(out, { name: PARTIAL_RENDER_MANIFEST, bytes: manifest }, io)
  }
}
