import type { ChildProcess } from 'node:child_process'
import { AbortError } from '@tessera/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runTessera, spawnPeer } from '../src/local/spawn-peer.js'
import { tempDir } from './helpers.js'

// Stands in for the `tessera` CLI: a node script set per test, quick to start and with no node behind it.
const child = vi.hoisted(() => ({ script: '', spawned: [] as ChildProcess[] }))
vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:child_process')>()
  return {
    ...actual,
    spawn: (_command: string, _args: string[], options: import('node:child_process').SpawnOptions) => {
      const spawned = actual.spawn(process.execPath, ['-e', child.script], options)
      child.spawned.push(spawned)
      return spawned
    },
  }
})

/** Never exits, never writes an API address: a peer that has not started yet. */
const STARTING = 'setInterval(() => {}, 1000)'

afterEach(() => {
  for (const spawned of child.spawned.splice(0)) spawned.kill('SIGKILL')
})

describe('local peer processes', { timeout: 10_000 }, () => {
  it('should reject a failed command with a coded error carrying its exit code and stderr', async () => {
    child.script = "process.stderr.write('no such flag'); process.exit(3)"
    await expect(runTessera(['init', '--bogus'])).rejects.toMatchObject({
      name: 'NodeError',
      code: 'NODE__COMMAND_FAILED',
      message: 'tessera init --bogus exited 3: no such flag',
      context: { exitCode: 3, stderr: 'no such flag' },
    })
    child.script = "process.stdout.write('done')"
    expect(await runTessera(['init'])).toBe('done')
  })

  it('should kill a command and reject with AbortError when the signal aborts', async () => {
    child.script = STARTING
    const call = runTessera(['init'], {}, { signal: AbortSignal.timeout(200) })
    await expect(call).rejects.toBeInstanceOf(AbortError)
    expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
  })

  it('should kill a peer that has not started yet and reject with AbortError when the signal aborts', async () => {
    const tmp = await tempDir()
    try {
      child.script = STARTING
      const controller = new AbortController()
      const started = spawnPeer({ name: 'slow', dataDir: tmp.path, signal: controller.signal })
      // Long enough for several polls, so the abort lands in the wait between them.
      setTimeout(() => controller.abort(), 350)
      await expect(started).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
      expect(child.spawned).toHaveLength(1)
      expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
    } finally {
      await tmp.cleanup()
    }
  })

  it('should kill a peer that does not start in time', async () => {
    const tmp = await tempDir()
    try {
      child.script = STARTING
      await expect(spawnPeer({ name: 'slow', dataDir: tmp.path, startTimeoutMs: 200 })).rejects.toMatchObject({
        code: 'NODE__PEER_UNREACHABLE',
      })
      expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
    } finally {
      await tmp.cleanup()
    }
  })
})
