import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isCoreError, KEY_FILE_MODE, loadIdentity, loadOrCreateIdentity } from '../src/index.js'

describe('identity', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-identity-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('should create the key file once, with mode 0600', async () => {
    const path = join(dir, 'keys', 'peer.key')
    const identity = await loadOrCreateIdentity(path)
    expect((await stat(path)).mode & 0o777).toBe(KEY_FILE_MODE)
    expect(identity.peerId.type).toBe('Ed25519')
  })

  it('should load the same peer id on restart', async () => {
    const path = join(dir, 'peer.key')
    const first = await loadOrCreateIdentity(path)
    const bytes = await readFile(path)
    const second = await loadOrCreateIdentity(path)
    expect(second.peerId.toString()).toBe(first.peerId.toString())
    expect(await readFile(path)).toEqual(bytes)
    const message = new TextEncoder().encode('same key')
    expect(second.sign(message)).toEqual(first.sign(message))
  })

  it('should create the key past the half-written temporary file a crash left, and delete that file', async () => {
    const path = join(dir, 'peer.key')
    // A process that died (no process has this pid) as it wrote the key: only its temporary file is there.
    await writeFile(join(dir, '.peer.key.999991.0a1b2c3d4e5f.tmp'), new Uint8Array(20), { mode: 0o600 })
    const identity = await loadOrCreateIdentity(path)
    expect((await loadIdentity(path)).peerId.toString()).toBe(identity.peerId.toString())
    expect(await readdir(dir)).toEqual(['peer.key'])
  })

  it('should reject with CORE__ABORTED and create no key when its signal aborts', async () => {
    const path = join(dir, 'peer.key')
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
    await expect(loadOrCreateIdentity(path, { signal: AbortSignal.abort() })).rejects.toSatisfy(aborted)
    const controller = new AbortController()
    const pending = loadOrCreateIdentity(path, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toSatisfy(aborted)
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('should refuse a key file others can read', async () => {
    const path = join(dir, 'peer.key')
    await loadOrCreateIdentity(path)
    await chmod(path, 0o644)
    await expect(loadOrCreateIdentity(path)).rejects.toSatisfy((e) => isCoreError(e, 'CORE__KEY_FILE_PERMISSIONS'))
  })

  it('should refuse a key file that holds no key', async () => {
    const path = join(dir, 'peer.key')
    await writeFile(path, 'not a key', { mode: 0o600 })
    await expect(loadIdentity(path)).rejects.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_KEY_FILE'))
  })

  it('should never show the private key in JSON, inspect or string output', async () => {
    const path = join(dir, 'peer.key')
    const identity = await loadOrCreateIdentity(path)
    const secret = Buffer.from(identity.privateKey.raw).toString('hex')
    const secretB64 = Buffer.from(identity.privateKey.raw).toString('base64')
    const shown = [
      JSON.stringify(identity),
      JSON.stringify({ identity }),
      inspect(identity, { depth: 10, showHidden: true }),
      String(identity),
      `${identity}`,
    ]
    for (const text of shown) {
      expect(text).toContain(identity.peerId.toString())
      expect(text).not.toContain(secret)
      expect(text).not.toContain(secretB64)
    }
  })
})
