import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isCoreError } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isLedgerError } from '../src/errors.js'
import { loadOrCreateWallet, loadWallet } from '../src/wallet.js'
import { tempDir } from './support/fixtures.js'

describe('wallet key files', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir.remove()
  })

  it('should create a solana-keygen keypair with mode 0600 and load the same key on restart', async () => {
    const path = join(dir.path, 'keys', 'wallet.json')
    const created = await loadOrCreateWallet(path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const bytes = JSON.parse(await readFile(path, 'utf8')) as number[]
    expect(bytes).toHaveLength(64)
    const loaded = await loadOrCreateWallet(path)
    expect(loaded.address).toBe(created.address)
  })

  it('should reject with CORE__ABORTED and create no key when its signal aborts', async () => {
    const path = join(dir.path, 'wallet.json')
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')
    await expect(loadOrCreateWallet(path, { signal: AbortSignal.abort() })).rejects.toSatisfy(aborted)
    const controller = new AbortController()
    const pending = loadOrCreateWallet(path, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toSatisfy(aborted)
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('should hand concurrent creators the same key, none of them reading a half-written file', async () => {
    for (let round = 0; round < 10; round++) {
      const path = join(dir.path, `wallet-${round}.json`)
      const signers = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateWallet(path)))
      expect(new Set(signers.map((s) => s.address)).size).toBe(1)
    }
    // Nothing is left beside the keys but the keys.
    expect((await readdir(dir.path)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('should refuse a key file that does not exist with LEDGER__WALLET_MISSING, making none', async () => {
    const path = join(dir.path, 'wallet.json')
    await expect(loadWallet(path)).rejects.toMatchObject({ code: 'LEDGER__WALLET_MISSING', context: { path } })
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('should refuse a key file that others can read', async () => {
    const path = join(dir.path, 'wallet.json')
    await loadOrCreateWallet(path)
    await chmod(path, 0o644)
    const error = await loadWallet(path).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__KEY_FILE_PERMISSIONS')).toBe(true)
  })

  it('should refuse a key file that is not a consistent 64-byte keypair', async () => {
    const path = join(dir.path, 'wallet.json')
    await writeFile(path, JSON.stringify(Array.from({ length: 64 }, (_, i) => i)), { mode: 0o600 })
    expect(isLedgerError(await loadWallet(path).catch((e: unknown) => e), 'LEDGER__INVALID_KEY_FILE')).toBe(true)
    await writeFile(path, '[1,2,3]', { mode: 0o600 })
    expect(isLedgerError(await loadWallet(path).catch((e: unknown) => e), 'LEDGER__INVALID_KEY_FILE')).toBe(true)
    await writeFile(path, 'not json', { mode: 0o600 })
    expect(isLedgerError(await loadWallet(path).catch((e: unknown) => e), 'LEDGER__INVALID_KEY_FILE')).toBe(true)
  })
})
