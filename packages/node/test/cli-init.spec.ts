import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cli, tempDir } from './helpers.js'

describe('tessera init', () => {
  it('should initialise a data directory and print the peer id', async () => {
    const tmp = await tempDir()
    try {
      const res = await cli('--data-dir', tmp.path, 'init', '--no-worker')
      expect(res.code).toBe(0)
      expect(res.stdout).toMatch(/peer id: 12D3Koo/)
      const again = await cli('--data-dir', tmp.path, 'init')
      expect(again.stdout).toMatch(/already initialised/)
    } finally {
      await tmp.cleanup()
    }
  })

  it('should keep the config of a directory initialised already, and warn of the flags it did not apply', async () => {
    const tmp = await tempDir()
    try {
      expect((await cli('--data-dir', tmp.path, 'init', '--no-worker')).code).toBe(0)
      const config = await readFile(join(tmp.path, 'config.json'), 'utf8')
      const again = await cli('--data-dir', tmp.path, 'init', '--no-worker', '--listen', '/ip4/0.0.0.0/tcp/4001')
      expect(again.code).toBe(0)
      expect(again.stdout).toMatch(/^already initialised /)
      // Said nothing before, as if the listen address had been taken.
      expect(again.stderr).toBe(
        `warning: --listen not applied: ${tmp.path} was initialised already, and init keeps its config; edit ${join(tmp.path, 'config.json')}, or pass it to \`tessera node start\`\n`,
      )
      expect(await readFile(join(tmp.path, 'config.json'), 'utf8')).toBe(config)
      // Flags the config says already are no news: a script may run init each time.
      expect((await cli('--data-dir', tmp.path, 'init', '--no-worker')).stderr).toBe('')
    } finally {
      await tmp.cleanup()
    }
  })

  it('should exit 2 on flags the config refuses, leaving no directory behind', async () => {
    const tmp = await tempDir()
    try {
      // Exited 1 before, having made the directory empty.
      const dir = join(tmp.path, 'node')
      const cases: Array<[string[], RegExp]> = [
        [['--listen', '/ip4/1.2.3.4/tcp/x'], /^error: flags: listen\.0: .*\(NODE__INVALID_CONFIG\)\n$/],
        [['--bootstrap', '/ip4/127.0.0.1/tcp/1'], /^error: flags: bootstrap\.0: .*\(NODE__INVALID_CONFIG\)\n$/],
      ]
      for (const [flags, stderr] of cases) {
        const res = await cli('--data-dir', dir, 'init', ...flags)
        expect(res, flags.join(' ')).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(stderr) })
        expect(await readdir(tmp.path)).toEqual([])
      }
      const empty = await cli('--data-dir', '', 'init')
      expect(empty).toMatchObject({ code: 2, stderr: expect.stringMatching(/--data-dir.*\(NODE__INVALID_CONFIG\)\n$/) })
    } finally {
      await tmp.cleanup()
    }
  })

  it('should exit 2 with a message and no stack trace on an unknown flag or command', async () => {
    const flag = await cli('init', '--bogus')
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/unknown option '--bogus'/)
    expect(flag.stderr).not.toMatch(/\n\s+at /)
    const cmd = await cli('frobnicate')
    expect(cmd.code).toBe(2)
    expect(cmd.stderr).toMatch(/unknown command/)
  })
})
