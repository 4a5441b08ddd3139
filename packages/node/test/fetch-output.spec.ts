import { lstat, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ApiClient } from '../src/api/client.js'
import type { JobOutputOptions } from '../src/api/contract.js'
import { fetchJobOutput } from '../src/cli/fetch-output.js'
import { NodeError } from '../src/errors.js'
import type { CliIo } from '../src/cli/io.js'
import { tempDir } from './helpers.js'

const io: CliIo = { stdout: () => {}, stderr: () => {}, isTty: false }
const b64 = (text: string) => Buffer.from(text).toString('base64')

/**
 * A node whose job has `frames` (none for an inference job), each a PNG and, asked for a partial output, a tile it
 * misses; it records what each output call asked.
 */
function node(frames?: { first: number; count: number }) {
  const asked: JobOutputOptions[] = []
  const client = {
    jobStatus: async (jobId: string) => ({ jobId, ...(frames === undefined ? {} : { frames }) }),
    jobOutput: async (jobId: string, options: JobOutputOptions = {}) => {
      asked.push(options)
      if (options.frame === undefined)
        return { jobId, files: [{ name: 'output.f32', contentType: 'x', base64: b64('f32') }] }
      const name = `frame-${String(options.frame).padStart(4, '0')}`
      const missing = [{ frame: options.frame, x: 0, y: 0, width: 8, height: 8 }]
      const png = { name: `${name}.png`, contentType: 'image/png', base64: b64(`png ${options.frame}`) }
      if (options.partial !== true) return { jobId, files: [png] }
      const tiles = {
        name: `${name}.tiles.json`,
        contentType: 'application/json',
        base64: b64(JSON.stringify({ missing })),
      }
      return { jobId, files: [png, tiles] }
    },
  }
  return { client: client as unknown as ApiClient, asked }
}

