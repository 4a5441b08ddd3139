import { access, readdir, readFile, writeFile } from 'node:fs/promises'
import type { AbortOptions } from '@tessera/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient } from '../src/api/client.js'
import type { CliIo } from '../src/cli/io.js'
import { runCli } from '../src/cli/program.js'
import { resolveDataDir } from '../src/data-dir.js'
import { Datastore } from '../src/datastore.js'
import { cli, tempDir } from './helpers.js'
import { until } from './peer-harness.js'

/** Runs the CLI in-process as an embedder does, with a signal to stop it by, capturing its output. */
function cliWith(options: AbortOptions, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { code: 0, stdout: '', stderr: '' }
  const io: CliIo = { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t), isTty: false }
  return runCli(argv, io, options).then((code) => ({ ...out, code }))
}

/** What `command` resolved to, or `'still running'` after `ms`: a node that does not stop fails the test, not hangs it. */
function within<T>(command: Promise<T>, ms = 30_000): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'still running'>((resolve) => (timer = setTimeout(resolve, ms, 'still running')))
  return Promise.race([command, deadline]).finally(() => clearTimeout(timer))
}

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
    // Started before on the embedded chain, which has no such mint: every ledger call failed.
    const local = await cli(
      '--data-dir',
      dir.path,
      'node',
      'start',
      '--mint',
      'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
    )
    expect(local.code).toBe(2)
    expect(local.stderr).toMatch(
      /^error: flags: ledger\.mint: a mint is a cluster's token.*--cluster-url.*NODE__INVALID_CONFIG/,
    )
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

/** `node start` run by an embedder, stopped by its signal rather than by a signal to its process. */
describe('tessera node start, stopped by a signal', () => {
  let dir: { path: string; cleanup: () => Promise<void> }

  beforeAll(async () => {
    dir = await tempDir('tessera-start-signal-')
    expect((await cli('--data-dir', dir.path, 'init', '--no-worker')).code).toBe(0)
  })

  afterAll(async () => {
    await dir?.cleanup()
  })

  const start = ['node', 'start', '--no-worker', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'silent']

  it('should do nothing on a signal aborted already, and fail with AbortError', async () => {
    const init = await tempDir('tessera-init-aborted-')
    try {
      // Before, init made the directory and node start ran a node, whatever the signal said.
      const res = await cliWith({ signal: AbortSignal.abort() }, '--data-dir', init.path, 'init')
      expect(res.code).toBe(1)
      expect(res.stderr).toMatch(/\(CORE__ABORTED\)\n$/)
      expect(await readdir(init.path)).toEqual([])
    } finally {
      await init.cleanup()
    }
    const before = await readdir(dir.path)
    const res = await within(cliWith({ signal: AbortSignal.abort() }, '--data-dir', dir.path, ...start))
    expect(res).toMatchObject({ code: 1, stderr: expect.stringMatching(/\(CORE__ABORTED\)\n$/) })
    expect(await readdir(dir.path)).toEqual(before)
  })

  it('should refuse a damaged API token before the peer starts', async () => {
    const data = resolveDataDir(dir.path)
    const token = await readFile(data.apiToken)
    const before = await readdir(dir.path)
    await writeFile(data.apiToken, 'abc')
    try {
      const res = await within(cliWith({}, '--data-dir', dir.path, ...start))
      expect(res).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/API token .* is damaged.*\(NODE__DATA_DIR_NOT_INITIALISED\)\n$/),
      })
      // Before, the peer started (its datastore, blob store and ledger made) and announced itself, then stopped.
      expect(await readdir(dir.path)).toEqual(before)
    } finally {
      await writeFile(data.apiToken, token)
    }
  })

  it('should stop a running node cleanly when the signal aborts, as SIGTERM does, and exit 0', async () => {
    const data = resolveDataDir(dir.path)
    const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
    const before = listeners()
    const controller = new AbortController()
    const running = cliWith({ signal: controller.signal }, '--data-dir', dir.path, ...start)
    let settled = false
    void running.finally(() => (settled = true))
    const status = await until('the node to answer', async () => {
      if (settled) throw new Error(`node start ended: ${JSON.stringify(await running)}`)
      try {
        return await (await ApiClient.forDataDir(data)).status()
      } catch {
        return undefined
      }
    })
    expect(status.worker).toBe(false)
    // The node's process and the id its API drew, by which a client tells it from one on its port once it is gone.
    expect(JSON.parse(await readFile(data.apiAddress, 'utf8'))).toEqual({
      host: '127.0.0.1',
      port: expect.any(Number),
      pid: process.pid,
      instance: expect.stringMatching(/^[0-9a-f]{32}$/),
    })
    controller.abort()
    // Before, the signal went unheard: the node ran until the process had a SIGTERM.
    expect(await within(running)).toMatchObject({ code: 0, stderr: '' })
    // Stopped as SIGTERM stops it: its address file gone, its datastore's lock released, no listener left behind.
    await expect(access(data.apiAddress)).rejects.toMatchObject({ code: 'ENOENT' })
    await (await Datastore.open(data.datastore)).close()
    expect(listeners()).toEqual(before)
  })
})
