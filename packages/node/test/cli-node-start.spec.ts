import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, tempDir } from './helpers.js'

/** `node start` flags refused before anything starts: no peer runs in these tests. */
describe('tessera node start', () => {
  let dir: { path: string; cleanup: () => Promise<void> }

  beforeAll(async () => {
    dir = await tempDir('tessera-start-')
    expect((await cli('--data-dir', dir.path, 'init')).code).toBe(0)
  })

  afterAll(async () => {
    await dir?.cleanup()
  })

  it('should take the payment mint with --mint, and refuse a cluster without one before starting', async () => {
    const cluster = ['--data-dir', dir.path, 'node', 'start', '--cluster-url', 'http://127.0.0.1:8899']
    // A bad address is the config's to refuse: --mint is the ledger.mint setting.
    const bad = await cli(...cluster, '--mint', 'not-a-mint')
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/ledger\.mint: must be a base58 Solana address.*NODE__INVALID_CONFIG/)
    // Started before, with every ledger call then failing for want of the mint.
    const missing = await cli(...cluster)
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/ledger\.mint: transport rpc needs the payment mint.*--mint <address>/)
    expect(missing.stderr).toMatch(/NODE__INVALID_CONFIG/)
  })
})
