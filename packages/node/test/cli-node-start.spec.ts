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
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/ledger\.mint: must be a base58 Solana address.*NODE__INVALID_CONFIG/)
    // Started before, with every ledger call then failing for want of the mint.
    const missing = await cli(...cluster)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/ledger\.mint: transport rpc needs the payment mint.*--mint <address>/)
    expect(missing.stderr).toMatch(/NODE__INVALID_CONFIG/)
  })

  it('should exit 2 on flags the config refuses, as on any bad flag, naming the setting', async () => {
    const cases: [string[], RegExp][] = [
      [['--listen', '/ip4/127.0.0.1/tcp/0', 'localhost:4001'], /flags: listen\.1: "localhost:4001"/],
      [['--bootstrap', '/ip4/127.0.0.1/tcp/4001'], /flags: bootstrap\.0: .*\/p2p\/<peer id>/],
      [['--tiers', '3', '--tiers', '3'], /flags: worker\.tiers: each tier is listed once/],
      [['--verifier', '12D3KooWtypo'], /flags: verification\.verifiers\.0: not a peer id/],
    ]
    for (const [flags, message] of cases) {
      const res = await cli('--data-dir', dir.path, 'node', 'start', ...flags)
      // Exit 1 before, as if the node had failed rather than the command line.
      expect({ flags, code: res.code }).toEqual({ flags, code: 2 })
      expect(res.stderr).toMatch(message)
      expect(res.stderr).toMatch(/\(NODE__INVALID_CONFIG\)\n$/)
    }
  })
})
