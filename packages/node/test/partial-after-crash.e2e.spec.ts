import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateScene } from '@tessera/gpu'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PeerProcess, runTessera, spawnPeer } from '../src/local/spawn-peer.js'
import { cli, tempDir } from './helpers.js'

/** 128 x 128 pixels in tiles of 16: 64 tasks, long enough to kill the creator with some accepted and some not. */
const TASKS = 64
const RENDER = ['--width', '128', '--height', '128', '--tile', '16', '--samples', '1']

/** Polls `probe` every 100 ms until it returns a value, for at most `ms`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * A creator killed (SIGKILL, as a crash) in the middle of a job, as `node start` processes: the tiles it accepted,
 * and pays for, are still its to fetch after a restart, as a partial output.
 */
describe('a job its creator crashed in the middle of', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let creatorDir: string
  const peers: PeerProcess[] = []

  beforeAll(async () => {
    dir = await tempDir('tessera-crash-partial-')
    creatorDir = join(dir.path, 'creator')
    await runTessera(['--data-dir', creatorDir, 'init', '--no-worker'])
    await runTessera(['--data-dir', join(dir.path, 'worker'), 'init'])
  }, 120_000)

  afterAll(async () => {
    for (const peer of peers) await peer.kill()
    await dir?.cleanup()
  })

  it('should give the tiles it accepted before the crash as a partial output, after a restart', async () => {
    const creator = await spawnPeer({ name: 'creator', dataDir: creatorDir })
    peers.push(creator)
    const boot = (await creator.client.status()).addrs.find((a) => !a.includes('/ws')) as string
    const workerDir = join(dir.path, 'worker')
    peers.push(await spawnPeer({ name: 'worker', dataDir: workerDir, args: ['--bootstrap', boot] }))
    await until('the capacity record', async () => (await creator.client.status()).capacityRecords >= 1 || undefined)
    expect((await cli('--data-dir', creatorDir, 'wallet', 'airdrop', '1000000')).code).toBe(0)
    const scene = join(dir.path, 'scene.glb')
    await writeFile(scene, await generateScene({ subdivisions: 1 }))
    const submit = await cli('--data-dir', creatorDir, 'job', 'submit', scene, ...RENDER, '--no-wait')
    expect(submit.stderr).toBe('')
    const jobId = /job (\w+)/.exec(submit.stdout)?.[1] as string
    // Killed as soon as a task is accepted: far from the last of the 64.
    const before = await until('a task to be accepted', async () => {
      const status = await creator.client.jobStatus(jobId)
      return status.verified > 0 ? status : undefined
    })
    await creator.kill()
    expect(before.verified).toBeLessThan(TASKS)

    const restarted = await spawnPeer({ name: 'creator', dataDir: creatorDir })
    peers.push(restarted)
    const status = await restarted.client.jobStatus(jobId)
    expect(status.state).toBe('failed')
    const out = join(dir.path, 'out')
    const whole = await cli('--data-dir', creatorDir, 'job', 'fetch', jobId, '--out', out)
    expect(whole.code).toBe(1)
    expect(whole.stderr).toMatch(/accepted \d+ of its tiles: ask for the partial output.*NODE__JOB_NOT_COMPLETE/)
    // NODE__JOB_NOT_COMPLETE before, whatever the job had accepted and paid for.
    const partial = await cli('--data-dir', creatorDir, 'job', 'fetch', jobId, '--partial', '--out', out)
    expect(partial.stderr).toBe('')
    expect(partial.code).toBe(0)
    expect((await readdir(out)).sort()).toEqual(['frame-0000.exr', 'frame-0000.png', 'tiles.json'])
    const { missing } = JSON.parse(await readFile(join(out, 'tiles.json'), 'utf8')) as { missing: unknown[] }
    const accepted = TASKS - missing.length
    // Every task accepted before the kill is in, and every task in is one it pays for.
    expect(accepted).toBeGreaterThanOrEqual(before.verified)
    await until('the settlement to count every accepted task', async () => {
      const settled = await restarted.client.jobStatus(jobId)
      return settled.settlement?.receipts === accepted ? true : undefined
    })
  }, 300_000)
})