describe('job fetch', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.cleanup()
  })

  it("should ask for a render's frames one at a time and merge their missing tiles into one tiles.json", async () => {
    const { client, asked } = node({ first: 3, count: 2 })
    await fetchJobOutput(client, 'job', { partial: true, exposure: 4 }, dir.path, io)
    expect(asked).toEqual([
      { partial: true, exposure: 4, frame: 3 },
      { partial: true, exposure: 4, frame: 4 },
    ])
    expect((await readdir(dir.path)).sort()).toEqual(['frame-0003.png', 'frame-0004.png', 'tiles.json'])
    expect(JSON.parse(await readFile(join(dir.path, 'tiles.json'), 'utf8'))).toEqual({
      missing: [3, 4].map((frame) => ({ frame, x: 0, y: 0, width: 8, height: 8 })),
    })
  })

  it('should fetch a frame too large for one reply a file at a time, skipping a manifest it has not', async () => {
    const { client: base, asked } = node({ first: 3, count: 2 })
    const files: string[] = []
    const client = Object.assign(Object.create(base) as ApiClient, {
      // Frame 4 is an 8K frame: its files pass what one JSON reply carries.
      jobOutput: async (jobId: string, options: JobOutputOptions = {}) => {
        if (options.frame === 4) throw new NodeError('NODE__OUTPUT_TOO_LARGE', 'too large', {})
        return base.jobOutput(jobId, options)
      },
      jobOutputFile: async (_jobId: string, name: string, options: JobOutputOptions = {}) => {
        files.push(`${name} ${options.frame}`)
        if (name.endsWith('.tiles.json')) throw new NodeError('NODE__OUTPUT_FILE_NOT_FOUND', 'none', {})
        return { name, contentType: 'x', bytes: new TextEncoder().encode(`bytes of ${name}`) }
      },
    })
    await fetchJobOutput(client, 'job', { partial: true }, dir.path, io)
    expect(asked).toEqual([{ partial: true, frame: 3 }])
    expect(files).toEqual(['frame-0004.png 4', 'frame-0004.exr 4', 'frame-0004.tiles.json 4'])
    expect((await readdir(dir.path)).sort()).toEqual([
      'frame-0003.png',
      'frame-0004.exr',
      'frame-0004.png',
      'tiles.json',
    ])
    expect(await readFile(join(dir.path, 'frame-0004.exr'), 'utf8')).toBe('bytes of frame-0004.exr')
    // Frame 3's missing tiles only: frame 4 had none to list.
    expect(JSON.parse(await readFile(join(dir.path, 'tiles.json'), 'utf8')).missing).toHaveLength(1)
  })

  it('should fetch a job without frames in one reply', async () => {
    const { client, asked } = node()
    await fetchJobOutput(client, 'job', {}, dir.path, io)
    expect(asked).toEqual([{}])
    expect(await readdir(dir.path)).toEqual(['output.f32'])
  })

  it('should refuse a file already in the folder, naming it, and replace it only with --force', async () => {
    const { client } = node({ first: 3, count: 1 })
    const existing = join(dir.path, 'frame-0003.png')
    await writeFile(existing, 'an earlier render')
    await expect(fetchJobOutput(client, 'job', {}, dir.path, io)).rejects.toMatchObject({
      code: 'NODE__FILE_EXISTS',
      context: { path: existing },
      message: expect.stringMatching(/--force/),
    })
    expect(await readFile(existing, 'utf8')).toBe('an earlier render')
    await fetchJobOutput(client, 'job', {}, dir.path, io, { force: true })
    expect(await readFile(existing, 'utf8')).toBe('png 3')
  })

  it('should never write through a symbolic link in the folder, and replace the link itself with --force', async () => {
    const outside = await tempDir()
    try {
      const victim = join(outside.path, 'victim.txt')
      await writeFile(victim, 'not yours')
      const link = join(dir.path, 'frame-0003.png')
      await symlink(victim, link)
      const { client } = node({ first: 3, count: 1 })
      await expect(fetchJobOutput(client, 'job', {}, dir.path, io)).rejects.toMatchObject({ code: 'NODE__FILE_EXISTS' })
      expect(await readFile(victim, 'utf8')).toBe('not yours')
      await fetchJobOutput(client, 'job', {}, dir.path, io, { force: true })
      expect(await readFile(victim, 'utf8')).toBe('not yours')
      expect((await lstat(link)).isFile()).toBe(true)
      expect(await readFile(link, 'utf8')).toBe('png 3')
    } finally {
      await outside.cleanup()
    }
  })

  it("should refuse an earlier partial fetch's tiles.json beside a complete output, and delete it with --force", async () => {
    const { client } = node({ first: 3, count: 1 })
    const stale = join(dir.path, 'tiles.json')
    await writeFile(stale, JSON.stringify({ missing: [{ frame: 0, x: 0, y: 0, width: 8, height: 8 }] }))
    await expect(fetchJobOutput(client, 'job', {}, dir.path, io)).rejects.toMatchObject({
      code: 'NODE__FILE_EXISTS',
      context: { path: stale },
    })
    // Refused before a frame was written.
    expect(await readdir(dir.path)).toEqual(['tiles.json'])
    await fetchJobOutput(client, 'job', {}, dir.path, io, { force: true })
    expect(await readdir(dir.path)).toEqual(['frame-0003.png'])
    // An inference's ranges.json alike, found after a partial fetch that turned out to miss nothing.
    const ranges = join(dir.path, 'ranges.json')
    await writeFile(ranges, '{}')
    const inference = node().client
    await expect(fetchJobOutput(inference, 'job', { partial: true }, dir.path, io)).rejects.toMatchObject({
      code: 'NODE__FILE_EXISTS',
      context: { path: ranges },
    })
    await fetchJobOutput(inference, 'job', { partial: true }, dir.path, io, { force: true })
    expect((await readdir(dir.path)).sort()).toEqual(['frame-0003.png', 'output.f32'])
  })
})
