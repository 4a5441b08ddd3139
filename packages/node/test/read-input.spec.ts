import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeScene } from '@tessera/gpu'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { readInput, readScene } from '../src/cli/read-input.js'
import { isNodeError } from '../src/errors.js'
import { tempDir } from './helpers.js'

/** The paths opened through `node:fs/promises`, in order: how often a file is read. */
const opened = vi.hoisted(() => [] as string[])
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof fs.open = async (path, ...rest) => {
    opened.push(String(path))
    return fs.open(path, ...rest)
  }
  return { ...fs, default: { ...fs, open }, open }
})

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

describe('readScene', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.cleanup()
  })

  it('should read a .gltf once, packing the bytes it read with the buffer it names', async () => {
    const path = join(dir.path, 'scene.gltf')
    await writeScene(path, { subdivisions: 1 })
    opened.length = 0
    const packed = await readScene(path)
    expect(new TextDecoder().decode(packed.subarray(0, 4))).toBe('glTF')
    expect(opened.filter((p) => p === path)).toEqual([path])
    expect(opened.filter((p) => p === join(dir.path, 'scene.bin'))).toHaveLength(1)
  })
})
