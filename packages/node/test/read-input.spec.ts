import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readInput } from '../src/cli/read-input.js'
import { isNodeError } from '../src/errors.js'
import { tempDir } from './helpers.js'

describe('readInput', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.cleanup()
  })

  it('should read a file', async () => {
    await writeFile(join(dir.path, 'scene.glb'), new Uint8Array([1, 2, 3]))
    expect([...(await readInput(join(dir.path, 'scene.glb')))]).toEqual([1, 2, 3])
  })

  it('should say a missing file is missing', async () => {
    const error = await readInput(join(dir.path, 'absent.glb')).catch((e: unknown) => e)
    expect(isNodeError(error, 'NODE__FILE_UNREADABLE')).toBe(true)
    expect((error as Error).message).toContain('no such file')
    expect((error as Error).cause).toMatchObject({ code: 'ENOENT' })
  })

  // A path through a file exists in part: "no such file" would send the user looking for the wrong thing.
  it('should give the real reason a path cannot be read, with its cause', async () => {
    await writeFile(join(dir.path, 'file'), 'x')
    const error = await readInput(join(dir.path, 'file', 'scene.glb')).catch((e: unknown) => e)
    expect(isNodeError(error, 'NODE__FILE_UNREADABLE')).toBe(true)
    expect((error as Error).message).toContain('ENOTDIR')
    expect((error as Error).cause).toMatchObject({ code: 'ENOTDIR' })
  })

  it('should refuse, unread, a path that is no regular file: a link to /dev/zero would fill memory', async () => {
    await symlink('/dev/zero', join(dir.path, 'scene.glb'))
    const error = await readInput(join(dir.path, 'scene.glb')).catch((e: unknown) => e)
    expect(isNodeError(error, 'NODE__FILE_UNREADABLE')).toBe(true)
    expect((error as Error).message).toMatch(/not a regular file/)
  })
})
