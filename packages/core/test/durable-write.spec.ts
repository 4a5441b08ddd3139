import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { removeTemporaries, replaceFile, writeNewFile } from '../src/index.js'

describe('durable writes', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-durable-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** Temporary files a crash of process `pid` left beside `name`, in the writes' naming. */
  async function leftOver(name: string, pid: number): Promise<string> {
    const temporary = `.${name}.${pid}.0a0b0c0d0e0f.tmp`
    await writeFile(join(dir, temporary), 'half a file')
    return temporary
  }

  it('should create a file once, never over one that exists, leaving no temporary file', async () => {
    const path = join(dir, 'peer.key')
    expect(await writeNewFile(path, 'first', 0o600)).toBe(true)
    expect(await writeNewFile(path, 'second', 0o600)).toBe(false)
    expect(await readFile(path, 'utf8')).toBe('first')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await readdir(dir)).toEqual(['peer.key'])
  })

  it('should replace a file whole, creating it when absent, with the mode asked', async () => {
    const path = join(dir, 'state.bin')
    await replaceFile(path, new Uint8Array([1, 2, 3]), 0o640)
    await replaceFile(path, 'replaced', 0o640)
    expect(await readFile(path, 'utf8')).toBe('replaced')
    expect((await stat(path)).mode & 0o777).toBe(0o640)
    expect(await readdir(dir)).toEqual(['state.bin'])
  })

  it('should keep what is there, and leave no temporary file, when a replacement cannot be placed', async () => {
    // A directory cannot be renamed over: the write fails after its temporary file was written and synced.
    const path = join(dir, 'state.bin')
    await mkdir(path)
    await writeFile(join(path, 'inside'), 'kept')
    await expect(replaceFile(path, 'replacement')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) })
    expect(await readFile(join(path, 'inside'), 'utf8')).toBe('kept')
    expect(await readdir(dir)).toEqual(['state.bin'])
  })

  it("should delete a dead process's temporary files on the next write, and keep a live one's", async () => {
    const dead = await leftOver('config.json', 999_991)
    const live = await leftOver('config.json', process.ppid)
    const other = await leftOver('wallet.json', 999_992)
    await replaceFile(join(dir, 'config.json'), '{}')
    expect((await readdir(dir)).sort()).toEqual([live, other, 'config.json'].sort())
    expect(await readdir(dir)).not.toContain(dead)
    // A live writer's temporary file of a sibling whose name begins alike is not one of config.json's.
    const sibling = await leftOver('config.json.bak', process.pid)
    await replaceFile(join(dir, 'config.json'), '{}')
    expect(await readdir(dir)).toContain(sibling)
    await removeTemporaries(join(dir, 'wallet.json'))
    expect(await readdir(dir)).not.toContain(other)
  })
})
