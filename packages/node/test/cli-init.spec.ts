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
