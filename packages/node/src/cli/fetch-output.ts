import { join } from 'node:path'
import { z } from 'zod'
import type { ApiClient } from '../api/client.js'
import type { JobOutput, JobOutputOptions } from '../api/contract.js'
import { NodeError } from '../errors.js'
import { frameManifestName, PARTIAL_RENDER_MANIFEST } from '../peer/job-output.js'
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

/** Writes a reply's file into `out`, refusing a name that would leave it. */
async function writeFile(out: string, file: JobOutput['files'][number], io: CliIo): Promise<void> {
  if (file.name.includes('/') || file.name.includes('\\') || file.name.startsWith('.')) {
    throw new NodeError('NODE__API_MALFORMED_REPLY', `the node named an output file ${JSON.stringify(file.name)}`, {})
  }
  const path = join(out, file.name)
  await writeOutput(path, Buffer.from(file.base64, 'base64'))
  io.stdout(`${path}\n`)
}

/**
 * `job fetch`: writes a job's output files into `out`. A render job's frames are asked for one at a time, so a job of
 * hundreds of frames never has to fit one reply (or the node's memory); a partial render's per-frame tile lists are
 * merged into one `tiles.json`, as a one-reply fetch writes it.
 */
export async function fetchJobOutput(
  client: ApiClient,
  jobId: string,
  options: Omit<JobOutputOptions, 'frame'>,
  out: string,
  io: CliIo,
): Promise<void> {
  const { frames } = await client.jobStatus(jobId)
  await makeOutputDir(out)
  if (frames === undefined) {
    for (const file of (await client.jobOutput(jobId, options)).files) await writeFile(out, file, io)
    return
  }
  const missing: z.infer<typeof frameManifestSchema>['missing'] = []
  for (let frame = frames.first; frame < frames.first + frames.count; frame++) {
    for (const file of (await client.jobOutput(jobId, { ...options, frame })).files) {
      if (file.name !== frameManifestName(frame)) {
        await writeFile(out, file, io)
        continue
      }
      let manifest: unknown
      try {
        manifest = JSON.parse(Buffer.from(file.base64, 'base64').toString('utf8'))
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
    const manifest = Buffer.from(`${JSON.stringify({ missing }, null, 2)}\n`).toString('base64')
    await writeFile(out, { name: PARTIAL_RENDER_MANIFEST, contentType: 'application/json', base64: manifest }, io)
  }
}
