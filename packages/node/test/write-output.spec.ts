import { spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'

const REPO = join(import.meta.dirname, '..', '..', '..')
const WRITE_OUTPUT = join(import.meta.dirname, '..', 'src', 'cli', 'write-output.ts')

/**
 * Runs `writeOutput(path, <64 KiB>, { force: true })` in a child process whose files may not grow past 4 KiB
 * (`ulimit -f`: the write fails with EFBIG midway, as on a full disk); resolves to what it printed.
 */
function writeOverLimit(path: string): Promise<string> {
  const script = `
    const { writeOutput } = await import(process.env.WRITE_OUTPUT)
    try {
      await writeOutput(process.env.TARGET, new Uint8Array(65536).fill(7), { force: true })
      console.log('written')
    } catch (e) {
      console.log(e.code)
    }`
  const node = join(REPO, 'node_modules', '.bin', 'node')
  const args = ['--conditions=tessera-src', '--import', 'tsx', '--input-type=module', '-e', script]
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -f 4 && exec "$@"', 'sh', node, ...args], {
      cwd: REPO,
      env: { ...process.env, WRITE_OUTPUT, TARGET: path },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += String(d)))
    child.on('error', reject)
    child.on('exit', () => resolve(stdout.trim()))
  })
}

describe('writeOutput', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.cleanup()
  })

  it('should leave the file there before whole, and no temporary file, when a write fails midway', async () => {
    const path = join(dir.path, 'frame-0000.exr')
    await writeFile(path, 'a good frame from an earlier fetch')
    expect(await writeOverLimit(path)).toBe('NODE__FILE_UNWRITABLE')
    expect(await readFile(path, 'utf8')).toBe('a good frame from an earlier fetch')
    expect(await readdir(dir.path)).toEqual(['frame-0000.exr'])
  }, 60_000)
})
