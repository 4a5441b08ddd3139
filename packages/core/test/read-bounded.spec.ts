import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readBoundedFile } from '../src/index.js'

/** The refusal each call makes: an error carrying why. */
const refuse = (why: string) => Object.assign(new Error(why), { refused: true })

describe('readBoundedFile', { timeout: 10_000 }, () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-read-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('should read a regular file whole, up to and at its bound', async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 255)
    await writeFile(join(dir, 'f'), bytes)
    expect(await readBoundedFile(join(dir, 'f'), 1000, refuse)).toEqual(bytes)
    await writeFile(join(dir, 'empty'), new Uint8Array())
    expect(await readBoundedFile(join(dir, 'empty'), 10, refuse)).toEqual(new Uint8Array())
  })

  it('should refuse a file past its bound with the error the caller makes', async () => {
    await writeFile(join(dir, 'f'), new Uint8Array(1001))
    await expect(readBoundedFile(join(dir, 'f'), 1000, refuse)).rejects.toMatchObject({
      refused: true,
      message: 'it is 1001 bytes, more than 1000',
    })
  })

  it('should refuse, without reading it, a link to a device that never ends, a directory and a named pipe', async () => {
    await symlink('/dev/zero', join(dir, 'zero'))
    // A named pipe with no writer: opened for reading as a plain file would be, it would wait for good.
    execFileSync('mkfifo', [join(dir, 'pipe')])
    for (const name of ['zero', '.', 'pipe']) {
      await expect(readBoundedFile(join(dir, name), 1000, refuse), name).rejects.toMatchObject({
        refused: true,
        message: 'it is not a regular file',
      })
    }
  })

  it('should read a file that grew past the size its stat gave, up to the bound', async () => {
    // /proc files state a size of 0 and hold more: the reads after the first are what a growing file adds.
    const status = await readBoundedFile('/proc/self/status', 1 << 20, refuse)
    expect(new TextDecoder().decode(status)).toMatch(/^Name:/)
    await expect(readBoundedFile('/proc/self/status', 10, refuse)).rejects.toMatchObject({
      refused: true,
      message: 'it grew past 10 bytes as it was read',
    })
  })

  it('should throw the file system error itself for a missing file', async () => {
    await expect(readBoundedFile(join(dir, 'absent'), 1000, refuse)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('should reject with AbortError, opening nothing, when its signal has aborted', async () => {
    await writeFile(join(dir, 'f'), new Uint8Array(10))
    const controller = new AbortController()
    controller.abort()
    const options = { signal: controller.signal }
    await expect(readBoundedFile(join(dir, 'f'), 1000, refuse, options)).rejects.toMatchObject({
      code: 'CORE__ABORTED',
    })
    // Not even the file system's own error: the call ends before it touches the file.
    await expect(readBoundedFile(join(dir, 'absent'), 1000, refuse, options)).rejects.toMatchObject({
      code: 'CORE__ABORTED',
    })
    expect(await readBoundedFile(join(dir, 'f'), 1000, refuse, { signal: new AbortController().signal })).toHaveLength(
      10,
    )
  })
})
